"""Attach REFLACX gaze (metadata_phase_N.csv, main_data/<id>/fixations.csv) and
anomaly ellipses (as COCO-RLE lesions) to the MIMIC-CXR-JPG annotation files.

Example (docs/data_preparation.md), after egd_cxr.py, in place::

    python tools/dataset_converters/reflacx.py data/reflacx \
        --ann-dir data/mimic_cxr/annotations --src-prefix mimic_gaze \
        --dst-prefix mimic_gaze

One reader per REFLACX reading id (several per image kept, next to EGD's ``egd``);
fixations and ellipses mapped from the DICOM grid (image_size_x/y) to each JPG's grid.
Prints a report; exit status 2 on a structural error.
"""
import sys

from gazeprior_mm.datasets.converters import convert_reflacx
from gazeprior_mm.datasets.converters.cli import gaze_arg_parser, run_gaze_converter


def main(argv=None):
    parser = gaze_arg_parser(__doc__.split('\n\n')[0],
                             'REFLACX root (holds main_data/metadata_phase_N.csv and '
                             'main_data/<id>/)')
    return run_gaze_converter(convert_reflacx, parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
