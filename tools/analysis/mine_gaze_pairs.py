"""Mine gaze neighbours of a dataset and write the sparse neighbour file.

Reads a canonical annotation file (the JSON directly, or through GazeCXRDataset
with ``--via-dataset`` so its checks apply), computes per-image gaze descriptors,
mines the top-k neighbours (exact blocked products for vector descriptors;
candidate-restricted for ``multimatch`` / ``tima``) and writes a ``.npz`` with
``img_ids, indptr, indices, values, meta`` (see gazeprior_mm.mining.table).
A McGIP-style relation (``--mcgip-gaze-dir`` with per-image JSON gaze, or
``--mcgip-relation`` with a dense N x N .npy) can be converted instead.

Example:
    python tools/analysis/mine_gaze_pairs.py data/synthetic_cxr/annotations/train.json \
        --method heatmap_cosine --k 16 \
        --out data/synthetic_cxr/annotations/gaze_neighbours_heatmap_cosine_k16.npz
"""
import argparse
import json
import time

import numpy as np

from gazeprior_mm.mining import similarity as sim
from gazeprior_mm.mining.neighbours import (mine_gaze_neighbours,
                                            read_annotation_gaze)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file', nargs='?', help='canonical annotation file')
    parser.add_argument('--out', required=True, help='output .npz')
    parser.add_argument('--method', default='heatmap_cosine',
                        choices=sim.SIMILARITY_METHODS)
    parser.add_argument('--k', type=int, default=16, help='neighbours per image')
    parser.add_argument('--threshold', type=float, default=None,
                        help='minimum similarity of a neighbour')
    parser.add_argument('--candidates', type=int, default=64,
                        help='top-m candidates re-scored by a pairwise method')
    parser.add_argument('--candidate-method', default='heatmap_cosine',
                        choices=sim.VECTOR_METHODS)
    parser.add_argument('--grid', type=int, default=16, help='heatmap side')
    parser.add_argument('--sigma', type=float, default=0.05,
                        help='heatmap Gaussian std, fraction of the image side')
    parser.add_argument('--block', type=int, default=1024,
                        help='query rows per similarity block')
    parser.add_argument('--via-dataset', action='store_true',
                        help='read through GazeCXRDataset (runs its checks)')
    parser.add_argument('--data-root', default='',
                        help='data_root for --via-dataset')
    parser.add_argument('--mcgip-gaze-dir', default=None,
                        help='McGIP-style per-image gaze JSON folder instead')
    parser.add_argument('--mcgip-names', default=None,
                        help='McGIP name list (namelist.txt) giving the order')
    parser.add_argument('--mcgip-relation', default=None,
                        help='convert a McGIP dense relation .npy instead of mining')
    parser.add_argument('--canvas', type=int, nargs=2, default=[800, 800],
                        metavar=('H', 'W'), help='McGIP gaze canvas size')
    return parser.parse_args(argv)


def load_inputs(args):
    """(img_ids, gazes) from the chosen source."""
    if args.mcgip_gaze_dir:
        from gazeprior_mm.mining.mcgip_files import read_mcgip_gaze_dir
        return read_mcgip_gaze_dir(args.mcgip_gaze_dir, args.mcgip_names,
                                   canvas=tuple(args.canvas))
    if args.ann_file is None:
        raise SystemExit('give an annotation file or --mcgip-gaze-dir')
    if args.via_dataset:
        from gazeprior_mm.datasets.gaze_cxr import GazeCXRDataset
        dataset = GazeCXRDataset(ann_file=args.ann_file, data_root=args.data_root,
                                 check_image_size=False, lazy_init=False)
        infos = [dataset.get_gaze(i) for i in range(len(dataset))]
        return [i['img_id'] for i in infos], [i['gaze'] for i in infos]
    return read_annotation_gaze(args.ann_file)


def report(table, seconds):
    """One human-readable summary and a JSON line."""
    counts = np.diff(table.indptr)
    summary = dict(
        images=len(table), with_gaze=table.meta.get('num_with_gaze'),
        with_neighbours=int((counts > 0).sum()), pairs=int(len(table.indices)),
        mean_neighbours=float(counts.mean()) if len(counts) else 0.0,
        similarity_quantiles=(np.quantile(table.values, [0, 0.5, 1]).round(4)
                              .tolist() if len(table.values) else []),
        method=table.meta.get('method'), seconds=round(seconds, 2))
    print(f"{summary['images']} images ({summary['with_gaze']} with gaze): "
          f"{summary['pairs']} neighbour pairs, {summary['with_neighbours']} "
          f"images with >= 1 neighbour, similarity min/median/max "
          f"{summary['similarity_quantiles']} ({summary['method']}, "
          f"{summary['seconds']} s)")
    print(json.dumps(summary))
    return summary


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    if args.mcgip_relation:
        from gazeprior_mm.mining.mcgip_files import relation_to_neighbours
        names = None
        if args.mcgip_names:
            with open(args.mcgip_names) as f:
                names = [line.strip() for line in f if line.strip()]
        table = relation_to_neighbours(np.load(args.mcgip_relation), names,
                                       k=args.k, threshold=args.threshold)
    else:
        img_ids, gazes = load_inputs(args)
        table = mine_gaze_neighbours(
            gazes, img_ids, method=args.method, k=args.k,
            threshold=args.threshold, candidates=args.candidates,
            candidate_method=args.candidate_method, block=args.block,
            descriptor_cfg=dict(grid=args.grid, sigma=args.sigma))
        table.meta['ann_file'] = args.ann_file or args.mcgip_gaze_dir
    table.save(args.out)
    print(f'wrote {args.out}')
    return report(table, time.perf_counter() - start)


if __name__ == '__main__':
    main()
