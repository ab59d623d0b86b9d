# GazePrior with a ViT-tiny (DeiT-tiny widths: 192 dims, 3 heads; 6 blocks) on
# 112-px views with 8-px patches: a 14 x 14 token grid = the gaze grid.
# The README's demo (tools/run_demo.sh) trains this config; the short schedule
# fits a few CPU minutes. Its tokens are probed by
# configs/benchmarks/vit-tiny-p8_linear_synthetic.py.
_base_ = [
    '../_base_/datasets/synthetic_gaze_pretrain.py',
    '../_base_/default_runtime.py',
]

embed_dims = 192
num_layers = 6  # half of DeiT-tiny's 12: the CPU demo budget
# the shared pipeline; its packer packs no full-resolution maps and leaves the
# per-view gaze fields of a batch to one call of the collate, in the loader's
# worker (PackGazeInputs(defer_targets=True); gazeprior_mm/datasets/collate.py)
train_pipeline = [*_base_.train_pipeline[:-1],
                  dict(_base_.train_pipeline[-1], with_map=False,
                       defer_targets=True)]
train_dataloader = dict(collate_fn=dict(_delete_=True, type='gaze_collate'),
                        dataset=dict(pipeline=train_pipeline))

model = dict(
    type='GazePrior',
    grid={{_base_.patch_grid}},
    pairing='geometry',
    gaze_pred_weight=1.0,
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=3,
                  feedforward_channels=embed_dims * 4),
        img_size={{_base_.view_size}},
        patch_size=8,
        out_type='featmap',
        drop_path_rate=0.0),
    neck=dict(type='GGAM', in_channels=embed_dims, grid={{_base_.patch_grid}},
              gaze_source='gaze', predict_gaze=True),
    head=dict(type='GWCLHead', in_channels=embed_dims, hid_channels=128,
              out_channels=128, proj_reg=1e-4,
              loss=dict(type='GWCLLoss', temperature=0.1,
                        pair_weight='product', negatives='image')))

max_epochs = 2
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=1e-5),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'pos_embed': dict(decay_mult=0.0),
                                    'cls_token': dict(decay_mult=0.0),
                                    'neck.w_g': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=32)
