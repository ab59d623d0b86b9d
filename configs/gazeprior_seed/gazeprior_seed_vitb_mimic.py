# The proposal's GazePrior, exactly, as the flagship (ViT-B/16, MIMIC-CXR +
# EGD-CXR / REFLACX, 224 px, 14 x 14): one plain Gaussian per fixation (readers
# pooled, no duration weighting), sigma = 5 px at 224 px (5/224 of the image
# side), same-index pairing, product weights, no gaze-prediction branch, no KL
# term.
#   tools/dist_train.sh configs/gazeprior_seed/gazeprior_seed_vitb_mimic.py 8
_base_ = '../gazeprior_vitb_mimic.py'

proposal_heatmap = dict(type='GazeHeatmap', sigma_rel=5 / 224, fusion='pool',
                        duration_weighted=False, render_map=False)
# the base's pipeline with the proposal's heatmap
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.train_pipeline[0], proposal_heatmap, *_base_.train_pipeline[2:]]))
model = dict(pairing='same_index', gaze_pred_weight=0.0,
             neck=dict(predict_gaze=False),
             head=dict(loss=dict(pair_weight='product')))
