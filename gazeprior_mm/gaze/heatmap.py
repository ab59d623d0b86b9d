"""Former home of the gaze maths, kept so that old imports work.

The maths moved (issue #15): raster maps and the per-view patch weights g̃ to
:mod:`gazeprior_mm.gaze.targets`, fixation checks to
:mod:`gazeprior_mm.gaze.fixations`, the exact patch masses and g / max g to the
kernel :mod:`gazeprior_mm.gaze.view_targets_kernel`. The names below are
re-exports of those; the three raster / per-view patch-mass variants that
production never called warn ``DeprecationWarning`` and forward to the one route.
"""
import warnings
from functools import lru_cache
from typing import Sequence, Union

import numpy as np

from .fixations import DROP_REASONS, SigmaType, clean_fixations  # noqa: F401
from .fixations import as_pair as _as_pair  # noqa: F401
from .fixations import check_size as _check_size  # noqa: F401
from .geometry import init_geometry
from .targets import (EXACT_SIGMA_BELOW, fixations_to_heatmap,  # noqa: F401
                      fixations_to_patch_weights, gaze_mass_map, gaze_mass_maps,
                      grid_shape, weighted_profiles)
from .targets import pixel_profiles as _pixel_profiles  # noqa: F401
from .view_targets_kernel import normalise_patch_mass, views_patch_mass


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(f'gazeprior_mm.gaze.{name} is deprecated: {instead}',
                  DeprecationWarning, stacklevel=3)


@lru_cache(maxsize=64)
def _overlap_matrix(length: int, parts: int) -> np.ndarray:
    """(parts, length) share of each unit pixel in each of ``parts`` equal
    intervals of [0, length]; float32, cached, read-only."""
    edges = np.linspace(0.0, length, parts + 1)
    lo = np.maximum(edges[:-1, None], np.arange(length)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, length + 1)[None, :])
    overlap = np.clip(hi - lo, 0.0, None).astype(np.float32)
    overlap.flags.writeable = False
    return overlap


def patch_gaze_mass(heatmap: np.ndarray,
                    grid: Union[int, Sequence[int]]) -> np.ndarray:
    """Deprecated: area-exact sums of a raster map over the patches of a grid,
    float32 (M_h * M_w,) row-major. The patch masses of gaze come exactly from
    the fixations instead (:func:`gazeprior_mm.gaze.targets.batch_view_targets`,
    :func:`~gazeprior_mm.gaze.targets.fixations_to_patch_weights`)."""
    _deprecated('patch_gaze_mass', 'patch masses come from the fixations '
                '(gaze.targets.fixations_to_patch_weights / batch_view_targets)')
    return _raster_patch_mass(heatmap, grid)


def _raster_patch_mass(heatmap: np.ndarray, grid) -> np.ndarray:
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f'heatmap must be (H, W), got shape {heatmap.shape}')
    grid_h, grid_w = grid_shape(grid)
    a_y = _overlap_matrix(heatmap.shape[0], grid_h)
    a_x = _overlap_matrix(heatmap.shape[1], grid_w)
    return (a_y @ heatmap.astype(np.float32, copy=False) @ a_x.T).reshape(-1)


def patch_gaze_weights(heatmap: np.ndarray,
                       grid: Union[int, Sequence[int]]) -> np.ndarray:
    """Deprecated: g̃ of a raster map (its patch sums over their max, the
    kernel's :func:`~gazeprior_mm.gaze.view_targets_kernel.normalise_patch_mass`).
    Use :func:`gazeprior_mm.gaze.targets.fixations_to_patch_weights`."""
    _deprecated('patch_gaze_weights',
                'use gaze.targets.fixations_to_patch_weights(fixations, ...)')
    mass = _raster_patch_mass(heatmap, grid)
    if np.any(mass < -1e-6):
        raise ValueError('heatmap must be non-negative')
    out = np.empty_like(mass)
    normalise_patch_mass(np.maximum(mass, 0).astype(np.float64), 0.0, out)
    return out


def fixation_patch_mass(fixations: np.ndarray, size: Sequence[int],
                        grid: Union[int, Sequence[int]], sigmas,
                        weights) -> np.ndarray:
    """Deprecated: exact gaze mass of each patch of V views given by their
    fixations in view pixels (the kernel's
    :func:`~gazeprior_mm.gaze.view_targets_kernel.views_patch_mass` per view).

    Args:
        fixations (np.ndarray): (V, K, 2) or (K, 2) x, y in the views' pixels.
        size (Sequence[int]): (H, W) shared by the views.
        grid (int | tuple[int, int]): M or (M_h, M_w).
        sigmas (array-like): (V, 2), one (sx, sy) or a scalar.
        weights (array-like): (K,) summing to 1.

    Returns:
        np.ndarray: float32 (V, M_h, M_w) ((M_h, M_w) for (K, 2) input).
    """
    _deprecated('fixation_patch_mass', 'use gaze.targets.batch_view_targets '
                '(source fixations + view geometry)')
    height, width = _check_size(size)
    grid_h, grid_w = grid_shape(grid)
    fix = np.asarray(fixations, dtype=np.float32)
    single = fix.ndim == 2
    fix = fix[None] if single else fix
    if fix.ndim != 3 or fix.shape[-1] < 2:
        raise ValueError(f'fixations must have shape (V, K, 2) or (K, 2), '
                         f'got {fix.shape}')
    sig = np.asarray(sigmas, np.float64)
    sig = np.broadcast_to(sig.reshape(-1, 2) if sig.size > 1 else sig,
                          (len(fix), 2))
    identity = np.array([init_geometry((height, width)).coefficients], np.float64)
    w = np.asarray(weights, np.float32)
    mass = np.stack([views_patch_mass(
        np.ascontiguousarray(view[:, :2]), w, sig[v, 0], sig[v, 1], identity,
        height, width, grid_h, grid_w)[0] for v, view in enumerate(fix)])
    mass = mass.astype(np.float32).reshape(len(fix), grid_h, grid_w)
    return mass[0] if single else mass
