"""Reader for McGIP-style gaze files and precomputed relation matrices.

McGIP (zhaozh10/McGIP) stores, per image, a JSON ``{"gaze": [[x, y], ...], ...}``
of raw gaze samples on a fixed canvas (800 x 800 for OAI), without timestamps, and
a dense N x N relation ``.npy`` indexed by the position of each image in a name
list (``namelist.txt``). This module turns the samples into canonical fixations and
the relation into a sparse :class:`~gazeprior_mm.mining.table.GazeNeighbours`
keyed by image id, so McGIP data can be used without the list-order coupling.
"""
import glob
import json
import os.path as osp
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .table import GazeNeighbours


def samples_to_fixations(samples: np.ndarray,
                         radius: float = 40.0,
                         sample_duration: float = 1.0) -> np.ndarray:
    """McGIP's fixation filter, vectorised and keeping the final fixation.

    Consecutive samples whose x and y both move less than ``radius`` pixels from
    the previous sample belong to the same fixation; a fixation is the mean
    position of its samples and lasts ``count * sample_duration``. (The reference
    never appended the last fixation.)

    Args:
        samples (np.ndarray): (S, 2) raw gaze ``x, y``.
        radius (float): McGIP used ``0.05 * 800 = 40`` px.
        sample_duration (float): duration of one sample (McGIP: 1 per sample).

    Returns:
        np.ndarray: float64 (K, 3) ``x, y, duration``.
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    if len(samples) == 0:
        return np.zeros((0, 3))
    moved = np.any(np.abs(np.diff(samples, axis=0)) >= radius, axis=1)
    group = np.concatenate([[0], np.cumsum(moved)])
    count = np.bincount(group).astype(np.float64)
    centre = np.stack([np.bincount(group, samples[:, d]) for d in (0, 1)], 1)
    return np.column_stack([centre / count[:, None], count * sample_duration])


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', name)]


def read_mcgip_gaze_dir(gaze_dir: str,
                        names_file: Optional[str] = None,
                        canvas: Tuple[int, int] = (800, 800),
                        radius: float = 40.0) -> Tuple[List[str], List[dict]]:
    """Read a folder of McGIP per-image gaze JSON files.

    Args:
        gaze_dir (str): folder of ``<name>.json`` with key ``gaze`` (list of x, y).
        names_file (str, optional): name list giving the order (one name per line,
            with or without extension); default: natural sort of the file stems.
        canvas (tuple): ``(H, W)`` of the gaze canvas (the reference's 800 x 800).
        radius (float): fixation-filter radius in canvas pixels.

    Returns:
        tuple: ``img_ids`` (file stems) and canonical ``gaze`` dicts (None when a
        file holds no sample).
    """
    if names_file:
        with open(names_file) as f:
            names = [osp.splitext(osp.basename(line.strip()))[0]
                     for line in f if line.strip()]
    else:
        names = sorted((osp.splitext(osp.basename(p))[0]
                        for p in glob.glob(osp.join(gaze_dir, '*.json'))),
                       key=_natural_key)
    gazes = []
    for name in names:
        path = osp.join(gaze_dir, f'{name}.json')
        if not osp.exists(path):
            raise FileNotFoundError(f'{path}: listed in {names_file} but missing')
        try:
            with open(path, encoding='utf-8') as f:
                record = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f'{path}: not a valid JSON gaze file: {err}') from err
        if not isinstance(record, dict) or 'gaze' not in record:
            raise ValueError(f'{path}: no "gaze" key (McGIP format expected)')
        samples = np.asarray(record['gaze'], dtype=np.float64)
        if samples.size and (samples.ndim != 2 or samples.shape[1] < 2):
            raise ValueError(f'{path}: "gaze" must be a list of [x, y], got shape '
                             f'{samples.shape}')
        fixations = samples_to_fixations(samples[:, :2] if samples.size else
                                         samples, radius)
        gazes.append(None if len(fixations) == 0 else dict(
            image_size=list(canvas),
            readers=[dict(reader='mcgip', fixations=fixations.tolist())]))
    return names, gazes


def relation_to_neighbours(relation: np.ndarray,
                           names: Optional[Sequence[str]] = None,
                           k: int = 16,
                           threshold: Optional[float] = None) -> GazeNeighbours:
    """Sparse top-k neighbours of a McGIP dense relation matrix.

    Args:
        relation (np.ndarray): (N, N) similarities, row/column ``i`` = ``names[i]``.
        names (Sequence[str], optional): ids in relation order (default ``"0"...``).
        k (int): neighbours per image (the diagonal is never one).
        threshold (float, optional): McGIP's threshold (0.7 / 0.9 / 0.95).

    Returns:
        GazeNeighbours: rows sorted by descending similarity.
    """
    relation = np.asarray(relation, dtype=np.float64)
    num = len(relation)
    if relation.ndim != 2 or relation.shape[1] != num:
        raise ValueError(f'relation must be square, got {relation.shape}')
    names = [str(i) for i in range(num)] if names is None else list(names)
    if len(names) != num:
        raise ValueError(f'{len(names)} names for a {num} x {num} relation: the '
                         'name list and the relation are out of sync')
    scores = np.where(np.isnan(relation), -np.inf, relation)
    np.fill_diagonal(scores, -np.inf)
    k = min(k, max(num - 1, 0))
    top = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    values = np.take_along_axis(scores, top, axis=1)
    keep = np.isfinite(values)
    if threshold is not None:
        keep &= values > threshold  # McGIP: relation > threshold
    counts = keep.sum(1)
    return GazeNeighbours(np.asarray(names, dtype=str),
                          np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                          top[keep].astype(np.int64),
                          values[keep].astype(np.float32),
                          dict(method='mcgip_relation', k=k, threshold=threshold,
                               num_images=num))
