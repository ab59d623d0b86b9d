# Ablation 3: projection-weight penalty lambda = 1e-3 (default 1e-4).
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(head=dict(proj_reg=1e-3))
