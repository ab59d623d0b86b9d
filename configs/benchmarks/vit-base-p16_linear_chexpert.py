# Linear probe of the flagship ViT-B/16 (configs/gazeprior_vitb_mimic.py) on
# CheXpert (14 labels, uncertain labels per the dataset config's policy): the
# pre-trained backbone as saved in its checkpoint, mean patch token, BatchNorm
# without affine, linear head.
#   --cfg-options model.backbone.checkpoint=work_dirs/.../epoch_200.pth
_base_ = [
    '../_base_/datasets/chexpert_linear.py',
    './_linear_probe_schedule.py',
]

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=14,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        to_onehot=True),
    backbone=dict(type='PretrainedBackbone', checkpoint=''),
    neck=dict(type='PooledBatchNormNeck', in_channels=768),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))

train_cfg = dict(max_epochs=90, val_interval=10)
