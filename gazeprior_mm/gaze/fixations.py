"""Checking raw fixations and the arguments of the gaze maths.

The one place that decides what a usable fixation array is: the dataset
(``GazeCXRDataset`` while parsing the annotation file), ``GazeHeatmap`` (per
reader, before fusing) and :func:`clean_fixations` all call
:func:`fixation_array`, so the accepted shapes and the error messages are the
same everywhere.
"""
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

SigmaType = Union[float, Sequence[float]]

#: reasons a fixation row is dropped by :func:`clean_fixations`, in the order checked
DROP_REASONS = ('nan', 'inf', 'negative_duration', 'outside')


def fixation_array(fixations, what: str = 'fixations') -> np.ndarray:
    """Raw fixations as a float32 (K, 2) ``x, y`` or (K, 3) ``x, y, duration``
    array.

    ``None`` and empty inputs give a (0, 3) array. Values are not checked here
    (NaN, outside the image ... are :func:`clean_fixations`' business).

    Args:
        fixations (array-like | None): rows of 2 or 3 numbers.
        what (str): how the error messages name the input, e.g.
            ``"fixations of reader 0 ('r1')"``.

    Returns:
        np.ndarray: float32 (K, 2) or (K, 3) (the input itself when it already
        is such an array).

    Raises:
        ValueError: ``'<what> are not numeric [x, y, duration_s] rows'`` or
            ``'<what> must be (K, 2) or (K, 3), got shape <shape>'``.
    """
    try:
        fix = np.asarray([] if fixations is None else fixations, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f'{what} are not numeric [x, y, duration_s] '
                         'rows') from None
    if fix.size == 0:
        return fix.reshape(0, 3)
    if fix.ndim != 2 or fix.shape[1] not in (2, 3):
        raise ValueError(f'{what} must be (K, 2) or (K, 3), got shape {fix.shape}')
    return fix


def as_pair(value: SigmaType, name: str) -> Tuple[float, float]:
    """``value`` as ``(vx, vy)``; a scalar is used for both axes."""
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.repeat(arr, 2)
    if arr.size != 2 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f'{name} must be a non-negative float or a pair (x, y), '
                         f'got {value!r}')
    return float(arr[0]), float(arr[1])


def check_size(size) -> Tuple[int, int]:
    """``(H, W)`` of an image size with positive sides."""
    if len(size) < 2 or int(size[0]) <= 0 or int(size[1]) <= 0:
        raise ValueError(f'size must be (H, W) with positive sides, got {size!r}')
    return int(size[0]), int(size[1])


def clean_fixations(fixations,
                    size: Sequence[int],
                    image_id: Optional[str] = None,
                    warn: bool = True,
                    return_mask: bool = False) -> Tuple[np.ndarray, Dict[str, int]]:
    """Drop unusable fixation rows and count why.

    A row is dropped, for the first reason that applies in this order, when
    ``nan``: x or y (or the duration) is NaN; ``inf``: one of them is infinite
    (and none NaN); ``negative_duration``: the third column is < 0; ``outside``:
    the point lies outside the image ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

    Args:
        fixations (array-like): (K, 2) ``x, y`` or (K, 3) ``x, y, duration``.
        size (Sequence[int]): (H, W) of the grid the fixations are in.
        image_id (str, optional): named in the warning.
        warn (bool): warn (once per call) when anything is dropped.
        return_mask (bool): also return the (K,) bool mask of kept rows.

    Returns:
        tuple: ``(kept, counts)`` -- kept rows as float32 (K', C) (the input array
        itself when it is float32 and nothing is dropped), and a dict with the
        number of rows dropped per reason in :data:`DROP_REASONS` plus ``kept``
        -- and ``keep`` (K,) when ``return_mask``.

    Raises:
        ValueError: when the fixations are not a numeric (K, 2) or (K, 3) array
            (:func:`fixation_array`).
    """
    height, width = check_size(size)
    fix = fixation_array(fixations, f'fixations of image {image_id!r}')
    is_nan = np.isnan(fix).any(axis=1)
    is_inf = ~is_nan & np.isinf(fix).any(axis=1)
    not_finite = is_nan | is_inf
    is_negative = np.zeros(len(fix), dtype=bool)
    if fix.shape[1] == 3:
        is_negative = ~not_finite & (fix[:, 2] < 0)
    x, y = fix[:, 0], fix[:, 1]
    # comparisons with NaN are False, so NaN rows are never 'inside'
    inside = (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    is_outside = ~inside & ~not_finite & ~is_negative
    keep = ~(not_finite | is_negative | is_outside)
    num_kept = int(np.count_nonzero(keep))
    if num_kept == len(fix):  # the common case: nothing to count or copy
        counts = dict(nan=0, inf=0, negative_duration=0, outside=0, kept=num_kept)
        return (fix, counts, keep) if return_mask else (fix, counts)
    counts = dict(nan=int(is_nan.sum()),
                  inf=int(is_inf.sum()),
                  negative_duration=int(is_negative.sum()),
                  outside=int(is_outside.sum()),
                  kept=num_kept)
    dropped = len(fix) - counts['kept']
    if warn and dropped:
        details = ', '.join(f'{counts[r]} {r}' for r in DROP_REASONS if counts[r])
        # off-image fixations are normal in eye-tracking (and the synthetic
        # readers make them on purpose); unusable rows are expected, not errors
        warnings.warn(f'image {image_id!r}: dropped {dropped} of {len(fix)} '
                      f'fixations ({details}); expected for off-image glances, '
                      'counted, training goes on', stacklevel=2)
    return (fix[keep], counts, keep) if return_mask else (fix[keep], counts)
