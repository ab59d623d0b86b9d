# MoCo v2 baseline on MIMIC-CXR + gaze (EGD-CXR / REFLACX), 8 GPUs x 32, 224 px.
# mmpretrain's MoCo v2 config with only the data and queue changed (the gaze subset
# has a few thousand images: queue 4096 instead of 65536). Data: the shared section
# (mimic_gaze_pretrain_parts.py) without the per-view gaze maps; + the project's
# safety hooks (NaN guard, saved RNG state)
_base_ = ['mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
          '../_base_/datasets/mimic_gaze_pretrain_parts.py',
          '../_base_/safety_hooks.py']
custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

# mmpretrain's data names, pointed at the shared section (the runner hands
# data_preprocessor to the model)
dataset_type = _base_.gaze_pretrain_dataset_type
data_root = _base_.gaze_pretrain_data_root
data_preprocessor = _base_.gaze_pretrain_data_preprocessor
view_pipeline = _base_.gaze_pretrain_view_pipeline
train_pipeline = _base_.gaze_pretrain_nomap_train_pipeline
train_dataloader = dict(_delete_=True,
                        **_base_.gaze_pretrain_nomap_train_dataloader)

model = dict(queue_len=4096)
# mmpretrain's schedule (every epoch, keep 3), with crash-safe saves
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
