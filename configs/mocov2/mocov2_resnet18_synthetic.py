# MoCo v2 baseline on the synthetic chest X-ray + gaze benchmark.
# mmpretrain's MoCo v2 config with only data, backbone size and schedule changed:
# ResNet-18, 112-px views, batch 32, 20 epochs, queue 1024 (the benchmark has 2000
# training images: a 65536 queue would hold every image many times).
# The data section restates configs/_base_/datasets/synthetic_gaze_pretrain.py
# (mmengine forbids two bases that both define the data keys);
# tests/test_baseline_configs.py checks that the two stay identical.
# + the project's safety hooks (NaN guard, saved RNG state)
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
          '../_base_/safety_hooks.py']

custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

# ---------------------------------------------------------------- data (synthetic)
dataset_type = 'GazeCXRDataset'
data_root = 'data/synthetic_cxr'
view_size = 112
patch_grid = 14
synthetic = dict(num_images=2000, img_size=128, preset='realistic', seed=0)

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

view_pipeline = [
    dict(type='GazeRandomResizedCrop', scale=view_size,
         crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='GazeRandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, fusion='mean', render_map=False),
    dict(type='GazeMultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackGazeInputs', grid=patch_grid, min_view_mass=0.1),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix='',
        uncertain_policy='zeros',
        synthetic=synthetic,
        pipeline=train_pipeline))

# ------------------------------------------------------------------------ model
model = dict(
    data_preprocessor=data_preprocessor,
    queue_len=1024,
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=512, out_channels=128))

# --------------------------------------------------------------------- schedule
max_epochs = 20
optim_wrapper = dict(optimizer=dict(lr=0.03 * 32 / 256))  # linear scaling
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0,
         end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='AtomicCheckpointHook', interval=5, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='nccl'))  # tools/train.py picks gloo on CPU
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(enable=False, base_batch_size=32)
