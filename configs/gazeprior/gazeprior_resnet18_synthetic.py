# GazePrior on the synthetic chest X-ray + gaze benchmark with a ResNet-18.
# Same data, views, batch and epochs as configs/simclr/simclr_resnet18_synthetic.py.
# The last stage keeps stride 16 (strides 1, 2, 2, 1), so a 112-px view gives a
# 7 x 7 feature map = the gaze grid (a stride-32 map would be 4 x 4, coarser than
# most findings). The linear probe rebuilds this backbone, strides included,
# from the checkpoint (PretrainedBackbone).
_base_ = [
    '../_base_/datasets/synthetic_gaze_pretrain.py',
    '../_base_/default_runtime.py',
]

patch_grid = 7
# the shared pipeline; its packer packs no full-resolution maps and leaves the
# per-view gaze fields of a batch to one call of the collate, in the loader's
# worker (PackGazeInputs(defer_targets=True); gazeprior_mm/datasets/collate.py)
train_pipeline = [*_base_.train_pipeline[:-1],
                  dict(_base_.train_pipeline[-1], grid=patch_grid,
                       with_map=False, defer_targets=True)]
train_dataloader = dict(collate_fn=dict(_delete_=True, type='gaze_collate'),
                        dataset=dict(pipeline=train_pipeline))

model = dict(
    type='GazePrior',
    grid=patch_grid,
    pairing='geometry',
    gaze_pred_weight=1.0,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='ResNet',
        depth=18,
        strides=(1, 2, 2, 1),
        out_indices=(3, ),
        norm_cfg=dict(type='BN'),
        zero_init_residual=True),
    neck=dict(type='GGAM', in_channels=512, grid=patch_grid,
              gaze_source='gaze', predict_gaze=True),
    # a 128-wide per-patch projector: at 512 it ran on all 2N x 49 patches and
    # cost ~4 % of the step (benchmarks/step_time.py)
    head=dict(type='GWCLHead', in_channels=512, hid_channels=128,
              out_channels=128, proj_reg=1e-4,
              loss=dict(type='GWCLLoss', temperature=0.1,
                        pair_weight='product', negatives='image')))

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-5),
    # the gate scalars and norms are not decayed
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'neck.w_g': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 2, by_epoch=True,
         begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook', interval=5, max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=32)
