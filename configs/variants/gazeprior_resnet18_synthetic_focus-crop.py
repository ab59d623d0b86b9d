# GazePrior with FocusContrast-style gaze-guided views: each view's crop keeps at
# least 70 % of the image's gaze mass (GazeFocusCrop, which moves the gaze
# geometry exactly like the plain crop), so the patches GWCL contrasts are drawn
# from where readers looked.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'

focus_view_pipeline = [
    dict(type='GazeFocusCrop', scale=112, min_gaze_share=0.7,
         num_candidates=200, crop_ratio_range=(0.2, 1.0), backend='cv2'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf',
         prob=0.5),
    dict(type='GazeRandomFlip', prob=0.5),
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma_rel=0.04, fusion='mean', render_map=False),
    dict(type='GazeMultiView', num_views=2, transforms=[focus_view_pipeline]),
    dict(type='PackGazeInputs', grid=7, min_view_mass=0.1, with_map=False,
         defer_targets=True),
]))
