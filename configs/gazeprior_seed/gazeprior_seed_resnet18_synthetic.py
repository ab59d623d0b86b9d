# The proposal's GazePrior, exactly, on the synthetic benchmark (ResNet-18):
# one plain Gaussian per fixation (all readers pooled, no duration weighting),
# sigma = 5 px at 224 px, same-index pairing, product weights, no gaze-prediction
# branch and no KL term (images without gaze get g~ = 0: a constant gate).
# The project's refinements (geometry-aware pairing, duration-weighted reader
# fusion, sigma 4 % of the image, the prediction branch) are the defaults of
# configs/gazeprior/; docs/gazeprior.md lists them as departures.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'

proposal_heatmap = dict(type='GazeHeatmap', sigma_rel=5 / 224, fusion='pool',
                        duration_weighted=False, render_map=False)
# the base's pipeline with the proposal's heatmap
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.train_pipeline[0], proposal_heatmap, *_base_.train_pipeline[2:]]))
model = dict(pairing='same_index', gaze_pred_weight=0.0,
             neck=dict(predict_gaze=False),
             head=dict(loss=dict(pair_weight='product')))
