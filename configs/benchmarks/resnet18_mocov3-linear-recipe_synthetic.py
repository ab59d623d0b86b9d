# mmpretrain's own MoCo v3 ResNet linear-evaluation recipe, reused as it is
# (SGD lr 0.4 with momentum, cosine over 90 epochs, its runtime), with only what
# the synthetic chest X-ray benchmark needs changed: the data (14 labels, gaze
# fields), a multi-label head, and the probe backbone = the pre-trained one
# (read from the checkpoint) with its pooled features standardised.
#   --cfg-options model.backbone.checkpoint=work_dirs/.../epoch_N.pth
_base_ = [
    'mmpretrain::mocov3/benchmarks/resnet50_8xb128-linear-coslr-90e_in1k.py',
    '../_base_/datasets/synthetic_linear_parts.py',
    '../_base_/safety_hooks.py',
]
custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

data_preprocessor = _base_.gaze_cls_data_preprocessor
train_dataloader = dict(_delete_=True, **_base_.gaze_cls_train_dataloader)
val_dataloader = dict(_delete_=True, **_base_.gaze_cls_val_dataloader)
test_dataloader = dict(_delete_=True, **_base_.gaze_cls_test_dataloader)
val_evaluator = dict(_delete_=True, type='MultiLabelAUC', specificity=0.9)
test_evaluator = val_evaluator

model = dict(
    backbone=dict(_delete_=True, type='PretrainedBackbone', checkpoint=''),
    neck=dict(_delete_=True, type='PooledBatchNormNeck', in_channels=512),
    head=dict(_delete_=True, type='MultiLabelLinearClsHead', num_classes=14,
              in_channels=512,
              loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
