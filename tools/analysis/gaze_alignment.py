"""Gaze alignment of a pre-trained backbone: numbers and figures.

For each test image: the model's saliency (ViT attention rollout / last-layer CLS
attention, or Grad-CAM for CNNs), Spearman rho against the patch gaze weights, the
exact 2-D EMD against the gaze heatmap on a coarse grid, and the pointing game
against the lesion boxes. Writes ``alignment.json`` and a figure per image
(image | gaze | saliency | overlay, with colour bars, a legend, the saliency method
actually used and the image's labels) for the first ``--num-images`` images, and
prints the metrics as JSON followed by one line per metric saying what it is, its
range and which direction is better.

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


#: What each number of ``alignment.json`` / the printed JSON means (also printed
#: by ``tools/run_demo.sh``): name, range and which direction is better.
METRIC_HELP = {
    'spearman': 'Spearman rho between the patch gaze weights and the model '
                'saliency per image, mean over images with gaze; -1..1, higher = '
                'attention ranks patches as the readers did (0 = unrelated)',
    'nss': 'normalised scanpath saliency: the saliency z-scored per image '
           '(mean 0, std 1) averaged with the gaze mass as weights, mean over '
           'images with gaze; 0 = chance, higher = saliency is high where the '
           'readers looked (about -2..+4 in practice)',
    'emd': "Earth Mover's Distance between the gaze heatmap and the saliency "
           '(both unit mass on a coarse grid, distance in image sides); '
           '0..1.41, lower = closer',
    'pointing': 'pointing game: share of images with lesions whose saliency '
                'peak falls inside a lesion box; 0..1, higher = better',
}


def explain_metrics(metrics: dict) -> list:
    """One line per headline number: its value, what it is, its range and which
    direction is better (the bare JSON leaves a newcomer guessing)."""
    lines = []
    for key, text in METRIC_HELP.items():
        if key in metrics:
            n = metrics.get(f'num_{key}')
            count = f' [{int(n)} images]' if n is not None else ''
            lines.append(f'  {key} = {metrics[key]:.3f}{count}: {text}')
    return lines


def resolve_method(backbone, method: str) -> str:
    """The saliency method ``auto`` stands for with this backbone (as
    ``model_saliency`` resolves it), so that figures and ``alignment.json`` say
    what was actually drawn."""
    if method != 'auto':
        return method
    from gazeprior_mm.evaluation.attention import is_vit
    return 'rollout' if is_vit(backbone) else 'gradcam'


def label_names(dataset, img_ids) -> dict:
    """``{img_id: [positive class names]}`` for the figures' captions, looked up
    in the dataset's annotations (no image is loaded)."""
    classes = list(dataset.metainfo.get('classes') or [])
    wanted, names = set(img_ids), {}
    for idx in range(len(dataset)):
        if not wanted - set(names):
            break
        info = dataset.get_data_info(idx)
        img_id = str(info.get('img_id', info.get('sample_idx')))
        if img_id in wanted:
            names[img_id] = [classes[i] if i < len(classes) else str(i)
                             for i in info.get('gt_label', [])]
    return names


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    from gazeprior_mm.visualization import draw_gaze_attention
    from gazeprior_mm.visualization.gaze_figure import SALIENCY_METHOD_NAMES
    cfg = Config.fromfile(args.config)
    data_cfg = Config.fromfile(args.data_config)
    print('[gaze_alignment] loading only the backbone of the checkpoint: '
          "mmengine's \"unexpected key ... neck.*, head.*\" (GGAM and "
          'projector, pre-training parts) and, for ViTs, "missing keys ... '
          'ln2.*" (the probe\'s final norm) below are expected and harmless')
    backbone = build_frozen_backbone(probe_backbone_cfg(cfg), args.checkpoint)
    preprocessor = MODELS.build(probe_preprocessor_cfg(cfg))
    loader = build_eval_dataloader(data_cfg, args.split, args.data_root)
    method = resolve_method(backbone, args.method)
    out = run_alignment(backbone, preprocessor, loader, method,
                        args.emd_grid, args.max_images, keep=args.num_images)
    os.makedirs(args.out_dir, exist_ok=True)
    labels = label_names(loader.dataset,
                         [ex['img_id'] for ex in out['examples']])
    method_name = SALIENCY_METHOD_NAMES.get(method, method)
    figures = []
    for ex in out['examples']:
        figures.append(draw_gaze_attention(
            ex['image'][..., ::-1],  # BGR (mmcv loading) -> RGB
            ex['gaze_map'], ex['saliency'],
            osp.join(args.out_dir, f'{ex["img_id"]}.png'),
            boxes=ex['boxes'], scores=ex['scores'],
            title=f'{ex["img_id"]}: gaze vs {method_name}'
            + (' (--method auto)' if args.method == 'auto' else ''),
            method=method, labels=labels.get(ex['img_id'])))
    result = dict(out['metrics'], method=method,
                  requested_method=args.method, figures=figures)
    with open(osp.join(args.out_dir, 'alignment.json'), 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(out['metrics']))
    print(f'[gaze_alignment] saliency method: {method_name}'
          + (' (resolved from --method auto)' if args.method == 'auto' else ''))
    print('[gaze_alignment] what the numbers mean:')
    for line in explain_metrics(out['metrics']):
        print(line)
    print(f'[gaze_alignment] figures: {osp.abspath(args.out_dir)}')
    return result


if __name__ == '__main__':
    main()
