# McGIP on MoCo v2, synthetic benchmark: gaze neighbours in the key queue are extra
# positives (queue of table rows gathered across ranks next to the key queue).
# Neighbour table: mined by tools/train.py when missing (see
# mcgip_simclr_resnet18_synthetic.py).
_base_ = '../mocov2/mocov2_resnet18_synthetic.py'

gaze_neighbour_table = dict(
    neighbour_file='data/synthetic_cxr/annotations/'
    'gaze_neighbours_heatmap_cosine_k16.npz',
    # mined from the training set's annotation file
    ann_file=f'{_base_.data_root}/{_base_.train_dataloader.dataset.ann_file}',
    mine_cfg=dict(method='heatmap_cosine', k=16))

model = dict(
    type='McGIPMoCo',
    head=dict(
        _delete_=True,
        type='MultiPositiveContrastiveHead',
        temperature=0.2,
        normalise='anchor'),
    gaze_positives=dict(
        neighbour_file=gaze_neighbour_table['neighbour_file'],
        index_key='img_id',
        threshold=0.8,
        drop_prob=0.0))
