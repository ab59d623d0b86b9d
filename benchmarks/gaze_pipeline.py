"""Per-sample cost of the gaze part of the pre-training pipeline vs the image part.

Runs the ``train_pipeline`` and the ``collate_fn`` of the main pre-training job's
config (``configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py``; any with
``--config``) on the synthetic benchmark as a DataLoader worker does (``batch_size``
samples through the pipeline, then the collate of that batch), times every
transform and the collate, and splits

- gaze: ``GazeHeatmap``; the gaze bookkeeping inside the geometric transforms
  (``crop_resize_step`` and ``apply_view_step``: composing each step into the
  view's geometry); ``PackGazeInputs`` minus mmpretrain's ``PackInputs`` and minus
  the conversion of the label masks to tensors; and, with
  ``PackGazeInputs(defer_targets=True)`` + ``gaze_collate`` (the GazePrior
  configs), the collate's ``complete_gaze_targets`` -- in all, each view's patch
  weights (and maps, if packed) from the source fixations through its geometry,
  crop boxes, flips, and the gaze fields of the samples;
- image: all the rest: ``LoadImageFromFile`` (read + decode), the crops / flips
  minus their gaze bookkeeping, colour / blur augmentations, ``GazeMultiView``'s
  copying of the results per view (the gaze arrays themselves are shared, not
  copied), mmpretrain's ``PackInputs`` (image to tensor), the label masks as
  tensors, and the collate's stacking of the images (``default_collate``).

Data: ``data/synthetic_cxr`` if it exists; else a small benchmark generated with
``gazeprior_mm.datasets.synthetic.generate_synthetic_cxr`` into a temporary folder;
else (generator not available) a few images with random gaze written here.

The last line printed is JSON with ``gaze_to_image_cost_ratio`` (target <= 0.05)
for the config as it is, in the steady state of training: ``GazeHeatmap`` memoises
each image's cleaned + fused fixations, so every epoch after the first only
rescales them (one untimed pass over the same samples first);
``first_epoch_gaze_to_image_cost_ratio`` is the same with that cache empty (the
JSON-to-array conversion, cleaning and fusion of every image once).
``ratio_per_sample_targets`` is the same config with the targets computed per
sample in the packer (``defer_targets=False``).
``heatmaps_per_s`` counts view gaze targets (patch weights g̃, plus the full map
when the config packs it) computed per second; the ratio with and without
full-resolution maps, a breakdown of the gaze time (``gaze_ms_per_sample_by_part``)
and isolated timings follow.

What dominates the gaze part: the per-view targets, one numba-compiled routine
per batch (:func:`gazeprior_mm.gaze.targets.batch_view_targets` ->
:mod:`gazeprior_mm.gaze.view_targets_kernel`; ``gaze_kernel`` in the JSON says
whether it ran compiled): the normal CDF at
K (M_h + M_w + 2) points per view (K = all readers' fixations, ~140; M = 14; a
branch-free rational approximation, SIMD over the fixations), one (M, K) x (K, M)
product, the normalisation, crop boxes and flips -- ~40-45 us for two views when
run in a loop, ~85 us inside the pipeline. That gap is why the GazePrior configs
defer the targets to the collate: on this kind of (virtualised) machine every
small step runs 2-5 times slower between image transforms than in a loop -- the
image work leaves the caches, TLBs and branch predictors cold (measured:
``GazeHeatmap`` 5 us alone, 25-30 us in the pipeline; the first numba call of a
sample, even with no fixations, 27-50 us vs 5 us) -- while the collate runs the
routine for the whole batch in one call, hot, and sets the fields in a tight
loop. The rest is per-sample Python: ``GazeHeatmap``'s memoised fields (one dict
lookup), a few scalar operations per geometric step, and the packer's checks.
Measured (2 cores, demo config, synthetic images, median of 3 passes): see the
README's benchmark table. Computing the targets per batch with vectorised numpy
(one set of array operations for 32 samples) was slower than per sample: the
(B, V, 2, M + 1, K_max) arrays leave the cache and K is padded to the batch
maximum; the compiled routine loops over the images instead. Times are wall times
of a single-threaded process; on a machine shared with other jobs the ratio reads
higher.

Usage: ``python benchmarks/gaze_pipeline.py [--num-samples 200] [--data-root DIR]``
"""
import argparse
import functools
import json
import os
import os.path as osp
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

# the main job's pre-training pipeline (README): the shared synthetic data section
# with PackGazeInputs(grid=14, with_map=False, defer_targets=True) and
# gaze_collate -- g-tilde, has_gaze and geometry only, as GazePrior consumes
# them, computed per batch. ``--config
# configs/_base_/datasets/synthetic_gaze_pretrain.py`` times the shared section as
# it is (full per-view maps, which no pre-training model reads).
CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', 'gazeprior',
                  'gazeprior_vit-tiny-p8_synthetic.py')


def write_fallback_dataset(root, num_images=64, size=128, seed=0):
    """Random grey images, 3 readers x 45 fixations each (EGD-CXR's mean count, see
    research/data_formats.md), in the canonical format."""
    import cv2
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    rows = []
    for i in range(num_images):
        img = cv2.GaussianBlur(rng.integers(0, 255, (size, size), np.uint8), (7, 7),
                               2)
        path = f'images/{i:06d}.png'
        cv2.imwrite(osp.join(root, path), img)
        readers = [dict(reader=f'r{r}', fixations=np.column_stack([
            rng.uniform(0, size - 1, (45, 2)), rng.uniform(0.1, 0.8, 45)]).tolist())
            for r in range(3)]
        label = [0] * 14
        label[int(rng.integers(14))] = 1
        rows.append(dict(img_path=path, img_id=f'bench-{i}', gt_label=label,
                         img_shape=[size, size],
                         gaze=dict(image_size=[size, size], readers=readers)))
    with open(osp.join(root, 'annotations', 'train.json'), 'w') as f:
        json.dump(dict(metainfo=dict(classes=None), data_list=rows), f)


def prepare_data_root(requested, fallback_size=128):
    """The data to time: given, data/synthetic_cxr, generated, or written here."""
    if requested:
        return requested, 'given'
    if osp.exists('data/synthetic_cxr/annotations/train.json'):
        return 'data/synthetic_cxr', 'data/synthetic_cxr'
    root = tempfile.mkdtemp(prefix='gaze_pipeline_')
    try:
        from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
    except ImportError:
        write_fallback_dataset(root, size=fallback_size)
        return root, (f'random {fallback_size}-px images (synthetic generator not '
                      'available)')
    generate_synthetic_cxr(root, 120, img_size=fallback_size, seed=0)
    return root, f'generate_synthetic_cxr (120 images of {fallback_size} px)'


class Timer:
    """Accumulates seconds per (category, name).

    Wall time from ``time.perf_counter`` (a vDSO read of the TSC, ~0.1 us per
    call). ``time.thread_time`` is a system call (~1 us on this kind of machine);
    at ~40 timed calls per sample it perturbed the small gaze steps it timed,
    which read ~10 % higher with it. Everything runs single-threaded (torch,
    OpenCV); time spent descheduled lands on whichever transform was running, so
    run it on an otherwise idle machine (``--repeats`` reports the median).
    """

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, obj, attr, key, count=None):
        """Time ``obj.attr``; ``count(args)`` = items done per call (default 1)."""
        original = getattr(obj, attr)

        def timed(*args, **kwargs):
            done = count(args) if count else 1  # before: the call may consume
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
                self.calls[key] += done

        setattr(obj, attr, timed)
        return original


def iter_transforms(transforms):
    """Every transform, recursively through GazeMultiView / RandomApply."""
    for t in transforms:
        yield t
        for inner in getattr(t, 'pipelines', []):  # MultiView
            yield from iter_transforms(inner.transforms)
        inner = getattr(t, 'transforms', None)  # RandomApply
        if inner is not None and not hasattr(t, 'pipelines'):
            yield from iter_transforms(getattr(inner, 'transforms', inner))


def instrument(pipeline, timer):
    """Wrap every transform (recursively through GazeMultiView) with a timer."""
    seen = set()

    def visit(transforms):
        for t in transforms:
            if id(t) in seen:
                continue
            seen.add(id(t))
            timer.wrap(t, 'transform', ('total', type(t).__name__))
            for inner in getattr(t, 'pipelines', []):  # MultiView
                visit(inner.transforms)
            inner = getattr(t, 'transforms', None)  # RandomApply
            if inner is not None and not hasattr(t, 'pipelines'):
                visit(getattr(inner, 'transforms', inner))

    visit(pipeline.transforms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=200)
    parser.add_argument('--data-root', default=None)
    parser.add_argument('--config', default=CONFIG,
                        help='dataset config whose train pipeline is timed')
    parser.add_argument('--fallback-img-size', type=int, default=128,
                        help='side of the images written when no data exists')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed passes of the config; the median ratio is '
                        'reported (all of them in gaze_to_image_cost_ratios)')
    args = parser.parse_args()

    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets.transforms import PackInputs

    import gazeprior_mm  # noqa: F401
    from gazeprior_mm.datasets import collate
    from gazeprior_mm.datasets.transforms import formatting, geometry
    from gazeprior_mm.gaze import view_targets_kernel
    from gazeprior_mm.gaze.targets import (fixations_to_heatmap,
                                           fixations_to_patch_weights)
    from gazeprior_mm.registry import DATASETS, FUNCTIONS

    init_default_scope('mmpretrain')
    data_root, source = prepare_data_root(args.data_root, args.fallback_img_size)
    cfg = Config.fromfile(args.config)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    ds_cfg.pop('synthetic', None)
    if source != 'given':  # the synthetic layout, whatever the config's data
        ds_cfg.ann_file = 'annotations/train.json'
        ds_cfg.data_prefix = ''
    dataset = DATASETS.build(ds_cfg)

    def clear_gaze_caches():
        for t in iter_transforms(dataset.pipeline.transforms):
            if type(t).__name__ == 'GazeHeatmap':
                t.clear_cache()

    loader_cfg = cfg.train_dataloader
    batch_size = int(loader_cfg.get('batch_size', 32))
    collate_cfg = dict(loader_cfg.get('collate_fn', dict(type='default_collate')))
    collate_type = collate_cfg.pop('type')
    collate_fn = functools.partial(FUNCTIONS.get(collate_type), **collate_cfg)
    packers = [t for t in iter_transforms(dataset.pipeline.transforms)
               if type(t).__name__ == 'PackGazeInputs']
    config_with_map = bool(packers and packers[0].with_map)
    config_defers = bool(packers and packers[0].defer_targets)

    def run_samples(count):
        """``count`` samples as a DataLoader worker makes them: ``batch_size``
        samples through the pipeline, then the config's collate of them."""
        batch = []
        for i in range(count):
            batch.append(dataset[i % len(dataset)])
            if len(batch) == batch_size or i == count - 1:
                timed_collate(batch)
                batch = []

    def measure(with_map=None, defer=None, cold=False):
        """Time ``num`` samples; ``with_map`` / ``defer`` override the packer's
        settings (full maps are never deferred).

        ``cold``: ``GazeHeatmap``'s per-image cache of cleaned + fused fixations is
        emptied first (the first epoch); otherwise it is filled by one untimed pass
        over the same samples (every later epoch: the steady state of training).
        """
        for packer in packers:
            packer.with_map = config_with_map if with_map is None else with_map
            packer.defer_targets = (config_defers if defer is None else defer
                                    ) and not packer.with_map
        run_samples(min(10, len(dataset)))  # warm-up (imports, caches)
        if cold:
            clear_gaze_caches()
        else:
            run_samples(num)
        timer.seconds.clear()
        timer.calls.clear()
        start = time.perf_counter()
        run_samples(num)
        wall = time.perf_counter() - start
        s = dict(timer.seconds)
        total = {name: v for (cat, name), v in s.items() if cat == 'total'}
        top_level = sum(total[type(t).__name__] for t in dataset.pipeline.transforms)
        geometry_steps = (s.get(('gaze', 'apply_view_step'), 0.0) +
                          s.get(('gaze', 'crop_resize_step'), 0.0))
        labels = s.get(('image', 'labels_to_tensors'), 0.0)
        render = s.get(('gaze', 'render_views'), 0.0)
        collate_targets = s.get(('gaze', 'complete_gaze_targets'), 0.0)
        packing = (total.get('PackGazeInputs', 0.0) - s[('image', 'PackInputs')] -
                   render - labels)
        gaze = (total.get('GazeHeatmap', 0.0) + geometry_steps + render + packing +
                collate_targets)
        # everything else the pipeline and the collate do is image work
        image = top_level + s[('total', 'collate')] - gaze
        views = (timer.calls[('gaze', 'render_views')] +
                 timer.calls[('gaze', 'complete_gaze_targets')])
        parts = dict(GazeHeatmap=total.get('GazeHeatmap', 0.0),
                     geometry_steps=geometry_steps, render_views=render,
                     packing=packing, collate_targets=collate_targets)
        return dict(ratio=gaze / image, gaze=gaze, image=image, wall=wall,
                    views=views, render=render + collate_targets, total=total,
                    parts=parts, collate=s[('total', 'collate')])

    timer = Timer()
    instrument(dataset.pipeline, timer)
    timer.wrap(geometry, 'apply_view_step', ('gaze', 'apply_view_step'))
    timer.wrap(geometry, 'crop_resize_step', ('gaze', 'crop_resize_step'))
    timer.wrap(PackInputs, 'transform', ('image', 'PackInputs'))
    timer.wrap(formatting.PackGazeInputs, '_labels_to_tensors',
               ('image', 'labels_to_tensors'))
    timer.wrap(formatting, 'render_source_views', ('gaze', 'render_views'),
               count=lambda args: len(args[3]))
    # gaze_collate calls it through the module: views completed per call
    timer.wrap(collate, 'complete_gaze_targets',
               ('gaze', 'complete_gaze_targets'),
               count=lambda args: sum(
                   len(s.get(collate.PENDING_FIELD).geometries) for s in args[0]
                   if collate.PENDING_FIELD in s))

    def timed_collate(batch):
        start = time.perf_counter()
        collate_fn(batch)
        timer.seconds[('total', 'collate')] += time.perf_counter() - start

    num = args.num_samples
    cold_run = measure(cold=True)  # the config as it is, first epoch
    # the config as it is, later epochs: the pass with the median ratio
    config_runs = sorted((measure() for _ in range(max(1, args.repeats))),
                         key=lambda run: run['ratio'])
    config_run = config_runs[len(config_runs) // 2]
    map_run = config_run if config_with_map else measure(with_map=True)
    light_run = measure(with_map=False) if config_with_map else config_run
    # the same targets packed per sample (PackGazeInputs without defer_targets)
    eager_run = measure(defer=False) if config_defers else None
    for packer in packers:
        packer.with_map, packer.defer_targets = config_with_map, config_defers
    num_fixations = np.mean([
        sum(len(r['fixations']) for r in (dataset.get_gaze(i)['gaze'] or
                                          {}).get('readers', []))
        for i in range(min(len(dataset), 100))])

    # isolated, 135 fixations: one 112 x 112 raster map, and the 14 x 14 patch
    # weights, exactly from the fixations (the one route, a batch of one)
    rng = np.random.default_rng(0)
    fix = rng.uniform(0, 111, (135, 2))
    weights = rng.uniform(0.1, 1, 135)
    reps = 500
    t0 = time.perf_counter()
    for _ in range(reps):
        fixations_to_heatmap(fix, (112, 112), 5.0, weights)
    isolated = reps / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(reps):
        fixations_to_patch_weights(fix, (112, 112), 14, 5.0, weights)
    isolated_patch = reps / (time.perf_counter() - t0)

    def ms(seconds):
        return round(1e3 * seconds / num, 4)

    result = dict(
        gaze_to_image_cost_ratio=round(config_run['ratio'], 4),
        gaze_to_image_cost_ratios=[round(run['ratio'], 4) for run in config_runs],
        heatmaps_per_s=round(config_run['views'] / config_run['render'], 1),
        config_renders_full_maps=config_with_map,
        config_defers_targets=config_defers,
        collate_fn=collate_type, batch_size=batch_size,
        gaze_ms_per_sample=ms(config_run['gaze']),
        image_ms_per_sample=ms(config_run['image']),
        pipeline_ms_per_sample=ms(config_run['wall']),
        transform_ms_per_sample={n: ms(v)
                                 for n, v in sorted(config_run['total'].items())},
        gaze_ms_per_sample_by_part={n: ms(v)
                                    for n, v in config_run['parts'].items()},
        first_epoch_gaze_to_image_cost_ratio=round(cold_run['ratio'], 4),
        first_epoch_gaze_ms_per_sample=ms(cold_run['gaze']),
        first_epoch_image_ms_per_sample=ms(cold_run['image']),
        ratio_per_sample_targets=round((eager_run or config_run)['ratio'], 4),
        gaze_ms_per_sample_per_sample_targets=ms((eager_run or config_run)['gaze']),
        ratio_with_full_maps=round(map_run['ratio'], 4),
        gaze_ms_per_sample_with_full_maps=ms(map_run['gaze']),
        heatmaps_per_s_with_full_maps=round(map_run['views'] / map_run['render'], 1),
        ratio_without_full_maps=round(light_run['ratio'], 4),
        patch_weights_per_s_without_full_maps=round(
            light_run['views'] / light_run['render'], 1),
        gaze_ms_per_sample_without_full_maps=ms(light_run['gaze']),
        isolated_heatmaps_per_s=round(isolated, 1),
        isolated_exact_patch_weights_per_s=round(isolated_patch, 1),
        config=osp.relpath(args.config), num_samples=num,
        views_per_sample=config_run['views'] / num,
        mean_fixations_per_image=float(num_fixations), data=source,
        gaze_kernel=('numba' if view_targets_kernel.HAS_NUMBA else
                     'python (numba missing: the kernel interpreted)'),
        numba_installed=view_targets_kernel.HAS_NUMBA,
        target_ratio=0.05,
        meets_target=bool(config_run['ratio'] <= 0.05))
    print(json.dumps(result))


if __name__ == '__main__':
    sys.exit(main())
