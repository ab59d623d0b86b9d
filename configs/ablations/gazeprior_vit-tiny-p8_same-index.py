# Ablation 5: the seed's same-index pairing of the two views' patches instead of
# geometry-aware correspondence (matched weights, where pairing decides positives).
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(pairing='same_index', head=dict(loss=dict(pair_weight='matched')))
