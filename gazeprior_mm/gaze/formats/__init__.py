"""Readers' format knowledge for radiologist gaze files (pure numpy)."""
from . import egd, grid, reflacx  # noqa: F401
from .grid import inside_image, map_points_to_grid

__all__ = ['egd', 'reflacx', 'grid', 'map_points_to_grid', 'inside_image']
