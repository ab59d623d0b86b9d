from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .nan_guard_hook import NaNGuardHook  # noqa: F401
