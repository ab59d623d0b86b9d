# Linear probe of a frozen, pre-trained ResNet-18 on the synthetic benchmark.
# The backbone is the one the checkpoint was pre-trained with (read from the
# config saved in it: strides, widths), its weights must fit exactly, and a
# BatchNorm without affine standardises the pooled features before the linear
# head (mmpretrain's MAE / MoCo v3 linear-eval recipe). The head trains on the
# test view of each training image (resized, no random crop or flip), the same
# features the converged logistic probe and the anomaly detector read: on a few
# hundred images a probe on random crops reads up to 0.1 AUC off the converged one,
# depending on the draw (docs/evaluation.md). Pass the checkpoint with
#   --cfg-options model.backbone.checkpoint=work_dirs/.../epoch_N.pth
_base_ = [
    '../_base_/datasets/synthetic_linear.py',
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
    neck=dict(type='PooledBatchNormNeck', in_channels=512),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))

train_dataloader = dict(dataset=dict(pipeline=_base_.test_pipeline))
