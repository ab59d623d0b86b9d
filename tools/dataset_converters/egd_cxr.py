"""Attach EGD-CXR gaze (fixations.csv, master_sheet.csv, bounding_boxes.csv) to the
MIMIC-CXR-JPG annotation files written by mimic_cxr_jpg.py.

Example (docs/data_preparation.md)::

    python tools/dataset_converters/egd_cxr.py data/egd-cxr \
        --ann-dir data/mimic_cxr/annotations --src-prefix mimic --dst-prefix mimic_gaze

reads ``mimic_{split}.json``, writes ``mimic_gaze_{split}.json`` (reader ``egd``;
fixations mapped from the DICOM grid to each JPG's grid; anatomical boxes as
``anatomy``) and prints a report (gaze sets attached, fixations dropped and why, rows
rejected and why). Exit status 2 on a structural error.
"""
import sys

from gazeprior_mm.datasets.converters import convert_egd_cxr
from gazeprior_mm.datasets.converters.cli import gaze_arg_parser, run_gaze_converter


def main(argv=None):
    parser = gaze_arg_parser(__doc__.split('\n\n')[0],
                             'EGD-CXR root (holds master_sheet.csv, fixations.csv, '
                             'bounding_boxes.csv)')
    return run_gaze_converter(convert_egd_cxr, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
