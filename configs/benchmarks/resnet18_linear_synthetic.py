# Linear probe of a frozen, pre-trained ResNet-18 on the synthetic benchmark.
# Pass the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_N.pth
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/datasets/synthetic_linear.py',
    './_linear_probe_schedule.py',
]

model = dict(
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=14,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        to_onehot=True),
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    head=dict(
        _delete_=True,
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
