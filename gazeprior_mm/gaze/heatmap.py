"""Gaze heatmaps and per-patch gaze weights (DESIGN §3).

Coordinates: ``x`` is the column and ``y`` the row, in pixels, origin top-left, with
pixel centres at integer coordinates, so pixel ``(i, j)`` covers
``[j - 0.5, j + 0.5) x [i - 0.5, i + 0.5)`` and an image of ``size=(H, W)`` spans
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

The heatmap of a set of fixations ``(x_k, y_k)`` with weights ``w_k`` is

.. math::

    h(i, j) = \\frac{1}{Z} \\sum_k w_k \\, P_y(i; y_k) \\, P_x(j; x_k),\\qquad
    P_x(j; x_k) = \\Phi\\Big(\\frac{j + \\tfrac12 - x_k}{\\sigma_x}\\Big)
                - \\Phi\\Big(\\frac{j - \\tfrac12 - x_k}{\\sigma_x}\\Big),

i.e. each fixation's isotropic (or axis-aligned) Gaussian integrated exactly over
every pixel, and ``Z`` makes the map sum to 1. Integrating over pixels instead of
sampling at pixel centres keeps the map exact for any ``sigma`` (down to a single
pixel) and makes the un-normalised sum the exact share of the Gaussian mass inside the
image, which the view packer uses to tell how much gaze a crop keeps. The sum over
fixations is separable, ``H = P_y^T diag(w) P_x`` — one (K, H) x (K, W) matrix
product, no loop over fixations or pixels.
"""
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.special import ndtr

SigmaType = Union[float, Sequence[float]]

#: reasons a fixation row is dropped by :func:`clean_fixations`, in the order checked
DROP_REASONS = ('nan', 'negative_duration', 'outside')


def _as_pair(value: SigmaType, name: str) -> Tuple[float, float]:
    """``value`` as ``(vx, vy)``; a scalar is used for both axes."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f'{name} must be a non-negative float or a pair (x, y), '
                         f'got {value!r}')
    return float(arr[0]), float(arr[1])


def _check_size(size) -> Tuple[int, int]:
    if len(size) < 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ValueError(f'size must be (H, W) with positive sides, got {size!r}')
    return int(size[0]), int(size[1])


def _pixel_profiles(centres: np.ndarray, length: int, sigma: float,
                    dtype=np.float32) -> np.ndarray:
    """Mass of N(c, sigma^2) in each of ``length`` unit pixels.

    Args:
        centres (np.ndarray): (K,) Gaussian centres in pixel-centre coordinates.
        length (int): number of pixels along the axis.
        sigma (float): standard deviation in pixels (0 = a point).

    Returns:
        np.ndarray: (K, length), row k holds
        ``Phi((p + 0.5 - c_k) / sigma) - Phi((p - 0.5 - c_k) / sigma)``.
    """
    sigma = max(sigma, 1e-6)
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    cdf = ndtr((edges[None, :] - centres[:, None]) / sigma)
    return np.diff(cdf, axis=1).astype(dtype, copy=False)


def _normalised_weights(weights: Optional[np.ndarray], num: int) -> np.ndarray:
    if weights is None:
        return np.full(num, 1.0 / max(num, 1), dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.size != num:
        raise ValueError(f'weights has {weights.size} entries for {num} fixations')
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError('weights must be finite and non-negative')
    total = weights.sum()
    return weights / total if total > 0 else np.zeros_like(weights)


def gaze_mass_map(fixations,
                  size: Sequence[int],
                  sigma: SigmaType = 5.0,
                  weights=None,
                  dtype=np.float32) -> np.ndarray:
    """Un-normalised gaze map: the in-image share of the weighted Gaussian mixture.

    The weights are normalised to sum 1, so ``gaze_mass_map(...).sum()`` is the
    fraction of the gaze mass that falls inside the image (1 for fixations far from
    the borders, less for a crop that cuts the gaze off).

    Args:
        fixations (array-like): (K, >=2) ``x, y`` (further columns ignored).
        size (Sequence[int]): (H, W) of the output grid.
        sigma (float | tuple[float, float]): Gaussian std in pixels, or (sx, sy).
        weights (array-like, optional): (K,) non-negative weights; None = uniform.
        dtype: output dtype. Defaults to float32.

    Returns:
        np.ndarray: (H, W) map with entries in [0, 1] and sum <= 1.
    """
    height, width = _check_size(size)
    sigma_x, sigma_y = _as_pair(sigma, 'sigma')
    fix = np.asarray(fixations, dtype=np.float64)
    if fix.size == 0:
        return np.zeros((height, width), dtype=dtype)
    if fix.ndim != 2 or fix.shape[1] < 2:
        raise ValueError(f'fixations must have shape (K, 2) or (K, 3), '
                         f'got {fix.shape}')
    w = _normalised_weights(weights, len(fix))
    keep = w > 0
    if not keep.all():
        fix, w = fix[keep], w[keep]
    if len(fix) == 0:
        return np.zeros((height, width), dtype=dtype)
    prof_y = _pixel_profiles(fix[:, 1], height, sigma_y, dtype)  # (K, H)
    prof_x = _pixel_profiles(fix[:, 0], width, sigma_x, dtype)  # (K, W)
    return prof_y.T @ (prof_x * w[:, None].astype(dtype))


def fixations_to_heatmap(fixations,
                         size: Sequence[int],
                         sigma: SigmaType = 5.0,
                         weights=None) -> np.ndarray:
    """Gaussian gaze heatmap of fixations, normalised to sum 1 (stable).

    Args:
        fixations (array-like): (K, 2) ``x, y`` in pixels of the image of ``size``
            (a third column, e.g. duration, is ignored; pass it as ``weights``).
        size (Sequence[int]): (H, W).
        sigma (float | tuple[float, float]): Gaussian std in pixels, or (sx, sy).
            Defaults to 5.0.
        weights (array-like, optional): (K,) non-negative fixation weights, e.g.
            durations. None = uniform.

    Returns:
        np.ndarray: float32 (H, W) summing to 1; all zeros when there is no fixation
        (or no gaze mass inside the image) -- the caller decides what that means.
    """
    mass = gaze_mass_map(fixations, size, sigma, weights)
    total = float(mass.sum())
    if total <= 0:
        return np.zeros_like(mass)
    return mass / np.float32(total)


def _overlap_matrix(length: int, parts: int) -> np.ndarray:
    """(parts, length) share of each unit pixel that falls in each of ``parts``
    equal intervals of [0, length] (exact for borders that cut pixels)."""
    edges = np.linspace(0.0, length, parts + 1)
    lo = np.maximum(edges[:-1, None], np.arange(length)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, length + 1)[None, :])
    return np.clip(hi - lo, 0.0, None)


def patch_gaze_mass(heatmap: np.ndarray, grid: Union[int, Sequence[int]]) -> np.ndarray:
    """Sum of the heatmap over each patch of a grid, area-exact.

    Patch (r, c) covers rows ``[r H / M_h, (r + 1) H / M_h)`` and the analogous
    columns; a pixel cut by a patch border contributes by the share of its area in
    the patch, ``g = A_y h A_x^T`` with overlap matrices ``A`` (no loop).

    Args:
        heatmap (np.ndarray): (H, W) non-negative map.
        grid (int | tuple[int, int]): M (square grid) or (M_h, M_w).

    Returns:
        np.ndarray: float32 (M_h * M_w,) patch sums, row-major.
    """
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f'heatmap must be (H, W), got shape {heatmap.shape}')
    grid_h, grid_w = (grid, grid) if np.isscalar(grid) else tuple(grid)
    if int(grid_h) <= 0 or int(grid_w) <= 0:
        raise ValueError(f'grid must be positive, got {grid!r}')
    height, width = heatmap.shape
    a_y = _overlap_matrix(height, int(grid_h)).astype(np.float32)
    a_x = _overlap_matrix(width, int(grid_w)).astype(np.float32)
    return (a_y @ heatmap.astype(np.float32, copy=False) @ a_x.T).reshape(-1)


def patch_gaze_weights(heatmap: np.ndarray,
                       grid: Union[int, Sequence[int]]) -> np.ndarray:
    """Normalised per-patch gaze weights g̃ (stable).

    ``g_i = sum of the heatmap over patch i`` (row-major, area-exact for grids that
    do not divide the image evenly), ``g̃_i = g_i / max_j g_j`` in [0, 1].

    Args:
        heatmap (np.ndarray): (H, W) non-negative gaze map.
        grid (int | tuple[int, int]): M (M x M patches) or (M_h, M_w).

    Returns:
        np.ndarray: float32 (M * M,) with max 1, or all zeros for an all-zero map.
    """
    mass = patch_gaze_mass(heatmap, grid)
    if np.any(mass < -1e-6):
        raise ValueError('heatmap must be non-negative')
    peak = float(mass.max()) if mass.size else 0.0
    if peak <= 0:
        return np.zeros_like(mass)
    return np.clip(mass / np.float32(peak), 0.0, 1.0)


def clean_fixations(fixations,
                    size: Sequence[int],
                    image_id: Optional[str] = None,
                    warn: bool = True) -> Tuple[np.ndarray, Dict[str, int]]:
    """Drop unusable fixation rows and count why.

    A row is dropped, for the first reason that applies in this order, when
    ``nan``: x or y (or the duration) is not finite; ``negative_duration``: the
    third column is < 0; ``outside``: the point lies outside the image
    ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

    Args:
        fixations (array-like): (K, 2) ``x, y`` or (K, 3) ``x, y, duration``.
        size (Sequence[int]): (H, W) of the grid the fixations are in.
        image_id (str, optional): named in the warning.
        warn (bool): warn (once per call) when anything is dropped.

    Returns:
        tuple: ``(kept, counts)`` -- kept rows as float32 (K', C), and a dict with the
        number of rows dropped per reason in :data:`DROP_REASONS` plus ``kept``.

    Raises:
        ValueError: when the fixations are not a numeric (K, 2) or (K, 3) array.
    """
    height, width = _check_size(size)
    try:
        fix = np.asarray(fixations, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'fixations of image {image_id!r} are not numeric: '
                         f'{err}') from None
    if fix.size == 0:
        fix = fix.reshape(0, 3)
    if fix.ndim != 2 or fix.shape[1] not in (2, 3):
        raise ValueError(f'fixations of image {image_id!r} must have shape (K, 2) '
                         f'or (K, 3), got {fix.shape}')
    is_nan = ~np.all(np.isfinite(fix), axis=1)
    is_negative = np.zeros(len(fix), dtype=bool)
    if fix.shape[1] == 3:
        is_negative = ~is_nan & (np.nan_to_num(fix[:, 2]) < 0)
    x, y = np.nan_to_num(fix[:, 0]), np.nan_to_num(fix[:, 1])
    is_outside = (~is_nan & ~is_negative &
                  ((x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)))
    keep = ~(is_nan | is_negative | is_outside)
    counts = dict(nan=int(is_nan.sum()),
                  negative_duration=int(is_negative.sum()),
                  outside=int(is_outside.sum()),
                  kept=int(keep.sum()))
    dropped = len(fix) - counts['kept']
    if warn and dropped:
        details = ', '.join(f'{counts[r]} {r}' for r in DROP_REASONS if counts[r])
        warnings.warn(f'image {image_id!r}: dropped {dropped} of {len(fix)} '
                      f'fixations ({details})', stacklevel=2)
    return fix[keep].astype(np.float32), counts
