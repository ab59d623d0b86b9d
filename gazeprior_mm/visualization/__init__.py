from .gaze_figure import draw_comparison_bars, draw_gaze_attention  # noqa: F401
from .loss_curves import (find_scalars, plot_loss_curves, read_scalars,  # noqa: F401
                          scalar_keys)
