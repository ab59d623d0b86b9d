from .gaze_alignment import GazeAlignmentMetric  # noqa: F401
from .multilabel_auc import MultiLabelAUC  # noqa: F401
