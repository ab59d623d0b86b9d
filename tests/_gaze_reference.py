"""Float64 reference maths shared by the gaze tests."""
import numpy as np
from scipy.special import ndtr


def float64_patch_mass(fix, weights, size, grid, sx, sy):
    """Reference in float64 with scipy's ndtr: per-axis masses of each fixation
    between the patch borders r H / M - 1/2 (pixel-centre coordinates)."""
    (height, width), (grid_h, grid_w) = size, grid
    edges_y = np.arange(grid_h + 1) * height / grid_h - 0.5
    edges_x = np.arange(grid_w + 1) * width / grid_w - 0.5
    mass_y = np.diff(ndtr((edges_y[None] - fix[:, 1:2]) / sy), axis=1)
    mass_x = np.diff(ndtr((edges_x[None] - fix[:, 0:1]) / sx), axis=1)
    return np.einsum('k,kr,kc->rc', weights, mass_y, mass_x)
