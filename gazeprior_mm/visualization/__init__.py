from .gaze_figure import draw_comparison_bars, draw_gaze_attention  # noqa: F401
