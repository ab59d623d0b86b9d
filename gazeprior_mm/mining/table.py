"""The gaze-neighbour table: sparse top-k lists keyed by image id, and the
batch lookup the McGIP models use.

:class:`GazeNeighbours` is what :mod:`gazeprior_mm.mining.neighbours` mines and
``tools/analysis/mine_gaze_pairs.py`` writes (``.npz``: ``img_ids, indptr,
indices, values, meta``); a model only loads it and looks pairs up
(:func:`lookup_neighbour_pairs`), it never mines.
"""
import json
from dataclasses import dataclass, field
from typing import Dict, Sequence

import numpy as np
import torch


@dataclass
class GazeNeighbours:
    """Sparse gaze-neighbour lists.

    Row ``r`` (image ``img_ids[r]``) has neighbours
    ``indices[indptr[r]:indptr[r + 1]]`` (row numbers) with similarities
    ``values[...]`` in descending order.

    Attributes:
        img_ids (np.ndarray): (N,) str, stable ids.
        indptr (np.ndarray): int64 (N + 1,).
        indices (np.ndarray): int64 (nnz,).
        values (np.ndarray): float32 (nnz,).
        meta (dict): how the lists were mined (method, k, threshold, ...).
    """
    img_ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    meta: Dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.img_ids)

    def save(self, path: str) -> None:
        """Write an ``.npz`` with ``img_ids, indptr, indices, values, meta``."""
        with open(path, 'wb') as f:  # keep the exact path (savez adds .npz)
            np.savez(f, img_ids=np.asarray(self.img_ids, dtype=str),
                     indptr=self.indptr, indices=self.indices,
                     values=self.values, meta=np.asarray(json.dumps(self.meta)))

    @classmethod
    def load(cls, path: str) -> 'GazeNeighbours':
        """Read a file written by :meth:`save`, checking its consistency."""
        with np.load(path, allow_pickle=False) as data:
            out = cls(data['img_ids'], data['indptr'].astype(np.int64),
                      data['indices'].astype(np.int64),
                      data['values'].astype(np.float32),
                      json.loads(str(data['meta'])))
        n = len(out.img_ids)
        if (len(out.indptr) != n + 1 or out.indptr[0] != 0
                or out.indptr[-1] != len(out.indices)
                or len(out.indices) != len(out.values)
                or np.any(np.diff(out.indptr) < 0)
                or (len(out.indices) and (out.indices.min() < 0
                                          or out.indices.max() >= n))):
            raise ValueError(f'{path}: corrupt neighbour file (indptr/indices '
                             f'inconsistent with {n} image ids)')
        if len(set(out.img_ids.tolist())) != n:
            raise ValueError(f'{path}: duplicate img_ids')
        return out

    def neighbours_of(self, img_id: str) -> Dict[str, float]:
        """``{neighbour img_id: similarity}`` of one image (for reports/tests)."""
        row = int(np.flatnonzero(self.img_ids == img_id)[0])
        span = slice(self.indptr[row], self.indptr[row + 1])
        return dict(zip(self.img_ids[self.indices[span]].tolist(),
                        self.values[span].tolist()))

    def reindex(self, img_ids: Sequence[str]) -> 'GazeNeighbours':
        """The same lists re-keyed to another id order (e.g. a dataset's
        ``sample_idx`` order). Ids missing from the file get no neighbours;
        neighbours missing from ``img_ids`` are dropped (both are counted in
        ``meta['reindex']``).

        Args:
            img_ids: target order; row ``i`` of the result is ``img_ids[i]``.
        """
        img_ids = np.asarray(img_ids, dtype=str)
        target_of = dict(zip(img_ids.tolist(), range(len(img_ids))))
        new_row = np.array([target_of.get(i, -1) for i in self.img_ids.tolist()],
                           dtype=np.int64)
        src_of = dict(zip(self.img_ids.tolist(), range(len(self.img_ids))))
        src_row = np.array([src_of.get(i, -1) for i in img_ids.tolist()],
                           dtype=np.int64)
        counts = np.where(src_row >= 0, np.diff(self.indptr)[src_row], 0)
        starts = np.where(src_row >= 0, self.indptr[:-1][src_row], 0)
        flat = np.repeat(starts, counts) + _ragged_arange(counts)
        keep = new_row[self.indices[flat]] >= 0
        rows = np.repeat(np.arange(len(img_ids)), counts)[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(
            rows, minlength=len(img_ids)))]).astype(np.int64)
        meta = dict(self.meta, reindex=dict(
            ids_without_entry=int((src_row < 0).sum()),
            neighbours_dropped=int((~keep).sum())))
        return GazeNeighbours(img_ids, indptr, new_row[self.indices[flat]][keep],
                              self.values[flat][keep], meta)


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concat([arange(c) for c in counts])`` without a loop."""
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - counts,
                                                               counts)


def lookup_neighbour_pairs(indptr: torch.Tensor, indices: torch.Tensor,
                           values: torch.Tensor, query: torch.Tensor,
                           keys: torch.Tensor):
    """Which (query, key) pairs are gaze-neighbour pairs, and their similarity.

    Vectorised: the queries' neighbour lists are expanded into (row, neighbour)
    pairs; the keys are sorted once and ``searchsorted`` finds, per pair, the run
    of key positions holding that neighbour (an image may sit in a MoCo queue more
    than once); the runs are expanded with a ragged arange and scattered. Cost
    O(B k log Q + B Q); no per-pair Python.

    Args:
        indptr (torch.Tensor): long (N + 1,) CSR row pointers (rows = sample keys).
        indices (torch.Tensor): long (nnz,) neighbour sample keys.
        values (torch.Tensor): float (nnz,) similarities.
        query (torch.Tensor): long (B,) sample keys of the anchors; ``-1`` or keys
            outside the table have no neighbours.
        keys (torch.Tensor): long (Q,) sample keys of the candidates; ``-1``
            (empty queue slot) never matches.

    Returns:
        tuple: ``mask`` bool (B, Q), True where ``keys[q]`` is a neighbour of
        ``query[b]``; ``weights`` float (B, Q), that neighbour's similarity
        (0 elsewhere).
    """
    return _pair_lookup(indptr, indices, values, query, keys)


def _pair_lookup(indptr, indices, values, query, keys):
    device = keys.device
    num_rows = len(indptr) - 1
    mask = torch.zeros(len(query), len(keys), dtype=torch.bool, device=device)
    weights = torch.zeros(len(query), len(keys), device=device)
    valid = (query >= 0) & (query < num_rows)
    safe_q = torch.where(valid, query, torch.zeros_like(query))
    counts = torch.where(valid, indptr[safe_q + 1] - indptr[safe_q],
                         torch.zeros_like(query))
    if int(counts.sum()) == 0 or len(keys) == 0:
        return mask, weights
    rows = torch.repeat_interleave(torch.arange(len(query), device=device), counts)
    flat = torch.repeat_interleave(indptr[safe_q], counts) + _ragged(counts)
    nbr, sim_val = indices[flat], values[flat].to(weights.dtype)
    sorted_keys, order = torch.sort(keys)
    lo = torch.searchsorted(sorted_keys, nbr, right=False)
    hi = torch.searchsorted(sorted_keys, nbr, right=True)
    hits = hi - lo
    pos = order[torch.repeat_interleave(lo, hits) + _ragged(hits)]
    rows, sim_val = (torch.repeat_interleave(rows, hits),
                     torch.repeat_interleave(sim_val, hits))
    mask[rows, pos] = True
    weights[rows, pos] = sim_val
    return mask, weights


def _ragged(counts: torch.Tensor) -> torch.Tensor:
    """torch ``concat([arange(c) for c in counts])``."""
    ends = torch.cumsum(counts, 0)
    total = int(ends[-1]) if len(ends) else 0
    return torch.arange(total, device=counts.device) - torch.repeat_interleave(
        ends - counts, counts)
