"""Batch collate that computes the deferred per-view gaze fields of a batch.

With ``PackGazeInputs(defer_targets=True)`` each sample leaves the pipeline with
its source gaze and view geometry (a ``gaze_pending`` data field,
:class:`~gazeprior_mm.gaze.targets.PendingGazeTargets`) instead of its gaze
fields. ``collate_fn=dict(type='gaze_collate')`` computes the fields of every such
sample of the batch in one call of
:func:`gazeprior_mm.gaze.targets.batch_view_targets` -- the route the per-sample
packer takes too, with a batch of one, so the numbers are the same -- puts them
into the samples exactly as the packer would have, drops ``gaze_pending`` and then
collates like mmengine's ``default_collate``. In a DataLoader the collate runs in
the worker that loaded the batch, so this is still data-pipeline time, spent once
per batch in a tight loop instead of once per sample between image transforms
(``benchmarks/gaze_pipeline.py`` counts it in the gaze part).
"""
from collections import defaultdict
from typing import Any, List, Sequence

import torch
from mmengine.dataset import default_collate

from gazeprior_mm.gaze.targets import batch_view_targets
from gazeprior_mm.registry import FUNCTIONS
from .transforms.formatting import PENDING_FIELD, set_gaze_fields


def _data_samples(data_batch: Sequence) -> List:
    """Every ``DataSample`` of a batch of packed results (one or a list each)."""
    samples = []
    for item in data_batch:
        packed = item.get('data_samples') if isinstance(item, dict) else None
        if isinstance(packed, (list, tuple)):
            samples.extend(packed)
        elif packed is not None:
            samples.append(packed)
    return samples


def complete_gaze_targets(data_samples: Sequence) -> int:
    """Replace every sample's ``gaze_pending`` by its gaze fields, in place.

    Samples are batched by what the kernel shares (number of views, view size,
    patch grid, ``min_view_mass``; normally the whole batch is one group); each
    group is one :func:`~gazeprior_mm.gaze.targets.batch_view_targets` call.
    Samples without ``gaze_pending`` are left as they are.

    Args:
        data_samples (Sequence[DataSample]): packed samples.

    Returns:
        int: the number of samples completed.
    """
    groups = defaultdict(list)
    for sample in data_samples:
        pending = sample.get(PENDING_FIELD)
        if pending is not None:
            key = (len(pending.geometries), pending.geometries[0].view_shape,
                   pending.grid, pending.min_view_mass)
            groups[key].append((sample, pending))
    for members in groups.values():
        targets = batch_view_targets([pending for _, pending in members])
        # one tensor per field, split into per-sample views (not B from_numpy
        # calls each)
        keys = tuple(targets)
        per_sample = zip(*(torch.from_numpy(value).unbind(0)
                           for value in targets.values()))
        for (sample, _), values in zip(members, per_sample):
            set_gaze_fields(sample, dict(zip(keys, values)))
            delattr(sample, PENDING_FIELD)
    return sum(len(members) for members in groups.values())


@FUNCTIONS.register_module()
def gaze_collate(data_batch: Sequence) -> Any:
    """mmengine's ``default_collate`` after :func:`complete_gaze_targets`.

    Use it as ``collate_fn=dict(_delete_=True, type='gaze_collate')`` with
    ``PackGazeInputs(defer_targets=True)``; batches without deferred targets are
    collated exactly as ``default_collate`` does.

    Args:
        data_batch (Sequence[dict]): the packed results of the batch's samples.

    Returns:
        Any: as ``default_collate``: ``inputs`` stacked per view, ``data_samples``
        a list.
    """
    complete_gaze_targets(_data_samples(data_batch))
    return default_collate(data_batch)
