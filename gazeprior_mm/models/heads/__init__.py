from .multi_positive_head import MultiPositiveContrastiveHead  # noqa: F401
