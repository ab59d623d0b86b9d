# Control: GazePrior's objective with no gaze anywhere. No gate (alpha = 1),
# uniform GWCL weights, no gaze-prediction branch and no KL term: what the dense
# patch objective gives by itself.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
model = dict(gaze_pred_weight=0.0,
             neck=dict(gaze_source='none', predict_gaze=False),
             head=dict(loss=dict(weight_source='uniform')))
