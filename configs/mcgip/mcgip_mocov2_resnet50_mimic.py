# McGIP on MoCo v2, MIMIC-CXR + gaze. Neighbours (top-16 heatmap cosine) are mined
# from the annotation file's gaze by tools/train.py if the table is missing (rank 0
# mines, the others wait); images without gaze have none.
_base_ = '../mocov2/mocov2_resnet50_mimic.py'

gaze_neighbour_table = dict(
    neighbour_file='data/mimic_cxr/annotations/'
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
