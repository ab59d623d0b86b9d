# Control for McGIP: neighbours mined from gaze shuffled between images
# (gazeprior_mm/gaze/controls.py), so gaze-similar pairs are random pairs.
_base_ = '../mcgip/mcgip_simclr_resnet18_synthetic.py'
gaze_neighbour_table = dict(
    neighbour_file='data/synthetic_cxr/annotations/'
    'gaze_neighbours_heatmap_cosine_k16_shuffled-gaze.npz',
    mine_cfg=dict(gaze_control='shuffle', gaze_control_seed=0))
model = dict(gaze_positives=dict(
    neighbour_file=gaze_neighbour_table['neighbour_file']))
