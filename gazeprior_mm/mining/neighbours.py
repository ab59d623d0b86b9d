"""Top-k gaze-neighbour mining at dataset scale, stored sparse and keyed by image id.

McGIP precomputed a dense N x N relation with Python double loops and indexed it by
list position. Here:

* vector descriptors (:data:`~gazeprior_mm.mining.similarity.VECTOR_METHODS`) are
  mined **exactly** by blocked similarity products: for a block of B query rows the
  similarities of each pair are formed once (by symmetry) in a reused (N, B)
  buffer, the top-k of both its sides kept (group maxima first), the block
  discarded, so memory is O(B N) whatever N is;
* pairwise measures (``multimatch``, ``tima``) are evaluated only on the top-m
  candidates of a cheap vector descriptor, vectorised over the candidate pairs;
* the result is a CSR-like :class:`GazeNeighbours` (``indptr``, ``indices``,
  ``values``, ``img_ids``) saved as ``.npz``; rows are neighbours in descending
  similarity, never the image itself; images without gaze have no neighbours and
  are never anyone's neighbour.
"""
import json
import math
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from gazeprior_mm.gaze.controls import apply_gaze_control
from . import similarity as sim
from .table import GazeNeighbours, _ragged_arange


# ------------------------------------------------------------------------- mining
def _block_similarity(query: torch.Tensor, keys: torch.Tensor, method: str,
                      buffer: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(B, N) similarities of a query block (torch port of
    :func:`~gazeprior_mm.mining.similarity.vector_similarity`).

    ``buffer`` (flat float32, at least B * N): inner products are written into it
    instead of a new tensor. Allocating a fresh (B, N) result per block costs as much
    as the product itself on CPU (the pages are zeroed on first touch).
    """
    if method != 'moments':
        if buffer is None:
            return query @ keys.T
        out = buffer[:len(query) * len(keys)].view(len(query), len(keys))
        return torch.mm(query, keys.T, out=out)
    q, k = query[:, None, :], keys[None, :, :]
    scale = torch.maximum(q.abs(), k.abs())
    diff = torch.where(scale > 0, (q - k).abs() / scale.clamp_min(1e-30),
                       torch.zeros(()))
    return 1.0 - 0.5 * diff[..., 0] - 0.5 * diff[..., 1]


def grouped_topk(x: torch.Tensor, k: int, dim: int):
    """Exact ``x.topk(k, dim)`` of a 2-D tensor, by group maxima first.

    The L entries along ``dim`` are split into ``L // g`` strided groups of
    ``g = sqrt(L / k)`` (group j = entries ``j, j + L/g, j + 2 L/g, ...``; the
    remainder stays a candidate). Fewer than k entries exceed the k-th largest value,
    so they lie in fewer than k groups, each with a larger maximum than any group
    without such an entry: the top-k values are all inside the k groups of largest
    maximum, plus the remainder (ties may resolve to other, equal values). Cost:
    one max-reduction over the strided (non-contiguous, hence vectorised) group axis,
    then ``topk`` over ``L / g + k g`` candidates (about ``2 sqrt(k L)``) instead of L.
    ``topk`` is the expensive step on CPU (a few ns per entry; the reduction a
    fraction of that).

    Args:
        x (Tensor): (R, C).
        k (int): entries kept, ``k <= x.shape[dim]``.
        dim (int): 1 (per row, over columns) or 0 (per column, over rows).

    Returns:
        tuple: ``values`` and ``indices`` along ``dim``, as ``torch.topk``
        (shape (R, k) for dim 1, (k, C) for dim 0), values in descending order.
    """
    length = x.shape[dim]
    members = int(math.sqrt(length / max(k, 1)))
    num_groups = length // max(members, 1)
    if members < 2 or num_groups < 2 * k:
        return x.topk(k, dim=dim)
    main = members * num_groups
    offsets = torch.arange(members) * num_groups
    if dim == 1:
        head = x[:, :main].view(len(x), members, num_groups)
        _, group = head.amax(1).topk(k, dim=1)  # (R, k)
        index = (offsets[None, :, None] + group[:, None, :]).reshape(len(x), -1)
        if main < length:
            index = torch.cat([index, torch.arange(main, length).expand(len(x), -1)],
                              1)
    else:
        head = x[:main].view(members, num_groups, x.shape[1])
        _, group = head.amax(0).topk(k, dim=0)  # (k, C)
        index = (offsets[:, None, None] + group[None]).reshape(-1, x.shape[1])
        if main < length:
            index = torch.cat([index, torch.arange(main, length)[:, None].expand(
                -1, x.shape[1])], 0)
    values, pos = x.gather(dim, index).topk(k, dim=dim)
    return values, index.gather(dim, pos)


def _merge_topk(val: torch.Tensor, idx: torch.Tensor, new_val: torch.Tensor,
                new_idx: torch.Tensor, k: int):
    """Best k per row of two candidate lists, (R, k) running and (R, *) new."""
    val, pos = torch.cat([val, new_val], 1).topk(k, dim=1)
    return val, torch.cat([idx, new_idx], 1).gather(1, pos)


def topk_neighbours(desc: np.ndarray,
                    has_gaze: np.ndarray,
                    k: int,
                    method: str = 'heatmap_cosine',
                    threshold: Optional[float] = None,
                    block: int = 1024) -> Dict[str, np.ndarray]:
    """Exact top-k neighbours of every row by blocked similarity products.

    Only images with gaze take part (the others get no neighbours and are nobody's
    neighbour), which also shrinks both sides of the product. Every similarity is
    symmetric, ``s(a, b) = s(b, a)``, so each pair is scored once (the lower
    triangle, half the products of scoring all rows against all columns). For the
    block of rows ``[r0, r1)`` the strip ``S = sim(D_[r0, N), Q_[r0, r1))``
    (N - r0, B) is written into one reused buffer (a fresh tensor per block costs as
    much as the product on CPU: its pages are zeroed on first touch); the image
    itself is ``-inf``. The strip serves both sides, each with
    :func:`grouped_topk`:

    * its column-wise top-k gives rows ``[r0, r1)`` their best candidates among
      rows ``>= r0`` (those ``< r0`` were offered by earlier strips);
    * the row-wise top-k of ``S[r1 - r0:]`` gives every later row its best
      candidates among ``[r0, r1)``.

    Both are merged into running (N, k) lists. The orientation matters on CPU: the
    long side (N - r0) goes down the columns, where the group maxima are cheap
    reductions and only ~``2 sqrt(k N)`` candidates per column are gathered; a
    contiguous transpose of the strip would cost as much as the product. Then
    (optionally) only similarities ``>= threshold`` survive. Peak memory is
    O(block * N) floats.

    Args:
        desc (np.ndarray): (N, D) descriptors from
            :func:`~gazeprior_mm.mining.similarity.compute_descriptors`.
        has_gaze (np.ndarray): (N,) bool.
        k (int): neighbours per image (upper bound when ``threshold`` is set).
        method (str): the descriptor's method (``moments`` is not an inner
            product and is evaluated by broadcasting).
        threshold (float, optional): minimum similarity of a neighbour.
        block (int): query rows per block.

    Returns:
        dict: ``indptr`` (N + 1,), ``indices`` (nnz,), ``values`` (nnz,), rows in
        descending similarity.
    """
    num = len(desc)
    has_gaze = np.asarray(has_gaze, dtype=bool)
    gaze_rows = np.flatnonzero(has_gaze)
    keys = torch.from_numpy(np.ascontiguousarray(desc[gaze_rows],
                                                 dtype=np.float32))
    num_keys = len(keys)
    k = int(min(k, max(num_keys - 1, 0)))
    if method == 'moments':  # (N, B, 2) broadcast: keep blocks small
        block = max(1, min(block, 2**22 // max(num_keys, 1)))
    buffer = torch.empty(min(block, num_keys) * num_keys) \
        if method != 'moments' and k else None
    top_val = torch.full((num_keys, k), -float('inf'))
    top_idx = torch.zeros((num_keys, k), dtype=torch.long)
    for start in range(0, num_keys if k else 0, block):
        stop = min(start + block, num_keys)
        strip = _block_similarity(keys[start:], keys[start:stop], method, buffer)
        rows = torch.arange(stop - start)
        strip[rows, rows] = -float('inf')  # self
        val, idx = grouped_topk(strip, min(k, len(strip)), dim=0)
        top_val[start:stop], top_idx[start:stop] = _merge_topk(
            top_val[start:stop], top_idx[start:stop], val.T, idx.T + start, k)
        if stop < num_keys:
            val, idx = grouped_topk(strip[stop - start:], min(k, stop - start),
                                    dim=1)
            top_val[stop:], top_idx[stop:] = _merge_topk(
                top_val[stop:], top_idx[stop:], val, idx + start, k)
    keep = torch.isfinite(top_val)
    if threshold is not None:
        keep &= top_val >= threshold
    counts = np.zeros(num, dtype=np.int64)
    counts[gaze_rows] = keep.sum(1).numpy()
    return dict(
        indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        indices=gaze_rows[top_idx[keep].numpy()].astype(np.int64),
        values=top_val[keep].numpy().astype(np.float32))


def rerank_pairwise(gazes: Sequence[Optional[dict]],
                    candidates: Dict[str, np.ndarray],
                    method: str,
                    k: int,
                    threshold: Optional[float] = None,
                    pair_chunk: int = 8192,
                    **kwargs) -> Dict[str, np.ndarray]:
    """Re-score candidate pairs with a pairwise measure and keep the top-k.

    Per-image tables (scanpaths or TIMA sequences) are built once; the measure is
    evaluated vectorised over chunks of candidate pairs
    (:func:`~gazeprior_mm.mining.similarity.scanpath_similarity_batch`,
    :func:`~gazeprior_mm.mining.similarity.tima_similarity_batch`).

    Args:
        gazes: canonical gaze dicts per image.
        candidates (dict): CSR ``indptr/indices/values`` (e.g. the top-m of a
            cheap descriptor from :func:`topk_neighbours`).
        method (str): ``'multimatch'`` or ``'tima'``.
        k (int): neighbours kept per image.
        threshold (float, optional): minimum similarity.
        kwargs: ``weights`` of the measure.

    Returns:
        dict: CSR ``indptr``, ``indices``, ``values`` sorted by the new score.
    """
    counts = np.diff(candidates['indptr'])
    query = np.repeat(np.arange(len(counts)), counts)
    key = candidates['indices']
    if method == 'multimatch':
        table = sim.scanpath_tables(gazes)
        weights = np.asarray(kwargs.get('weights', (0.2, ) * 5))
        score_fn = lambda a, b: sim.scanpath_similarity_batch(  # noqa: E731
            table, a, b) @ weights
    elif method == 'tima':
        table = sim.tima_tables(gazes)
        score_fn = lambda a, b: sim.tima_similarity_batch(  # noqa: E731
            table, a, b, **kwargs)
    else:
        raise ValueError(f'{method!r} is not a pairwise method '
                         f'{sim.PAIRWISE_METHODS}')
    scores = np.concatenate([
        score_fn(query[s:s + pair_chunk], key[s:s + pair_chunk])
        for s in range(0, len(query), pair_chunk)
    ] or [np.zeros(0)])
    # sort every row by descending score (lexsort: row ascending, score desc)
    order = np.lexsort((-scores, query))
    query, key, scores = query[order], key[order], scores[order]
    rank = _ragged_arange(counts)
    keep = rank < k
    if threshold is not None:
        keep &= scores >= threshold
    new_counts = np.bincount(query[keep], minlength=len(counts))
    return dict(indptr=np.concatenate([[0], np.cumsum(new_counts)]).astype(np.int64),
                indices=key[keep].astype(np.int64),
                values=scores[keep].astype(np.float32))


def mine_gaze_neighbours(gazes: Sequence[Optional[dict]],
                         img_ids: Sequence[str],
                         method: str = 'heatmap_cosine',
                         k: int = 16,
                         threshold: Optional[float] = None,
                         candidates: int = 64,
                         candidate_method: str = 'heatmap_cosine',
                         block: int = 1024,
                         descriptor_cfg: Optional[dict] = None,
                         measure_cfg: Optional[dict] = None) -> GazeNeighbours:
    """Mine gaze neighbours of a dataset.

    Args:
        gazes: canonical ``gaze`` dict (or None) per image.
        img_ids: stable id per image (unique).
        method (str): any of :data:`~gazeprior_mm.mining.similarity.SIMILARITY_METHODS`.
        k (int): neighbours kept per image.
        threshold (float, optional): minimum similarity (McGIP: 0.7 - 0.95).
        candidates (int): top-m candidates of ``candidate_method`` re-scored by a
            pairwise ``method``.
        candidate_method (str): cheap vector method for the candidates.
        block (int): query rows per block.
        descriptor_cfg (dict, optional): ``grid``, ``sigma``, ``hash_size``.
        measure_cfg (dict, optional): ``weights`` of a pairwise measure.

    Returns:
        GazeNeighbours: keyed by ``img_ids``.
    """
    img_ids = np.asarray(img_ids, dtype=str)
    if len(img_ids) != len(gazes):
        raise ValueError(f'{len(img_ids)} img_ids for {len(gazes)} gaze entries')
    if len(set(img_ids.tolist())) != len(img_ids):
        raise ValueError('img_ids are not unique')
    descriptor_cfg = descriptor_cfg or {}
    vector = method if method in sim.VECTOR_METHODS else candidate_method
    desc, has_gaze = sim.compute_descriptors(gazes, vector, **descriptor_cfg)
    if method in sim.VECTOR_METHODS:
        csr = topk_neighbours(desc, has_gaze, k, method, threshold, block)
    elif method in sim.PAIRWISE_METHODS:
        cand = topk_neighbours(desc, has_gaze, max(candidates, k), vector, None,
                               block)
        csr = rerank_pairwise(gazes, cand, method, k, threshold,
                              **(measure_cfg or {}))
    else:
        raise ValueError(f'unknown method {method!r}; choose from '
                         f'{sim.SIMILARITY_METHODS}')
    meta = dict(method=method, k=k, threshold=threshold,
                candidates=candidates if method in sim.PAIRWISE_METHODS else None,
                candidate_method=vector, descriptor_cfg=descriptor_cfg,
                measure_cfg=measure_cfg or {}, num_images=len(img_ids),
                num_with_gaze=int(has_gaze.sum()))
    return GazeNeighbours(img_ids, csr['indptr'], csr['indices'], csr['values'],
                          meta)


def read_annotation_gaze(ann_file: str, gaze_control: Optional[str] = None,
                         gaze_control_seed: int = 0):
    """``(img_ids, gazes)`` of a canonical annotation file, in ``data_list``
    order (= the dataset's ``sample_idx`` order). A row without ``img_id`` is
    named by its ``img_path``, as ``GazeCXRDataset`` names it. ``gaze_control``
    (``'shuffle'`` / ``'oracle'``, :mod:`gazeprior_mm.gaze.controls`) is applied
    to the rows first, with the seed the dataset uses."""
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{ann_file}: not a JSON annotation file ({err}); '
                         'gaze neighbours are mined from the canonical JSON '
                         'annotations') from err
    items = data['data_list'] if isinstance(data, dict) else data
    items = apply_gaze_control(items, gaze_control, gaze_control_seed)
    ids, gazes = [], []
    for row, item in enumerate(items):
        if 'img_id' not in item and 'img_path' not in item:
            raise ValueError(f'{ann_file}: data_list[{row}] has neither img_id '
                             'nor img_path')
        ids.append(str(item.get('img_id', item.get('img_path'))))
        gazes.append(item.get('gaze'))
    return ids, gazes


def load_or_mine(neighbour_file: str,
                 ann_file: Optional[str] = None,
                 gaze_control: Optional[str] = None,
                 gaze_control_seed: int = 0,
                 **mine_cfg) -> GazeNeighbours:
    """Load ``neighbour_file``; if it is missing and ``ann_file`` is given, mine it
    from the annotation file's gaze (``mine_cfg`` -> :func:`mine_gaze_neighbours`)
    and save it there. ``gaze_control`` mines from controlled gaze (see
    :func:`read_annotation_gaze`); it is recorded in the table's meta."""
    if osp.exists(neighbour_file):
        return GazeNeighbours.load(neighbour_file)
    if ann_file is None:
        raise FileNotFoundError(
            f'{neighbour_file} does not exist and no ann_file was given to build '
            'it (run tools/analysis/mine_gaze_pairs.py)')
    ids, gazes = read_annotation_gaze(ann_file, gaze_control, gaze_control_seed)
    neighbours = mine_gaze_neighbours(gazes, ids, **mine_cfg)
    neighbours.meta.update(ann_file=ann_file, gaze_control=gaze_control,
                           gaze_control_seed=gaze_control_seed)
    neighbours.save(neighbour_file)
    return neighbours
