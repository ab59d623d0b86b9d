"""Convert MIMIC-CXR-JPG to GazePrior-MM's canonical annotation files (one per split).

Example (docs/data_preparation.md)::

    python tools/dataset_converters/mimic_cxr_jpg.py data/mimic_cxr \
        --out-dir data/mimic_cxr/annotations --views PA AP --labels chexpert

writes ``mimic_{train,validate,test}.json`` and prints a report (images written,
rows rejected and why). Exit status 2 on a structural error (missing file/column,
truncated file).
"""
import argparse
import os.path as osp
import sys

from gazeprior_mm.datasets.converters.cli import add_encoding_arg, write_report_json
from gazeprior_mm.datasets.converters import ConversionError, convert_mimic_cxr_jpg
from gazeprior_mm.datasets.converters.mimic_cxr_jpg import SPLITS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('root', help='MIMIC-CXR-JPG root (holds files/ and the '
                        'mimic-cxr-2.0.0-*.csv[.gz] files)')
    parser.add_argument('--out-dir', default=None,
                        help='output folder (default: ROOT/annotations)')
    parser.add_argument('--views', nargs='*', default=['PA', 'AP'],
                        help='ViewPosition values to keep (default: PA AP); '
                        '"all" keeps every non-blank view')
    parser.add_argument('--labels', choices=['chexpert', 'negbio'], default='chexpert')
    parser.add_argument('--uncertain-policy', default='keep',
                        help="keep | ones | zeros | ignore, or a JSON per-label dict "
                        "such as '{\"Atelectasis\": \"ones\", \"default\": \"keep\"}'")
    parser.add_argument('--blank-policy', choices=['zero', 'uncertain'], default='zero')
    parser.add_argument('--splits', nargs='+', default=list(SPLITS), choices=SPLITS)
    parser.add_argument('--no-check-images', action='store_true',
                        help='trust metadata Rows x Columns, do not open the JPGs')
    parser.add_argument('--require-labels', action='store_true',
                        help='reject images whose study has no label row')
    parser.add_argument('--image-out', default=None,
                        help='also write downscaled JPG copies under this folder '
                        '(same files/ tree; use it as data_root)')
    parser.add_argument('--max-side', type=int, default=None,
                        help='long side of the copies in pixels, e.g. 512')
    parser.add_argument('--report-json', default=None, help='also write the report')
    parser.add_argument('--no-progress', action='store_true')
    add_encoding_arg(parser)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    views = None if [v.lower() for v in args.views] == ['all'] else args.views
    try:
        report = convert_mimic_cxr_jpg(
            args.root, args.out_dir or osp.join(args.root, 'annotations'), views=views,
            labels=args.labels, uncertain_policy=args.uncertain_policy,
            blank_policy=args.blank_policy, check_images=not args.no_check_images,
            require_labels=args.require_labels, splits=args.splits,
            image_out=args.image_out, max_side=args.max_side,
            progress=not args.no_progress, encoding=args.encoding)
    except (ConversionError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(report.format())
    write_report_json(report, args.report_json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
