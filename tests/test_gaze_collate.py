"""Deferred per-view gaze fields: PackGazeInputs(defer_targets=True) + gaze_collate
give the batch the per-sample packer would have given, in one kernel call."""
import pickle
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.datasets.collate import complete_gaze_targets, gaze_collate
from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
from gazeprior_mm.datasets.transforms import PackGazeInputs
from gazeprior_mm.gaze.view_targets_kernel import (TARGET_KEYS,
                                                  batch_views_targets)
from gazeprior_mm.registry import DATASETS, FUNCTIONS

GAZE_FIELDS = ('gaze_weights', 'has_gaze', 'gaze_view_mass', 'crop_box', 'flip')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('collate_data')
    # a high no-gaze share: batches mix images with and without gaze
    generate_synthetic_cxr(str(root), num_images=16, img_size=64, seed=5,
                           preset='strong', no_gaze_rate=0.3)
    return str(root)


def _dataset(data_root, defer, grid=4, view_size=32):
    init_default_scope('mmpretrain')
    view = [dict(type='GazeRandomResizedCrop', scale=view_size,
                 crop_ratio_range=(0.2, 1.0)),
            dict(type='RandomApply', prob=0.8,
                 transforms=[dict(type='ColorJitter', brightness=0.4)]),
            dict(type='GazeRandomFlip', prob=0.5)]
    return DATASETS.build(dict(
        type='GazeCXRDataset', data_root=data_root,
        ann_file='annotations/train.json',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
                  dict(type='GazeMultiView', num_views=2, transforms=[view]),
                  dict(type='PackGazeInputs', grid=grid, min_view_mass=0.1,
                       with_map=False, defer_targets=defer)]))


def _samples(dataset, indices, seed=0):
    """dataset[i] with the augmentation RNG seeded per sample (same crops)."""
    out = []
    for i in indices:
        np.random.seed(seed + i)
        random.seed(seed + i)
        out.append(dataset[i])
    return out


def test_batch_kernel_equals_batches_of_one():
    """The per-sample packer's batch of one and the collate's batch agree bit
    for bit."""
    rng = np.random.default_rng(0)
    counts = [30, 0, 7, 55, 1]  # an image without gaze among them
    fixations = [rng.uniform(-5, 70, (k, 2)).astype(np.float32) for k in counts]
    weights = [rng.uniform(0.1, 1, k).astype(np.float32) for k in counts]
    weights = [w / w.sum() if len(w) else w for w in weights]
    sigmas = rng.uniform(1.0, 6.0, (len(counts), 2))
    coefficients = np.stack([
        np.column_stack([rng.uniform(0.5, 2, 2), rng.choice([-1, 1], 2) *
                         rng.uniform(0.5, 2, 2), rng.uniform(-20, 20, 2),
                         rng.uniform(-20, 60, 2)]) for _ in counts])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    batch = batch_views_targets(np.concatenate(fixations), np.concatenate(weights),
                                offsets, sigmas, coefficients, 24, 40, 3, 5, 0.05)
    assert batch[0].shape == (len(counts), 2, 15)
    for b in range(len(counts)):
        single = batch_views_targets(fixations[b], weights[b],
                                     np.array([0, counts[b]]), sigmas[b:b + 1],
                                     coefficients[b:b + 1], 24, 40, 3, 5, 0.05)
        for name, got, want in zip(TARGET_KEYS, batch, single):
            np.testing.assert_array_equal(got[b], want[0],
                                          err_msg=f'{name}, image {b}')
    assert not batch[1][1].any() and not batch[0][1].any()  # no gaze: zeros
    assert batch[1][0].any() and np.isclose(batch[0][0].max(), 1.0)


def test_deferred_batch_equals_per_sample_packing(data_root):
    indices = list(range(8))
    eager = _samples(_dataset(data_root, defer=False), indices)
    deferred = _samples(_dataset(data_root, defer=True), indices)
    for sample in deferred:
        packed = sample['data_samples']
        assert 'gaze_pending' in packed and 'gaze_weights' not in packed
        assert packed.view_shape == (32, 32)  # metainfo set by the packer already
    want = default_collate(eager)
    got = gaze_collate(deferred)
    for v in range(2):
        torch.testing.assert_close(got['inputs'][v], want['inputs'][v], rtol=0,
                                   atol=0)
    has_gaze = []
    for g, w in zip(got['data_samples'], want['data_samples']):
        assert 'gaze_pending' not in g
        assert set(g.keys()) == set(w.keys())
        assert g.metainfo.keys() == w.metainfo.keys()
        for field in GAZE_FIELDS + ('gt_label',):
            a, b = g.get(field), w.get(field)
            assert a.dtype == b.dtype and a.shape == b.shape, field
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=field)
        has_gaze.append(bool(w.has_gaze.any()))
    # the batch holds views with and without gaze
    assert any(has_gaze) and not all(has_gaze)


def test_collate_leaves_eager_batches_as_default_collate(data_root):
    eager = _samples(_dataset(data_root, defer=False), range(3))
    assert complete_gaze_targets([s['data_samples'] for s in eager]) == 0
    got, want = gaze_collate(eager), default_collate(eager)
    for g, w in zip(got['data_samples'], want['data_samples']):
        for field in GAZE_FIELDS:
            assert torch.equal(g.get(field), w.get(field))


def test_mixed_grids_and_view_sizes_in_one_batch(data_root):
    """Samples that cannot share a kernel call are completed group by group."""
    small = _samples(_dataset(data_root, defer=True, grid=4, view_size=32), [0, 1])
    large = _samples(_dataset(data_root, defer=True, grid=(2, 3), view_size=48),
                     [2, 3])
    eager = (_samples(_dataset(data_root, defer=False, grid=4, view_size=32),
                      [0, 1]) +
             _samples(_dataset(data_root, defer=False, grid=(2, 3), view_size=48),
                      [2, 3]))
    samples = [s['data_samples'] for s in small + large]
    assert complete_gaze_targets(samples) == 4
    for got, want in zip(samples, (s['data_samples'] for s in eager)):
        for field in GAZE_FIELDS:
            assert torch.equal(got.get(field), want.get(field)), field
    assert samples[0].gaze_weights.shape == (2, 16)
    assert samples[3].gaze_weights.shape == (2, 6)


def test_pending_sample_pickles_like_a_worker_batch(data_root):
    """DataLoader workers pickle the samples: the pending record survives."""
    deferred = _samples(_dataset(data_root, defer=True), [4, 5])
    eager = _samples(_dataset(data_root, defer=False), [4, 5])
    moved = pickle.loads(pickle.dumps(deferred))
    got = gaze_collate(moved)['data_samples']
    for g, w in zip(got, (s['data_samples'] for s in eager)):
        for field in GAZE_FIELDS:
            assert torch.equal(g.get(field), w.get(field)), field


def test_defer_needs_no_maps():
    with pytest.raises(ValueError, match='with_map=False'):
        PackGazeInputs(grid=4, defer_targets=True)


def test_model_names_the_collate_when_targets_are_pending(data_root):
    from test_gazeprior_model import _tiny_gazeprior
    batch = default_collate(_samples(_dataset(data_root, defer=True), range(2)))
    model = _tiny_gazeprior()
    data = model.data_preprocessor(batch, training=True)
    with pytest.raises(KeyError, match="gaze_collate"):
        model(**data, mode='loss')


def test_collate_from_config_in_a_worker(data_root):
    """``collate_fn=dict(type='gaze_collate')`` resolves through mmengine's
    registry and runs in a DataLoader worker process."""
    assert FUNCTIONS.get('gaze_collate') is gaze_collate
    dataset = _dataset(data_root, defer=True)
    loader = Runner.build_dataloader(dict(
        batch_size=4, num_workers=1, dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='gaze_collate')), seed=0)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2 and batch['inputs'][0].shape[0] == 4
    for sample in batch['data_samples']:
        assert 'gaze_pending' not in sample
        assert sample.gaze_weights.shape == (2, 16)
        assert sample.has_gaze.dtype == torch.bool
        if sample.has_gaze.any():
            assert sample.gaze_weights[sample.has_gaze].amax(1).allclose(
                torch.ones(int(sample.has_gaze.sum())))
