# GazePrior-MM runtime: mmpretrain's, plus the plugin import and CPU-friendly defaults.
# The safety hooks (NaN guard, saved RNG state) come from ./safety_hooks.py.
_base_ = ['mmpretrain::_base_/default_runtime.py', './safety_hooks.py']

custom_imports = dict(imports=['gazeprior_mm'], allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    # crash-safe saves (gazeprior_mm/engine/hooks/atomic_checkpoint_hook.py)
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3))

# tools/train.py switches the backend to gloo when no GPU is present
env_cfg = dict(dist_cfg=dict(backend='nccl'))

randomness = dict(seed=0, deterministic=False)
