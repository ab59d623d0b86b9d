from . import hooks  # noqa: F401
from . import distributed  # noqa: F401  (CPU/gloo DDP support)
