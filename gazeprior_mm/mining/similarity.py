"""Gaze descriptors and gaze similarity (the McGIP / GzPT reference methods, fixed).

Every descriptor is computed **once per image** and vectorised over images; only the
sequence measures (MultiMatch-style scanpath similarity and TIMA) are truly pairwise,
and :mod:`gazeprior_mm.mining.neighbours` evaluates them on a short candidate list.

Coordinates follow the canonical annotation file: fixations ``(K, 2)`` are ``x``
(column), ``y`` (row) in pixels of an image of ``image_size = (H, W)``. Every method
first maps them to the unit square ``u = x / W``, ``v = y / H`` so that images of
different sizes are comparable (the reference scaled by ``H`` and ``W`` swapped and
by a 1920x1080 *screen*; both are fixed here).

Methods (``SIMILARITY_METHODS``):

* ``heatmap_cosine`` / ``heatmap_pearson``: cosine / Pearson correlation of the
  ``G x G`` gaze heatmaps (vector descriptor, inner product after normalisation).
* ``dhash``: difference hash of the heatmap resized to ``8 x 9``
  (bit = pixel > right neighbour, 64 bits) compared by the **cosine** of the bit
  vectors, as in McGIP's ``dhash.py``.
* ``moments``: McGIP's ``(M00, phi1)`` heatmap moments,
  ``sim = 1 - (w_phi d(phi1_a, phi1_b) + w_m d(M00_a, M00_b))`` with the relative
  difference ``d(a, b) = |a - b| / max(|a|, |b|)`` (``d = 0`` when both are 0).
  Moments are computed in float64 with ``einsum`` over grid powers (the reference's
  ``uint8`` arithmetic overflows under NumPy 2).
* ``multimatch``: a MultiMatch-style scanpath similarity (vector, direction, length,
  position, duration), normalised by the **image** diagonal, keeping every fixation
  (the reference dropped the final one).
* ``tima``: GzPT's temporal clustering (DBSCAN on ``[x/W, y/H, t/T]``) -> per-cluster
  moment sequence ordered **numerically** by time -> DTW with local cost
  ``0.7 d(M00) + 0.3 d(phi1)``, ``sim = 1 - D / len(path)``.
"""
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

VECTOR_METHODS = ('heatmap_cosine', 'heatmap_pearson', 'dhash', 'moments')
PAIRWISE_METHODS = ('multimatch', 'tima')
SIMILARITY_METHODS = VECTOR_METHODS + PAIRWISE_METHODS


# --------------------------------------------------------------------------- gaze I/O
def gaze_to_fixations(gaze: Optional[dict],
                      reader: str = 'all') -> Tuple[np.ndarray, np.ndarray]:
    """Fixations of one canonical ``gaze`` dict, in the unit square.

    Args:
        gaze (dict | None): ``{"image_size": [H, W], "readers": [{"fixations":
            [[x, y, duration_s], ...]}, ...]}`` or None.
        reader (str): ``'all'`` concatenates every reader, each reader's durations
            rescaled to sum ``1 / num_readers`` (so readers count equally in a
            heatmap); ``'first'`` keeps the first reader with fixations (the
            sequence methods need one temporal order).

    Returns:
        tuple: ``uv`` float64 (K, 2) in ``[0, 1]`` (``x / W``, ``y / H``) and
        ``durations`` float64 (K,) (seconds, or reader-normalised for ``'all'``).
        K = 0 when there is no gaze.
    """
    empty = np.zeros((0, 2)), np.zeros((0, ))
    if not gaze or not gaze.get('readers'):
        return empty
    height, width = (float(s) for s in gaze['image_size'])
    if height <= 0 or width <= 0:
        raise ValueError(f'gaze image_size must be positive, got '
                         f'{gaze["image_size"]}')
    readers = [np.asarray(r['fixations'], dtype=np.float64).reshape(-1, 3)
               for r in gaze['readers']]
    readers = [r for r in readers if len(r)]
    if not readers:
        return empty
    if reader == 'first':
        readers = readers[:1]
    elif reader != 'all':
        raise ValueError(f"reader must be 'all' or 'first', got {reader!r}")
    uv = np.concatenate([r[:, :2] for r in readers]) / np.array([width, height])
    if reader == 'all':
        durations = np.concatenate([
            np.maximum(r[:, 2], 0) / max(np.maximum(r[:, 2], 0).sum(), 1e-12) /
            len(readers) for r in readers
        ])
    else:
        durations = np.maximum(readers[0][:, 2], 0)
    return np.clip(uv, 0.0, 1.0), durations


# ------------------------------------------------------------------------- heatmaps
def render_gaze_grids(uv_list: Sequence[np.ndarray],
                      weight_list: Sequence[np.ndarray],
                      grid: int = 32,
                      sigma: float = 0.05) -> np.ndarray:
    """Small max-normalised gaze heatmaps for many images at once.

    Each map is ``H[y, x] = sum_k w_k N(v_k; y) N(u_k; x)`` on a ``grid x grid``
    lattice of cell centres ``(i + 0.5) / grid`` (a separable Gaussian of std
    ``sigma`` in unit-square units), divided by its maximum as the reference's
    heatmap images were. Images are padded to the largest fixation count and
    rendered with one ``einsum``.

    Args:
        uv_list: per image, (K_n, 2) fixations in the unit square.
        weight_list: per image, (K_n,) non-negative weights (e.g. durations).
        grid (int): side G of the map.
        sigma (float): Gaussian std as a fraction of the image side.

    Returns:
        np.ndarray: float32 (N, G, G), max 1, all zeros for images without gaze.
    """
    num = len(uv_list)
    kmax = max([len(uv) for uv in uv_list] + [1])
    uv = np.zeros((num, kmax, 2), np.float32)
    weight = np.zeros((num, kmax), np.float32)
    for n, (u, w) in enumerate(zip(uv_list, weight_list)):
        uv[n, :len(u)] = u
        weight[n, :len(u)] = w if np.sum(w) > 0 else np.ones(len(u))
    centres = ((np.arange(grid) + 0.5) / grid).astype(np.float32)
    # float32 and one batched (G, K) x (K, G) product per image: several times
    # faster than a float64 einsum, and the maps only rank images against each other
    dist = (uv[..., None] - centres) * np.float32(1.0 / sigma)  # N,K,2,G
    gauss = np.exp(np.float32(-0.5) * dist * dist)
    gauss_y = gauss[:, :, 1] * weight[..., None]  # N,K,G
    maps = np.matmul(gauss_y.transpose(0, 2, 1), gauss[:, :, 0])  # N,G,G
    peak = maps.reshape(num, -1).max(1)
    maps /= np.where(peak > 0, peak, np.float32(1.0))[:, None, None]
    return maps


def heatmap_moments(maps: np.ndarray) -> np.ndarray:
    """McGIP's moment descriptor ``(M00, phi1)`` of each map.

    ``M_ij = sum_{x,y} x^i y^j I(x, y)`` (x = column, y = row, in cells),
    ``mu_pq = sum (x - x_bar)^p (y - y_bar)^q I``,
    ``eta_pq = mu_pq / M00^(1 + (p + q) / 2)`` and ``phi1 = eta20 + eta02``.
    Computed in float64 by ``einsum`` over grid powers.

    Args:
        maps (np.ndarray): (N, H, W) non-negative maps.

    Returns:
        np.ndarray: float64 (N, 2) ``[M00, phi1]``; ``[0, 0]`` for empty maps.
    """
    maps = np.asarray(maps, dtype=np.float64)
    ys = np.arange(maps.shape[1], dtype=np.float64)
    xs = np.arange(maps.shape[2], dtype=np.float64)
    m00 = maps.sum((1, 2))
    safe = np.where(m00 > 0, m00, 1.0)
    x_bar = np.einsum('nyx,x->n', maps, xs) / safe
    y_bar = np.einsum('nyx,y->n', maps, ys) / safe
    mu20 = np.einsum('nyx,nx->n', maps, (xs[None] - x_bar[:, None])**2)
    mu02 = np.einsum('nyx,ny->n', maps, (ys[None] - y_bar[:, None])**2)
    phi1 = (mu20 + mu02) / safe**2
    return np.stack([m00, np.where(m00 > 0, phi1, 0.0)], axis=1)


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``d(a, b) = |a - b| / max(|a|, |b|)`` (broadcasting), 0 when both are 0.

    The reference returned 1 for ``max = 0``, calling two empty maps maximally
    different; here equal values always give 0 and NaN gives 1.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid='ignore', divide='ignore'):
        diff = np.where(scale > 0, np.abs(a - b) / np.where(scale > 0, scale, 1),
                        0.0)
    return np.where(np.isnan(diff), 1.0, diff)


def moment_similarity(feat_a: np.ndarray,
                      feat_b: np.ndarray,
                      weights: Tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """``1 - (w_m d(M00) + w_phi d(phi1))`` between moment descriptors.

    Args:
        feat_a (np.ndarray): (..., 2) ``[M00, phi1]``.
        feat_b (np.ndarray): (..., 2), broadcastable against ``feat_a``.
        weights (tuple): ``(w_m, w_phi)``; McGIP uses (0.5, 0.5), its dental
            variant (0.2, 0.8).

    Returns:
        np.ndarray: similarities in [0, 1], broadcast shape.
    """
    return 1.0 - (weights[0] * relative_difference(feat_a[..., 0], feat_b[..., 0]) +
                  weights[1] * relative_difference(feat_a[..., 1], feat_b[..., 1]))


def dhash_bits(maps: np.ndarray, hash_size: int = 8) -> np.ndarray:
    """Difference hash: resize to ``hash_size x (hash_size + 1)`` by area averaging,
    bit = cell greater than its right neighbour.

    Args:
        maps (np.ndarray): (N, G, G) maps; G must be divisible by neither size,
            the resize uses exact area weights.

    Returns:
        np.ndarray: float32 (N, hash_size**2) of 0/1 bits.
    """
    rows = _area_matrix(maps.shape[1], hash_size)
    cols = _area_matrix(maps.shape[2], hash_size + 1)
    small = np.einsum('ry,nyx,cx->nrc', rows, maps.astype(np.float64), cols)
    bits = small[:, :, :-1] > small[:, :, 1:] + 1e-12
    return bits.reshape(len(maps), -1).astype(np.float32)


def _area_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) matrix averaging input cells by their overlap."""
    edges_in = np.arange(size_in + 1) / size_in
    edges_out = np.arange(size_out + 1) / size_out
    overlap = np.clip(
        np.minimum(edges_out[1:, None], edges_in[None, 1:]) -
        np.maximum(edges_out[:-1, None], edges_in[None, :-1]), 0, None)
    return overlap / overlap.sum(1, keepdims=True)


def unit_rows(vectors: np.ndarray, centre: bool = False) -> np.ndarray:
    """Rows scaled to unit L2 norm (optionally centred first, so that the inner
    product is the Pearson correlation). All-zero rows stay zero.

    Args:
        vectors (np.ndarray): (N, D).
        centre (bool): subtract each row's mean first.

    Returns:
        np.ndarray: float32 (N, D).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if centre:
        vectors = vectors - vectors.mean(1, keepdims=True)
    norm = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norm > 0, norm, 1.0)).astype(np.float32)


# ------------------------------------------------------------------ vector descriptors
def compute_descriptors(gazes: Sequence[Optional[dict]],
                        method: str = 'heatmap_cosine',
                        grid: int = 16,
                        sigma: float = 0.05,
                        hash_size: int = 8,
                        chunk: int = 4096) -> Tuple[np.ndarray, np.ndarray]:
    """Per-image descriptors of a vector method, computed once per image.

    ``heatmap_cosine`` / ``heatmap_pearson`` / ``dhash`` return unit rows, so the
    similarity of two images is the inner product of their rows (see
    :func:`vector_similarity`); ``moments`` returns ``[M00, phi1]`` rows.

    Args:
        gazes: canonical ``gaze`` dicts (or None) per image.
        method (str): one of ``VECTOR_METHODS``.
        grid (int): heatmap side (McGIP used 32; 16 keeps 100k-image mining fast).
        sigma (float): heatmap Gaussian std as a fraction of the image side.
        hash_size (int): dHash side.
        chunk (int): images rendered per ``einsum`` call (bounds memory).

    Returns:
        tuple: ``descriptors`` float32 (N, D) and ``has_gaze`` bool (N,).
    """
    if method not in VECTOR_METHODS:
        raise ValueError(f'{method!r} is not a vector method {VECTOR_METHODS}')
    fixations = [gaze_to_fixations(g, reader='all') for g in gazes]
    has_gaze = np.array([len(uv) > 0 for uv, _ in fixations], dtype=bool)
    parts = []
    for start in range(0, max(len(fixations), 1), chunk):
        block = fixations[start:start + chunk]
        if not block:
            break
        maps = render_gaze_grids([f[0] for f in block], [f[1] for f in block],
                                 grid=grid, sigma=sigma)
        if method == 'moments':
            parts.append(heatmap_moments(maps).astype(np.float32))
        elif method == 'dhash':
            parts.append(unit_rows(dhash_bits(maps, hash_size)))
        else:
            parts.append(unit_rows(maps.reshape(len(maps), -1),
                                   centre=method == 'heatmap_pearson'))
    dim = 2 if method == 'moments' else (
        hash_size**2 if method == 'dhash' else grid * grid)
    desc = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
    return desc, has_gaze


def vector_similarity(desc_a: np.ndarray, desc_b: np.ndarray,
                      method: str) -> np.ndarray:
    """All-pairs similarity between two descriptor blocks.

    Args:
        desc_a (np.ndarray): (A, D) rows from :func:`compute_descriptors`.
        desc_b (np.ndarray): (B, D).
        method (str): the method that produced them.

    Returns:
        np.ndarray: (A, B) similarities (1 for identical gaze).
    """
    if method == 'moments':
        return moment_similarity(desc_a[:, None, :], desc_b[None, :, :])
    return desc_a @ desc_b.T


# -------------------------------------------------------------- MultiMatch scanpaths
def scanpath_similarity(uv_a: np.ndarray, dur_a: np.ndarray, uv_b: np.ndarray,
                        dur_b: np.ndarray,
                        aspect: Tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """MultiMatch-style similarity of two scanpaths, normalised by the image.

    Saccade vectors ``s_k = p_{k+1} - p_k`` (positions in the unit square scaled by
    ``aspect = (W, H) / max(W, H)`` so distances are isotropic, diagonal
    ``diag = |aspect|``) are aligned by the minimum-cost monotone path through the
    vector-difference matrix ``C_ij = |s_i - s'_j|`` (MultiMatch's Dijkstra on the
    same graph; DTW with the ``symmetric1`` step). Over the aligned pairs:

    * vector    ``1 - median |s_i - s'_j| / (2 diag)``
    * direction ``1 - median angle(s_i, s'_j) / pi``
    * length    ``1 - median ||s_i| - |s'_j|| / diag``
    * position  ``1 - median |p_i - p'_j| / diag`` (saccade start fixations)
    * duration  ``1 - median |d_i - d'_j| / max(d_i, d'_j)``

    Every fixation is used (the reference's filter dropped the final one). A path
    with fewer than 2 fixations has no saccade: all five similarities are 0.

    Returns:
        np.ndarray: float64 (5,) [vector, direction, length, position, duration].
    """
    if len(uv_a) < 2 or len(uv_b) < 2:
        return np.zeros(5)
    import dtw
    scale = np.asarray(aspect, dtype=np.float64)
    diag = float(np.linalg.norm(scale))
    pos_a, pos_b = uv_a * scale, uv_b * scale
    sac_a, sac_b = np.diff(pos_a, axis=0), np.diff(pos_b, axis=0)
    cost = np.linalg.norm(sac_a[:, None] - sac_b[None], axis=-1)
    path = dtw.dtw(cost + 1e-12, step_pattern='symmetric1')
    i, j = path.index1, path.index2
    va, vb = sac_a[i], sac_b[j]
    len_a, len_b = np.linalg.norm(va, axis=1), np.linalg.norm(vb, axis=1)
    cos = np.einsum('kd,kd->k', va, vb) / np.maximum(len_a * len_b, 1e-12)
    angle = np.where((len_a > 0) & (len_b > 0), np.arccos(np.clip(cos, -1, 1)),
                     0.0)
    da, db = dur_a[i], dur_b[j]
    dur_diff = np.abs(da - db) / np.where(np.maximum(da, db) > 0,
                                          np.maximum(da, db), 1.0)
    return np.array([
        1 - np.median(cost[i, j]) / (2 * diag),
        1 - np.median(angle) / np.pi,
        1 - np.median(np.abs(len_a - len_b)) / diag,
        1 - np.median(np.linalg.norm(pos_a[i] - pos_b[j], axis=1)) / diag,
        1 - np.median(dur_diff),
    ])


def multimatch_similarity(gaze_a: Optional[dict],
                          gaze_b: Optional[dict],
                          weights: Sequence[float] = (0.2, ) * 5) -> float:
    """Scalar MultiMatch-style similarity of two canonical gaze dicts.

    Uses the first reader's scanpath (one temporal order is needed) and the
    weighted sum of the five measures of :func:`scanpath_similarity` (McGIP's
    early commit used ``0.1-0.1-0.1-0.1-0.6``; equal weights by default).
    """
    (uv_a, d_a), (uv_b, d_b) = (gaze_to_fixations(gaze_a, 'first'),
                                gaze_to_fixations(gaze_b, 'first'))
    aspect = _aspect(gaze_a) if gaze_a else (1.0, 1.0)
    return float(np.dot(weights, scanpath_similarity(uv_a, d_a, uv_b, d_b, aspect)))


def _aspect(gaze: dict) -> Tuple[float, float]:
    height, width = (float(s) for s in gaze['image_size'])
    return width / max(height, width), height / max(height, width)


# ---------------------------------------------------------------------------- TIMA
def tima_sequence(uv: np.ndarray,
                  durations: np.ndarray,
                  eps: float = 0.2,
                  min_samples_div: int = 10,
                  grid: int = 32,
                  sigma: float = 0.05,
                  stats: Optional[Dict[str, int]] = None) -> np.ndarray:
    """GzPT/TIMA moment sequence of one scanpath.

    DBSCAN (``eps``, ``min_samples = K // min_samples_div + 1``) on
    ``[x / W, y / H, t / T]`` with ``t`` the fixation onset (cumulative duration) and
    ``T`` the total duration; noise fixations are dropped. Clusters are ordered by
    their mean onset time (numerically: the reference sorted file names, so
    ``10.jpg`` came before ``2.jpg``). Each cluster's duration-weighted heatmap gives
    ``[M00, phi1]`` (:func:`heatmap_moments`).

    Args:
        uv (np.ndarray): (K, 2) fixations in the unit square, temporal order.
        durations (np.ndarray): (K,) durations (all equal -> index time).
        stats (dict, optional): counters ``all_noise`` (no cluster found: the whole
            scanpath is used as one cluster) are incremented here.

    Returns:
        np.ndarray: float64 (C, 2); (0, 2) when K = 0.
    """
    if len(uv) == 0:
        return np.zeros((0, 2))
    from sklearn.cluster import DBSCAN
    dur = np.where(np.sum(durations) > 0, durations, 1.0) * np.ones(len(uv))
    onset = np.concatenate([[0.0], np.cumsum(dur)[:-1]]) / max(dur.sum(), 1e-12)
    feats = np.column_stack([uv, onset])
    labels = DBSCAN(eps=eps, min_samples=len(uv) // min_samples_div + 1).fit(
        feats).labels_
    if (labels < 0).all():
        if stats is not None:
            stats['all_noise'] = stats.get('all_noise', 0) + 1
        labels = np.zeros(len(uv), dtype=int)
    keep = labels >= 0
    ids, inverse = np.unique(labels[keep], return_inverse=True)
    count = np.bincount(inverse, minlength=len(ids))
    mean_time = np.bincount(inverse, onset[keep], minlength=len(ids)) / count
    rank = np.argsort(np.argsort(mean_time, kind='stable'), kind='stable')
    slot = rank[inverse]  # cluster slot in temporal order, per kept fixation
    # one-hot weights (C, K) render every cluster heatmap in one call
    onehot = np.zeros((len(ids), keep.sum()))
    onehot[slot, np.arange(keep.sum())] = dur[keep]
    maps = render_gaze_grids([uv[keep]] * len(ids), list(onehot), grid, sigma)
    return heatmap_moments(maps)


def tima_similarity(seq_a: np.ndarray,
                    seq_b: np.ndarray,
                    weights: Tuple[float, float] = (0.7, 0.3)) -> float:
    """DTW similarity of two TIMA moment sequences.

    Local cost ``c_ij = w_m d(M00_i, M00'_j) + w_phi d(phi1_i, phi1'_j)``, DTW with
    the ``symmetric1`` step (accumulated cost ``D``), ``sim = 1 - D / len(path)``
    (one minus the mean local cost along the warping path). Empty sequences give 0.
    """
    if len(seq_a) == 0 or len(seq_b) == 0:
        return 0.0
    import dtw
    cost = 1.0 - moment_similarity(seq_a[:, None], seq_b[None], weights)
    path = dtw.dtw(cost + 1e-12, step_pattern='symmetric1')
    return float(1.0 - (path.distance - 1e-12 * len(path.index1)) /
                 len(path.index1))


def pairwise_similarity(gaze_a: Optional[dict], gaze_b: Optional[dict],
                        method: str, **kwargs) -> float:
    """Similarity of two images' gaze by any method (reference implementation,
    used for tests and candidate re-ranking; not for all-pairs mining)."""
    if method == 'multimatch':
        return multimatch_similarity(gaze_a, gaze_b, **kwargs)
    if method == 'tima':
        seqs = [tima_sequence(*gaze_to_fixations(g, 'first')) for g in (gaze_a, gaze_b)]
        return tima_similarity(*seqs, **kwargs)
    desc, has = compute_descriptors([gaze_a, gaze_b], method, **kwargs)
    if not has.all():
        return 0.0
    return float(vector_similarity(desc[:1], desc[1:], method)[0, 0])


def warn_counts(name: str, stats: Dict[str, int]) -> None:
    """Emit one warning summarising counted fallbacks (nothing is silent)."""
    if any(stats.values()):
        warnings.warn(f'{name}: fallbacks used: {stats}')


# ------------------------------------------------ batched sequence measures (mining)
def batched_dtw(cost: np.ndarray, len_a: np.ndarray,
                len_b: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DTW (``symmetric1`` step: ``D_ij = c_ij + min(D_i-1,j-1, D_i-1,j, D_i,j-1)``)
    of many sequence pairs at once, vectorised over the pairs.

    The loops run over the cells of the padded (A, B) lattice, never over pairs;
    ties prefer the diagonal step as dtw-python does.

    Args:
        cost (np.ndarray): (P, A, B) local costs; entries beyond each pair's lengths
            are ignored.
        len_a (np.ndarray): (P,) lengths (>= 1) of the first sequences.
        len_b (np.ndarray): (P,) lengths (>= 1) of the second sequences.

    Returns:
        tuple: ``distance`` (P,) accumulated cost at the pair's end cell,
        ``path_i`` / ``path_j`` int (P, A + B - 1) aligned indices, -1 past the end
        of each (reversed) path.
    """
    num, size_a, size_b = cost.shape
    rows = np.arange(num)
    acc = np.full((num, size_a + 1, size_b + 1), np.inf)
    acc[:, 0, 0] = 0.0
    step = np.zeros((num, size_a, size_b), dtype=np.int8)  # 0 diag, 1 up, 2 left
    for i in range(size_a):
        for j in range(size_b):
            cand = np.stack([acc[:, i, j], acc[:, i, j + 1], acc[:, i + 1, j]], 1)
            best = cand.argmin(1)
            step[:, i, j] = best
            acc[:, i + 1, j + 1] = cost[:, i, j] + cand[rows, best]
    distance = acc[rows, len_a, len_b]
    path_i = np.full((num, size_a + size_b - 1), -1)
    path_j = np.full_like(path_i, -1)
    i, j = len_a - 1, len_b - 1
    alive = np.ones(num, dtype=bool)
    for t in range(size_a + size_b - 1):
        path_i[alive, t], path_j[alive, t] = i[alive], j[alive]
        move = step[rows, i, j]
        alive = alive & ((i > 0) | (j > 0))
        i = np.where(alive & (move != 2), i - 1, i)
        j = np.where(alive & (move != 1), j - 1, j)
    return distance, path_i, path_j


def scanpath_tables(gazes: Sequence[Optional[dict]]) -> Dict[str, np.ndarray]:
    """Per-image padded scanpaths for :func:`scanpath_similarity_batch`.

    Returns:
        dict: ``pos`` (N, L, 2) isotropic positions (unit square times aspect),
        ``dur`` (N, L), ``length`` (N,) fixation counts, ``diag`` (N,).
    """
    paths = [gaze_to_fixations(g, 'first') for g in gazes]
    longest = max([len(p[0]) for p in paths] + [2])
    pos = np.zeros((len(paths), longest, 2))
    dur = np.zeros((len(paths), longest))
    diag = np.full(len(paths), np.sqrt(2.0))
    for n, ((uv, d), g) in enumerate(zip(paths, gazes)):
        scale = np.asarray(_aspect(g)) if len(uv) else np.ones(2)
        pos[n, :len(uv)], dur[n, :len(uv)] = uv * scale, d
        diag[n] = np.linalg.norm(scale)
    length = np.array([len(p[0]) for p in paths])
    return dict(pos=pos, dur=dur, length=length, diag=diag)


def scanpath_similarity_batch(table: Dict[str, np.ndarray], idx_a: np.ndarray,
                              idx_b: np.ndarray) -> np.ndarray:
    """:func:`scanpath_similarity` for many pairs (rows of a
    :func:`scanpath_tables` table), vectorised over pairs.

    Returns:
        np.ndarray: (P, 5) [vector, direction, length, position, duration]; rows
        where either path has < 2 fixations are 0.
    """
    pos_a, pos_b = table['pos'][idx_a], table['pos'][idx_b]
    sac_a, sac_b = np.diff(pos_a, axis=1), np.diff(pos_b, axis=1)
    n_a = np.maximum(table['length'][idx_a] - 1, 1)
    n_b = np.maximum(table['length'][idx_b] - 1, 1)
    cost = np.linalg.norm(sac_a[:, :, None] - sac_b[:, None], axis=-1)
    _, path_i, path_j = batched_dtw(cost, n_a, n_b)
    valid = path_i >= 0
    rows = np.arange(len(idx_a))[:, None]
    pi, pj = np.maximum(path_i, 0), np.maximum(path_j, 0)
    va, vb = sac_a[rows, pi], sac_b[rows, pj]
    len_a, len_b = np.linalg.norm(va, axis=-1), np.linalg.norm(vb, axis=-1)
    cos = np.einsum('pkd,pkd->pk', va, vb) / np.maximum(len_a * len_b, 1e-12)
    angle = np.where((len_a > 0) & (len_b > 0), np.arccos(np.clip(cos, -1, 1)),
                     0.0)
    da, db = table['dur'][idx_a][rows, pi], table['dur'][idx_b][rows, pj]
    top = np.maximum(da, db)
    dur_diff = np.abs(da - db) / np.where(top > 0, top, 1.0)
    diag = table['diag'][idx_a][:, None]
    parts = np.stack([
        1 - cost[rows, pi, pj] / (2 * diag), 1 - angle / np.pi,
        1 - np.abs(len_a - len_b) / diag,
        1 - np.linalg.norm(pos_a[rows, pi] - pos_b[rows, pj], axis=-1) / diag,
        1 - dur_diff
    ], axis=-1)
    parts = np.where(valid[..., None], parts, np.nan)
    sims = np.nanmedian(parts, axis=1)
    short = (table['length'][idx_a] < 2) | (table['length'][idx_b] < 2)
    return np.where(short[:, None], 0.0, sims)


def tima_tables(gazes: Sequence[Optional[dict]], **kwargs) -> Dict[str, np.ndarray]:
    """Per-image TIMA moment sequences, padded: ``seq`` (N, C, 2), ``length`` (N,).
    ``kwargs`` go to :func:`tima_sequence`; fallbacks are counted in ``stats``."""
    stats: Dict[str, int] = {}
    seqs = [tima_sequence(*gaze_to_fixations(g, 'first'), stats=stats, **kwargs)
            for g in gazes]
    warn_counts('tima_tables', stats)
    longest = max([len(s) for s in seqs] + [1])
    seq = np.zeros((len(seqs), longest, 2))
    for n, s in enumerate(seqs):
        seq[n, :len(s)] = s
    return dict(seq=seq, length=np.array([len(s) for s in seqs]), stats=stats)


def tima_similarity_batch(table: Dict[str, np.ndarray],
                          idx_a: np.ndarray,
                          idx_b: np.ndarray,
                          weights: Tuple[float, float] = (0.7, 0.3)) -> np.ndarray:
    """:func:`tima_similarity` for many pairs, vectorised over pairs (P,)."""
    seq_a, seq_b = table['seq'][idx_a], table['seq'][idx_b]
    len_a, len_b = table['length'][idx_a], table['length'][idx_b]
    cost = 1.0 - moment_similarity(seq_a[:, :, None], seq_b[:, None], weights)
    distance, path_i, _ = batched_dtw(cost, np.maximum(len_a, 1),
                                      np.maximum(len_b, 1))
    sims = 1.0 - distance / (path_i >= 0).sum(1)
    return np.where((len_a > 0) & (len_b > 0), sims, 0.0)
