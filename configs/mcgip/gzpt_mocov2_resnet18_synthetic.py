# GzPT on MoCo v2, synthetic benchmark: TIMA gaze similarity (temporal clusters ->
# moment sequences -> DTW), evaluated on the top-64 heatmap-cosine candidates of each
# image, and each gaze pair dropped with probability p = 0.5 per step.
_base_ = './mcgip_mocov2_resnet18_synthetic.py'

gaze_neighbour_table = dict(
    neighbour_file='data/synthetic_cxr/annotations/gaze_neighbours_tima_k16.npz',
    mine_cfg=dict(method='tima', k=16, candidates=64,
                  candidate_method='heatmap_cosine'))
model = dict(
    gaze_positives=dict(
        neighbour_file=gaze_neighbour_table['neighbour_file'],
        threshold=0.9,
        drop_prob=0.5))
