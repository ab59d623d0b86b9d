from . import metrics  # noqa: F401
from .attention_probe import GazeAttentionProbe  # noqa: F401
from .label_fraction import LabelFractionDataset  # noqa: F401
