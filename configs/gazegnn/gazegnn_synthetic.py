# GazeGNN (Wang et al. 2023), the supervised gaze-guided reference: patch nodes
# with gaze features and Vision-GNN message passing (GazeVisionGNN), trained on
# the probe's labels with the gaze of every image (train and test). 112-px
# single views, 8-px patches = the 14 x 14 gaze grid of the data.
_base_ = [
    '../_base_/datasets/synthetic_linear.py',
    '../benchmarks/_linear_probe_schedule.py',
]

model = dict(
    type='GazeGNNClassifier',
    backbone=dict(type='GazeVisionGNN', grid=14, patch_size=8, embed_dims=192,
                  depth=6, k=9),
    neck=None,
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=192,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))

# the whole network trains from scratch: AdamW as for ViTs
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.05))
train_cfg = dict(max_epochs=30, val_interval=10)
