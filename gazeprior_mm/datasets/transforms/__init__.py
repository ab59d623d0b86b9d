from .gaze_heatmap import GazeHeatmap  # noqa: F401
from .geometry import (GazeRandomFlip, GazeRandomResizedCrop,  # noqa: F401
                       GazeResize)
from .formatting import GazeViewTargets, PackGazeInputs  # noqa: F401
from .wrappers import GazeMultiView  # noqa: F401
from .focus_crop import GazeFocusCrop  # noqa: F401
