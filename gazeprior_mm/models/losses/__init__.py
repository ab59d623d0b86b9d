from .gwcl import gwcl_loss  # noqa: F401
