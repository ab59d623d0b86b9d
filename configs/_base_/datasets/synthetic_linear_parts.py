# Synthetic chest X-ray + gaze benchmark, single-view data for the linear probe and
# fine-tuning, as named parts (gaze_cls_*): a config that inherits an mmpretrain
# recipe, which sets train_dataloader & co. itself, can list this file as a second
# base (no key in common) and take what it needs, e.g.
#   train_dataloader = dict(_delete_=True, **_base_.gaze_cls_train_dataloader)
# synthetic_linear.py assigns them to the usual names.
# Samples carry their gaze (V = 1) too, for the gaze-alignment metrics.
gaze_cls_dataset_type = 'GazeCXRDataset'
data_root = 'data/synthetic_cxr'
view_size = 112
patch_grid = 14
# made by tools/train.py / tools/test.py when missing (the dataset only reads)
synthetic_benchmark = dict(data_root=data_root, num_images=2000, img_size=128,
                           preset='realistic', seed=0)

gaze_cls_data_preprocessor = dict(
    num_classes=14,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    to_onehot=True)

gaze_cls_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
    dict(type='GazeRandomResizedCrop', scale=view_size,
         crop_ratio_range=(0.6, 1.0), backend='cv2'),
    dict(type='GazeRandomFlip', prob=0.5),
    dict(type='PackGazeInputs', grid=patch_grid),
]

gaze_cls_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
    dict(type='GazeResize', scale=(view_size, view_size)),
    # the lesion boxes ride along for the pointing game (GazeAlignmentMetric)
    dict(type='PackGazeInputs', grid=patch_grid,
         algorithm_keys=('gt_label_mask', 'gt_label_raw', 'lesions')),
]

_dataset = dict(
    type=gaze_cls_dataset_type,
    data_root=data_root,
    data_prefix='',
    uncertain_policy='zeros')

gaze_cls_train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**_dataset, ann_file='annotations/train.json',
                 pipeline=gaze_cls_train_pipeline))

gaze_cls_val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**_dataset, ann_file='annotations/val.json',
                 pipeline=gaze_cls_test_pipeline))

gaze_cls_test_dataloader = dict(
    gaze_cls_val_dataloader,
    dataset=dict(gaze_cls_val_dataloader['dataset'],
                 ann_file='annotations/test.json'))

# No evaluator here: the benchmark configs set it (MultiLabelAUC in
# configs/benchmarks/_linear_probe_schedule.py).
