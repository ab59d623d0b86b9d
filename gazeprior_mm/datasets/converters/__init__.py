"""Converters of real datasets to the canonical annotation format (docs/interfaces.md).

Library code behind ``tools/dataset_converters/*.py``; see docs/data_preparation.md.
"""
from .chexpert import convert_chexpert
from .csv_stream import iter_csv_rows
from .egd_cxr import convert_egd_cxr, read_egd_cxr
from .gaze_attach import GazeReading, attach_gaze_to_annotations
from .image_size import read_image_size
from .labels import CHEXPERT_CLASSES
from .mimic_cxr_jpg import convert_mimic_cxr_jpg
from .reflacx import convert_reflacx, read_reflacx
from .report import ConversionError, ConversionReport
from .writer import load_annotation_file, write_annotation_file

__all__ = [
    'convert_chexpert', 'convert_mimic_cxr_jpg', 'convert_egd_cxr', 'convert_reflacx',
    'read_egd_cxr', 'read_reflacx', 'attach_gaze_to_annotations', 'GazeReading',
    'ConversionError', 'ConversionReport', 'iter_csv_rows', 'read_image_size',
    'write_annotation_file', 'load_annotation_file', 'CHEXPERT_CLASSES'
]
