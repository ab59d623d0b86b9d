"""Float64 reference maths shared by the gaze tests.

Written straight from the formulas (docs/design.md §3), independently of the
package's code: scipy's ``ndtr`` for the normal CDF, the fixations moved into each
view (the kernel maps the patch borders back instead), plain numpy for the rest.
"""
import numpy as np
from scipy.special import ndtr


def float64_patch_mass(fix, weights, size, grid, sx, sy):
    """(M_h, M_w) exact gaze mass of each patch of an image of ``size``: per-axis
    masses of each fixation between the patch borders ``r H / M - 1/2``
    (pixel-centre coordinates), ``g = sum_k w_k E^y_k (E^x_k)^T``."""
    (height, width), (grid_h, grid_w) = size, grid
    edges_y = np.arange(grid_h + 1) * height / grid_h - 0.5
    edges_x = np.arange(grid_w + 1) * width / grid_w - 0.5
    mass_y = np.diff(ndtr((edges_y[None] - fix[:, 1:2]) / sy), axis=1)
    mass_x = np.diff(ndtr((edges_x[None] - fix[:, 0:1]) / sx), axis=1)
    return np.einsum('k,kr,kc->rc', weights, mass_y, mass_x)


def float64_view_targets(fix, weights, sigma, geometry, grid, min_view_mass=0.0):
    """Reference of one view's gaze fields from source fixations.

    Returns:
        dict: ``mass`` (M_h * M_w,) patch masses g, ``gaze_view_mass`` = sum g,
        ``view_has_gaze``, ``gaze_weights`` = g / max g (zeros if not kept),
        ``crop_box`` (4,) from the view's corners mapped back into the source
        (box coordinates: +1/2), ``flip``.
    """
    grid = (grid, grid) if np.isscalar(grid) else tuple(grid)
    ax, bx, ay, by = geometry.ax, geometry.bx, geometry.ay, geometry.by
    moved = fix.astype(np.float64)[:, :2] * [ax, ay] + [bx, by]
    mass = float64_patch_mass(moved, weights.astype(np.float64),
                              geometry.view_shape, grid, sigma[0] * abs(ax),
                              sigma[1] * abs(ay)).reshape(-1)
    total = mass.sum()
    keep = bool(total > 0 and total >= min_view_mass)
    height, width = geometry.view_shape
    xs = sorted(((-0.5 - bx) / ax + 0.5, (width - 0.5 - bx) / ax + 0.5))
    ys = sorted(((-0.5 - by) / ay + 0.5, (height - 0.5 - by) / ay + 0.5))
    return dict(mass=mass, gaze_view_mass=total, view_has_gaze=keep,
                gaze_weights=mass / mass.max() if keep else np.zeros_like(mass),
                crop_box=np.array([xs[0], ys[0], xs[1], ys[1]]), flip=ax < 0)


def raster_patch_mass(heatmap, grid):
    """(M_h * M_w,) area-exact sums of a raster over the patches of a grid:
    pixel j covers [j, j + 1), patch c covers [c W / M, (c + 1) W / M)."""
    grid = (grid, grid) if np.isscalar(grid) else tuple(grid)

    def overlap(length, parts):
        edges = np.linspace(0.0, length, parts + 1)
        lo = np.maximum(edges[:-1, None], np.arange(length)[None])
        hi = np.minimum(edges[1:, None], np.arange(1, length + 1)[None])
        return np.clip(hi - lo, 0.0, None)

    heatmap = np.asarray(heatmap, np.float64)
    return (overlap(heatmap.shape[0], grid[0]) @ heatmap @
            overlap(heatmap.shape[1], grid[1]).T).reshape(-1)
