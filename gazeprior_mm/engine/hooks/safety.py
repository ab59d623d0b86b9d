"""Make sure a config trains with the project's three safety hooks."""
from typing import List

from mmengine.config import ConfigDict

#: custom hooks every run gets (configs/_base_/safety_hooks.py)
SAFETY_CUSTOM_HOOKS = ('NaNGuardHook', 'RNGStateHook')
#: the checkpoint hook every run gets instead of mmengine's ``CheckpointHook``
SAFE_CHECKPOINT_HOOK = 'AtomicCheckpointHook'


def hook_type_name(hook) -> str:
    """The class name a hook config or instance refers to (scope prefix dropped).

    ``dict(type='mmengine.CheckpointHook')`` -> ``'CheckpointHook'``; a class or an
    instance gives its class name.
    """
    if isinstance(hook, dict):
        hook_type = hook.get('type', '')
    else:
        hook_type = hook if isinstance(hook, type) else type(hook)
    if isinstance(hook_type, str):
        return hook_type.split('.')[-1]
    return getattr(hook_type, '__name__', str(hook_type))


def ensure_safety_hooks(cfg) -> List[str]:
    """Add what a config lacks of the three safety hooks, in place.

    The shipped configs already have them (``configs/_base_/safety_hooks.py``,
    ``default_hooks.checkpoint=AtomicCheckpointHook``); a user's own config, or one
    whose ``custom_hooks`` were replaced with ``--cfg-options``, may not. Without
    them a NaN loss is checkpointed and training "succeeds", a kill during a save
    with ``max_keep_ckpts=1`` leaves no loadable checkpoint, and a resumed run
    draws different random numbers. So:

    * ``default_hooks.checkpoint`` of type ``CheckpointHook`` becomes
      ``AtomicCheckpointHook`` with the same arguments; a missing entry (mmengine
      would add ``CheckpointHook(interval=1)``) becomes
      ``AtomicCheckpointHook(interval=1)``. ``checkpoint=None`` (no checkpoints)
      and other hook types (a user's own subclass) are left alone;
    * ``NaNGuardHook`` and ``RNGStateHook`` are appended to ``custom_hooks`` if no
      hook of that type is there.

    Types are named with an ``mmpretrain.`` scope unless the config's default scope
    is ``mmpretrain`` (the plugin registers its hooks there).

    Args:
        cfg (Config | ConfigDict | dict): a training config.

    Returns:
        list[str]: one human-readable line per change (empty if none).
    """
    scope = cfg.get('default_scope', None)
    prefix = '' if scope == 'mmpretrain' else 'mmpretrain.'
    changes = []

    default_hooks = cfg.get('default_hooks', None)
    if default_hooks is None:
        default_hooks = ConfigDict()
        cfg['default_hooks'] = default_hooks
    if 'checkpoint' not in default_hooks:
        default_hooks['checkpoint'] = ConfigDict(
            type=prefix + SAFE_CHECKPOINT_HOOK, interval=1)
        changes.append('default_hooks.checkpoint: none set (mmengine default '
                       f'CheckpointHook(interval=1)) -> {SAFE_CHECKPOINT_HOOK}'
                       '(interval=1)')
    else:
        ckpt = default_hooks['checkpoint']
        if isinstance(ckpt, dict) and hook_type_name(ckpt) == 'CheckpointHook':
            ckpt['type'] = prefix + SAFE_CHECKPOINT_HOOK
            changes.append('default_hooks.checkpoint: CheckpointHook -> '
                           f'{SAFE_CHECKPOINT_HOOK} (same arguments)')

    custom_hooks = list(cfg.get('custom_hooks', None) or [])
    present = {hook_type_name(h) for h in custom_hooks}
    for name in SAFETY_CUSTOM_HOOKS:
        if name not in present:
            custom_hooks.append(ConfigDict(type=prefix + name))
            changes.append(f'custom_hooks: added {name}')
    cfg['custom_hooks'] = custom_hooks
    return changes
