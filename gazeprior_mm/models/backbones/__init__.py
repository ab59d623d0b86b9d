from .pretrained_backbone import PretrainedBackbone  # noqa: F401
from .gaze_vision_gnn import GazeVisionGNN  # noqa: F401
