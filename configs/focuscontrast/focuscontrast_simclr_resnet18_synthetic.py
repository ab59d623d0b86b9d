# FocusContrast-style SimCLR, synthetic benchmark: each view's random resized crop
# keeps at least 70 % of the image's gaze mass (candidates drawn at once and scored
# by an integral image; when none qualifies the highest-mass one is used, counted).
# 0.7 rather than FocusContrast's 0.9: our views keep SimCLR's 0.2-1.0 area range.
# The SimCLR baseline's data with only the crop changed.
_base_ = '../simclr/simclr_resnet18_synthetic.py'

__crop, *__augment = _base_.view_pipeline
view_pipeline = [
    dict(type='GazeFocusCrop', scale=_base_.view_size, min_gaze_share=0.7,
         num_candidates=200, crop_ratio_range=(0.2, 1.0), backend='cv2'),
    *__augment,
]
__load, __heatmap, __views, __pack = _base_.train_pipeline
train_pipeline = [
    __load,
    # the crop reads the gaze map of the full image: render it here
    dict(__heatmap, render_map=True),
    dict(__views, transforms=[view_pipeline]),
    __pack,
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
