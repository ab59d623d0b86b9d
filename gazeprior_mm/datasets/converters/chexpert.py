"""CheXpert (train.csv / valid.csv) -> canonical annotation files for linear evaluation.

Input: the CheXpert root (``CheXpert-v1.0-small/`` or the full ``CheXpert-v1.0/``)::

    ROOT/train.csv  ROOT/valid.csv     Path,Sex,Age,Frontal/Lateral,AP/PA,<14 labels>
    ROOT/train/patient00001/study1/view1_frontal.jpg ...

``Path`` starts with the release folder name (``CheXpert-v1.0-small/train/...``); that
first component is stripped so ``img_path`` is relative to ROOT. Output:
``OUT/chexpert_{train,valid}.json``.
"""
import os.path as osp

from tqdm import tqdm

from .csv_stream import DEFAULT_ENCODING, check_encoding, find_file, iter_csv_rows
from .image_size import read_image_size
from .labels import (CHEXPERT_CLASSES, labels_to_canonical, parse_label,
                     parse_uncertain_policy)
from .report import ConversionReport
from .writer import write_annotation_file

CSV_COLUMNS = ('Path', 'Frontal/Lateral', 'AP/PA') + CHEXPERT_CLASSES
SPLITS = ('train', 'valid')


def chexpert_relpath(path):
    """``CheXpert-v1.0-small/train/p/s/v.jpg`` -> ``train/p/s/v.jpg`` (a path
    without the release prefix is returned unchanged)."""
    parts = path.strip().replace('\\', '/').split('/')
    if parts and parts[0].lower().startswith('chexpert-v'):
        parts = parts[1:]
    return '/'.join(parts)


def convert_chexpert(root, out_dir, splits=SPLITS, frontal_only=True, views=None,
                     uncertain_policy='keep', blank_policy='zero', check_images=True,
                     progress=True, encoding=DEFAULT_ENCODING):
    """Convert CheXpert's csv files to ``out_dir/chexpert_{split}.json``.

    Args:
        root (str): the CheXpert root holding ``train.csv``, ``valid.csv``, ``train/``.
        out_dir (str): where the annotation files go.
        splits (Sequence[str]): csv files to convert (``train``, ``valid``).
        frontal_only (bool): keep ``Frontal/Lateral == Frontal`` rows only.
        views (Sequence[str] | None): further restrict ``AP/PA`` (e.g. ``['PA']``).
        uncertain_policy: ``'keep'`` (-1 stays; the dataset's policy decides),
            ``'ones'`` (U-Ones), ``'zeros'`` (U-Zeros), ``'ignore'`` (= keep -1, masked
            by the dataset), or a per-label dict (see :mod:`.labels`).
        blank_policy (str): ``'zero'`` or ``'uncertain'`` (blank -> -1).
        check_images (bool): reject rows whose image is missing; record its size.
        progress (bool): tqdm progress bar.
        encoding (str): text encoding of the csv files (default UTF-8).

    Returns:
        ConversionReport
    """
    report = ConversionReport('CheXpert')
    check_encoding(encoding)
    policy = parse_uncertain_policy(uncertain_policy)
    views = None if views is None else {v.strip().upper() for v in views}
    metainfo = dict(classes=list(CHEXPERT_CLASSES), dataset_name='chexpert',
                    uncertain_value=-1,
                    uncertain_policy=uncertain_policy if isinstance(
                        uncertain_policy, str) else dict(uncertain_policy),
                    blank_policy=blank_policy)
    for split in splits:
        csv_path = find_file(root, (f'{split}.csv',))
        data_list, seen = [], set()
        rows = iter_csv_rows(csv_path, CSV_COLUMNS, report=report, encoding=encoding)
        for row_no, row in tqdm(rows, desc=f'CheXpert {split}', unit='img',
                                disable=not progress):
            rel = chexpert_relpath(row['Path'])
            if frontal_only and row['Frontal/Lateral'].strip().lower() != 'frontal':
                report.count('skipped', 'lateral_view')
                continue
            if views is not None and row['AP/PA'].strip().upper() not in views:
                report.count('skipped', 'view_not_selected')
                continue
            if not rel or rel in seen:
                report.reject('duplicated_or_empty_path', csv_path, row_no,
                              f'Path {row["Path"]!r} is empty or listed twice')
                continue
            try:
                values = [parse_label(row[name]) for name in CHEXPERT_CLASSES]
            except ValueError as e:
                report.reject('malformed_label', csv_path, row_no, str(e))
                continue
            entry = dict(img_path=rel, img_id=osp.splitext(rel)[0],
                         gt_label=labels_to_canonical(values, policy, blank_policy),
                         split=split, view=row['AP/PA'].strip() or
                         row['Frontal/Lateral'].strip())
            if check_images:
                try:
                    entry['img_shape'] = list(read_image_size(osp.join(root, rel)))
                except FileNotFoundError:
                    report.reject('missing_image', csv_path, row_no,
                                  f'{osp.join(root, rel)} does not exist')
                    continue
                except ValueError as e:
                    report.reject('unreadable_image', csv_path, row_no, str(e))
                    continue
            seen.add(rel)
            data_list.append(entry)
        write_annotation_file(osp.join(out_dir, f'chexpert_{split}.json'),
                              dict(metainfo, split=split), data_list)
        report.count('written', f'images_{split}', len(data_list))
    return report
