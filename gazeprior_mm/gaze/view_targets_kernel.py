r"""Compiled kernel for the per-view gaze fields the packer puts in a sample.

:func:`gazeprior_mm.gaze.heatmap.source_views_patch_mass` computes the exact patch
masses of V views of one image with ~25 vectorised numpy/torch operations on
(V, 2, M + 1, K) temporaries. At the sizes of a pre-training sample (V = 2 views,
M = 14, K ~ 140 fixations) their call overhead, and in a data pipeline the cache
misses on those temporaries (the image work in between evicts them), cost several
times the arithmetic. This module does the same computation, the normalisation
to g̃ and the views' crop boxes / flips in one numba-compiled call.

Maths (as :func:`~gazeprior_mm.gaze.heatmap.source_views_patch_mass`): view v maps
the source axis-wise, ``x' = a_x x + b_x``; its patch borders ``e_c`` map back to
``t_c = (e_c - b_x) / a_x`` in the source, and

.. math::

    E^x_{kc} = \big|\Phi\big(\tfrac{t_{c+1} - x_k}{s_x}\big)
               - \Phi\big(\tfrac{t_c - x_k}{s_x}\big)\big|, \qquad
    g_{rc} = \sum_k w_k E^y_{kr} E^x_{kc}, \qquad
    \tilde g_v = g_v / \max g_v \ \text{ if } \textstyle\sum g_v \ge m_{min}
    \text{ else } 0.

``Phi`` comes from a table of quintic Hermite cells (``Phi``, ``phi``, ``phi'`` at
nodes ``z_i = -Z + i h``, ``h = 1/8``, ``Z = 7``): the interpolation error is at
most ``h^6 max|Phi^{(6)}| / (6! 64) < 3e-10`` and ``Phi`` is exactly 0 below
``-Z`` and 1 from ``Z`` on (``Phi(-7) = 1.3e-12``), so every ``E`` is within 1e-9 of
the exact value (``tests/test_view_targets_kernel.py`` checks the table against
``scipy.special.ndtr``). Float64 inside: the float32 targets are within 1e-6 of the
float64 integral; the numpy path, whose float32 ``erf`` differences lose digits in
the tails, agrees to ~3e-5 (tests).

Without numba (``HAS_NUMBA`` False) the callers use the numpy path.
"""
import numpy as np
from scipy.special import ndtr

from .heatmap import _MIN_SIGMA

try:
    import numba
    HAS_NUMBA = True
except ImportError:  # pragma: no cover - numba is a runtime requirement
    numba = None
    HAS_NUMBA = False

#: half-width of the tabulated range of ``Phi``, in standard deviations
TABLE_RANGE = 7.0
#: node spacing of the table
TABLE_STEP = 1.0 / 8


def _quintic_hermite_table(half_range: float = TABLE_RANGE,
                           step: float = TABLE_STEP) -> np.ndarray:
    """(N + 2, 6) float64 polynomial coefficients of ``Phi`` per table cell.

    Row ``i + 1`` holds cell ``[z_i, z_i + h)``, ``z_i = -Z + i h``, ``i < N``:
    ``Phi(z_i + s h) ~= sum_j c_j s^j`` for ``s`` in [0, 1), the quintic that
    matches ``Phi``, ``h phi`` and ``h^2 phi'`` (``phi' = -z phi``) at both ends of
    the cell. Row 0 is the constant 0 (below ``-Z``) and row ``N + 1`` the constant
    1 (at or above ``Z``), so a clamped position needs no branch.
    """
    nodes = -half_range + step * np.arange(int(round(2 * half_range / step)) + 1)
    density = np.exp(-0.5 * nodes * nodes) / np.sqrt(2 * np.pi)
    # value, first and second derivative in s at every node
    ends = np.stack([ndtr(nodes), step * density, -step * step * nodes * density])
    # rows: p(0), p'(0), p''(0), p(1), p'(1), p''(1) of p(s) = sum_j c_j s^j
    powers = np.arange(6)
    at_one = [np.ones(6), powers.astype(float), powers * (powers - 1.0)]
    system = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0],
                       [0, 0, 2, 0, 0, 0], *at_one], float)
    values = np.concatenate([ends[:, :-1], ends[:, 1:]])  # (6, N)
    cells = np.linalg.solve(system, values).T  # (N, 6)
    constant = np.zeros((1, 6))
    return np.ascontiguousarray(np.concatenate(
        [constant, cells, constant + np.eye(6)[:1]]))


HERMITE_TABLE = _quintic_hermite_table()
HERMITE_TABLE.flags.writeable = False
#: largest table position: the constant-1 row
_LAST_POSITION = float(len(HERMITE_TABLE) - 1)
#: table position of z = 0 is ``z / h + _ZERO_POSITION``
_ZERO_POSITION = TABLE_RANGE / TABLE_STEP + 1.0


def _jit(function=None, **options):
    """``numba.njit(cache=True, nogil=True, **options)``, or the plain function
    without numba."""
    def wrap(function):
        if not HAS_NUMBA:
            return function
        return numba.njit(cache=True, nogil=True, **options)(function)
    return wrap(function) if function is not None else wrap


@_jit
def table_cdf(position):
    """``Phi(z)`` at table position ``position = z / h + Z / h + 1`` (float64)."""
    table = HERMITE_TABLE
    position = min(max(position, 0.0), _LAST_POSITION)
    i = int(position)
    s = position - i
    return table[i, 0] + s * (table[i, 1] + s * (table[i, 2] + s * (
        table[i, 3] + s * (table[i, 4] + s * table[i, 5]))))


@_jit
def _border_positions(length, parts, scale, shift, inv_sigma, out):
    """``out[e]``: table position of the view's patch border ``t = e L / M - 1/2``
    (pixel-centre coordinates, ``e = 0..M``) mapped into the source,
    ``((t - b) / a) / (s h) + Z / h + 1``."""
    to_table = inv_sigma / TABLE_STEP
    for e in range(parts + 1):
        border = e * (length / parts) - 0.5
        out[e] = (border - shift) / scale * to_table + _ZERO_POSITION


@_jit
def _axis_masses(fixations, axis, to_table, borders, weights, masses):
    """``masses[c, k] = w_k |Phi(t_{c+1}) - Phi(t_c)|`` for every fixation k along
    one axis of one view (``weights`` None: ``w = 1``); ``masses`` (M, K)."""
    for k in range(fixations.shape[0]):
        centre = fixations[k, axis] * to_table
        weight = 1.0 if weights is None else weights[k]
        previous = table_cdf(borders[0] - centre)
        for c in range(masses.shape[0]):
            current = table_cdf(borders[c + 1] - centre)
            masses[c, k] = weight * abs(current - previous)
            previous = current


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
                  width, grid_h, grid_w, min_view_mass, weights_out, mass_out,
                  keep_out, box_out, flip_out):
    """Gaze targets and geometry fields of V views of one image, written into
    the outputs.

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid; K = 0 for
            an image without gaze.
        weights (np.ndarray): float32 (K,) summing to 1.
        sigma_x, sigma_y (float): Gaussian std in source pixels, > 0.
        coefficients (np.ndarray): float64 (V, 4) ``(a_y, a_x, b_y, b_x)`` of each
            view's map ``view = a * source + b``.
        height, width (int): the views' size in pixels.
        grid_h, grid_w (int): the patch grid M_h x M_w.
        min_view_mass (float): least in-view mass for a view to keep its gaze.
        weights_out (np.ndarray): float32 (V, M_h * M_w): g̃ (max 1), zeros for
            views not kept.
        mass_out (np.ndarray): float32 (V,): ``sum g``.
        keep_out (np.ndarray): bool (V,): ``sum g >= max(min_view_mass, tiny)``.
        box_out (np.ndarray): float32 (V, 4): :func:`view_crop_box`.
        flip_out (np.ndarray): bool (V,): ``a_x < 0``.
    """
    num_fix = fixations.shape[0]
    borders_y = np.empty(grid_h + 1)
    borders_x = np.empty(grid_w + 1)
    rows = np.empty((grid_h, num_fix))  # w_k E^y_kr
    cols = np.empty((grid_w, num_fix))  # E^x_kc
    patch = np.empty((grid_h, grid_w))
    threshold = max(min_view_mass, np.finfo(np.float32).tiny)
    for v in range(coefficients.shape[0]):
        a_y, a_x, b_y, b_x = (coefficients[v, 0], coefficients[v, 1],
                              coefficients[v, 2], coefficients[v, 3])
        box = view_crop_box(a_x, b_x, a_y, b_y, height, width)
        for i in range(4):
            box_out[v, i] = box[i]
        flip_out[v] = a_x < 0.0
        _border_positions(height, grid_h, a_y, b_y, 1.0 / sigma_y, borders_y)
        _border_positions(width, grid_w, a_x, b_x, 1.0 / sigma_x, borders_x)
        _axis_masses(fixations, 1, 1.0 / (sigma_y * TABLE_STEP), borders_y,
                     weights, rows)
        _axis_masses(fixations, 0, 1.0 / (sigma_x * TABLE_STEP), borders_x, None,
                     cols)
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


def source_views_targets(fixations: np.ndarray, weights: np.ndarray, sigma,
                         geometries, grid_h: int, grid_w: int,
                         min_view_mass: float) -> dict:
    """g̃, ``view_has_gaze``, in-view masses, crop boxes and flips of V views of
    one image, in one compiled call (see the module docstring).

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid (K = 0:
            no gaze).
        weights (np.ndarray): float32 (K,) summing to 1.
        sigma (tuple[float, float]): (sx, sy) in source pixels.
        geometries (Sequence[ViewGeometry]): the V views' geometry, one view shape.
        grid_h, grid_w (int): the patch grid.
        min_view_mass (float): least in-view gaze share for a view to count.

    Returns:
        dict: ``gaze_weights`` float32 (V, M_h * M_w), ``view_has_gaze`` bool (V,),
        ``gaze_view_mass`` float32 (V,) (as
        :func:`gazeprior_mm.datasets.transforms.formatting.render_source_views`),
        ``crop_box`` float32 (V, 4), ``flip`` bool (V,).
    """
    num_views = len(geometries)
    out = dict(gaze_weights=np.empty((num_views, grid_h * grid_w), np.float32),
               view_has_gaze=np.empty(num_views, np.bool_),
               gaze_view_mass=np.empty(num_views, np.float32),
               crop_box=np.empty((num_views, 4), np.float32),
               flip=np.empty(num_views, np.bool_))
    height, width = geometries[0].view_shape
    coefficients = np.array([(g.ay, g.ax, g.by, g.bx) for g in geometries])
    min_sigma = float(_MIN_SIGMA)
    views_targets(fixations, weights, max(float(sigma[0]), min_sigma),
                  max(float(sigma[1]), min_sigma), coefficients, height, width,
                  grid_h, grid_w, float(min_view_mass), out['gaze_weights'],
                  out['gaze_view_mass'], out['view_has_gaze'], out['crop_box'],
                  out['flip'])
    return out


def warm_up() -> None:
    """Compile (or load from numba's cache) :func:`views_targets` for the argument
    types the pipeline passes: read-only fixations / weights (``GazeHeatmap``'s
    cached arrays) and writable ones (images without gaze, direct calls)."""
    identity = np.array([[1.0, 1.0, 0.0, 0.0]])  # (a_y, a_x, b_y, b_x)
    for writeable in (True, False):
        fixations = np.full((1, 2), 3.0, np.float32)
        weights = np.ones(1, np.float32)
        fixations.flags.writeable = weights.flags.writeable = writeable
        views_targets(fixations, weights, 1.0, 1.0, identity, 8, 8, 2, 2, 0.1,
                      np.empty((1, 4), np.float32), np.empty(1, np.float32),
                      np.empty(1, np.bool_), np.empty((1, 4), np.float32),
                      np.empty(1, np.bool_))
