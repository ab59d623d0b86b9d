# Linear probe of the flagship ViT-B/16 (configs/gazeprior_vitb_mimic.py) on
# CheXpert (14 labels, uncertain labels per the dataset config's policy).
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_200.pth
_base_ = [
    'mmpretrain::_base_/models/vit-base-p16.py',
    '../_base_/datasets/chexpert_linear.py',
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
        img_size=224,
        out_type='avg_featmap',
        frozen_stages=12,
        init_cfg=dict(_delete_=True, type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=None,
    head=dict(
        _delete_=True,
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=None)  # no Mixup/CutMix batch augments for multi-label probing

train_cfg = dict(max_epochs=90, val_interval=10)
