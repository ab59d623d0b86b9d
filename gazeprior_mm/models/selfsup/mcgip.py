"""Gaze-neighbour positives shared by McGIP-SimCLR and McGIP-MoCo (McGIP / GzPT).

:class:`GazeNeighbourPositives` holds the sparse gaze-neighbour table
(:class:`~gazeprior_mm.mining.table.GazeNeighbours`, CSR) as tensors and turns
the table rows of a batch (and of a MoCo queue) into a positive-weight matrix with
one vectorised lookup; GzPT's pair dropout is one ``torch.rand`` mask. It loads a
ready table and never mines one: ``tools/analysis/mine_gaze_pairs.py`` writes it,
or ``tools/train.py`` for a config that declares ``gaze_neighbour_table``
(:func:`~gazeprior_mm.mining.prepare_gaze_neighbour_table`).

Which table row is a sample? ``index_key='img_id'`` (default) looks up
``data_samples[i].img_id`` (packed by ``PackGazeInputs``) in the table's stable ids;
``index_key='sample_idx'`` uses ``data_samples[i].sample_idx`` directly, which is
right only when the table was mined from the same annotation file in the same
order without filtering (what mining an annotation file builds). Samples whose
id is not in the table get row ``-1``: no gaze positives (counted, one warning).
"""
import os.path as osp
import warnings
import zipfile
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import barrier, broadcast, get_rank, is_distributed
from torch import nn

from gazeprior_mm.mining.table import GazeNeighbours, lookup_neighbour_pairs
from gazeprior_mm.registry import MODELS


@MODELS.register_module()
class GazeNeighbourPositives(nn.Module):
    """Gaze-neighbour positive weights for a batch or a queue.

    For table rows ``q`` (anchors) and ``k`` (candidates):

    ``W_ab = [sim(q_a, k_b) >= threshold] * keep_ab * (1 or sim(q_a, k_b))``

    where ``sim`` is the stored top-k similarity (0 when ``k_b`` is not a
    neighbour of ``q_a``; with ``symmetric=True`` either direction counts, taking
    the larger value) and ``keep_ab ~ Bernoulli(1 - drop_prob)`` (GzPT's ``p``).
    Row ``-1`` (no gaze / empty queue slot) never matches.

    Args:
        neighbour_file (str | GazeNeighbours): ``.npz`` written by
            ``tools/analysis/mine_gaze_pairs.py`` or ``tools/train.py`` (or an
            in-memory table), loaded on first use.
        index_key (str): ``'img_id'`` or ``'sample_idx'`` (see module doc).
        threshold (float, optional): minimum stored similarity of a positive
            (McGIP: 0.7 - 0.95). Defaults to None (every stored neighbour).
        drop_prob (float): GzPT pair-drop probability ``p``. Defaults to 0.
        symmetric (bool): count ``b in N(a)`` or ``a in N(b)``. Defaults to True.
        weighting (str): ``'binary'`` (McGIP) or ``'similarity'`` (soft
            positives weighted by the gaze similarity). Defaults to 'binary'.
        ann_file (str, optional), mine_cfg (dict, optional): deprecated (the
            model used to mine a missing table from ``ann_file``): with a
            DeprecationWarning, a missing table is still mined from them on
            first use. Declare ``gaze_neighbour_table`` in the config instead.
    """

    def __init__(self,
                 neighbour_file: Union[str, GazeNeighbours],
                 ann_file: Optional[str] = None,
                 mine_cfg: Optional[dict] = None,
                 index_key: str = 'img_id',
                 threshold: Optional[float] = None,
                 drop_prob: float = 0.0,
                 symmetric: bool = True,
                 weighting: str = 'binary') -> None:
        super().__init__()
        if ann_file is not None or mine_cfg is not None:
            warnings.warn(
                'GazeNeighbourPositives(ann_file=..., mine_cfg=...) is '
                'deprecated: the model loads a ready table. Declare '
                'gaze_neighbour_table=dict(neighbour_file=..., ann_file=..., '
                'mine_cfg=...) in the config (tools/train.py mines it) or run '
                'tools/analysis/mine_gaze_pairs.py', DeprecationWarning,
                stacklevel=2)
        if index_key not in ('img_id', 'sample_idx'):
            raise ValueError(f"index_key must be 'img_id' or 'sample_idx', "
                             f'got {index_key!r}')
        if weighting not in ('binary', 'similarity'):
            raise ValueError(f"weighting must be 'binary' or 'similarity', "
                             f'got {weighting!r}')
        if not 0.0 <= drop_prob <= 1.0:
            raise ValueError(f'drop_prob must be in [0, 1], got {drop_prob}')
        self.neighbour_file = neighbour_file
        self.ann_file = ann_file
        self.mine_cfg = mine_cfg or {}
        self.index_key = index_key
        self.threshold = threshold
        self.drop_prob = drop_prob
        self.symmetric = symmetric
        self.weighting = weighting
        self.num_missing = 0  # samples whose id is not in the table
        # The table is loaded on first use, not here: the runner builds the model
        # before tools/train.py makes the data and the table.
        # It is not a buffer: rebuilt from the file, kept out of checkpoints.
        self.img_ids = None
        self._row_of = None
        self._csr = None
        if isinstance(neighbour_file, GazeNeighbours):
            self._ensure_table()

    def _ensure_table(self) -> None:
        if self._csr is not None:
            return
        table = self._load(self.neighbour_file, self.ann_file, self.mine_cfg)
        self.img_ids = np.asarray(table.img_ids, dtype=str)
        self._row_of = dict(zip(self.img_ids.tolist(), range(len(table))))
        self._csr = tuple(
            torch.from_numpy(np.asarray(a))
            for a in (table.indptr, table.indices, table.values))

    def _csr_on(self, device: torch.device):
        """CSR tensors on ``device`` (moved once, then cached)."""
        self._ensure_table()
        if self._csr[0].device != device:
            self._csr = tuple(t.to(device) for t in self._csr)
        return self._csr

    @staticmethod
    def _load(neighbour_file, ann_file, mine_cfg) -> GazeNeighbours:
        if isinstance(neighbour_file, GazeNeighbours):
            return neighbour_file
        if ann_file is not None:  # deprecated: mining here, as models once did
            from gazeprior_mm.mining.neighbours import load_or_mine
            if get_rank() == 0:
                load_or_mine(neighbour_file, ann_file, **mine_cfg)
            if is_distributed():
                barrier()
        if not osp.isfile(neighbour_file):
            raise FileNotFoundError(
                f'gaze neighbour table {neighbour_file} not found: mine it with '
                'python tools/analysis/mine_gaze_pairs.py ANN_FILE --out '
                f'{neighbour_file}, or declare gaze_neighbour_table in the '
                'config and train with tools/train.py, which mines it')
        try:  # an .npz read with allow_pickle=False: no code runs from the file
            return GazeNeighbours.load(neighbour_file)
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as err:
            if str(neighbour_file) in str(err):
                raise  # names the file already
            raise ValueError(f'{neighbour_file}: cannot read the gaze neighbour '
                             f'table (an .npz of tools/analysis/mine_gaze_pairs.py '
                             f'without pickled objects): {err}') from err

    def rows(self, data_samples: Sequence) -> torch.Tensor:
        """Table row of each sample (``-1`` when absent), long (B,)."""
        self._ensure_table()
        if self.index_key == 'sample_idx':
            rows = [int(s.sample_idx) for s in data_samples]
            rows = [r if 0 <= r < len(self.img_ids) else -1 for r in rows]
        else:
            try:
                ids = [str(s.img_id) for s in data_samples]
            except AttributeError as err:
                raise KeyError(
                    "GazeNeighbourPositives(index_key='img_id') needs img_id in "
                    'the data samples (PackGazeInputs packs it; or add it to '
                    "PackInputs meta_keys, or use index_key='sample_idx')"
                ) from err
            rows = [self._row_of.get(i, -1) for i in ids]
        missing = sum(r < 0 for r in rows)
        if missing:
            if self.num_missing == 0:  # warn once; later ones are only counted
                warnings.warn(
                    f'{missing} samples are not in the gaze-neighbour table: '
                    'they get no gaze positives (further misses are counted '
                    'in GazeNeighbourPositives.num_missing)')
            self.num_missing += missing
        return torch.tensor(rows, dtype=torch.long)

    def forward(self, query_rows: torch.Tensor, key_rows: torch.Tensor,
                sync_drop: bool = False) -> torch.Tensor:
        """Positive weights of gaze-neighbour pairs.

        Args:
            query_rows (torch.Tensor): long (B,) table rows of the anchors.
            key_rows (torch.Tensor): long (Q,) table rows of the candidates.
            sync_drop (bool): broadcast rank 0's drop mask, for losses that every
                rank evaluates on the same gathered batch (SimCLR).

        Returns:
            torch.Tensor: float (B, Q) weights (0 = not a gaze positive).
        """
        key_rows = key_rows.to(query_rows.device)
        csr = self._csr_on(query_rows.device)
        is_pair, sim = lookup_neighbour_pairs(*csr, query_rows, key_rows)
        if self.symmetric:
            is_pair_t, sim_t = lookup_neighbour_pairs(*csr, key_rows, query_rows)
            sim = torch.where(
                is_pair & is_pair_t.T, torch.maximum(sim, sim_t.T),
                torch.where(is_pair, sim, sim_t.T))
            is_pair = is_pair | is_pair_t.T
        if self.threshold is not None:
            is_pair = is_pair & (sim >= self.threshold)
        if self.drop_prob > 0:
            keep = torch.rand(is_pair.shape, device=is_pair.device)
            if sync_drop and is_distributed():
                broadcast(keep, src=0)
            is_pair = is_pair & (keep >= self.drop_prob)
        if self.weighting == 'binary':
            return is_pair.to(torch.float32)
        return torch.where(is_pair, sim.clamp_min(0), torch.zeros_like(sim))

    def extra_repr(self) -> str:
        size = ('not loaded' if self._csr is None else
                f'num_images={len(self.img_ids)}, nnz={len(self._csr[1])}')
        return (f'{size}, index_key={self.index_key}, threshold={self.threshold}, '
                f'drop_prob={self.drop_prob}, symmetric={self.symmetric}, '
                f'weighting={self.weighting}')


def gaze_positive_config(cfg: Optional[dict]) -> Optional[nn.Module]:
    """Build a :class:`GazeNeighbourPositives` from a config dict (or pass a
    module through; None stays None)."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg)
    cfg.pop('type', None)
    return GazeNeighbourPositives(**cfg)


__all__: List[str] = ['GazeNeighbourPositives', 'gaze_positive_config']
