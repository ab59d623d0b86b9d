"""A deterministic labelled fraction of a dataset, for low-label fine-tuning."""
import copy
import math
from typing import List, Union

import numpy as np
from mmengine.dataset import BaseDataset

from gazeprior_mm.registry import DATASETS


def label_fraction_indices(labels: np.ndarray, fraction: float,
                           seed: int = 0) -> np.ndarray:
    """Indices of a ``fraction`` subset with every present class kept.

    First one random example of each class present in ``labels`` (classes in a
    seeded random order, skipping examples already taken), then random others
    until ``ceil(fraction * N)`` (at least one per present class). The same
    ``(labels, fraction, seed)`` always gives the same subset.

    Args:
        labels (np.ndarray): (N, C) multi-hot labels (1 = positive).
        fraction (float): in (0, 1].
        seed (int): the subset's seed.

    Returns:
        np.ndarray: sorted int64 indices.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    labels = np.asarray(labels) == 1
    n = len(labels)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    # the first example (in the seeded order) of each class: argmax of the
    # positives reordered by `order` finds it for all classes at once
    present = labels.any(0)
    first = order[labels[order].argmax(0)[present]]
    chosen = np.unique(first)
    target = max(math.ceil(fraction * n), len(chosen))
    rest = order[~np.isin(order, chosen)][:max(target - len(chosen), 0)]
    return np.sort(np.concatenate([chosen, rest])).astype(np.int64)


@DATASETS.register_module()
class LabelFractionDataset(BaseDataset):
    """Wrap a multi-label dataset and keep a seeded ``fraction`` of it.

    Used by the 1 %-label fine-tuning configs
    (``dataset=dict(type='LabelFractionDataset', dataset=..., fraction=0.01,
    seed=0)``); every class with a positive keeps at least one.

    Args:
        dataset (dict | BaseDataset): the wrapped dataset; its data infos must
            hold ``gt_label`` as a list of positive class indices (mmpretrain's
            multi-label convention, as ``GazeCXRDataset`` gives).
        fraction (float): kept fraction in (0, 1]. Defaults to 0.01.
        seed (int): subset seed. Defaults to 0.
    """

    def __init__(self,
                 dataset: Union[dict, BaseDataset],
                 fraction: float = 0.01,
                 seed: int = 0,
                 lazy_init: bool = False):
        self.dataset = DATASETS.build(dataset) if isinstance(dataset,
                                                             dict) else dataset
        self.fraction = fraction
        self.seed = seed
        self._metainfo = copy.deepcopy(self.dataset.metainfo)
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        num_classes = len(self._metainfo.get('classes') or ()) or 1 + max(
            (max(self.dataset.get_data_info(i)['gt_label'], default=-1)
             for i in range(len(self.dataset))), default=0)
        labels = np.zeros((len(self.dataset), num_classes), dtype=np.int8)
        for i in range(len(self.dataset)):
            labels[i, self.dataset.get_data_info(i)['gt_label']] = 1
        self.indices: List[int] = label_fraction_indices(
            labels, self.fraction, self.seed).tolist()
        self._fully_initialized = True

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int) -> dict:
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)
