from .multi_positive_head import MultiPositiveContrastiveHead  # noqa: F401
from .gwcl_head import GWCLHead  # noqa: F401
from .gaze_pooled_contrast_head import GazePooledContrastHead  # noqa: F401
