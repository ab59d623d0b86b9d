"""Batch collate that computes the deferred per-view gaze fields of a batch.

With ``PackGazeInputs(defer_targets=True)`` each sample leaves the pipeline with
its source gaze and view geometry (a ``gaze_pending`` data field,
:class:`~gazeprior_mm.datasets.transforms.formatting.PendingGazeTargets`) instead
of its gaze fields. ``collate_fn=dict(type='gaze_collate')`` computes the fields of
every such sample of the batch in one call of
:func:`gazeprior_mm.gaze.view_targets_kernel.batch_views_targets` -- the same
numbers as the per-sample packer (the same compiled per-image routine) -- puts them
into the samples exactly as the packer would have, drops ``gaze_pending`` and then
collates like mmengine's ``default_collate``. In a DataLoader the collate runs in
the worker that loaded the batch, so this is still data-pipeline time, spent once
per batch in a tight loop instead of once per sample between image transforms
(``benchmarks/gaze_pipeline.py`` counts it in the gaze part).
"""
from collections import defaultdict
from typing import Any, List, Sequence

import numpy as np
import torch
from mmengine.dataset import default_collate

from gazeprior_mm.gaze.view_targets_kernel import (HAS_NUMBA, TARGET_KEYS,
                                                  batch_views_targets)
from gazeprior_mm.registry import FUNCTIONS
from .transforms.formatting import (PENDING_FIELD, render_source_views,
                                   set_gaze_fields)


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
    group is one :func:`batch_views_targets` call (without numba: the numpy path of
    :func:`render_source_views` per sample). Samples without ``gaze_pending`` are
    left as they are.

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
    for (_, (height, width), (grid_h, grid_w), min_view_mass), members in \
            groups.items():
        if HAS_NUMBA:
            targets = _batch_targets([p for _, p in members], height, width,
                                     grid_h, grid_w, min_view_mass)
        else:
            # K = 0 for an image without gaze (PendingGazeTargets)
            targets = [render_source_views(
                p.fixations, p.weights, p.sigma, p.geometries, p.grid, True,
                p.min_view_mass, with_map=False, use_kernel=False)
                for _, p in members]
        for (sample, _), sample_targets in zip(members, targets):
            set_gaze_fields(sample, sample_targets)
            delattr(sample, PENDING_FIELD)
    return sum(len(members) for members in groups.values())


def _batch_targets(pending: list, height: int, width: int, grid_h: int,
                   grid_w: int, min_view_mass: float) -> List[dict]:
    """The targets of B samples sharing views / grid (one kernel call), as
    per-sample tensors (views of the batch's arrays)."""
    offsets = np.zeros(len(pending) + 1, np.int64)
    np.cumsum([len(p.fixations) for p in pending], out=offsets[1:])
    coefficients = np.array([[g.coefficients for g in p.geometries]
                             for p in pending])
    outputs = batch_views_targets(
        np.concatenate([p.fixations for p in pending]),
        np.concatenate([p.weights for p in pending]), offsets,
        np.array([p.sigma for p in pending], np.float64), coefficients, height,
        width, grid_h, grid_w, min_view_mass)
    # one tensor per output, split into per-sample views (not B from_numpy calls)
    per_sample = [torch.from_numpy(out).unbind(0) for out in outputs]
    return [dict(zip(TARGET_KEYS, values)) for values in zip(*per_sample)]


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
