# Ablation 6: matched weights w_ii' = g_i g_i' on geometry-aware pairs instead of
# the seed's all-pairs product (compare with ..._same-index.py for pairing).
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(head=dict(loss=dict(pair_weight='matched')))
