# Ablation 3: projection-weight penalty lambda = 0 (default 1e-4).
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(head=dict(proj_reg=0))
