"""Generate the synthetic chest-X-ray + multi-reader gaze benchmark.

Example::

    python tools/dataset_converters/make_synthetic_cxr.py data/synthetic_cxr \
        --num-images 2000 --preset realistic

writes ``OUT_DIR/images/*.png``, ``OUT_DIR/annotations/{train,val,test}.json``
(canonical format, docs/interfaces.md), ``OUT_DIR/annotations/lesions_coco.json``
and ``OUT_DIR/annotations/synthetic_summary.json``, then prints a report. Exit
status 2 on a bad argument.
"""
import argparse
import json
import sys

from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
from gazeprior_mm.datasets.synthetic_parts.readers import GAZE_PRESETS
from gazeprior_mm.datasets.synthetic_parts.stats import gaze_lesion_ncc


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('out_dir', help='output folder')
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


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = generate_synthetic_cxr(
            args.out_dir, args.num_images, img_size=args.img_size, seed=args.seed,
            preset=args.preset, no_gaze_rate=args.no_gaze_rate,
            num_readers=args.num_readers, split=args.split,
            uncertain_rate=args.uncertain_rate, progress=not args.no_progress)
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
