# Ablation: each image's GWCL weights rescaled to sum P (weight_norm='image'), so an
# image contributes a gaze-weighted mean of -log p whatever the scale of its g~. With
# the seed's weights, views without gaze (GGAM's flat early prediction: g~ near 1
# everywhere) carry about half of the loss at the 14 x 14 grid although they are ~15 %
# of the pairs (tools/analysis/gwcl_weight_share.py).
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(head=dict(loss=dict(weight_norm='image')))
