# FocusContrast-style SimCLR, synthetic benchmark: each view's random resized crop
# keeps at least 70 % of the image's gaze mass (candidates drawn at once and scored
# by an integral image; when none qualifies the highest-mass one is used, counted).
# 0.7 rather than FocusContrast's 0.9: our views keep SimCLR's 0.2-1.0 area range.
_base_ = '../simclr/simclr_resnet18_synthetic.py'

view_size = 112
view_pipeline = [
    dict(type='GazeFocusCrop', scale=view_size, min_gaze_share=0.7,
         num_candidates=200, crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='GazeRandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    # the crop reads the gaze map of the full image: render it here
    dict(type='GazeHeatmap', sigma_rel=0.04, fusion='mean', render_map=True),
    dict(type='GazeMultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackGazeInputs', grid=14, min_view_mass=0.1),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
