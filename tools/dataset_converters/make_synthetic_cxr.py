"""Generate the synthetic chest-X-ray + multi-reader gaze benchmark.

Example::

    python tools/dataset_converters/make_synthetic_cxr.py data/synthetic_cxr \
        --num-images 2000 --preset realistic
    # or exactly the benchmark a config declares (its synthetic_benchmark):
    python tools/dataset_converters/make_synthetic_cxr.py \
        --config configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py

writes ``OUT_DIR/images/*.png``, ``OUT_DIR/annotations/{train,val,test}.json``
(canonical format, docs/interfaces.md), ``OUT_DIR/annotations/lesions_coco.json``
and ``OUT_DIR/annotations/synthetic_summary.json``, then prints a report. Never
into a folder holding other data (only a missing, empty or earlier generated
one). Exit status 2 on a bad argument or such a folder.
"""
import argparse
import json
import sys

from gazeprior_mm.datasets.synthetic import (generate_synthetic_cxr,
                                             may_generate_into)
from gazeprior_mm.datasets.synthetic_parts.readers import GAZE_PRESETS
from gazeprior_mm.datasets.synthetic_parts.stats import gaze_lesion_ncc


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('out_dir', nargs='?', default=None,
                        help="output folder (default with --config: its "
                        "synthetic_benchmark's data_root)")
    parser.add_argument('--config', default=None,
                        help="take every option from this config's top-level "
                        'synthetic_benchmark (the options below are ignored)')
    parser.add_argument('--num-images', type=int, default=2000,
                        help='number of images (>= 1)')
    parser.add_argument('--img-size', type=int, default=128,
                        help='square image size in pixels (>= 32)')
    parser.add_argument('--seed', type=int, default=0,
                        help='dataset seed (same seed: identical files)')
    parser.add_argument('--preset', choices=sorted(GAZE_PRESETS), default='realistic',
                        help='gaze-lesion agreement: realistic (REFLACX-like, weak) '
                        'or strong (gaze clearly on findings)')
    parser.add_argument('--no-gaze-rate', type=float, default=0.15,
                        help='share of images without gaze')
    parser.add_argument('--num-readers', type=int, default=3,
                        help='simulated readers per image with gaze')
    parser.add_argument('--split', type=float, nargs=3, default=(0.7, 0.15, 0.15),
                        metavar=('TRAIN', 'VAL', 'TEST'),
                        help='split fractions')
    parser.add_argument('--uncertain-rate', type=float, default=0.03,
                        help='probability of a -1 (uncertain) finding label in train')
    parser.add_argument('--ncc', action='store_true',
                        help='also report NCC(gaze, lesion) vs NCC(centre, lesion)')
    parser.add_argument('--report-json', default=None,
                        help='also write the report as JSON to this file')
    parser.add_argument('--no-progress', action='store_true',
                        help='no tqdm progress bar')
    return parser.parse_args(argv)


def format_report(summary: dict) -> str:
    """Human-readable report of a ``generate_synthetic_cxr`` summary."""
    lines = [
        f"synthetic CXR: {summary['num_images']} images of {summary['img_size']} px "
        f"(seed {summary['seed']}, preset {summary['preset']}) in "
        f"{summary['seconds']:.1f} s ({summary['images_per_s']:.0f} images/s)",
        '  splits: ' + ', '.join(f'{k} {v}' for k, v in summary['splits'].items()),
        '  positives: ' + ', '.join(f'{k} {v}' for k, v in summary['positives'].items()
                                    if v),
        '  uncertain (-1, train only): ' + ', '.join(
            f'{k} {v}' for k, v in summary['uncertain'].items() if v),
        '  lesions: ' + ', '.join(f'{k} {v}' for k, v in summary['lesions'].items()),
        f"  gaze: {summary['images_with_gaze']} images, {summary['readings']} "
        f"readings, {summary['fixations_per_reading']:.1f} fixations/reading, "
        f"median duration {summary['fixation_duration_median_s']:.3f} s, "
        f"{100 * summary['off_image_fraction']:.1f}% off-image, reader detection "
        f"rate {summary['reader_detection_rate']:.2f}",
    ]
    if 'ncc' in summary:
        n = summary['ncc']
        lines.append(f"  NCC(gaze, lesion) {n['ncc_gaze']:.3f} vs NCC(centre, lesion) "
                     f"{n['ncc_centre']:.3f}: delta {n['delta']:+.3f} over "
                     f"{n['num_images']} images")
    lines += ['  annotations: ' + ', '.join(summary['ann_files'].values()),
              f"  lesions (COCO): {summary['coco_file']}"]
    return '\n'.join(lines)


def generation_options(args) -> dict:
    """``generate_synthetic_cxr`` keyword arguments (with ``out_dir``), from the
    command line or from ``--config``'s ``synthetic_benchmark``."""
    if args.config is None:
        if args.out_dir is None:
            raise ValueError('give an output folder or --config')
        return dict(out_dir=args.out_dir, num_images=args.num_images,
                    img_size=args.img_size, seed=args.seed, preset=args.preset,
                    no_gaze_rate=args.no_gaze_rate, num_readers=args.num_readers,
                    split=args.split, uncertain_rate=args.uncertain_rate)
    from mmengine.config import Config
    declared = Config.fromfile(args.config).get('synthetic_benchmark')
    if not declared:
        raise ValueError(f'{args.config} declares no synthetic_benchmark')
    options = dict(declared)
    data_root = options.pop('data_root')
    return dict(options, out_dir=args.out_dir or data_root)


def main(argv=None):
    args = parse_args(argv)
    try:
        options = generation_options(args)
        if not may_generate_into(options['out_dir']):
            raise ValueError(f"{options['out_dir']} holds data the generator did "
                             'not make: choose a new folder')
        summary = generate_synthetic_cxr(progress=not args.no_progress,
                                         **options)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    if args.ncc:
        rows = []
        for path in summary['ann_files'].values():
            with open(path) as f:
                rows += json.load(f)['data_list']
        try:
            summary['ncc'] = gaze_lesion_ncc(rows)
        except ValueError as e:  # no image with both gaze and lesions
            print(f'warning: {e}', file=sys.stderr)
    print(format_report(summary))
    if args.report_json:
        with open(args.report_json, 'w') as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
