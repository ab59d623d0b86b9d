# SimCLR baseline on MIMIC-CXR + gaze (EGD-CXR / REFLACX), 8 GPUs x 32, 224 px.
# mmpretrain's SimCLR config with only the data and schedule changed (ResNet-50 and
# SyncBN kept: this config is for tools/dist_train.sh). Data: the shared section
# (mimic_gaze_pretrain_parts.py) without the per-view gaze maps; + the project's
# safety hooks (NaN guard, saved RNG state)
_base_ = ['mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py',
          '../_base_/datasets/mimic_gaze_pretrain_parts.py',
          '../_base_/safety_hooks.py']
custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

# mmpretrain's data names, pointed at the shared section
dataset_type = _base_.gaze_pretrain_dataset_type
data_root = _base_.gaze_pretrain_data_root
data_preprocessor = _base_.gaze_pretrain_data_preprocessor
view_pipeline = _base_.gaze_pretrain_view_pipeline
train_pipeline = _base_.gaze_pretrain_nomap_train_pipeline
train_dataloader = dict(_delete_=True,
                        **_base_.gaze_pretrain_nomap_train_dataloader)
model = dict(data_preprocessor=data_preprocessor)

# LARS lr 0.3 x total batch (8 x 32) / 256
optim_wrapper = dict(optimizer=dict(lr=0.3))
auto_scale_lr = dict(enable=False, base_batch_size=256)
# mmpretrain's schedule (every 10 epochs, keep 3), with crash-safe saves
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
