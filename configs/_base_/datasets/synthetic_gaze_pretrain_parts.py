# Synthetic chest X-ray + gaze benchmark: two-view self-supervised pre-training data,
# as named parts (gaze_pretrain_*). 112-px views of the 128-px images, 14 x 14
# patches of 8 px (patch_grid must match the model's patch grid). The benchmark is
# declared by synthetic_benchmark: tools/train.py / tools/test.py generate it into
# its data_root when the annotation files are missing (the dataset only reads), so
# the config runs on a fresh machine; tools/dataset_converters/make_synthetic_cxr.py
# makes it by hand.
# A config that inherits an mmpretrain recipe (the SimCLR / MoCo v2 baselines), which
# sets train_dataloader & co. itself, lists this file as a second base (no key in
# common) and takes what it needs, e.g.
#   train_dataloader = dict(_delete_=True,
#                           **_base_.gaze_pretrain_nomap_train_dataloader)
# synthetic_gaze_pretrain.py assigns them to the usual names;
# mimic_gaze_pretrain_parts.py is this data section on MIMIC-CXR.
gaze_pretrain_dataset_type = 'GazeCXRDataset'
gaze_pretrain_data_root = 'data/synthetic_cxr'
view_size = 112
patch_grid = 14
synthetic_benchmark = dict(data_root=gaze_pretrain_data_root, num_images=2000,
                           img_size=128, preset='realistic', seed=0)

gaze_pretrain_data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# Per view: the image and its gaze get the same crop and flip; intensity
# augmentations touch the image only. No saturation / hue: the images are grey.
# (mimic_gaze_pretrain_parts.py and FocusContrast replace the first step, the crop,
# and unpack the four steps of the train pipeline below.)
gaze_pretrain_view_pipeline = [
    dict(type='GazeRandomResizedCrop', scale=view_size,
         crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='GazeRandomFlip', prob=0.5),
]

gaze_pretrain_train_pipeline = [
    dict(type='LoadImageFromFile'),
    # sigma about 4 % of the image side (~1 degree of visual angle on a reading
    # monitor); the packer renders each view's map, so none is rendered here
    dict(type='GazeHeatmap', sigma_rel=0.04, fusion='mean', render_map=False),
    dict(type='GazeMultiView', num_views=2,
         transforms=[gaze_pretrain_view_pipeline]),
    dict(type='PackGazeInputs', grid=patch_grid, min_view_mass=0.1),
]

gaze_pretrain_train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=gaze_pretrain_dataset_type,
        data_root=gaze_pretrain_data_root,
        ann_file='annotations/train.json',
        data_prefix='',
        uncertain_policy='zeros',
        pipeline=gaze_pretrain_train_pipeline))

# The same data without the full-resolution per-view gaze maps
# (PackGazeInputs(with_map=False); the per-patch targets, has_gaze and the view
# geometry are packed all the same): the baselines' section. SimCLR and MoCo v2 read
# no gaze, McGIP only img_id, FocusContrast's crop the heatmap before packing.
gaze_pretrain_nomap_train_pipeline = [
    *gaze_pretrain_train_pipeline[:-1],
    dict(gaze_pretrain_train_pipeline[-1], with_map=False),
]
gaze_pretrain_nomap_train_dataloader = dict(
    gaze_pretrain_train_dataloader,
    dataset=dict(gaze_pretrain_train_dataloader['dataset'],
                 pipeline=gaze_pretrain_nomap_train_pipeline))
