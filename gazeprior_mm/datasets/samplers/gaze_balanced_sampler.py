"""Distributed sampler that spreads images with and without gaze evenly over ranks."""
import math
import warnings
from typing import Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from gazeprior_mm.registry import DATA_SAMPLERS


def gaze_flags(dataset) -> np.ndarray:
    """``(N,)`` bool: which samples of ``dataset`` have gaze.

    Uses ``dataset.has_gaze_flags()`` when the dataset provides it, else the
    ``has_gaze`` key of each data info (``gaze`` is not None when that key is
    missing), as written by :class:`GazeCXRDataset`.
    """
    if hasattr(dataset, 'has_gaze_flags'):
        return np.asarray(dataset.has_gaze_flags(), dtype=bool)
    flags = np.zeros(len(dataset), dtype=bool)
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        flags[idx] = bool(info.get('has_gaze', info.get('gaze') is not None))
    return flags


@DATA_SAMPLERS.register_module()
class GazeBalancedSampler(Sampler):
    """Like mmengine's ``DefaultSampler``, with gaze / no-gaze stratification.

    GWCL only learns from gaze-bearing images and McGIP only mines gaze
    neighbours among them, so a rank that by chance gets few of them in a step
    contributes a noisier gradient. Per epoch this sampler

    1. shuffles the gaze indices ``G`` and the no-gaze indices ``N`` separately with
       ``seed + epoch`` (same permutation on every rank);
    2. pads each group by repeating its start (``round_up=True``) or truncates it
       (``round_up=False``) to a multiple of ``world_size``, and deals it out
       round-robin: rank ``r`` gets ``G[r::W]`` and ``N[r::W]``;
    3. interleaves each rank's two lists by evenly spaced positions, so every
       stretch of the rank's sequence (hence every batch) holds about the global
       gaze fraction.

    Every rank gets ``ceil(|G|/W) + ceil(|N|/W)`` samples (equal lengths, as DDP
    needs) whose gaze counts differ by at most one. The order is a pure function of
    ``(seed, epoch, rank, world_size)``: resuming (mmengine calls ``set_epoch`` and
    skips the consumed batches) reproduces it exactly.

    Args:
        dataset (Sized): dataset with ``get_data_info(i)['has_gaze']`` or
            ``has_gaze_flags()``.
        shuffle (bool): shuffle within each group. Defaults to True.
        seed (int, optional): shared seed; random (synced across ranks) if None.
        round_up (bool): pad groups to a multiple of world size (else drop the
            tail of each group; the number dropped is warned). Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        rank, world_size = get_dist_info()
        self.rank, self.world_size = rank, world_size
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.round_up = round_up
        self.epoch = 0
        flags = gaze_flags(dataset)
        self.gaze_indices = np.flatnonzero(flags)
        self.no_gaze_indices = np.flatnonzero(~flags)
        per_rank = [self._per_rank(len(g)) for g in
                    (self.gaze_indices, self.no_gaze_indices)]
        self.num_samples = sum(per_rank)
        self.total_size = self.num_samples * world_size
        if not round_up:
            dropped = len(dataset) - self.total_size
            if dropped:
                warnings.warn(f'GazeBalancedSampler(round_up=False) drops '
                              f'{dropped} of {len(dataset)} samples per epoch '
                              f'to give {world_size} ranks equal shares')

    def _per_rank(self, n: int) -> int:
        return math.ceil(n / self.world_size) if self.round_up \
            else n // self.world_size

    def _rank_share(self, group: np.ndarray, gen: torch.Generator) -> np.ndarray:
        """This rank's part of one group (shuffled, padded/truncated, dealt)."""
        if self.shuffle and len(group):
            group = group[torch.randperm(len(group), generator=gen).numpy()]
        per_rank = self._per_rank(len(group))
        total = per_rank * self.world_size
        if len(group) and total > len(group):
            group = np.resize(group, total)  # repeats from the start
        return group[:total][self.rank::self.world_size]

    def _indices(self) -> np.ndarray:
        gen = torch.Generator()
        gen.manual_seed(self.seed + self.epoch)
        gaze = self._rank_share(self.gaze_indices, gen)
        no_gaze = self._rank_share(self.no_gaze_indices, gen)
        # evenly spaced positions in [0, 1) for each group; a stable sort merges
        position = np.concatenate([(np.arange(len(gaze)) + 0.5) / max(len(gaze), 1),
                                   (np.arange(len(no_gaze)) + 0.5) /
                                   max(len(no_gaze), 1)])
        order = np.argsort(position, kind='stable')
        return np.concatenate([gaze, no_gaze])[order]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (called by mmengine's loops; changes the permutation)."""
        self.epoch = epoch
