"""Convert CheXpert (train.csv / valid.csv) to canonical annotation files for linear
evaluation.

Example (docs/data_preparation.md)::

    python tools/dataset_converters/chexpert.py data/chexpert \
        --out-dir data/chexpert/annotations --uncertain-policy keep

writes ``chexpert_{train,valid}.json`` and prints a report. Exit status 2 on a
structural error.
"""
import argparse
import os.path as osp
import sys

from gazeprior_mm.datasets.converters.cli import add_encoding_arg, write_report_json
from gazeprior_mm.datasets.converters import ConversionError, convert_chexpert
from gazeprior_mm.datasets.converters.chexpert import SPLITS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='CheXpert root (CheXpert-v1.0-small/: holds '
                        'train.csv, valid.csv, train/, valid/)')
    parser.add_argument('--out-dir', default=None,
                        help='output folder (default: ROOT/annotations)')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), choices=SPLITS)
    parser.add_argument('--all-views', action='store_true',
                        help='keep lateral images too (default: frontal only)')
    parser.add_argument('--views', nargs='*', default=None,
                        help='restrict AP/PA values, e.g. --views PA')
    parser.add_argument('--uncertain-policy', default='keep',
                        help="keep | ones (U-Ones) | zeros (U-Zeros) | ignore, or a "
                        "JSON per-label dict, e.g. '{\"Atelectasis\": \"ones\", "
                        "\"Edema\": \"ones\", \"default\": \"zeros\"}'")
    parser.add_argument('--blank-policy', choices=['zero', 'uncertain'], default='zero')
    parser.add_argument('--no-check-images', action='store_true')
    parser.add_argument('--report-json', default=None)
    parser.add_argument('--no-progress', action='store_true')
    add_encoding_arg(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        report = convert_chexpert(
            args.root, args.out_dir or osp.join(args.root, 'annotations'),
            splits=args.splits, frontal_only=not args.all_views, views=args.views,
            uncertain_policy=args.uncertain_policy, blank_policy=args.blank_policy,
            check_images=not args.no_check_images, progress=not args.no_progress,
            encoding=args.encoding)
    except (ConversionError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(report.format())
    write_report_json(report, args.report_json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
