# CheXpert (CheXpert-v1.0-small) 14-label linear evaluation, single view at 224 px.
# Same structure and pipelines as synthetic_linear.py (the packer adds empty gaze
# fields: CheXpert has no gaze). Annotation files are written by
#   tools/dataset_converters/chexpert.py -> annotations/chexpert_{train,valid}.json
# with img_path relative to data_root (train/patientXXXXX/studyN/viewN_frontal.jpg).
# CheXpert's official validation set (234 images, radiologist consensus) serves as
# both val and test, as is usual for CheXpert linear probes.
# Uncertain (-1) labels: U-Zeros here; U-Ones / U-Ignore with
#   --cfg-options train_dataloader.dataset.uncertain_policy=ones
_base_ = ['./synthetic_linear.py']

data_root = 'data/chexpert'
view_size = 224
patch_grid = 14

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
    dict(type='GazeRandomResizedCrop', scale=view_size,
         crop_ratio_range=(0.6, 1.0), backend='cv2'),
    dict(type='GazeRandomFlip', prob=0.5),
    dict(type='PackGazeInputs', grid=patch_grid),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
    dict(type='GazeResize', scale=(view_size, view_size)),
    dict(type='PackGazeInputs', grid=patch_grid),
]

synthetic_benchmark = None  # real data: nothing is generated
_chexpert = dict(data_root=data_root, uncertain_policy='zeros')

train_dataloader = dict(
    num_workers=8,
    dataset=dict(**_chexpert, ann_file='annotations/chexpert_train.json',
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=8,
    dataset=dict(**_chexpert, ann_file='annotations/chexpert_valid.json',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
