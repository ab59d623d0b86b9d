# Ablation 1: no GGAM gating (alpha = 1); GWCL weights still come from gaze.
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(neck=dict(gaze_source='none'))
