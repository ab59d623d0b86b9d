r"""Paired differences between two methods, with 95 % intervals.

Two methods trained with the same seeds and tested on the same images are compared
pairwise: per seed :math:`s` the difference :math:`d_s = m_A(s) - m_B(s)`.

* :func:`seed_interval`: mean :math:`\bar d` over the S seeds with Student's t
  interval :math:`\bar d \pm t_{0.975, S-1}\, \mathrm{sd}(d) / \sqrt S` (training
  randomness only; the shared test set is not resampled).
* :func:`paired_bootstrap_auc`: for macro AUC from per-image scores, a two-level
  bootstrap: each replicate draws S seeds with replacement (paired) and, inside
  each drawn seed, the test images with replacement (the same images for A and B),
  and averages :math:`\mathrm{AUC}_A - \mathrm{AUC}_B` over the drawn seeds; the
  interval is the 2.5 / 97.5 percentiles. It covers both training randomness and
  the finite test set. The AUC of a class is computed only when the resample has
  both labels; macro = mean over those classes.
"""
from typing import Dict, Sequence

import numpy as np
from scipy import stats


def seed_interval(diffs: Sequence[float]) -> Dict:
    """Mean paired difference over seeds with a t interval.

    Args:
        diffs (Sequence[float]): (S,) per-seed differences A - B; non-finite ones
            are left out.

    Returns:
        dict: ``mean``, ``ci95`` ([lo, hi]; None for fewer than two seeds),
        ``n`` and ``method='t'``.
    """
    d = np.asarray([x for x in diffs if x is not None and np.isfinite(x)],
                   dtype=np.float64)
    if d.size == 0:
        return dict(mean=None, ci95=None, n=0, method='t')
    mean = float(d.mean())
    if d.size < 2:
        return dict(mean=mean, ci95=None, n=1, method='t')
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return dict(mean=mean, ci95=[mean - half, mean + half], n=int(d.size),
                method='t')


def macro_auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Macro AUC-ROC of many resamples at once (rank formula, ties averaged).

    Args:
        scores (np.ndarray): (R, N, C) scores (NaN columns are skipped).
        labels (np.ndarray): (R, N, C) binary labels.

    Returns:
        np.ndarray: (R,) mean AUC over the classes with both labels and finite
        scores in that resample (NaN where there is none).
    """
    ranks = stats.rankdata(scores, axis=1)
    pos = (labels == 1)
    n_pos = pos.sum(1)
    n_neg = labels.shape[1] - n_pos
    defined = (n_pos > 0) & (n_neg > 0) & np.isfinite(scores).all(1)
    with np.errstate(invalid='ignore', divide='ignore'):
        auc = ((ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc = np.where(defined, auc, 0.0)
    count = defined.sum(-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(count > 0, auc.sum(-1) / count, np.nan)


def paired_bootstrap_auc(scores_a: Sequence[np.ndarray],
                         scores_b: Sequence[np.ndarray],
                         labels: np.ndarray,
                         num_boot: int = 2000,
                         seed: int = 0) -> Dict:
    """Two-level paired bootstrap of the macro-AUC difference A - B.

    Args:
        scores_a (Sequence[np.ndarray]): per seed, (N, C) test scores of A.
        scores_b (Sequence[np.ndarray]): per seed (same order), (N, C) of B.
        labels (np.ndarray): (N, C) binary labels of the shared test images.
        num_boot (int): replicates. Defaults to 2000.
        seed (int): bootstrap seed. Defaults to 0.

    Returns:
        dict: ``mean`` (the mean over seeds of the full-test-set differences),
        ``ci95`` ([lo, hi]), ``n`` seeds, ``method='bootstrap'``.
    """
    a, b = np.stack(scores_a), np.stack(scores_b)
    if a.shape != b.shape or a.shape[1:] != labels.shape:
        raise ValueError(f'scores of A {a.shape}, of B {b.shape} and labels '
                         f'{labels.shape} do not pair up')
    num_seeds, num_images = a.shape[:2]
    full = macro_auc(a, labels[None].repeat(num_seeds, 0)) - macro_auc(
        b, labels[None].repeat(num_seeds, 0))
    rng = np.random.default_rng(seed)
    seeds = rng.integers(num_seeds, size=(num_boot, num_seeds))
    images = rng.integers(num_images, size=(num_boot, num_seeds, num_images))
    diffs = np.empty(num_boot)
    for r in range(num_boot):  # (S, N, C) per replicate keeps memory small
        idx = images[r]
        lab = labels[idx]
        diffs[r] = np.nanmean(
            macro_auc(a[seeds[r][:, None], idx], lab)
            - macro_auc(b[seeds[r][:, None], idx], lab))
    lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
    return dict(mean=float(np.nanmean(full)), ci95=[float(lo), float(hi)],
                n=int(num_seeds), method='bootstrap')


def verdict(stat: Dict, effect: str = 'gaze') -> str:
    """A plain-words reading of a paired difference ``stat`` (from the functions
    above), e.g. ``"gaze adds +0.031 [+0.012, +0.050]"``: an effect is claimed
    only when the 95 % interval excludes 0."""
    if stat.get('mean') is None:
        return 'not measured'
    text = f'{stat["mean"]:+.3f}'
    ci = stat.get('ci95')
    if ci is None:
        return f'{text} (one seed: no interval)'
    text += f' [{ci[0]:+.3f}, {ci[1]:+.3f}]'
    if ci[0] > 0:
        return f'{effect} adds {text}'
    if ci[1] < 0:
        return f'{effect} costs {text}'
    return f'no detectable {effect} effect ({text})'
