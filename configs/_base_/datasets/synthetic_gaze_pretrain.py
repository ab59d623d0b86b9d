# Synthetic chest X-ray + gaze benchmark: two-view self-supervised pre-training data.
# 112-px views of the 128-px images, 14 x 14 patches of 8 px (patch_grid must match
# the model's patch grid). The benchmark is generated into data_root on first use
# (GazeCXRDataset(synthetic=...)), so the config runs on a fresh machine.
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

# Per view: the image and its gaze get the same crop and flip; intensity
# augmentations touch the image only. No saturation / hue: the images are grey.
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
    # sigma about 4 % of the image side (~1 degree of visual angle on a reading
    # monitor); the packer renders each view's map, so none is rendered here
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
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix='',
        uncertain_policy='zeros',
        synthetic=synthetic,
        pipeline=train_pipeline))
