# Shared schedule/evaluation of the linear probes and low-label fine-tuning:
# multi-label AUC metrics in the val and test loops, a short AdamW cosine schedule.
# (An underscore name: a fragment to inherit, not a config to run.) It inherits the
# project runtime, so the benchmark configs list it instead of default_runtime.py
# (mmengine refuses two bases that both set default_hooks).
_base_ = ['../_base_/default_runtime.py']

val_evaluator = dict(type='MultiLabelAUC', thr=0.5, specificity=0.9)
test_evaluator = val_evaluator

# Adam-type updates are insensitive to the scale of frozen features, which differs
# a lot between pre-training methods; SGD at one lr would favour some of them.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, eta_min=0)]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=10)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=10, max_keep_ckpts=1,
        save_last=True))
