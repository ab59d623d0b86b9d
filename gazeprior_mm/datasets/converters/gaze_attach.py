"""Attach gaze readings (and lesions) to the images of canonical annotation files."""
import os.path as osp
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from gazeprior_mm.gaze.formats.grid import inside_image, map_points_to_grid
from .writer import load_annotation_file, write_annotation_file

#: decimals kept for coordinates / durations in the JSON (sub-pixel, stable bytes)
DECIMALS = 3


@dataclass
class GazeReading:
    """One reader's reading of one image, in the source (DICOM) pixel grid.

    Attributes:
        reader (str): reader id (REFLACX reading id, ``'egd'`` for EGD-CXR).
        dicom_id (str): the MIMIC image it belongs to.
        fixations (np.ndarray): (K, 3) float ``x, y, duration_s`` in source pixels.
        source_size (tuple[int, int] | None): ``(H, W)`` of the source grid; None =
            the image's ``dicom_shape`` in the annotation file (EGD gives no size).
        source (str): where it came from (file and row), for messages.
        lesions (list[dict]): ``{category, box: (xmin, ymin, xmax, ymax), certainty}``
            in source pixels, ellipses inscribed in ``box``.
        anatomy (list[dict]): ``{name, box: (xmin, ymin, xmax, ymax)}`` boxes.
    """
    reader: str
    dicom_id: str
    fixations: np.ndarray
    source_size: tuple = None
    source: str = ''
    lesions: list = field(default_factory=list)
    anatomy: list = field(default_factory=list)


def _round(values):
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS).tolist()


def _box_to_grid(box, src, dst):
    """(xmin, ymin, xmax, ymax) source pixels -> the same box in the target grid."""
    corners = map_points_to_grid([[box[0], box[1]], [box[2], box[3]]], src, dst)
    return np.concatenate([corners.min(0), corners.max(0)])


def _lesion_to_json(lesion, reader, src, dst):
    from pycocotools import mask as mask_utils

    from gazeprior_mm.gaze.formats.reflacx import ellipse_mask
    x0, y0, x1, y1 = _box_to_grid(lesion['box'], src, dst)
    rle = mask_utils.encode(np.asfortranarray(ellipse_mask((x0, y0, x1, y1), dst),
                                              dtype=np.uint8))
    rle['counts'] = rle['counts'].decode('ascii')
    rle['size'] = [int(s) for s in rle['size']]
    return dict(category=lesion['category'], bbox=_round([x0, y0, x1 - x0, y1 - y0]),
                segmentation=rle, certainty=lesion.get('certainty'), reader=reader)


def attach_readings(entry, readings, report):
    """Put ``readings`` (of this entry's image) into ``entry`` (modified in place).

    Fixations outside the source grid are dropped (counted ``outside_image``); the
    rest are mapped to the stored image's grid (``img_shape``) with
    :func:`~gazeprior_mm.gaze.formats.grid.map_points_to_grid` and clipped to its
    pixel centres (a mapped border pixel can land up to half a pixel outside).
    Readers already in the entry with the same id are replaced, others kept, so
    attaching is idempotent and several sources (EGD, REFLACX) combine.

    Returns:
        int: the number of readers attached.
    """
    dst = tuple(entry.get('img_shape') or ())
    new_readers, new_lesions, anatomy = [], [], None
    for reading in readings:
        dicom_shape = tuple(entry.get('dicom_shape') or ())
        if reading.source_size and dicom_shape and \
                tuple(reading.source_size) != dicom_shape:
            report.count('notes', 'gaze_grid_differs_from_metadata_rows_columns',
                         message=f'{reading.source}: {reading.dicom_id} is '
                                 f'{reading.source_size} in the gaze file but '
                                 f'{dicom_shape} in the MIMIC metadata; using the '
                                 'gaze file\'s size')
        src = reading.source_size or dicom_shape
        if not src:
            src = dst
            report.count('notes', 'source_grid_unknown_assumed_jpg_grid',
                         message=f'{reading.source}: no DICOM size for '
                                 f'{reading.dicom_id}; assuming the JPG grid')
        if not dst:
            dst = src
        fix = np.asarray(reading.fixations, dtype=np.float64).reshape(-1, 3)
        inside = inside_image(fix, src)
        report.count('dropped', 'outside_image', int((~inside).sum()),
                     message=f'{reading.source}: fixation outside the '
                             f'{src[0]}x{src[1]} image of {reading.dicom_id}')
        fix = map_points_to_grid(fix[inside], src, dst)
        fix[:, 0] = np.clip(fix[:, 0], 0, dst[1] - 1)
        fix[:, 1] = np.clip(fix[:, 1], 0, dst[0] - 1)
        if len(fix) == 0:
            report.count('notes', 'readings_without_valid_fixations_not_attached',
                         message=f'{reading.source}: reading {reading.reader} of '
                                 f'{reading.dicom_id} has no valid fixation')
            continue
        new_readers.append(dict(reader=reading.reader, fixations=_round(fix)))
        report.count('written', 'fixations_attached', len(fix))
        new_lesions += [_lesion_to_json(les, reading.reader, src, dst)
                        for les in reading.lesions]
        if reading.anatomy:
            anatomy = [dict(name=a['name'], bbox=_round(
                _xyxy_to_xywh(_box_to_grid(a['box'], src, dst))))
                for a in reading.anatomy]
    replaced = {r.reader for r in readings}
    old_gaze = entry.get('gaze') or {}
    readers = [r for r in old_gaze.get('readers', []) if r['reader'] not in replaced]
    old_size = tuple(old_gaze.get('image_size') or dst)
    if readers and old_size != dst:  # kept readers follow the image to its new grid
        report.count('notes', 'kept_readers_rescaled_to_new_image_size',
                     message=f'{entry.get("img_id")}: {old_size} -> {dst}')
        readers = [dict(r, fixations=_round(map_points_to_grid(
            np.asarray(r['fixations'], float).reshape(-1, 3), old_size, dst)))
            for r in readers]
    readers = sorted(readers + new_readers, key=lambda r: r['reader'])
    entry['gaze'] = dict(image_size=list(dst), readers=readers) if readers else None
    lesions = [les for les in entry.get('lesions', [])
               if les.get('reader') not in replaced]
    lesions += new_lesions
    if lesions:
        entry['lesions'] = sorted(lesions, key=lambda les: (
            str(les.get('reader')), les['category'], les['bbox']))
    else:
        entry.pop('lesions', None)
    report.count('written', 'lesions_attached', len(new_lesions))
    if anatomy is not None:
        entry['anatomy'] = anatomy
    return len(new_readers)


def _xyxy_to_xywh(box):
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def attach_gaze_to_annotations(ann_pairs, readings, report, only_with_gaze=False,
                               progress=True, source_name='gaze'):
    """Attach ``readings`` to the images of several annotation files.

    Args:
        ann_pairs (Sequence[tuple[str, str]]): ``(input, output)`` annotation files
            (e.g. one per MIMIC split); output may equal input (in-place, atomic).
        readings (dict[str, list[GazeReading]]): by DICOM id.
        report (ConversionReport): counts gaze sets attached, fixations dropped,
            readings whose DICOM id is in none of the files (``unknown_dicom_id``).
        only_with_gaze (bool): write only the images that have gaze.
        source_name (str): recorded in ``metainfo['gaze_sources']``.

    Returns:
        ConversionReport: ``report``.
    """
    used = set()
    for ann_in, ann_out in ann_pairs:
        ann = load_annotation_file(ann_in)
        data_list = ann['data_list']
        for entry in tqdm(data_list, desc=f'{source_name} -> {osp.basename(ann_out)}',
                          unit='img', disable=not progress):
            img_readings = readings.get(entry.get('img_id'))
            if not img_readings:
                continue
            used.add(entry['img_id'])
            n = attach_readings(entry, img_readings, report)
            report.count('written', 'gaze_sets_attached', n)
            report.count('written', 'images_with_new_gaze', int(n > 0))
        if only_with_gaze:
            data_list = [e for e in data_list if e.get('gaze')]
        metainfo = dict(ann['metainfo'])
        metainfo['gaze_sources'] = sorted(set(metainfo.get('gaze_sources', []))
                                          | {source_name})
        write_annotation_file(ann_out, metainfo, data_list)
        report.count('written', f'images_written_{osp.basename(ann_out)}',
                     len(data_list))
    for dicom_id in sorted(set(readings) - used):
        for reading in readings[dicom_id]:
            report.reject('unknown_dicom_id', reading.source, None,
                          f'DICOM id {dicom_id} (reader {reading.reader}) is not an '
                          'image of the annotation files '
                          f'{[p[0] for p in ann_pairs]}; reading not attached')
    return report
