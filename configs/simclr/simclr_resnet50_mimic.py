# SimCLR baseline on MIMIC-CXR + gaze (EGD-CXR / REFLACX), 8 GPUs x 32, 224 px.
# mmpretrain's SimCLR config with only the data and schedule changed (ResNet-50 and
# SyncBN kept: this config is for tools/dist_train.sh). The data section restates
# configs/_base_/datasets/mimic_gaze_pretrain.py (mmengine forbids two bases that
# both define the data keys); tests/test_baseline_configs.py checks they agree.
# + the project's safety hooks (NaN guard, saved RNG state)
_base_ = ['mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
          '../_base_/safety_hooks.py']

custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

dataset_type = 'GazeCXRDataset'
data_root = 'data/mimic_cxr'
view_size = 224
patch_grid = 14

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
    batch_size=32,  # per GPU: 8 GPUs x 32 = 256
    num_workers=8,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(_delete_=True, type='default_collate'),
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mimic_gaze_train.json',
        data_prefix='',
        uncertain_policy='zeros',
        synthetic=None,
        pipeline=train_pipeline))
model = dict(data_preprocessor=data_preprocessor)

# LARS lr 0.3 x total batch (8 x 32) / 256
optim_wrapper = dict(optimizer=dict(lr=0.3))
auto_scale_lr = dict(enable=False, base_batch_size=256)
# mmpretrain's schedule (every 10 epochs, keep 3), with crash-safe saves
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
