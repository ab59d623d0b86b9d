from .gwcl import gwcl_loss  # noqa: F401
from .gwcl_loss import GWCLLoss  # noqa: F401
