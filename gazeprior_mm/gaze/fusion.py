"""Multi-reader gaze fusion (docs/design.md §3).

Every reader r gives a normalised heatmap ``h_r`` (sum 1). The fused map is a convex
combination ``h = sum_r rho_r h_r`` with

- ``mode='mean'``: ``rho_r = 1 / R``;
- ``mode='pool'``: every fixation of every reader counts the same, ``rho_r =
  K_r / K`` (with ``duration_weighted=False``, one plain Gaussian per fixation: the
  proposal's heatmap);
- ``mode='agreement'``: ``rho_r ∝ a_r``, ``a_r = sum_p min(h_r(p), hbar_{-r}(p))`` the
  histogram intersection (in [0, 1]) of reader r with the mean of the other readers,
  so a reader who looked where nobody else did counts less (uniform when all
  ``a_r = 0`` or R = 1).

The spread between readers, ``s(p) = sqrt(sum_r rho_r (h_r(p) - h(p))^2)``, is kept
as a per-pixel uncertainty signal.

Because a heatmap is linear in its fixation weights, the same fusion can be done on
fixations: :func:`fuse_reader_fixations` returns all readers' fixations with weights
``rho_r * d_rk / sum_k d_rk`` (durations d), whose heatmap is the fused map up to the
border mass. Everything is vectorised over readers (a reader index per fixation and a
one-hot matrix), no Python loop over readers or fixations.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .fixations import SigmaType, as_pair
from .targets import normalise_maps, pixel_profiles

FUSION_MODES = ('mean', 'pool', 'agreement')


def reader_agreement(heatmaps: np.ndarray) -> np.ndarray:
    """Histogram intersection of each reader with the mean of the others.

    Args:
        heatmaps (np.ndarray): (R, H, W) per-reader maps, each summing to 1 (or 0).

    Returns:
        np.ndarray: (R,) agreement in [0, 1]; zeros when R < 2.
    """
    num = heatmaps.shape[0]
    if num < 2:
        return np.zeros(num, dtype=np.float64)
    others = (heatmaps.sum(0, keepdims=True) - heatmaps) / (num - 1)
    return np.minimum(heatmaps, others).reshape(num, -1).sum(1).astype(np.float64)


def reader_weights(heatmaps: np.ndarray, mode: str = 'mean') -> np.ndarray:
    """Fusion weights rho (R,) summing to 1 (see module docstring)."""
    if mode not in FUSION_MODES:
        raise ValueError(f'mode must be one of {FUSION_MODES}, got {mode!r}')
    if mode == 'pool':
        raise ValueError("mode='pool' weights readers by their fixations, which "
                         'normalised heatmaps no longer carry: fuse the '
                         'fixations (fuse_fixation_weights)')
    num = heatmaps.shape[0]
    present = heatmaps.reshape(num, -1).sum(1) > 0
    rho = present.astype(np.float64)
    if mode == 'agreement':
        rho = rho * reader_agreement(heatmaps)
        if rho.sum() <= 0:
            rho = present.astype(np.float64)
    total = rho.sum()
    return rho / total if total > 0 else rho


def fuse_heatmaps(heatmaps, mode: str = 'mean') -> Tuple[np.ndarray, np.ndarray,
                                                          np.ndarray]:
    """Fuse per-reader heatmaps and measure their spread.

    Args:
        heatmaps (array-like): (R, H, W) per-reader maps, each summing to 1 (a reader
            without fixations may be all zeros and then gets weight 0).
        mode (str): 'mean' or 'agreement'.

    Returns:
        tuple: ``(fused, spread, rho)`` -- fused (H, W) map (sum 1, or zeros when no
        reader has gaze), per-pixel weighted std between readers (H, W), and the
        reader weights (R,).
    """
    maps = np.asarray(heatmaps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f'heatmaps must be (R, H, W), got shape {maps.shape}')
    rho = reader_weights(maps, mode)
    fused = np.tensordot(rho.astype(np.float32), maps, axes=1)
    spread = np.sqrt(np.tensordot(rho.astype(np.float32),
                                  (maps - fused[None]) ** 2, axes=1))
    return fused, spread, rho


def per_reader_heatmaps(fixations: np.ndarray, reader_index: np.ndarray,
                        num_readers: int, size: Sequence[int],
                        sigma: SigmaType = 5.0,
                        weights: Optional[np.ndarray] = None) -> np.ndarray:
    """All readers' normalised heatmaps at once.

    ``H_r = P_y^T diag(w * onehot_r) P_x`` for every r in one einsum.

    Args:
        fixations (np.ndarray): (K, >=2) x, y of all readers.
        reader_index (np.ndarray): (K,) int reader of each fixation.
        num_readers (int): R.
        size (Sequence[int]): (H, W).
        sigma (float | tuple): Gaussian std in pixels.
        weights (np.ndarray, optional): (K,) non-negative weights (e.g. durations).

    Returns:
        np.ndarray: float32 (R, H, W), each map summing to 1 (zeros for a reader
        without fixations).
    """
    height, width = int(size[0]), int(size[1])
    fix = np.asarray(fixations, dtype=np.float64).reshape(-1, np.shape(fixations)[-1]
                                                          if np.size(fixations) else 2)
    if len(fix) == 0:
        return np.zeros((num_readers, height, width), dtype=np.float32)
    sigma_x, sigma_y = as_pair(sigma, 'sigma')
    w = np.ones(len(fix)) if weights is None else np.asarray(weights, np.float64)
    onehot = np.zeros((len(fix), num_readers), dtype=np.float32)
    onehot[np.arange(len(fix)), reader_index] = w
    prof_y = pixel_profiles(fix[:, 1], height, sigma_y)
    prof_x = pixel_profiles(fix[:, 0], width, sigma_x)
    maps = np.einsum('kh,kr,kw->rhw', prof_y, onehot, prof_x, optimize=True)
    return normalise_maps(maps.astype(np.float32, copy=False))


def fuse_fixation_weights(xy: np.ndarray,
                          reader_index: np.ndarray,
                          num_readers: int,
                          durations: Optional[np.ndarray] = None,
                          size: Optional[Sequence[int]] = None,
                          sigma: SigmaType = 5.0,
                          mode: str = 'mean',
                          agreement_size: int = 32) -> Tuple[np.ndarray, np.ndarray]:
    """Fused weights of all readers' stacked fixations.

    ``w_k = rho_r(k) * d_k / sum_{k' of r(k)} d_k'`` (uniform within a reader when it
    has no durations or they are all 0), normalised to sum 1.

    Args:
        xy (np.ndarray): (K, 2) x, y of all readers' clean fixations.
        reader_index (np.ndarray): (K,) int reader of each fixation.
        num_readers (int): R (readers without fixations get rho 0).
        durations (np.ndarray, optional): (K,) non-negative durations.
        size (Sequence[int], optional): (H, W) grid of ``xy`` (needed by
            'agreement').
        sigma (float | tuple): Gaussian std in pixels of that grid ('agreement').
        mode (str): 'mean', 'pool' or 'agreement' (see module docstring).
        agreement_size (int): agreement is measured on heatmaps whose longer side is
            this many pixels (cheap; the weights barely depend on it).

    Returns:
        tuple: ``(weights, rho)`` -- float32 (K,) summing to 1 (empty when K = 0)
        and float64 (R,) reader weights.
    """
    if mode not in FUSION_MODES:
        raise ValueError(f'mode must be one of {FUSION_MODES}, got {mode!r}')
    counts = np.bincount(reader_index, minlength=num_readers)
    if len(xy) == 0:
        return np.zeros(0, np.float32), np.zeros(num_readers)
    raw = (np.ones(len(xy)) if durations is None else
           np.clip(np.asarray(durations, np.float64), 0, None))
    reader_total = np.bincount(reader_index, weights=raw, minlength=num_readers)
    if np.any((reader_total <= 0) & (counts > 0)):
        # a reader whose durations are all 0 falls back to uniform weights
        raw = np.where(reader_total[reader_index] <= 0, 1.0, raw)
        reader_total = np.bincount(reader_index, weights=raw, minlength=num_readers)
    within = raw / reader_total[reader_index]
    present = counts > 0
    if mode == 'agreement' and present.sum() > 1:
        if size is None:
            raise ValueError("mode='agreement' needs the grid size")
        height, width = int(size[0]), int(size[1])
        scale = agreement_size / max(height, width)
        small = (max(1, round(height * scale)), max(1, round(width * scale)))
        sx, sy = as_pair(sigma, 'sigma')
        small_xy = (np.asarray(xy, np.float64) + 0.5) * scale - 0.5
        maps = per_reader_heatmaps(small_xy, reader_index, num_readers, small,
                                   (sx * scale, sy * scale), within)
        rho = reader_weights(maps, 'agreement')
    elif mode == 'pool':
        # reader r's share is its share of all the (duration-)weight
        rho = reader_total / reader_total.sum()
    else:
        rho = present / present.sum()
    weights = rho[reader_index] * within
    return (weights / weights.sum()).astype(np.float32), rho


def _with_duration(fixations: np.ndarray) -> np.ndarray:
    """(K, 3) ``x, y, duration``: the first three columns, or ``x, y`` and a
    duration of 1 when there is no third column.

    Args:
        fixations (np.ndarray): (K, >=2) fixations.

    Returns:
        np.ndarray: float32 (K, 3).
    """
    if fixations.shape[1] >= 3:
        return fixations[:, :3]
    return np.concatenate([fixations[:, :2], np.ones((len(fixations), 1),
                                                      np.float32)], axis=1)


def fuse_reader_fixations(readers: Sequence[np.ndarray],
                          size: Sequence[int],
                          sigma: SigmaType = 5.0,
                          mode: str = 'mean',
                          duration_weighted: bool = True,
                          agreement_size: int = 32
                          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool several readers' fixations with fused weights.

    Args:
        readers (Sequence[np.ndarray]): per reader a (K_r, 2) or (K_r, 3)
            ``x, y[, duration]`` array of clean fixations in the grid of ``size``.
        size (Sequence[int]): (H, W) of that grid.
        sigma (float | tuple): Gaussian std in pixels of that grid (agreement only).
        mode (str): 'mean' or 'agreement' (see module docstring).
        duration_weighted (bool): weight fixations by duration within a reader;
            a reader without the third column weights its fixations equally
            (per reader: the others keep their durations).
        agreement_size (int): see :func:`fuse_fixation_weights`.

    Returns:
        tuple: ``(xy, weights, rho)`` -- float32 (K, 2) fixations of all readers,
        float32 (K,) weights summing to 1 (empty when no fixation), float64 (R,)
        reader weights.
    """
    num_readers = len(readers)
    counts = np.array([len(r) for r in readers], dtype=np.int64)
    if counts.sum() == 0:
        if mode not in FUSION_MODES:
            raise ValueError(f'mode must be one of {FUSION_MODES}, got {mode!r}')
        return (np.zeros((0, 2), np.float32), np.zeros(0, np.float32),
                np.zeros(num_readers))
    # a reader without durations gets a column of ones (equal weights within it)
    stacked = np.concatenate(
        [_with_duration(np.asarray(r, np.float32)) for r in readers if len(r)],
        axis=0)
    reader_index = np.repeat(np.arange(num_readers), counts)
    durations = stacked[:, 2] if duration_weighted else None
    weights, rho = fuse_fixation_weights(stacked[:, :2], reader_index, num_readers,
                                         durations, size, sigma, mode,
                                         agreement_size)
    return np.ascontiguousarray(stacked[:, :2]), weights, rho
