# Ceiling: fixations drawn inside each image's ground-truth lesion boxes
# (gazeprior_mm/gaze/controls.py; synthetic data or any data with lesion boxes).
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
train_dataloader = dict(
    dataset=dict(gaze_control='oracle', gaze_control_seed=0))
