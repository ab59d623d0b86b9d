"""REFLACX (metadata_phase_N.csv, main_data/<id>/fixations.csv and
anomaly_location_ellipses.csv) -> gaze readings of MIMIC-CXR images, one reader per
reading id, attached to canonical annotation files."""
import os.path as osp

import numpy as np
from tqdm import tqdm

from gazeprior_mm.gaze.formats import reflacx
from .csv_stream import (DEFAULT_ENCODING, check_encoding, iter_csv_rows,
                         parse_float, parse_int)
from .gaze_attach import GazeReading, attach_gaze_to_annotations
from .report import ConversionError, ConversionReport


def reflacx_main_data(root):
    """The ``main_data`` folder of a REFLACX root (or ``root`` itself)."""
    for candidate in (osp.join(root, 'main_data'), root):
        if any(osp.isfile(osp.join(candidate, reflacx.METADATA_FILE.format(p)))
               for p in reflacx.PHASES):
            return candidate
    raise ConversionError(f'{root}: no main_data/metadata_phase_{{1,2,3}}.csv found')


def read_reflacx_fixations(path, image_size, report, encoding=DEFAULT_ENCODING):
    """One reading's fixations.csv -> (K, 3) ``x, y, duration_s`` in DICOM pixels.

    Duration = end - start. Fixations off the part of the image shown at the time,
    outside the DICOM grid, with a non-finite position or time, or with non-positive
    duration are dropped and counted."""
    values = []
    for row_no, row in iter_csv_rows(path, reflacx.FIXATION_COLUMNS, report=report,
                                     encoding=encoding):
        try:
            values.append([parse_float(row[c], path, row_no, c)
                           for c in reflacx.FIXATION_COLUMNS])
        except ValueError as e:
            report.reject('malformed_row', path, row_no, str(e))
    table = np.array(values, dtype=np.float64).reshape(
        -1, len(reflacx.FIXATION_COLUMNS))
    reasons = reflacx.reflacx_fixation_drop_reasons(table, image_size)
    for reason in sorted(set(reasons) - {''}):
        report.count('dropped', reason, int((reasons == reason).sum()),
                     message=f'{path}: {int((reasons == reason).sum())} fixation(s)')
    table = table[reasons == '']
    return np.stack([table[:, 2], table[:, 3], table[:, 1] - table[:, 0]], axis=1)


def read_reflacx_ellipses(path, report, min_certainty=reflacx.PRESENT_CERTAINTY,
                          encoding=DEFAULT_ENCODING):
    """anomaly_location_ellipses.csv -> lesions ``{category, box, certainty}``.

    One lesion per (ellipse, label marked True); ellipses below ``min_certainty``
    are skipped and counted. Label columns are whatever follows ``certainty``
    (they differ between phases)."""
    lesions = []
    for row_no, row in iter_csv_rows(path, reflacx.ELLIPSE_COLUMNS, report=report,
                                     encoding=encoding):
        try:
            box = tuple(parse_float(row[c], path, row_no, c) for c in
                        ('xmin', 'ymin', 'xmax', 'ymax'))
            certainty = parse_int(row['certainty'], 'certainty')
            labels = [k for k, v in row.items()
                      if k not in reflacx.ELLIPSE_COLUMNS and reflacx.parse_bool(v)]
        except ValueError as e:
            report.reject('malformed_row', path, row_no, str(e))
            continue
        if certainty < min_certainty:
            report.count('skipped', f'ellipses_certainty_below_{min_certainty}')
            continue
        lesions += [dict(category=label, box=box, certainty=certainty)
                    for label in labels]
    return lesions


def read_reflacx(root, report, phases=reflacx.PHASES, progress=True,
                 encoding=DEFAULT_ENCODING):
    """All usable REFLACX readings as ``{dicom_id: [GazeReading]}``.

    Readings with ``eye_tracking_data_discarded`` are skipped and counted; a reading id
    listed twice (a duplicated reading) is rejected and counted, the first kept; a
    missing fixations.csv is rejected and counted; so is a row whose
    ``image_size_x/y`` is not a positive integer (``3056.0`` is accepted).
    ``encoding`` is the text encoding of the csv files."""
    main_data = reflacx_main_data(root)
    readings, seen = {}, set()
    for phase in phases:
        meta_path = osp.join(main_data, reflacx.METADATA_FILE.format(phase))
        if not osp.isfile(meta_path):
            report.count('notes', 'metadata_phase_file_absent', message=meta_path)
            continue
        rows = list(iter_csv_rows(meta_path, reflacx.METADATA_COLUMNS, report=report,
                                  encoding=encoding))
        for row_no, row in tqdm(rows, desc=f'REFLACX phase {phase}', unit='reading',
                                disable=not progress):
            reading_id, dicom_id = row['id'].strip(), row['dicom_id'].strip()
            where = f'{meta_path}, row {row_no}'
            if reading_id in seen:
                report.reject('duplicated_reading', meta_path, row_no,
                              f'reading id {reading_id} already read; keeping the '
                              'first')
                continue
            seen.add(reading_id)
            try:
                if reflacx.parse_bool(row['eye_tracking_data_discarded']):
                    report.count('skipped', 'eye_tracking_data_discarded')
                    continue
                size = (parse_int(row['image_size_y'], 'image_size_y'),
                        parse_int(row['image_size_x'], 'image_size_x'))
                if min(size) <= 0:
                    raise ValueError(f'dicom_id {dicom_id}: image_size_x/y '
                                     f"{row['image_size_x']!r}/"
                                     f"{row['image_size_y']!r} must be positive")
                if reflacx.reflacx_phase(reading_id) != phase:
                    raise ValueError(f'reading id {reading_id} is not of phase '
                                     f'{phase}')
            except ValueError as e:
                report.reject('malformed_row', meta_path, row_no, str(e))
                continue
            fix_path = osp.join(main_data, reading_id, 'fixations.csv')
            if not osp.isfile(fix_path):
                report.reject('missing_fixations_file', meta_path, row_no,
                              f'{fix_path} does not exist')
                continue
            try:
                fixations = read_reflacx_fixations(fix_path, size, report, encoding)
                ell_path = osp.join(main_data, reading_id,
                                    'anomaly_location_ellipses.csv')
                lesions = read_reflacx_ellipses(ell_path, report,
                                                encoding=encoding) \
                    if osp.isfile(ell_path) else []
            except ConversionError as e:  # a broken per-reading file: skip the reading
                report.reject('unreadable_reading_file', meta_path, row_no, str(e))
                continue
            readings.setdefault(dicom_id, []).append(GazeReading(
                reader=reading_id, dicom_id=dicom_id, fixations=fixations,
                source_size=size, source=where, lesions=lesions))
    return readings


def convert_reflacx(reflacx_root, ann_pairs, only_with_gaze=False, progress=True,
                    encoding=DEFAULT_ENCODING):
    """Read REFLACX and attach its readings to the annotation files ``ann_pairs``
    (``[(input, output), ...]``): one reader per reading id, several per image kept;
    fixations and ellipses mapped from the DICOM grid (``image_size_x/y``) to the
    stored JPG's grid; ellipses become COCO-RLE lesions.

    Args:
        reflacx_root (str): holds main_data/ (or is it).
        ann_pairs (Sequence[tuple[str, str]]): annotation files (input, output).
        only_with_gaze (bool): write only the images that have gaze.
        progress (bool): tqdm progress bars.
        encoding (str): text encoding of the csv files (default UTF-8).

    Returns:
        ConversionReport
    """
    report = ConversionReport('REFLACX')
    check_encoding(encoding)
    readings = read_reflacx(reflacx_root, report, progress=progress,
                            encoding=encoding)
    return attach_gaze_to_annotations(ann_pairs, readings, report, only_with_gaze,
                                      progress, source_name='reflacx')
