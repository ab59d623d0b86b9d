from . import transforms  # noqa: F401
from .chexpert_classes import CHEXPERT_CLASSES  # noqa: F401
from .gaze_cxr import GazeCXRDataset  # noqa: F401
from . import samplers  # noqa: F401
from .synthetic import generate_synthetic_cxr  # noqa: F401
from .synthetic_benchmark import prepare_synthetic_benchmark  # noqa: F401
from .collate import complete_gaze_targets, gaze_collate  # noqa: F401
