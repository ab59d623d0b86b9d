"""Gaze alignment of a pre-trained backbone: numbers and figures.

For each test image: the model's saliency (ViT attention rollout / last-layer CLS
attention, or Grad-CAM for CNNs), Spearman rho against the patch gaze weights, the
exact 2-D EMD against the gaze heatmap on a coarse grid, and the pointing game
against the lesion boxes. Writes ``alignment.json`` and a figure per image
(image | gaze | saliency | overlay) for the first ``--num-images`` images.

Example (what ``tools/run_demo.sh`` runs)::

    python tools/analysis/gaze_alignment.py \
        configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py CKPT \
        --out-dir work_dirs/demo/figures --num-images 8
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config

from gazeprior_mm.evaluation.runs import (add_frozen_eval_args,
                                          build_eval_dataloader,
                                          build_frozen_backbone,
                                          probe_backbone_cfg,
                                          probe_preprocessor_cfg,
                                          run_alignment)
from gazeprior_mm.registry import MODELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_frozen_eval_args(parser)
    parser.add_argument('--out-dir', required=True,
                        help='where alignment.json and the figures go')
    parser.add_argument('--num-images', type=int, default=8,
                        help='figures to draw (metrics use the whole split)')
    parser.add_argument('--max-images', type=int, default=None,
                        help='evaluate at most this many images')
    parser.add_argument('--method', default='auto',
                        choices=['auto', 'rollout', 'cls', 'gradcam'])
    parser.add_argument('--emd-grid', type=int, default=8)
    parser.add_argument('--split', default='test',
                        choices=['train', 'val', 'test'])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    from gazeprior_mm.visualization import draw_gaze_attention
    cfg = Config.fromfile(args.config)
    data_cfg = Config.fromfile(args.data_config)
    backbone = build_frozen_backbone(probe_backbone_cfg(cfg), args.checkpoint)
    preprocessor = MODELS.build(probe_preprocessor_cfg(cfg))
    loader = build_eval_dataloader(data_cfg, args.split, args.data_root)
    out = run_alignment(backbone, preprocessor, loader, args.method,
                        args.emd_grid, args.max_images, keep=args.num_images)
    os.makedirs(args.out_dir, exist_ok=True)
    figures = []
    for ex in out['examples']:
        figures.append(draw_gaze_attention(
            ex['image'][..., ::-1],  # BGR (mmcv loading) -> RGB
            ex['gaze_map'], ex['saliency'],
            osp.join(args.out_dir, f'{ex["img_id"]}.png'),
            boxes=ex['boxes'], scores=ex['scores'],
            title=f'{ex["img_id"]} ({args.method})'))
    result = dict(out['metrics'], method=args.method, figures=figures)
    with open(osp.join(args.out_dir, 'alignment.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(out['metrics']))
    print(f'[gaze_alignment] figures: {osp.abspath(args.out_dir)}')
    return result


if __name__ == '__main__':
    main()
