# GazePrior with FocusContrast-style gaze-guided views: each view's crop keeps at
# least 70 % of the image's gaze mass (GazeFocusCrop, which moves the gaze
# geometry exactly like the plain crop), so the patches GWCL contrasts are drawn
# from where readers looked. The rest of the view pipeline is the shared one.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'

focus_crop = dict(type='GazeFocusCrop', scale=112, min_gaze_share=0.7,
                  num_candidates=200, crop_ratio_range=(0.2, 1.0),
                  backend='cv2')
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:2],
    dict(_base_.train_pipeline[2],
         transforms=[[focus_crop, *_base_.view_pipeline[1:]]]),
    _base_.train_pipeline[3],
]))
