"""MIMIC-CXR-JPG -> canonical annotation files, one per split.

Input (the PhysioNet ``mimic-cxr-jpg`` release as downloaded, csv or csv.gz)::

    ROOT/files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg
    ROOT/mimic-cxr-2.0.0-metadata.csv   dicom_id,subject_id,study_id,...,
                                        ViewPosition,Rows,Columns,...
    ROOT/mimic-cxr-2.0.0-split.csv      dicom_id,study_id,subject_id,split
                                        (split: train / validate / test)
    ROOT/mimic-cxr-2.0.0-chexpert.csv   subject_id,study_id,<14 labels>
                                        (or mimic-cxr-2.0.0-negbio.csv)

Output: ``OUT/mimic_{split}.json`` for each split. Each item keeps the MIMIC ids, the
view and ``dicom_shape`` ([Rows, Columns] of the DICOM, the grid of EGD/REFLACX gaze)
next to the stored JPG's ``img_shape``, so the gaze converters can map coordinates.
"""
import os.path as osp

from tqdm import tqdm

from .csv_stream import (DEFAULT_ENCODING, check_encoding, find_file,
                         iter_csv_rows, parse_int)
from .image_resize import write_resized_copy
from .image_size import read_image_size
from .labels import (CHEXPERT_CLASSES, labels_to_canonical, parse_label,
                     parse_uncertain_policy)
from .report import ConversionReport
from .writer import write_annotation_file

METADATA_FILES = ('mimic-cxr-2.0.0-metadata.csv',)
SPLIT_FILES = ('mimic-cxr-2.0.0-split.csv',)
LABEL_FILES = {'chexpert': ('mimic-cxr-2.0.0-chexpert.csv',),
               'negbio': ('mimic-cxr-2.0.0-negbio.csv',)}
SPLITS = ('train', 'validate', 'test')
#: a stored JPG may be a downscaled copy; aspect ratios must agree to this tolerance
ASPECT_TOLERANCE = 0.01


def mimic_jpg_relpath(subject_id, study_id, dicom_id):
    """``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (relative to the root)."""
    return f'files/p{subject_id[:2]}/p{subject_id}/s{study_id}/{dicom_id}.jpg'


def read_mimic_labels(path, report, uncertain_policy='keep', blank_policy='zero',
                      encoding=DEFAULT_ENCODING):
    """Stream a CheXpert/NegBio label csv into ``{(subject_id, study_id): gt_label}``.

    Labels are per study. The csv's columns are alphabetical; they are reordered to
    ``CHEXPERT_CLASSES``. Rows with a value other than 1/0/-1/blank, or a study listed
    twice, are rejected and counted (messages name the study id, never the patient
    id)."""
    policy = parse_uncertain_policy(uncertain_policy)
    labels = {}
    required = ('subject_id', 'study_id') + CHEXPERT_CLASSES
    for row_no, row in iter_csv_rows(path, required, report=report,
                                     encoding=encoding):
        key = (row['subject_id'].strip(), row['study_id'].strip())
        try:
            values = [parse_label(row[name]) for name in CHEXPERT_CLASSES]
        except ValueError as e:
            report.reject('malformed_label', path, row_no, str(e))
            continue
        if key in labels:
            report.reject('duplicated_study', path, row_no,
                          f'study_id {key[1]} already labelled; keeping the '
                          'first row')
            continue
        labels[key] = labels_to_canonical(values, policy, blank_policy)
    return labels


def read_mimic_splits(path, report, encoding=DEFAULT_ENCODING):
    """Stream the split csv into ``{dicom_id: split}``."""
    splits = {}
    for row_no, row in iter_csv_rows(path, ('dicom_id', 'split'), report=report,
                                     encoding=encoding):
        split = row['split'].strip()
        if split not in SPLITS:
            report.reject('unknown_split', path, row_no,
                          f'split {split!r} is not one of {SPLITS}')
            continue
        splits[row['dicom_id'].strip()] = split
    return splits


def convert_mimic_cxr_jpg(root, out_dir, views=('PA', 'AP'), labels='chexpert',
                          uncertain_policy='keep', blank_policy='zero',
                          check_images=True, require_labels=False, splits=SPLITS,
                          image_out=None, max_side=None, progress=True,
                          encoding=DEFAULT_ENCODING):
    """Convert MIMIC-CXR-JPG to ``out_dir/mimic_{split}.json``.

    Args:
        root (str): the MIMIC-CXR-JPG root (holds ``files/`` and the csv files).
        out_dir (str): where the annotation files go.
        views (Sequence[str] | None): kept ``ViewPosition`` values (frontal = PA, AP);
            None keeps every view. Blank ViewPosition is never kept (counted).
        labels (str): ``'chexpert'`` or ``'negbio'`` label file.
        uncertain_policy, blank_policy: see :mod:`.labels`; defaults keep -1.
        check_images (bool): read each JPG's header: missing images are rejected,
            the size is checked against metadata Rows x Columns. Without it the
            metadata size is trusted.
        require_labels (bool): reject images whose study has no label row instead of
            keeping them with blank labels (counted either way).
        splits (Sequence[str]): splits to write.
        image_out (str | None): write downscaled copies of the kept images under
            this folder (same ``files/...`` tree, long side ``max_side``); the items'
            ``img_shape`` is then the copy's and ``img_path`` is relative to
            ``image_out`` (use it as ``data_root``). Existing up-to-date copies are
            kept, so an interrupted run resumes. Gaze converters map coordinates
            onto the copies' grid.
        max_side (int | None): long side of the copies (required with image_out).
        progress (bool): tqdm progress bar.
        encoding (str): text encoding of the csv files (default UTF-8).

    Messages name images by ``dicom_id``, never by the patient's ``subject_id``.

    Returns:
        ConversionReport: counts of images written per split and rows rejected.
    """
    report = ConversionReport('MIMIC-CXR-JPG')
    if (image_out is None) != (max_side is None):
        raise ValueError('image_out and max_side go together')
    if labels not in LABEL_FILES:
        raise ValueError(f'labels must be one of {list(LABEL_FILES)}, got {labels!r}')
    check_encoding(encoding)
    meta_path = find_file(root, METADATA_FILES)
    split_path = find_file(root, SPLIT_FILES)
    label_path = find_file(root, LABEL_FILES[labels])
    study_labels = read_mimic_labels(label_path, report, uncertain_policy, blank_policy,
                                     encoding)
    dicom_split = read_mimic_splits(split_path, report, encoding)
    policy = parse_uncertain_policy(uncertain_policy)
    blank_labels = labels_to_canonical([None] * len(CHEXPERT_CLASSES), policy,
                                       blank_policy)
    views = None if views is None else {v.strip().upper() for v in views}
    data_lists = {split: [] for split in splits}
    seen = set()
    required = ('dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'Rows', 'Columns')
    rows = iter_csv_rows(meta_path, required, report=report, encoding=encoding)
    for row_no, row in tqdm(rows, desc='MIMIC-CXR-JPG', unit='img',
                            disable=not progress):
        dicom_id = row['dicom_id'].strip()
        subject_id, study_id = row['subject_id'].strip(), row['study_id'].strip()
        view = row['ViewPosition'].strip().upper()
        if not view:
            report.count('skipped', 'blank_view_position')
            continue
        if views is not None and view not in views:
            report.count('skipped', f'view_{view.replace(" ", "_")}')
            continue
        if dicom_id in seen:
            report.reject('duplicated_dicom_id', meta_path, row_no,
                          f'dicom_id {dicom_id} listed twice; keeping the first row')
            continue
        seen.add(dicom_id)
        split = dicom_split.get(dicom_id)
        if split is None:
            report.reject('unknown_dicom_id', meta_path, row_no,
                          f'dicom_id {dicom_id} is not in {split_path}')
            continue
        if split not in data_lists:
            report.count('skipped', f'split_{split}')
            continue
        try:
            dicom_shape = [parse_int(row['Rows'], 'Rows'),
                           parse_int(row['Columns'], 'Columns')]
            if min(dicom_shape) <= 0:
                raise ValueError(f'Rows/Columns {row["Rows"]!r}/'
                                 f'{row["Columns"]!r} are not positive')
        except ValueError as e:
            report.reject('malformed_row', meta_path, row_no,
                          f'dicom_id {dicom_id}: {e}')
            continue
        rel = mimic_jpg_relpath(subject_id, study_id, dicom_id)
        img_shape = dicom_shape
        if check_images:
            try:
                img_shape = list(read_image_size(osp.join(root, rel)))
            except FileNotFoundError:
                report.reject('missing_image', meta_path, row_no,
                              f'dicom_id {dicom_id}: {osp.join(root, rel)} does not '
                              'exist')
                continue
            except ValueError as e:
                report.reject('unreadable_image', meta_path, row_no,
                              f'dicom_id {dicom_id}: {e}')
                continue
            if img_shape != dicom_shape:
                aspect_img = img_shape[1] / img_shape[0]
                aspect_dcm = dicom_shape[1] / dicom_shape[0]
                if abs(aspect_img / aspect_dcm - 1) > ASPECT_TOLERANCE:
                    report.reject('size_mismatch', meta_path, row_no,
                                  f'dicom_id {dicom_id}: the JPG is '
                                  f'{img_shape[0]}x{img_shape[1]} (HxW) but '
                                  f'metadata says Rows x Columns = '
                                  f'{dicom_shape[0]}x{dicom_shape[1]}')
                    continue
                # a downscaled copy: gaze is rescaled per axis by the gaze converters
                report.count('notes', 'images_rescaled_from_dicom_grid')
        gt_label = study_labels.get((subject_id, study_id))
        if gt_label is None:
            if require_labels:
                report.reject('no_label_row', meta_path, row_no,
                              f'dicom_id {dicom_id}: its study has no row in '
                              f'{label_path}')
                continue
            report.count('notes', 'images_without_label_row_(blank_labels)',
                         message=f'{meta_path}, row {row_no}: dicom_id {dicom_id}')
            gt_label = list(blank_labels)
        if image_out is not None:
            try:
                img_shape, written = write_resized_copy(
                    osp.join(root, rel), osp.join(image_out, rel), max_side,
                    img_shape if check_images else None)
            except FileNotFoundError:
                report.reject('missing_image', meta_path, row_no,
                              f'dicom_id {dicom_id}: {osp.join(root, rel)} does not '
                              'exist')
                continue
            except ValueError as e:
                report.reject('unreadable_image', meta_path, row_no,
                              f'dicom_id {dicom_id}: {e}')
                continue
            img_shape = list(img_shape)
            report.count('written', 'resized_copies_written' if written
                         else 'resized_copies_up_to_date')
        data_lists[split].append(dict(
            img_path=rel, img_id=dicom_id, gt_label=gt_label, img_shape=img_shape,
            dicom_shape=dicom_shape, split=split, subject_id=subject_id,
            study_id=study_id, view=view))
    metainfo = dict(classes=list(CHEXPERT_CLASSES), dataset_name='mimic_cxr_jpg',
                    uncertain_value=-1, label_source=labels,
                    uncertain_policy=uncertain_policy if isinstance(
                        uncertain_policy, str) else dict(uncertain_policy),
                    blank_policy=blank_policy)
    for split, data_list in data_lists.items():
        write_annotation_file(osp.join(out_dir, f'mimic_{split}.json'),
                              dict(metainfo, split=split), data_list)
        report.count('written', f'images_{split}', len(data_list))
    return report
