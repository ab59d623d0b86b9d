# MIMIC-CXR-JPG + radiologists' gaze (EGD-CXR, REFLACX) for gaze-guided
# self-supervised pre-training. Same structure and pipeline as the synthetic
# pre-training config (fixations -> GazeHeatmap -> two gaze-aware views ->
# PackGazeInputs), at 224-px views on the 14 x 14 patch grid of a ViT-B/16.
# The annotation files are written by the converters (docs/data_preparation.md):
#   tools/dataset_converters/mimic_cxr_jpg.py  -> annotations/mimic_{split}.json
#   tools/dataset_converters/egd_cxr.py, reflacx.py
#       -> annotations/mimic_gaze_{split}.json
# img_path entries are relative to data_root:
#   files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg
_base_ = ['./synthetic_gaze_pretrain.py']

data_root = 'data/mimic_cxr'
view_size = 224
patch_grid = 14

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
    batch_size=32,  # per GPU: 8 GPUs x 32 = the flagship's 256
    num_workers=8,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/mimic_gaze_train.json',
        synthetic=None,
        pipeline=train_pipeline))
