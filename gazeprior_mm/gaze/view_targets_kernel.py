r"""Compiled kernel for the per-view gaze fields the packer puts in a sample.

:func:`gazeprior_mm.gaze.heatmap.source_views_patch_mass` computes the exact patch
masses of V views of one image with ~25 vectorised numpy/torch operations on
(V, 2, M + 1, K) temporaries. At the sizes of a pre-training sample (V = 2 views,
M = 14, K ~ 140 fixations) their call overhead, and in a data pipeline the cache
misses on those temporaries (the image work in between evicts them), cost several
times the arithmetic. This module does the same computation, the normalisation
to g̃ and the views' crop boxes / flips in one numba-compiled call per image
(:func:`views_targets`, the packer's), or per batch (:func:`batch_views_targets`,
``gaze_collate``'s: the same per-image routine in a loop over the images, so the
two agree bit for bit).

Maths (as :func:`~gazeprior_mm.gaze.heatmap.source_views_patch_mass`): view v maps
the source axis-wise, ``x' = a_x x + b_x``; its patch borders ``e_c`` map back to
``t_c = (e_c - b_x) / a_x`` in the source, and

.. math::

    E^x_{kc} = \big|\Phi\big(\tfrac{t_{c+1} - x_k}{s_x}\big)
               - \Phi\big(\tfrac{t_c - x_k}{s_x}\big)\big|, \qquad
    g_{rc} = \sum_k w_k E^y_{kr} E^x_{kc}, \qquad
    \tilde g_v = g_v / \max g_v \ \text{ if } \textstyle\sum g_v \ge m_{min}
    \text{ else } 0.

``Phi`` is Hart's rational approximation (Hart et al. 1968, *Computer
Approximations*, no. 5666; in the form of West 2005, *Better approximations to
cumulative normal functions*): for ``x = |z| < 7.071``,

.. math::

    \Phi(-x) = e^{-x^2/2} \, P_6(x) / Q_7(x), \qquad \Phi(x) = 1 - \Phi(-x),

and ``Phi`` is 0 / 1 beyond (``Phi(-7.071) = 7.7e-13``), with
``e^{-x^2/2} = (e^{-x^2/64})^{32}`` from a degree-13 Taylor polynomial in Estrin's
form. It has no table and no branch, so LLVM compiles the loop over the
fixations to SIMD code (4 float64 at a time with AVX2), about twice the speed of
the quintic Hermite table this kernel used before, whose per-value lookups did
not vectorise. Max error 8e-13 against ``scipy.special.ndtr``
(``tests/test_view_targets_kernel.py``), so every ``E`` is within 2e-12 of the
exact value. Float64 inside: the float32 targets are within 1e-6 of the float64
integral; the numpy path, whose float32 ``erf`` differences lose digits in the
tails, agrees to ~3e-5 (tests).

Without numba (``HAS_NUMBA`` False) the callers use the numpy path.
"""
import numpy as np

from .heatmap import _MIN_SIGMA

try:
    import numba
    HAS_NUMBA = True
except ImportError:  # pragma: no cover - numba is a runtime requirement
    numba = None
    HAS_NUMBA = False

#: ``|z|`` from which ``Phi(z)`` is taken as exactly 0 / 1 (Hart's range)
CDF_RANGE = 7.07106781186547


def _jit(function=None, **options):
    """``numba.njit(cache=True, nogil=True, **options)``, or the plain function
    without numba."""
    def wrap(function):
        if not HAS_NUMBA:
            return function
        return numba.njit(cache=True, nogil=True, **options)(function)
    return wrap(function) if function is not None else wrap


# inlined into the caller's loop (numba IR inlining) so that LLVM vectorises it;
# ``error_model='numpy'``: no zero-division check, which would block that
@_jit(inline='always', error_model='numpy', fastmath={'contract'})
def normal_cdf(z):
    """``Phi(z)``, the standard normal CDF, float64 (see the module docstring)."""
    x = abs(z)
    x = x if x < CDF_RANGE else CDF_RANGE  # keeps the polynomials finite
    u = x * x * (-1.0 / 64.0)
    u2 = u * u
    u4 = u2 * u2
    # e^u, u in [-0.79, 0], Taylor to u^13 (Estrin: short dependency chains)
    e = (((1.0 + u) + u2 * (1.0 / 2 + u * (1.0 / 6))) +
         u4 * ((1.0 / 24 + u * (1.0 / 120)) + u2 * (1.0 / 720 + u * (1.0 / 5040))) +
         u4 * u4 * (((1.0 / 40320 + u * (1.0 / 362880)) +
                     u2 * (1.0 / 3628800 + u * (1.0 / 39916800))) +
                    u4 * (1.0 / 479001600 + u * (1.0 / 6227020800))))
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e  # e^{-x^2 / 2}
    x2 = x * x
    x4 = x2 * x2
    numerator = ((220.206867912376 + 221.213596169931 * x) +
                 x2 * (112.079291497871 + 33.912866078383 * x) +
                 x4 * ((6.37396220353165 + 0.700383064443688 * x) +
                       x2 * 3.52624965998911e-02))
    denominator = ((440.413735824752 + 793.826512519948 * x) +
                   x2 * (637.333633378831 + 296.564248779674 * x) +
                   x4 * ((86.7807322029461 + 16.064177579207 * x) +
                         x2 * (1.75566716318264 + 8.83883476483184e-02 * x)))
    tail = e * numerator / denominator  # Phi(-x)
    tail = tail if x < CDF_RANGE else 0.0
    return tail if z < 0.0 else 1.0 - tail


@_jit
def _border_positions(length, parts, scale, shift, inv_sigma, out):
    """``out[e]``: the view's patch border ``t = e L / M - 1/2`` (pixel-centre
    coordinates, ``e = 0..M``) mapped into the source, in units of sigma:
    ``((t - b) / a) / s``."""
    for e in range(parts + 1):
        border = e * (length / parts) - 0.5
        out[e] = (border - shift) / scale * inv_sigma


@_jit(error_model='numpy', fastmath={'contract'})
def _axis_masses(fixations, axis, inv_sigma, borders, weights, masses, scratch):
    """``masses[c, k] = w_k |Phi(b_{c+1} - x_k / s) - Phi(b_c - x_k / s)|`` for
    every fixation k along one axis of one view (``weights`` None: ``w = 1``);
    ``borders`` (M + 1,) in units of sigma, ``masses`` (M, K), ``scratch`` (2, K)."""
    centres, previous = scratch[0], scratch[1]
    for k in range(fixations.shape[0]):
        centres[k] = fixations[k, axis] * inv_sigma
    first = borders[0]
    for k in range(centres.shape[0]):
        previous[k] = normal_cdf(first - centres[k])
    for c in range(masses.shape[0]):
        border = borders[c + 1]
        row = masses[c]
        for k in range(centres.shape[0]):  # vectorised over the fixations
            current = normal_cdf(border - centres[k])
            # numba prunes the None branch at compile time
            mass = abs(current - previous[k])
            row[k] = mass if weights is None else weights[k] * mass
            previous[k] = current


@_jit(fastmath={'reassoc', 'contract'})
def _patch_masses(rows, cols, patch):
    """``patch[r, c] = sum_k rows[r, k] cols[c, k]`` (reassociated: SIMD sums)."""
    for r in range(rows.shape[0]):
        for c in range(cols.shape[0]):
            total = 0.0
            for k in range(rows.shape[1]):
                total += rows[r, k] * cols[c, k]
            patch[r, c] = total


@_jit
def view_crop_box(ax, bx, ay, by, height, width):
    """``(x0, y0, x1, y1)`` in source box coordinates of the view ``x' = ax x +
    bx``, ``y' = ay y + by`` of ``height x width`` pixels (see
    :class:`gazeprior_mm.datasets.transforms.geometry.ViewGeometry`)."""
    # the view spans [-0.5, W' - 0.5] x [-0.5, H' - 0.5] in its centre coordinates;
    # back in the source and shifted by +0.5 into box coordinates
    x_a = (-0.5 - bx) / ax + 0.5
    x_b = (width - 0.5 - bx) / ax + 0.5
    y_a = (-0.5 - by) / ay + 0.5
    y_b = (height - 0.5 - by) / ay + 0.5
    return min(x_a, x_b), min(y_a, y_b), max(x_a, x_b), max(y_a, y_b)


@_jit
def views_targets(fixations, weights, sigma_x, sigma_y, coefficients, height,
                  width, grid_h, grid_w, min_view_mass):
    """Gaze targets and geometry fields of V views of one image.

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid; K = 0 for
            an image without gaze.
        weights (np.ndarray): float32 (K,) summing to 1.
        sigma_x, sigma_y (float): Gaussian std in source pixels (at least
            ``_MIN_SIGMA`` is used).
        coefficients (np.ndarray): float64 (V, 4) ``(a_y, a_x, b_y, b_x)`` of each
            view's map ``view = a * source + b``.
        height, width (int): the views' size in pixels.
        grid_h, grid_w (int): the patch grid M_h x M_w.
        min_view_mass (float): least in-view mass for a view to keep its gaze.

    Returns:
        tuple: g̃ float32 (V, M_h * M_w) (max 1; zeros for views not kept),
        ``view_has_gaze`` bool (V,) (``sum g >= max(min_view_mass, tiny)``), the
        in-view mass ``sum g`` float32 (V,), the crop box float32 (V, 4)
        (:func:`view_crop_box`) and ``flip`` bool (V,) (``a_x < 0``).
    """
    num_views = coefficients.shape[0]
    outputs = (np.empty((num_views, grid_h * grid_w), np.float32),
               np.empty(num_views, np.bool_), np.empty(num_views, np.float32),
               np.empty((num_views, 4), np.float32), np.empty(num_views, np.bool_))
    _views_targets_into(fixations, weights, sigma_x, sigma_y, coefficients, height,
                        width, grid_h, grid_w, min_view_mass, *outputs)
    return outputs


@_jit
def batch_views_targets(fixations, weights, offsets, sigmas, coefficients, height,
                        width, grid_h, grid_w, min_view_mass):
    """:func:`views_targets` of B images with V views each, in one call.

    The images' fixations are concatenated: image b owns rows
    ``offsets[b]:offsets[b + 1]`` (an empty range: no gaze).

    Args:
        fixations (np.ndarray): float32 (sum K_b, 2) x, y in each source grid.
        weights (np.ndarray): float32 (sum K_b,), each image's summing to 1.
        offsets (np.ndarray): int64 (B + 1,) row offsets, ``offsets[0] = 0``.
        sigmas (np.ndarray): float64 (B, 2) (sigma_x, sigma_y) in source pixels.
        coefficients (np.ndarray): float64 (B, V, 4) as in :func:`views_targets`.
        height, width, grid_h, grid_w, min_view_mass: shared by the B images,
            as in :func:`views_targets`.

    Returns:
        tuple: the outputs of :func:`views_targets` with a leading B axis:
        (B, V, M_h * M_w), (B, V), (B, V), (B, V, 4), (B, V).
    """
    num_images, num_views = coefficients.shape[0], coefficients.shape[1]
    outputs = (np.empty((num_images, num_views, grid_h * grid_w), np.float32),
               np.empty((num_images, num_views), np.bool_),
               np.empty((num_images, num_views), np.float32),
               np.empty((num_images, num_views, 4), np.float32),
               np.empty((num_images, num_views), np.bool_))
    for b in range(num_images):
        start, stop = offsets[b], offsets[b + 1]
        _views_targets_into(fixations[start:stop], weights[start:stop],
                            sigmas[b, 0], sigmas[b, 1], coefficients[b], height,
                            width, grid_h, grid_w, min_view_mass, outputs[0][b],
                            outputs[1][b], outputs[2][b], outputs[3][b],
                            outputs[4][b])
    return outputs


@_jit
def _views_targets_into(fixations, weights, sigma_x, sigma_y, coefficients, height,
                        width, grid_h, grid_w, min_view_mass, weights_out,
                        keep_out, mass_out, box_out, flip_out):
    """:func:`views_targets` into given (V, ...) outputs."""
    num_views = coefficients.shape[0]
    num_fix = fixations.shape[0]
    inv_sigma_x = 1.0 / max(sigma_x, _MIN_SIGMA)
    inv_sigma_y = 1.0 / max(sigma_y, _MIN_SIGMA)
    borders_y = np.empty(grid_h + 1)
    borders_x = np.empty(grid_w + 1)
    rows = np.empty((grid_h, num_fix))  # w_k E^y_kr
    cols = np.empty((grid_w, num_fix))  # E^x_kc
    scratch = np.empty((2, num_fix))
    patch = np.empty((grid_h, grid_w))
    threshold = max(min_view_mass, np.finfo(np.float32).tiny)
    for v in range(num_views):
        a_y, a_x, b_y, b_x = (coefficients[v, 0], coefficients[v, 1],
                              coefficients[v, 2], coefficients[v, 3])
        box = view_crop_box(a_x, b_x, a_y, b_y, height, width)
        for i in range(4):
            box_out[v, i] = box[i]
        flip_out[v] = a_x < 0.0
        _border_positions(height, grid_h, a_y, b_y, inv_sigma_y, borders_y)
        _border_positions(width, grid_w, a_x, b_x, inv_sigma_x, borders_x)
        _axis_masses(fixations, 1, inv_sigma_y, borders_y, weights, rows, scratch)
        _axis_masses(fixations, 0, inv_sigma_x, borders_x, None, cols, scratch)
        _patch_masses(rows, cols, patch)
        total = 0.0
        peak = 0.0
        for r in range(grid_h):
            for c in range(grid_w):
                total += patch[r, c]
                peak = max(peak, patch[r, c])
        mass_out[v] = total
        keep_out[v] = total >= threshold
        scale = 1.0 / peak if keep_out[v] else 0.0
        for r in range(grid_h):
            for c in range(grid_w):
                weights_out[v, r * grid_w + c] = min(patch[r, c] * scale, 1.0)


#: the keys the targets of :func:`views_targets` are packed under, in its order
TARGET_KEYS = ('gaze_weights', 'view_has_gaze', 'gaze_view_mass', 'crop_box', 'flip')


def warm_up() -> None:
    """Compile (or load from numba's cache) :func:`views_targets` for the argument
    types the pipeline passes: read-only fixations / weights (``GazeHeatmap``'s
    cached arrays) and writable ones (images without gaze, direct calls); and
    :func:`batch_views_targets` (the collate's concatenated arrays)."""
    identity = np.array([[1.0, 1.0, 0.0, 0.0]])  # (a_y, a_x, b_y, b_x)
    for writeable in (True, False):
        fixations = np.full((1, 2), 3.0, np.float32)
        weights = np.ones(1, np.float32)
        fixations.flags.writeable = weights.flags.writeable = writeable
        views_targets(fixations, weights, 1.0, 1.0, identity, 8, 8, 2, 2, 0.1)
    batch_views_targets(np.full((1, 2), 3.0, np.float32), np.ones(1, np.float32),
                        np.array([0, 1, 1]), np.ones((2, 2)),
                        np.stack([identity, identity]), 8, 8, 2, 2, 0.1)
