r"""Compiled kernel: the per-view gaze fields of a batch of images.

The one implementation of the exact patch masses ``g`` of a view, of ``g̃ = g /
max g`` and of the in-view gaze share; :mod:`gazeprior_mm.gaze.targets` is its only
caller in the pipeline (``gaze_collate`` per batch; the per-sample packer with a
batch of one). Everything else about a view -- its crop box and flip -- comes from
:mod:`gazeprior_mm.gaze.geometry`, whose scalar functions are compiled here as
they are.

Maths: view v maps the source axis-wise, ``x' = a_x x + b_x``; its patch borders
``e_c = c W' / M - 1/2`` (pixel-centre coordinates) map back to
``t_c = (e_c - b_x) / a_x`` in the source, so the view's gaze (the source mixture
pushed through the map) over a patch is the source mixture over the mapped
interval, whatever its orientation (a flip reverses it):

.. math::

    E^x_{kc} = \big|\Phi\big(\tfrac{t_{c+1} - x_k}{s_x}\big)
               - \Phi\big(\tfrac{t_c - x_k}{s_x}\big)\big|, \qquad
    g_{rc} = \sum_k w_k E^y_{kr} E^x_{kc}, \qquad
    \tilde g_v = g_v / \max g_v \ \text{ if } \textstyle\sum g_v \ge m_{min}
    \text{ else } 0.

Cost per view ``O(K (M_h + M_w))`` CDF values and one (M_h, K) x (K, M_w)
product: no raster.

``Phi`` is Hart's rational approximation (Hart et al. 1968, *Computer
Approximations*, no. 5666; in the form of West 2005, *Better approximations to
cumulative normal functions*): for ``x = |z| < 7.071``,

.. math::

    \Phi(-x) = e^{-x^2/2} \, P_6(x) / Q_7(x), \qquad \Phi(x) = 1 - \Phi(-x),

and ``Phi`` is 0 / 1 beyond (``Phi(-7.071) = 7.7e-13``), with
``e^{-x^2/2} = (e^{-x^2/64})^{32}`` from a degree-13 Taylor polynomial in Estrin's
form. It has no table and no branch, so LLVM compiles the loop over the
fixations to SIMD code (4 float64 at a time with AVX2). Max error 8e-13 against
``scipy.special.ndtr`` (``tests/test_view_targets_kernel.py``), so every ``E`` is
within 2e-12 of the exact value. Float64 inside: the float32 outputs are within
1e-6 of the float64 reference in ``tests/_gaze_reference.py``.

numba is a runtime requirement. Without it (``HAS_NUMBA`` False) ``_jit`` leaves
the functions as plain Python, so the same code runs, interpreted (~1000x slower):
there is no second implementation to keep in step.
"""
import numpy as np

from .geometry import is_flipped, view_crop_box

try:
    import numba
    HAS_NUMBA = True
except ImportError:  # pragma: no cover - numba is a runtime requirement
    numba = None
    HAS_NUMBA = False

#: least Gaussian std (pixels) used: 0 means a point, computed as a tiny sigma
MIN_SIGMA = 1e-6

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
    """``patch[r M_w + c] = sum_k rows[r, k] cols[c, k]`` (row-major; reassociated:
    SIMD sums)."""
    num_cols = cols.shape[0]
    for r in range(rows.shape[0]):
        for c in range(num_cols):
            total = 0.0
            for k in range(rows.shape[1]):
                total += rows[r, k] * cols[c, k]
            patch[r * num_cols + c] = total


# the crop-box / flip convention of gazeprior_mm.gaze.geometry, compiled as it is
_view_crop_box = _jit(view_crop_box)
_is_flipped = _jit(is_flipped)


@_jit
def normalise_patch_mass(mass, min_view_mass, out):
    """g̃ of one view: ``out = g / max g`` (clipped to 1) when the view keeps
    ``sum g >= max(min_view_mass, tiny)`` of the gaze, else zeros.

    The only g / max g of the package.

    Args:
        mass (np.ndarray): (P,) non-negative patch masses g.
        min_view_mass (float): least in-view mass for the view to keep its gaze.
        out (np.ndarray): (P,) float32 output.

    Returns:
        tuple: ``sum g`` (float, the view's share of the gaze mass) and whether
        the view keeps its gaze (bool).
    """
    total = 0.0
    peak = 0.0
    for i in range(mass.shape[0]):
        total += mass[i]
        peak = max(peak, mass[i])
    keep = total >= max(min_view_mass, np.finfo(np.float32).tiny)
    scale = 1.0 / peak if keep else 0.0
    for i in range(mass.shape[0]):
        out[i] = min(mass[i] * scale, 1.0)
    return total, keep


@_jit
def views_patch_mass(fixations, weights, sigma_x, sigma_y, coefficients, height,
                     width, grid_h, grid_w):
    """Exact gaze mass g of every patch of V views of one image.

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid (K = 0: no
            gaze, all zeros).
        weights (np.ndarray): float32 (K,) summing to 1.
        sigma_x, sigma_y (float): Gaussian std in source pixels (at least
            :data:`MIN_SIGMA` is used).
        coefficients (np.ndarray): float64 (V, 4) ``(a_y, a_x, b_y, b_x)`` of each
            view's map ``view = a * source + b``
            (:attr:`~gazeprior_mm.gaze.geometry.ViewGeometry.coefficients`).
        height, width (int): the views' size in pixels.
        grid_h, grid_w (int): the patch grid M_h x M_w.

    Returns:
        np.ndarray: float64 (V, M_h * M_w) row-major; view v sums to its share of
        the gaze mass.
    """
    num_views = coefficients.shape[0]
    num_fix = fixations.shape[0]
    out = np.empty((num_views, grid_h * grid_w))
    inv_sigma_x = 1.0 / max(sigma_x, MIN_SIGMA)
    inv_sigma_y = 1.0 / max(sigma_y, MIN_SIGMA)
    borders_y = np.empty(grid_h + 1)
    borders_x = np.empty(grid_w + 1)
    rows = np.empty((grid_h, num_fix))  # w_k E^y_kr
    cols = np.empty((grid_w, num_fix))  # E^x_kc
    scratch = np.empty((2, num_fix))
    for v in range(num_views):
        a_y, a_x, b_y, b_x = (coefficients[v, 0], coefficients[v, 1],
                              coefficients[v, 2], coefficients[v, 3])
        _border_positions(height, grid_h, a_y, b_y, inv_sigma_y, borders_y)
        _border_positions(width, grid_w, a_x, b_x, inv_sigma_x, borders_x)
        _axis_masses(fixations, 1, inv_sigma_y, borders_y, weights, rows, scratch)
        _axis_masses(fixations, 0, inv_sigma_x, borders_x, None, cols, scratch)
        _patch_masses(rows, cols, out[v])
    return out


@_jit
def batch_views_targets(fixations, weights, offsets, sigmas, coefficients, height,
                        width, grid_h, grid_w, min_view_mass):
    """Gaze targets and geometry fields of B images with V views each, one call.

    The images' fixations are concatenated: image b owns rows
    ``offsets[b]:offsets[b + 1]`` (an empty range: no gaze, zero targets).

    Args:
        fixations (np.ndarray): float32 (sum K_b, 2) x, y in each source grid.
        weights (np.ndarray): float32 (sum K_b,), each image's summing to 1.
        offsets (np.ndarray): int64 (B + 1,) row offsets, ``offsets[0] = 0``.
        sigmas (np.ndarray): float64 (B, 2) (sigma_x, sigma_y) in source pixels.
        coefficients (np.ndarray): float64 (B, V, 4) as in
            :func:`views_patch_mass`.
        height, width (int): the views' size in pixels.
        grid_h, grid_w (int): the patch grid M_h x M_w.
        min_view_mass (float): least in-view mass for a view to keep its gaze.

    Returns:
        tuple: in the order of :data:`TARGET_KEYS`: g̃ float32 (B, V, M_h * M_w)
        (:func:`normalise_patch_mass`), ``view_has_gaze`` bool (B, V)
        (``sum g >= max(min_view_mass, tiny)``), the in-view mass ``sum g``
        float32 (B, V), the crop box float32 (B, V, 4) and ``flip`` bool (B, V)
        (:func:`~gazeprior_mm.gaze.geometry.view_crop_box`,
        :func:`~gazeprior_mm.gaze.geometry.is_flipped`).
    """
    num_images, num_views = coefficients.shape[0], coefficients.shape[1]
    weights_out = np.empty((num_images, num_views, grid_h * grid_w), np.float32)
    keep_out = np.empty((num_images, num_views), np.bool_)
    mass_out = np.empty((num_images, num_views), np.float32)
    box_out = np.empty((num_images, num_views, 4), np.float32)
    flip_out = np.empty((num_images, num_views), np.bool_)
    for b in range(num_images):
        start, stop = offsets[b], offsets[b + 1]
        mass = views_patch_mass(fixations[start:stop], weights[start:stop],
                                sigmas[b, 0], sigmas[b, 1], coefficients[b],
                                height, width, grid_h, grid_w)
        for v in range(num_views):
            a_y, a_x, b_y, b_x = (coefficients[b, v, 0], coefficients[b, v, 1],
                                  coefficients[b, v, 2], coefficients[b, v, 3])
            box = _view_crop_box(a_x, b_x, a_y, b_y, height, width)
            for i in range(4):
                box_out[b, v, i] = box[i]
            flip_out[b, v] = _is_flipped(a_x)
            total, keep = normalise_patch_mass(mass[v], min_view_mass,
                                               weights_out[b, v])
            mass_out[b, v] = total
            keep_out[b, v] = keep
    return weights_out, keep_out, mass_out, box_out, flip_out


#: the keys the outputs of :func:`batch_views_targets` are packed under, in order
TARGET_KEYS = ('gaze_weights', 'view_has_gaze', 'gaze_view_mass', 'crop_box', 'flip')


def warm_up() -> None:
    """Compile (or load from numba's cache) :func:`batch_views_targets` for the
    argument types the pipeline passes: writable fixations / weights (the
    collate's concatenated arrays, images without gaze) and read-only ones (a
    batch of one: ``GazeHeatmap``'s cached arrays as they are).
    ``tools/setup_env.sh`` calls it once, so that the loader workers, test
    processes and DDP ranks of a fresh checkout load the kernel instead of all
    compiling it at the same time."""
    identity = np.array([[[1.0, 1.0, 0.0, 0.0]]])  # (B=1, V=1, 4)
    for writeable in (True, False):
        fixations = np.full((1, 2), 3.0, np.float32)
        weights = np.ones(1, np.float32)
        fixations.flags.writeable = weights.flags.writeable = writeable
        batch_views_targets(fixations, weights, np.array([0, 1], np.int64),
                            np.ones((1, 2)), identity, 8, 8, 2, 2, 0.1)
