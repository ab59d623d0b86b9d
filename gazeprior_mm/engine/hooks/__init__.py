from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .nan_guard_hook import NaNGuardHook  # noqa: F401
from .ddp_sync_check_hook import DDPSyncCheckHook  # noqa: F401
from .rng_state_hook import RNGStateHook  # noqa: F401
from .safety import (SAFETY_CUSTOM_HOOKS, ensure_safety_hooks,  # noqa: F401
                     hook_type_name)
