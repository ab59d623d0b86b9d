# GazePrior flagship: the seed's protocol on MIMIC-CXR-JPG + EGD-CXR / REFLACX gaze.
# ViT-B/16 at 224 px (14 x 14 patches), AdamW lr 1e-4, wd 1e-5, batch 256 as
# 8 GPUs x 32, 200 epochs, cosine with 10 warm-up epochs, tau 0.1, lambda 1e-4.
#   tools/dist_train.sh configs/gazeprior_vitb_mimic.py 8
# Random init: nothing is downloaded (set model.backbone.init_cfg to start from
# ImageNet weights you have locally).
_base_ = [
    '_base_/datasets/mimic_gaze_pretrain.py',
    '_base_/default_runtime.py',
]

embed_dims = 768
# the shared pipeline; its packer packs no full-resolution maps and leaves the
# per-view gaze fields of a batch to one call of the collate, in the loader's
# worker (PackGazeInputs(defer_targets=True); gazeprior_mm/datasets/collate.py)
train_pipeline = [*_base_.train_pipeline[:-1],
                  dict(_base_.train_pipeline[-1], with_map=False,
                       defer_targets=True)]
train_dataloader = dict(batch_size=32, num_workers=8,
                        collate_fn=dict(_delete_=True, type='gaze_collate'),
                        dataset=dict(pipeline=train_pipeline))

model = dict(
    type='GazePrior',
    grid={{_base_.patch_grid}},
    pairing='geometry',
    gaze_pred_weight=1.0,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='VisionTransformer', arch='b', img_size=224,
                  patch_size=16, out_type='featmap', drop_path_rate=0.1),
    neck=dict(type='GGAM', in_channels=embed_dims, grid={{_base_.patch_grid}},
              gaze_source='gaze', predict_gaze=True),
    head=dict(type='GWCLHead', in_channels=embed_dims, hid_channels=2048,
              out_channels=256, proj_reg=1e-4,
              loss=dict(type='GWCLLoss', temperature=0.1,
                        pair_weight='product', negatives='image')))

max_epochs = 200
warmup_epochs = 10
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0),
                                    'neck.w_g': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3))
# the lr above is for the total batch of 256; scale it for other GPU counts
auto_scale_lr = dict(enable=False, base_batch_size=256)
