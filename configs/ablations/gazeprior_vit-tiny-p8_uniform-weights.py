# Ablation 2: uniform GWCL weights w = 1/P instead of gaze products.
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(head=dict(loss=dict(weight_source='uniform')))
