"""Argument parsing and running shared by the gaze converter commands
(tools/dataset_converters/egd_cxr.py, reflacx.py)."""
import argparse
import json
import os.path as osp
import sys

from .csv_stream import DEFAULT_ENCODING, check_encoding
from .report import ConversionError

MIMIC_SPLITS = ('train', 'validate', 'test')


def encoding_arg(value):
    """argparse ``type`` of ``--encoding``: a codec name Python knows.

    Args:
        value (str): the option's value.

    Returns:
        str: ``value``.
    """
    try:
        check_encoding(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return value


def add_encoding_arg(parser):
    """Add ``--encoding`` (text encoding of the input csv files) to ``parser``."""
    parser.add_argument('--encoding', type=encoding_arg, default=DEFAULT_ENCODING,
                        help='text encoding of the input csv files (default '
                        'utf-8, a byte-order mark is accepted); e.g. latin-1 or '
                        'cp1252 for files an editor re-saved')
    return parser


def gaze_arg_parser(description, root_help):
    """The common command line of the gaze converters."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('root', help=root_help)
    parser.add_argument('--ann-dir', required=True,
                        help='folder of the MIMIC annotation files')
    parser.add_argument('--src-prefix', default='mimic',
                        help='input files are ANN_DIR/SRC_PREFIX_{split}.json')
    parser.add_argument('--dst-prefix', default='mimic_gaze',
                        help='output files are ANN_DIR/DST_PREFIX_{split}.json '
                        '(may equal --src-prefix: in-place, atomic)')
    parser.add_argument('--splits', nargs='+', default=list(MIMIC_SPLITS),
                        choices=MIMIC_SPLITS)
    parser.add_argument('--only-with-gaze', action='store_true',
                        help='write only the images that have gaze')
    parser.add_argument('--report-json', default=None,
                        help='also write the report as JSON')
    parser.add_argument('--no-progress', action='store_true')
    add_encoding_arg(parser)
    return parser


def run_gaze_converter(convert, args):
    """Run ``convert(root, ann_pairs, only_with_gaze, progress, encoding)``, print
    the report.

    Returns:
        int: exit status, 0 or 2 (structural error, message on stderr).
    """
    pairs = [(osp.join(args.ann_dir, f'{args.src_prefix}_{s}.json'),
              osp.join(args.ann_dir, f'{args.dst_prefix}_{s}.json'))
             for s in args.splits]
    try:
        report = convert(args.root, pairs, only_with_gaze=args.only_with_gaze,
                         progress=not args.no_progress, encoding=args.encoding)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(report.format())
    write_report_json(report, args.report_json)
    return 0


def write_report_json(report, path):
    if path:
        with open(path, 'w') as f:
            json.dump(report.to_dict(), f, indent=1)
