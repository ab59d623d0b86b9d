# Ablation 7: no gaze-prediction branch: views without gaze get g = 0 (a constant
# gate sigmoid(b_g)) and no gaze-like map exists at test time.
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(gaze_pred_weight=0.0, neck=dict(predict_gaze=False))
