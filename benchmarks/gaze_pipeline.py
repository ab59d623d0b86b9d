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
inside the pipeline) and the per-sample times.

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
    """Random grey images with 3 readers x ~20 fixations each (canonical format)."""
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
            rng.uniform(0, size - 1, (20, 2)), rng.uniform(0.1, 0.8, 20)]).tolist())
            for r in range(3)]
        label = [0] * 14
        label[int(rng.integers(14))] = 1
        rows.append(dict(img_path=path, img_id=f'bench-{i}', gt_label=label,
                         img_shape=[size, size],
                         gaze=dict(image_size=[size, size], readers=readers)))
    with open(osp.join(root, 'annotations', 'train.json'), 'w') as f:
        json.dump(dict(metainfo=dict(classes=None), data_list=rows), f)


def prepare_data_root(requested):
    if requested:
        return requested, 'given'
    if osp.exists('data/synthetic_cxr/annotations/train.json'):
        return 'data/synthetic_cxr', 'data/synthetic_cxr'
    root = tempfile.mkdtemp(prefix='gaze_pipeline_')
    try:
        from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
        generate_synthetic_cxr(root, 120, img_size=128, seed=0)
        return root, 'generate_synthetic_cxr (120 images)'
    except ImportError:
        write_fallback_dataset(root)
        return root, 'random images (synthetic generator not available)'


class Timer:
    """Accumulates seconds per (category, name)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)

    def wrap(self, obj, attr, key):
        original = getattr(obj, attr)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - start
                self.calls[key] += 1

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
    args = parser.parse_args()

    import torch
    torch.set_num_threads(1)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets.transforms import PackInputs

    import gazeprior_mm  # noqa: F401
    from gazeprior_mm.datasets.transforms import formatting, geometry
    from gazeprior_mm.gaze import fixations_to_heatmap, patch_gaze_weights
    from gazeprior_mm.registry import DATASETS

    init_default_scope('mmpretrain')
    data_root, source = prepare_data_root(args.data_root)
    cfg = Config.fromfile(CONFIG)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = data_root
    ds_cfg.pop('synthetic', None)
    dataset = DATASETS.build(ds_cfg)

    timer = Timer()
    instrument(dataset.pipeline, timer)
    timer.wrap(geometry, 'apply_view_affine', ('gaze', 'apply_view_affine'))
    timer.wrap(PackInputs, 'transform', ('image', 'PackInputs'))
    timer.wrap(formatting, '_view_targets', ('gaze', 'render_view_targets'))

    num = args.num_samples
    for i in range(min(10, len(dataset))):  # warm-up (imports, caches)
        dataset[i]
    timer.seconds.clear()
    timer.calls.clear()
    start = time.perf_counter()
    for i in range(num):
        dataset[i % len(dataset)]
    wall = time.perf_counter() - start

    s = timer.seconds
    total = {name: v for (cat, name), v in s.items() if cat == 'total'}
    top_level = sum(total[type(t).__name__] for t in dataset.pipeline.transforms)
    gaze = (total.get('GazeHeatmap', 0.0) + s[('gaze', 'apply_view_affine')] +
            total.get('PackGazeInputs', 0.0) - s[('image', 'PackInputs')])
    image = top_level - gaze  # everything else the pipeline does is image work
    num_views = timer.calls[('gaze', 'render_view_targets')]

    # isolated rendering speed of one 112 x 112 view map + 14 x 14 patch weights
    rng = np.random.default_rng(0)
    fix = rng.uniform(0, 111, (60, 2))
    weights = rng.uniform(0.1, 1, 60)
    reps = 500
    t0 = time.perf_counter()
    for _ in range(reps):
        patch_gaze_weights(fixations_to_heatmap(fix, (112, 112), 5.0, weights), 14)
    isolated = reps / (time.perf_counter() - t0)

    per_sample = {n: 1e3 * v / num for n, v in sorted(total.items())}
    result = dict(
        gaze_to_image_cost_ratio=round(gaze / image, 4),
        heatmaps_per_s=round(num_views / s[('gaze', 'render_view_targets')], 1),
        isolated_heatmaps_per_s=round(isolated, 1),
        gaze_ms_per_sample=round(1e3 * gaze / num, 4),
        image_ms_per_sample=round(1e3 * image / num, 4),
        pipeline_ms_per_sample=round(1e3 * wall / num, 4),
        transform_ms_per_sample={k: round(v, 4) for k, v in per_sample.items()},
        num_samples=num, views_per_sample=num_views / num, data=source,
        target_ratio=0.05)
    print(json.dumps(result))


if __name__ == '__main__':
    sys.exit(main())
