# McGIP on SimCLR, synthetic benchmark: images whose gaze heatmaps are similar are
# extra positives (gaze neighbours present in the gathered batch).
# The model loads the neighbour table gaze_neighbour_table declares; tools/train.py
# mines it from the training annotations when missing (or beforehand:
#  python tools/analysis/mine_gaze_pairs.py
#  data/synthetic_cxr/annotations/train.json --method heatmap_cosine --k 16
#  --out data/synthetic_cxr/annotations/gaze_neighbours_heatmap_cosine_k16.npz).
_base_ = '../simclr/simclr_resnet18_synthetic.py'

gaze_neighbour_table = dict(
    neighbour_file='data/synthetic_cxr/annotations/'
    'gaze_neighbours_heatmap_cosine_k16.npz',
    # mined from the training set's annotation file
    ann_file=f'{_base_.data_root}/{_base_.train_dataloader.dataset.ann_file}',
    mine_cfg=dict(method='heatmap_cosine', k=16))

model = dict(
    type='McGIPSimCLR',
    head=dict(
        _delete_=True,
        type='MultiPositiveContrastiveHead',
        temperature=0.1,
        normalise='anchor'),
    gaze_positives=dict(
        neighbour_file=gaze_neighbour_table['neighbour_file'],
        index_key='img_id',
        threshold=0.8,
        drop_prob=0.0,
        symmetric=True,
        weighting='binary'))
