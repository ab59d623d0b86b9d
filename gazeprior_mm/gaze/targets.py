r"""From fixations to gaze targets: raster maps and the per-view patch weights g̃.

Coordinates: ``x`` is the column and ``y`` the row, in pixels, origin top-left, with
pixel centres at integer coordinates, so pixel ``(i, j)`` covers
``[j - 0.5, j + 0.5) x [i - 0.5, i + 0.5)`` and an image of ``size=(H, W)`` spans
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``. The gaze of an image is the mixture
``sum_k w_k N((x_k, y_k), diag(s_x^2, s_y^2))`` with weights summing to 1.

**Per-view patch weights** (what the models train on) have one route:
:func:`batch_view_targets` takes the images' source fixations and each view's
:class:`~gazeprior_mm.gaze.geometry.ViewGeometry` (:class:`PendingGazeTargets`)
and runs the compiled kernel (:mod:`.view_targets_kernel`) once for the batch: the
exact mass ``g`` of the mixture over every patch of every view (no raster), the
in-view share ``sum g``, ``g̃ = g / max g`` and the views' crop boxes and flips.
``gaze_collate`` calls it per batch, the per-sample packer per image
(:func:`render_source_views`, a batch of one), :func:`fixations_to_patch_weights`
for an image as it is.

**Raster maps** (``gaze_map``, ``GazeFocusCrop``, reader fusion): the heatmap is a
separable sum

.. math::

    h(i, j) = \frac{1}{Z} \sum_k w_k \, P_y(i; y_k) \, P_x(j; x_k)

with ``Z`` making it sum to 1, i.e. ``H = P_y^T diag(w) P_x``: one (K, H) x (K, W)
matrix product. ``P`` is the mass of the 1-D Gaussian N(x_k, sigma^2) in each pixel:

- ``sigma >= 1`` px: the density at the pixel centre,
  ``P_x(j) = exp(-(j - x_k)^2 / 2 sigma^2) / (sqrt(2 pi) sigma)`` (float32),
  truncated at 7.7 sigma (``exp(max(-z^2/2, -30)) - exp(-30)``: exactly 0 beyond,
  < 1e-13 off inside, and no denormal floats, which are slow). Its patch sums are
  the midpoint rule of the kernel's exact ``g`` (~1e-3 relative at sigma = 5 px).
- ``sigma < 1`` px: the exact integral over the pixel,
  ``P_x(j) = Phi((j + 1/2 - x_k) / sigma) - Phi((j - 1/2 - x_k) / sigma)``, so a
  point fixation (sigma -> 0) stays one pixel instead of vanishing between centres.

Pure numpy (and the kernel); fixation checks are in :mod:`.fixations`.
"""
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.special import ndtr

from .fixations import SigmaType, as_pair, check_size
from .geometry import ViewGeometry, init_geometry
from .view_targets_kernel import TARGET_KEYS, batch_views_targets

try:  # OpenCV's vectorised exp is ~3x numpy's for float32; same values to 1 ulp
    from cv2 import exp as _cv2_exp
    from cv2 import multiply as _cv2_multiply
except ImportError:  # pragma: no cover - opencv is a dependency of mmcv
    _cv2_exp = _cv2_multiply = None

#: below this std (pixels) raster pixel masses are exact CDF differences, from it
#: on the Gaussian density at pixel centres (see the module docstring)
EXACT_SIGMA_BELOW = 1.0
_LOG_FLOOR = -30.0


# ----------------------------------------------------------------- patch weights
class PendingGazeTargets(NamedTuple):
    """What :func:`batch_view_targets` needs of one image: its source gaze and
    its views' geometry (picklable; ``PackGazeInputs(defer_targets=True)`` leaves
    it in a sample's ``gaze_pending`` data field for ``gaze_collate``).

    Fields: ``fixations`` float32 (K, 2) and ``weights`` float32 (K,) summing to 1
    in the source grid (K = 0 for an image without gaze); ``sigma`` (sx, sy)
    source pixels; ``geometries`` the V views' ``ViewGeometry`` (one view shape);
    ``grid`` (M_h, M_w); ``min_view_mass``.
    """
    fixations: np.ndarray
    weights: np.ndarray
    sigma: Tuple[float, float]
    geometries: tuple
    grid: Tuple[int, int]
    min_view_mass: float


_NO_FIXATIONS = np.zeros((0, 2), np.float32)
_NO_WEIGHTS = np.zeros(0, np.float32)


def grid_shape(grid: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """(M_h, M_w) of a patch grid given as M or (M_h, M_w), checked positive."""
    grid_h, grid_w = (grid, grid) if np.isscalar(grid) else tuple(grid)
    if int(grid_h) <= 0 or int(grid_w) <= 0:
        raise ValueError(f'grid must be positive, got {grid!r}')
    return int(grid_h), int(grid_w)


def pending_targets(fixations: np.ndarray, weights: np.ndarray, sigma,
                    geometries: Sequence[ViewGeometry], grid, has_gaze: bool,
                    min_view_mass: float) -> PendingGazeTargets:
    """The :class:`PendingGazeTargets` of one image (no fixations when it has no
    gaze: its targets are then zeros)."""
    if not (has_gaze and len(fixations) > 0):
        fixations, weights = _NO_FIXATIONS, _NO_WEIGHTS
    return PendingGazeTargets(fixations, weights, (float(sigma[0]),
                                                   float(sigma[1])),
                              tuple(geometries), grid_shape(grid),
                              float(min_view_mass))


def batch_view_targets(pending: Sequence[PendingGazeTargets]) -> dict:
    """The per-view gaze fields of B images, one kernel call (the only route).

    All images must share the number of views, the view shape, the grid and
    ``min_view_mass`` (``gaze_collate`` groups them).

    Args:
        pending (Sequence[PendingGazeTargets]): the B images.

    Returns:
        dict: keyed by :data:`~.view_targets_kernel.TARGET_KEYS`:
        ``gaze_weights`` float32 (B, V, M_h * M_w) g̃ row-major (max 1, zeros for
        views without gaze), ``view_has_gaze`` bool (B, V), ``gaze_view_mass``
        float32 (B, V) in-view gaze share, ``crop_box`` float32 (B, V, 4),
        ``flip`` bool (B, V).
    """
    first = pending[0]
    height, width = first.geometries[0].view_shape
    if len(pending) == 1:  # the per-sample packer: nothing to concatenate
        fixations, weights = first.fixations, first.weights
        offsets = np.array([0, len(fixations)], np.int64)
    else:
        fixations = np.concatenate([p.fixations for p in pending])
        weights = np.concatenate([p.weights for p in pending])
        offsets = np.zeros(len(pending) + 1, np.int64)
        np.cumsum([len(p.fixations) for p in pending], out=offsets[1:])
    coefficients = np.array([[g.coefficients for g in p.geometries]
                             for p in pending], np.float64)
    outputs = batch_views_targets(
        fixations, weights, offsets,
        np.array([p.sigma for p in pending], np.float64), coefficients,
        int(height), int(width), first.grid[0], first.grid[1],
        first.min_view_mass)
    return dict(zip(TARGET_KEYS, outputs))


def render_source_views(fixations: np.ndarray, weights: np.ndarray, sigma,
                        geometries: Sequence[ViewGeometry], grid, has_gaze: bool,
                        min_view_mass: float, with_map: bool = True,
                        use_kernel: Optional[bool] = None) -> dict:
    """The gaze targets of the V views of one image: :func:`batch_view_targets`
    of a batch of one, plus (``with_map``) each view's raster map.

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid.
        weights (np.ndarray): float32 (K,) summing to 1.
        sigma (tuple[float, float]): (sx, sy) in source pixels.
        geometries (Sequence[ViewGeometry]): the V views, one view shape.
        grid (int | tuple[int, int]): patch grid M or (M_h, M_w).
        has_gaze (bool): whether the image has gaze at all.
        min_view_mass (float): least in-view gaze share for a view to count.
        with_map (bool): also the full-resolution maps (:func:`view_maps`).
        use_kernel (bool, optional): deprecated and ignored: there is no numpy
            path any more, the kernel is the one implementation.

    Returns:
        dict: the fields of :func:`batch_view_targets` without the batch axis,
        plus ``gaze_map`` float32 (V, h, w) with ``with_map``.
    """
    if use_kernel is not None:
        warnings.warn('render_source_views(use_kernel=...) is deprecated and '
                      'ignored: the kernel is the only implementation',
                      DeprecationWarning, stacklevel=2)
    pending = pending_targets(fixations, weights, sigma, geometries, grid,
                              has_gaze, min_view_mass)
    targets = {key: value[0]
               for key, value in batch_view_targets([pending]).items()}
    if with_map:
        targets['gaze_map'] = view_maps(pending, targets['view_has_gaze'])
    return targets


def view_maps(pending: PendingGazeTargets, keep: np.ndarray) -> np.ndarray:
    """Raster gaze maps of an image's V views, each summing to 1 where ``keep``
    (zeros elsewhere): the source fixations moved into each view, sigma scaled by
    its zoom (:func:`gaze_mass_maps`).

    Returns:
        np.ndarray: float32 (V, h, w).
    """
    shape = pending.geometries[0].view_shape
    if len(pending.fixations) == 0:
        return np.zeros((len(pending.geometries), *shape), np.float32)
    moved = np.stack([g.to_view(pending.fixations) for g in pending.geometries])
    sigmas = np.array([g.view_sigma(pending.sigma) for g in pending.geometries],
                      np.float32)
    return normalise_maps(
        gaze_mass_maps(moved, shape, sigmas, pending.weights), keep)


def fixations_to_patch_weights(fixations, size: Sequence[int],
                               grid: Union[int, Sequence[int]],
                               sigma: SigmaType = 5.0,
                               weights=None) -> np.ndarray:
    """g̃ of an image as it is (no view): ``g_i`` the exact gaze mass of patch i,
    ``g̃_i = g_i / max_j g_j`` -- :func:`batch_view_targets` of the identity view.

    Args:
        fixations (array-like): (K, >=2) x, y (further columns ignored).
        size (Sequence[int]): (H, W).
        grid (int | tuple[int, int]): M or (M_h, M_w).
        sigma (float | tuple[float, float]): Gaussian std in pixels, or (sx, sy).
        weights (array-like, optional): (K,) non-negative weights; None = uniform.

    Returns:
        np.ndarray: float32 (M_h * M_w,) with max 1, or all zeros when no gaze mass
        falls inside the image.
    """
    fix = np.asarray(fixations, dtype=np.float32)
    if fix.size == 0:
        fix = fix.reshape(0, 2)
    if fix.ndim != 2 or fix.shape[1] < 2:
        raise ValueError(f'fixations must have shape (K, 2) or (K, 3), '
                         f'got {fix.shape}')
    w = normalised_weights(weights, len(fix)).astype(np.float32)
    targets = render_source_views(
        np.ascontiguousarray(fix[:, :2]), w, as_pair(sigma, 'sigma'),
        [init_geometry(check_size(size))], grid, True, 0.0, with_map=False)
    return targets['gaze_weights'][0]


# ------------------------------------------------------------------- raster maps
def _exp_inplace(values: np.ndarray) -> np.ndarray:
    """``values <- exp(values)`` for a float32 array."""
    if _cv2_exp is not None and values.flags.c_contiguous and values.size:
        flat = values.reshape(-1, values.shape[-1])  # a view: C-contiguous
        _cv2_exp(flat, flat)
    else:
        np.exp(values, out=values)
    return values


def _scaled_pixel_profiles(centres: np.ndarray, length: int, sigma,
                           dtype=np.float32) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel masses of N(c, sigma^2) up to a constant per batch entry.

    Returns ``(profiles, scale)`` with ``profiles * scale[..., None, None]`` the
    masses; the constant is kept apart so callers fold it into the (K,) weights
    instead of scaling a (K, length) array.

    Args:
        centres (np.ndarray): (..., K) Gaussian centres in pixel-centre coordinates.
        length (int): number of pixels along the axis.
        sigma (float | np.ndarray): std in pixels, a scalar or (...,) one per batch
            entry (0 = a point).

    Returns:
        tuple: (..., K, length) profiles and the (...,) float64 scale.
    """
    sigma = np.maximum(np.asarray(sigma, dtype=np.float64), 1e-6)
    centres = np.asarray(centres)
    if np.all(sigma >= EXACT_SIGMA_BELOW):
        inv = (np.sqrt(0.5) / sigma)[..., None, None].astype(dtype)
        z = (np.arange(length, dtype=dtype) * inv -
             centres[..., None].astype(dtype) * inv)  # (d / sigma) / sqrt(2)
        # truncate at sqrt(2 * 30) = 7.7 sigma: exp(max(-z^2, -30)) - exp(-30) is 0
        # beyond and off by < 1e-13 inside, and no denormal floats (slow in exp
        # and in the matrix products) ever appear
        if _cv2_multiply is not None and dtype is np.float32 and z.size:
            flat = z.reshape(-1, length)  # a view: z is C-contiguous
            _cv2_multiply(flat, flat, flat, -1.0)
        else:
            np.multiply(z, z, out=z)
            np.negative(z, out=z)
        np.maximum(z, dtype(_LOG_FLOOR), out=z)
        if dtype is np.float32:
            _exp_inplace(z)
        else:
            np.exp(z, out=z)
        z -= dtype(np.exp(_LOG_FLOOR))
        return z, 1.0 / (np.sqrt(2 * np.pi) * sigma)
    edges = np.arange(length + 1, dtype=np.float64) - 0.5
    cdf = ndtr((edges - centres[..., None]) / sigma[..., None, None])
    return np.diff(cdf, axis=-1).astype(dtype, copy=False), np.ones_like(sigma)


def pixel_profiles(centres: np.ndarray, length: int, sigma,
                   dtype=np.float32) -> np.ndarray:
    """Mass of N(c, sigma^2) in each of ``length`` unit pixels, (..., K, length)
    (see :func:`_scaled_pixel_profiles`)."""
    profiles, scale = _scaled_pixel_profiles(centres, length, sigma, dtype)
    profiles *= np.asarray(scale, dtype)[..., None, None]
    return profiles


def normalised_weights(weights: Optional[np.ndarray], num: int) -> np.ndarray:
    """(num,) float64 fixation weights summing to 1 (uniform for None; zeros when
    they sum to 0), checked finite and non-negative."""
    if weights is None:
        return np.full(num, 1.0 / max(num, 1), dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.size != num:
        raise ValueError(f'weights has {weights.size} entries for {num} fixations')
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError('weights must be finite and non-negative')
    total = weights.sum()
    return weights / total if total > 0 else np.zeros_like(weights)


def normalise_maps(maps: np.ndarray,
                   keep: Optional[np.ndarray] = None) -> np.ndarray:
    """Maps scaled to sum 1, the one map normalisation (heatmaps, view maps,
    per-reader maps).

    Args:
        maps (np.ndarray): float (V, h, w), scaled in place.
        keep (np.ndarray, optional): (V,) bool; maps not kept become zeros.

    Returns:
        np.ndarray: ``maps``, each summing to 1 where kept and of positive mass,
        zeros elsewhere.
    """
    mass = maps.sum(axis=(1, 2))
    where = mass > 0 if keep is None else keep & (mass > 0)
    maps *= np.divide(1.0, mass, out=np.zeros_like(mass),
                      where=where)[:, None, None]
    return maps


def gaze_mass_map(fixations,
                  size: Sequence[int],
                  sigma: SigmaType = 5.0,
                  weights=None,
                  dtype=np.float32) -> np.ndarray:
    """Un-normalised gaze map: the in-image share of the weighted Gaussian mixture.

    The weights are normalised to sum 1, so ``gaze_mass_map(...).sum()`` is the
    fraction of the gaze mass that falls inside the image.

    Args:
        fixations (array-like): (K, >=2) ``x, y`` (further columns ignored).
        size (Sequence[int]): (H, W) of the output grid.
        sigma (float | tuple[float, float]): Gaussian std in pixels, or (sx, sy).
        weights (array-like, optional): (K,) non-negative weights; None = uniform.
        dtype: output dtype. Defaults to float32.

    Returns:
        np.ndarray: (H, W) map with entries in [0, 1] and sum <= 1.
    """
    height, width = check_size(size)
    sigma_x, sigma_y = as_pair(sigma, 'sigma')
    fix = np.asarray(fixations, dtype=np.float64)
    if fix.size == 0:
        return np.zeros((height, width), dtype=dtype)
    if fix.ndim != 2 or fix.shape[1] < 2:
        raise ValueError(f'fixations must have shape (K, 2) or (K, 3), '
                         f'got {fix.shape}')
    w = normalised_weights(weights, len(fix))
    keep = w > 0
    if not keep.all():
        fix, w = fix[keep], w[keep]
    if len(fix) == 0:
        return np.zeros((height, width), dtype=dtype)
    prof_y, scale_y = _scaled_pixel_profiles(fix[:, 1], height, sigma_y, dtype)
    prof_x, scale_x = _scaled_pixel_profiles(fix[:, 0], width, sigma_x, dtype)
    prof_x *= (w * (scale_y * scale_x)).astype(dtype)[:, None]
    return prof_y.T @ prof_x  # (H, K) x (K, W)


def weighted_profiles(fixations: np.ndarray, size: Sequence[int],
                      sigmas: np.ndarray,
                      weights: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Factors of V views' mass maps: ``map_v = P_y[v]^T P_x[v]``.

    Args:
        fixations (np.ndarray): (V, K, 2) x, y of the K fixations in each view.
        size (Sequence[int]): (H, W) shared by the views.
        sigmas (np.ndarray): (V, 2) per view (sx, sy) in pixels.
        weights (np.ndarray): (K,) non-negative weights summing to 1.

    Returns:
        tuple: float32 ``P_y`` (V, K, H) and ``P_x`` (V, K, W), the weights and the
        Gaussians' normalisation folded into ``P_x``.
    """
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1, 2)
    prof_y, scale_y = _scaled_pixel_profiles(fixations[..., 1], int(size[0]),
                                             sigmas[:, 1])
    prof_x, scale_x = _scaled_pixel_profiles(fixations[..., 0], int(size[1]),
                                             sigmas[:, 0])
    factor = (scale_y * scale_x)[:, None] * np.asarray(weights, np.float64)[None]
    prof_x *= factor.astype(np.float32)[..., None]
    return prof_y, prof_x


def gaze_mass_maps(fixations: np.ndarray, size: Sequence[int], sigmas: np.ndarray,
                   weights: np.ndarray) -> np.ndarray:
    """:func:`gaze_mass_map` of V views of the same fixations at once
    (arguments as :func:`weighted_profiles`).

    Returns:
        np.ndarray: float32 (V, H, W); view v sums to its in-view share of the mass.
    """
    prof_y, prof_x = weighted_profiles(fixations, size, sigmas, weights)
    return np.matmul(prof_y.transpose(0, 2, 1), prof_x)


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
    return normalise_maps(mass[None])[0]


__all__: List[str] = [
    'PendingGazeTargets', 'grid_shape', 'pending_targets', 'batch_view_targets',
    'render_source_views', 'view_maps', 'fixations_to_patch_weights',
    'pixel_profiles', 'normalised_weights', 'normalise_maps', 'gaze_mass_map',
    'weighted_profiles', 'gaze_mass_maps', 'fixations_to_heatmap',
    'EXACT_SIGMA_BELOW'
]
