# Linear probe of a frozen, pre-trained small ViT on the synthetic benchmark.
# Pass the pre-training checkpoint with
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_N.pth
# The backbone must match the pre-training one (tools/compare.py copies it over).
_base_ = [
    '../_base_/datasets/synthetic_linear.py',
    './_linear_probe_schedule.py',
]

embed_dims = 192
num_layers = 6  # as configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=14,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        to_onehot=True),
    backbone=dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=num_layers,
            num_heads=3,
            feedforward_channels=embed_dims * 4),
        img_size=112,
        patch_size=8,
        # GWCL trains patch tokens, not a CLS token: probe their average
        out_type='avg_featmap',
        frozen_stages=num_layers,
        init_cfg=dict(type='Pretrained', checkpoint='', prefix='backbone.')),
    neck=None,
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=embed_dims,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
