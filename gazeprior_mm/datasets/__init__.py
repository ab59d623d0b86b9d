from . import transforms  # noqa: F401
from .gaze_cxr import CHEXPERT_CLASSES, GazeCXRDataset  # noqa: F401
from . import samplers  # noqa: F401
from .synthetic import generate_synthetic_cxr  # noqa: F401
from .collate import complete_gaze_targets, gaze_collate  # noqa: F401
