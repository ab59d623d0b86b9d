# GazePrior flagship's ResNet-50 twin: the same protocol, GGAM on the last stage
# pooled to the 14 x 14 gaze grid (stride-16 last stage: 224 / 16 = 14).
_base_ = './gazeprior_vitb_mimic.py'

embed_dims = 2048
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=50, strides=(1, 2, 2, 1),
                  out_indices=(3, ), norm_cfg=dict(type='SyncBN'),
                  zero_init_residual=True),
    neck=dict(in_channels=embed_dims),
    head=dict(in_channels=embed_dims))
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0,
                                        bias_decay_mult=0.0))
