"""EGD-CXR gaze (fixations.csv, master_sheet.csv, bounding_boxes.csv) -> gaze readings
of MIMIC-CXR images (reader ``'egd'``), attached to canonical annotation files."""
import os.path as osp
from collections import OrderedDict

import numpy as np
from tqdm import tqdm

from gazeprior_mm.gaze.formats import egd
from .csv_stream import (DEFAULT_ENCODING, check_encoding, iter_csv_rows,
                         parse_float)
from .gaze_attach import GazeReading, attach_gaze_to_annotations
from .report import ConversionError, ConversionReport


def read_egd_master_sheet(path, report, encoding=DEFAULT_ENCODING):
    """``{dicom_id: (top, bottom, left, right)}`` pads from master_sheet.csv.

    Both pad column spellings (``image_top_pad`` and ``image_top``) are accepted;
    quoted multi-line fields are handled by the csv parser."""
    pads = OrderedDict()
    rows = iter_csv_rows(path, egd.MASTER_SHEET_COLUMNS, egd.MASTER_SHEET_ALIASES,
                         report, encoding=encoding)
    for row_no, row in rows:
        dicom_id = row['dicom_id'].strip()
        try:
            value = tuple(parse_float(row[c], path, row_no, c)
                          for c in egd.MASTER_SHEET_COLUMNS[1:])
        except ValueError as e:
            report.reject('malformed_row', path, row_no, str(e))
            continue
        if dicom_id in pads:
            report.reject('duplicated_dicom_id', path, row_no,
                          f'dicom_id {dicom_id} listed twice; keeping the first row')
            continue
        pads[dicom_id] = value
    return pads


def read_egd_fixations(path, known_ids, report, progress=True,
                       encoding=DEFAULT_ENCODING):
    """Stream fixations.csv, grouping fixations by DICOM id in one pass.

    DICOM ids not in master_sheet.csv (the calibration screens, named
    ``dicom_id[:-5]``) are dropped and counted; an image seen in two sessions is a
    duplicated reading: the first session is kept, the other rejected and counted.

    Returns:
        dict[str, tuple[str, int, np.ndarray]]: ``dicom_id -> (session, first row,
        (K, 5) float array X_ORIGINAL, Y_ORIGINAL, FPOGD, FPOGV, row)``.
    """
    groups = OrderedDict()   # dicom_id -> [session, first_row, list of tuples]
    duplicated = set()
    rows = iter_csv_rows(path, egd.FIXATION_COLUMNS, report=report,
                         encoding=encoding)
    for row_no, row in tqdm(rows, desc='EGD fixations', unit='fix',
                            disable=not progress):
        dicom_id = row['DICOM_ID'].strip()
        if dicom_id not in known_ids:
            report.count('dropped', 'calibration_or_unknown_dicom_id',
                         message=f'{path}, row {row_no}: DICOM_ID {dicom_id}')
            continue
        try:
            values = tuple(parse_float(row[c], path, row_no, c) for c in
                           ('X_ORIGINAL', 'Y_ORIGINAL', 'FPOGD', 'FPOGV'))
        except ValueError as e:
            report.reject('malformed_row', path, row_no, str(e))
            continue
        session = row['SESSION_ID'].strip()
        group = groups.setdefault(dicom_id, [session, row_no, []])
        if group[0] != session:
            if (dicom_id, session) not in duplicated:
                duplicated.add((dicom_id, session))
                report.reject('duplicated_reading', path, row_no,
                              f'DICOM_ID {dicom_id} read again in session {session} '
                              f'(first in session {group[0]}); keeping the first')
            report.count('dropped', 'duplicated_reading')
            continue
        group[2].append(values + (row_no,))
    return {k: (s, r, np.array(v, dtype=np.float64).reshape(-1, 5))
            for k, (s, r, v) in groups.items()}


def read_egd_bounding_boxes(path, known_ids, report, encoding=DEFAULT_ENCODING):
    """``{dicom_id: [{name, box: (xmin, ymin, xmax, ymax)}]}`` from
    bounding_boxes.csv (columns in the order x1, x2, y1, y2)."""
    boxes = OrderedDict()
    for row_no, row in iter_csv_rows(path, egd.BOUNDING_BOX_COLUMNS, report=report,
                                     encoding=encoding):
        dicom_id = row['dicom_id'].strip()
        if dicom_id not in known_ids:
            report.reject('unknown_dicom_id', path, row_no,
                          f'dicom_id {dicom_id} is not in master_sheet.csv')
            continue
        try:
            x1, x2, y1, y2 = (parse_float(row[c], path, row_no, c)
                              for c in ('x1', 'x2', 'y1', 'y2'))
        except ValueError as e:
            report.reject('malformed_row', path, row_no, str(e))
            continue
        x, y, w, h = egd.egd_boxes_to_xywh(x1, x2, y1, y2)
        boxes.setdefault(dicom_id, []).append(
            dict(name=row['bbox_name'].strip(), box=(x, y, x + w, y + h)))
    return boxes


def read_egd_cxr(root, report, progress=True, encoding=DEFAULT_ENCODING):
    """All EGD-CXR readings under ``root`` as ``{dicom_id: [GazeReading]}``.

    Fixations are ``X_ORIGINAL, Y_ORIGINAL`` (DICOM pixels) with duration ``FPOGD``;
    ``FPOGV == 0``, negative (off-image) or non-finite coordinates and non-positive
    or non-finite durations are dropped and counted by reason. ``encoding`` is the
    text encoding of the csv files."""
    master_path = osp.join(root, 'master_sheet.csv')
    fix_path = osp.join(root, 'fixations.csv')
    for p in (master_path, fix_path):
        if not osp.isfile(p):
            raise ConversionError(f'{p}: file not found (EGD-CXR root is {root})')
    pads = read_egd_master_sheet(master_path, report, encoding)
    groups = read_egd_fixations(fix_path, pads, report, progress, encoding)
    box_path = osp.join(root, 'bounding_boxes.csv')
    boxes = read_egd_bounding_boxes(box_path, pads, report, encoding) \
        if osp.isfile(box_path) else {}
    readings = {}
    for dicom_id in pads:
        if dicom_id not in groups:
            report.count('notes', 'master_sheet_images_without_fixations',
                         message=f'{master_path}: {dicom_id}')
            continue
        session, first_row, table = groups[dicom_id]
        reasons = egd.egd_fixation_drop_reasons(table[:, :2], table[:, 3], table[:, 2])
        for reason in sorted(set(reasons) - {''}):
            report.count('dropped', reason, int((reasons == reason).sum()))
        keep = reasons == ''
        readings[dicom_id] = [GazeReading(
            reader=egd.EGD_READER, dicom_id=dicom_id, fixations=table[keep][:, :3],
            source=f'{fix_path}, row {first_row}', anatomy=boxes.get(dicom_id, []))]
    return readings


def convert_egd_cxr(egd_root, ann_pairs, only_with_gaze=False, progress=True,
                    encoding=DEFAULT_ENCODING):
    """Read EGD-CXR and attach its gaze to the annotation files ``ann_pairs``
    (``[(input, output), ...]``). Coordinates go from the DICOM grid (the image's
    ``dicom_shape``) to the stored JPG's grid (``img_shape``).

    Args:
        egd_root (str): holds master_sheet.csv, fixations.csv, bounding_boxes.csv.
        ann_pairs (Sequence[tuple[str, str]]): annotation files (input, output).
        only_with_gaze (bool): write only the images that have gaze.
        progress (bool): tqdm progress bars.
        encoding (str): text encoding of the csv files (default UTF-8).

    Returns:
        ConversionReport
    """
    report = ConversionReport('EGD-CXR')
    check_encoding(encoding)
    readings = read_egd_cxr(egd_root, report, progress, encoding)
    return attach_gaze_to_annotations(ann_pairs, readings, report, only_with_gaze,
                                      progress, source_name='egd-cxr')
