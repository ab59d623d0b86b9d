# Control: every image gets the gaze of another image (one fixed cyclic
# permutation; gazeprior_mm/gaze/controls.py): the gaze statistics stay, the link
# between an image and its gaze is cut. A gain "from gaze" must vanish here.
# tools/compare.py sets gaze_control_seed to the run's seed.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
train_dataloader = dict(
    dataset=dict(gaze_control='shuffle', gaze_control_seed=0))
