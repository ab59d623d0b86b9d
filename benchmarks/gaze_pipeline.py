"""Per-sample cost of the gaze part of the pre-training pipeline vs the image part.

Runs the ``train_pipeline`` of ``configs/_base_/datasets/synthetic_gaze_pretrain.py``
on the synthetic benchmark and times every transform, splitting

- gaze: ``GazeHeatmap``; the gaze bookkeeping inside the geometric transforms
  (``apply_view_affine``); ``PackGazeInputs`` minus mmpretrain's ``PackInputs``
  (rendering each view's map, patch weights, gaze fields);
- image: all the rest of the pipeline's time: ``LoadImageFromFile`` (read +
  decode), the crops / flips minus their gaze bookkeeping, colour / blur
  augmentations, ``GazeMultiView``'s copying of the results per view, mmpretrain's
  ``PackInputs`` (image to tensor).

Data: ``data/synthetic_cxr`` if it exists; else a small benchmark generated with
``gazeprior_mm.datasets.synthetic.generate_synthetic_cxr`` into a temporary folder;
else (generator not available) a few images with random gaze written here.

The last line printed is JSON with ``gaze_to_image_cost_ratio`` (target <= 0.05),
``heatmaps_per_s`` (view gaze targets -- map + patch weights -- rendered per second
inside the pipeline), the per-sample times, and the same ratio with
``PackGazeInputs(with_map=False)`` (patch weights without full-resolution maps).

What dominates the gaze part: every view's exact map is a (h x K) x (K x w) product
of Gaussian profiles (K = all readers' fixations, ~135 for three EGD-like readers),
i.e. ~1.7 M multiply-adds and 2 K (h + w) exponentials per 112-px view; the image
part of a 128-px synthetic sample is only ~2 ms, so the ratio is far larger here
than with real radiographs (large JPEG/PNG decodes; try ``--fallback-img-size``).

Usage: ``python benchmarks/gaze_pipeline.py [--num-samples 200] [--data-root DIR]``
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

CONFIG = osp.join(osp.dirname(__file__), '..', 'configs', '_base_', 'datasets',
                  'synthetic_gaze_pretrain.py')


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

    CPU time of this thread (``time.thread_time``), not wall time: on a shared
    machine, time spent descheduled would otherwise land on whichever transform
    happened to run. Everything runs single-threaded (torch, OpenCV) so that the
    thread time is the whole cost.
    """

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, obj, attr, key, count=None):
        """Time ``obj.attr``; ``count(args)`` = items done per call (default 1)."""
        original = getattr(obj, attr)

        def timed(*args, **kwargs):
            start = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.thread_time() - start
                self.calls[key] += count(args) if count else 1

        setattr(obj, attr, timed)
        return original


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
    args = parser.parse_args()

    import cv2
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets.transforms import PackInputs

    import gazeprior_mm  # noqa: F401
    from gazeprior_mm.datasets.transforms import formatting, geometry
    from gazeprior_mm.gaze import fixations_to_heatmap, patch_gaze_weights
    from gazeprior_mm.registry import DATASETS

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

    def measure(with_map=None):
        """Time ``num`` samples; ``with_map`` overrides the packer's setting."""
        for t in dataset.pipeline.transforms:
            if type(t).__name__ == 'PackGazeInputs' and with_map is not None:
                t.with_map = with_map
        timer.seconds.clear()
        timer.calls.clear()
        for i in range(min(10, len(dataset))):  # warm-up (imports, caches)
            dataset[i]
        timer.seconds.clear()
        timer.calls.clear()
        start = time.perf_counter()
        for i in range(num):
            dataset[i % len(dataset)]
        wall = time.perf_counter() - start
        s = dict(timer.seconds)
        total = {name: v for (cat, name), v in s.items() if cat == 'total'}
        top_level = sum(total[type(t).__name__] for t in dataset.pipeline.transforms)
        gaze = (total.get('GazeHeatmap', 0.0) +
                s.get(('gaze', 'apply_view_affine'), 0.0) +
                total.get('PackGazeInputs', 0.0) - s[('image', 'PackInputs')])
        image = top_level - gaze  # everything else the pipeline does is image work
        views = timer.calls[('gaze', 'render_views')]
        return dict(ratio=gaze / image, gaze=gaze, image=image, wall=wall,
                    views=views, render=s[('gaze', 'render_views')], total=total)

    timer = Timer()
    instrument(dataset.pipeline, timer)
    timer.wrap(geometry, 'apply_view_affine', ('gaze', 'apply_view_affine'))
    timer.wrap(PackInputs, 'transform', ('image', 'PackInputs'))
    timer.wrap(formatting, 'render_views', ('gaze', 'render_views'),
               count=lambda args: len(args[0]))
    num = args.num_samples
    config_run = measure()  # the config as it is
    light_run = measure(with_map=False)  # PackGazeInputs(with_map=False)
    num_fixations = np.mean([
        sum(len(r['fixations']) for r in (dataset.get_gaze(i)['gaze'] or
                                          {}).get('readers', []))
        for i in range(min(len(dataset), 100))])

    # isolated: one 112 x 112 map + 14 x 14 patch weights of 135 fixations
    rng = np.random.default_rng(0)
    fix = rng.uniform(0, 111, (135, 2))
    weights = rng.uniform(0.1, 1, 135)
    reps = 500
    t0 = time.thread_time()
    for _ in range(reps):
        patch_gaze_weights(fixations_to_heatmap(fix, (112, 112), 5.0, weights), 14)
    isolated = reps / (time.thread_time() - t0)

    per_sample = {n: round(1e3 * v / num, 4)
                  for n, v in sorted(config_run['total'].items())}
    result = dict(
        gaze_to_image_cost_ratio=round(config_run['ratio'], 4),
        heatmaps_per_s=round(config_run['views'] / config_run['render'], 1),
        gaze_ms_per_sample=round(1e3 * config_run['gaze'] / num, 4),
        image_ms_per_sample=round(1e3 * config_run['image'] / num, 4),
        pipeline_ms_per_sample=round(1e3 * config_run['wall'] / num, 4),
        transform_ms_per_sample=per_sample,
        ratio_without_full_maps=round(light_run['ratio'], 4),
        patch_weights_per_s_without_full_maps=round(
            light_run['views'] / light_run['render'], 1),
        gaze_ms_per_sample_without_full_maps=round(1e3 * light_run['gaze'] / num, 4),
        isolated_heatmaps_per_s=round(isolated, 1),
        num_samples=num, views_per_sample=config_run['views'] / num,
        mean_fixations_per_image=float(num_fixations), data=source,
        target_ratio=0.05,
        meets_target=bool(config_run['ratio'] <= 0.05))
    print(json.dumps(result))


if __name__ == '__main__':
    sys.exit(main())
