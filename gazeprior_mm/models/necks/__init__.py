from .ggam import GGAM  # noqa: F401
