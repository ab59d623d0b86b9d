"""MIMIC-CXR-JPG converter: format-faithful fixtures -> canonical annotation files
-> GazeCXRDataset."""
import gzip
import os.path as osp
import shutil

import pytest
from _real_data_fixtures import (DICOM_BLANK, DICOM_FULL, DICOM_HALF, DICOM_LAT,
                                 DICOM_VAL, MIMIC_LABELS, SUBJECT, STUDY_A,
                                 jpg_rel, make_mimic, write_jpg)

from gazeprior_mm.datasets import CHEXPERT_CLASSES, GazeCXRDataset
from gazeprior_mm.datasets.converters import (CHEXPERT_CLASSES as CONV_CLASSES,
                                              ConversionError, convert_mimic_cxr_jpg,
                                              load_annotation_file)


def _convert(root, **kwargs):
    kwargs.setdefault('progress', False)
    report = convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'), **kwargs)
    return report, {s: load_annotation_file(osp.join(root, 'annotations',
                                                      f'mimic_{s}.json'))
                    for s in ('train', 'validate', 'test')}


def test_classes_cover_the_mimic_label_columns():
    # the MIMIC csv lists the same 14 labels alphabetically; the converter reorders
    assert tuple(CONV_CLASSES) == tuple(CHEXPERT_CLASSES)
    assert len(set(CONV_CLASSES)) == 14
    assert tuple(sorted(CONV_CLASSES)) == MIMIC_LABELS


def test_mimic_conversion_splits_views_labels_and_dataset(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    report, ann = _convert(root)
    train_ids = [e['img_id'] for e in ann['train']['data_list']]
    assert train_ids == [DICOM_FULL, DICOM_HALF]           # PA + AP, file order
    assert [e['img_id'] for e in ann['validate']['data_list']] == [DICOM_VAL]
    assert ann['test']['data_list'] == []
    assert report.counts['skipped'] == {'blank_view_position': 1, 'view_LATERAL': 1}
    assert report.counts['notes']['images_rescaled_from_dicom_grid'] == 1
    assert report.total('rejected') == 0
    half = ann['train']['data_list'][1]
    assert half['img_shape'] == [60, 40] and half['dicom_shape'] == [120, 80]
    assert half['img_path'] == jpg_rel(SUBJECT, STUDY_A, DICOM_HALF)
    # labels reordered from the csv's alphabetical order; -1 kept; blank -> 0
    labels = dict(zip(CHEXPERT_CLASSES, half['gt_label']))
    assert labels['Atelectasis'] == -1 and labels['Cardiomegaly'] == 1
    assert labels['Edema'] == 0 and labels['Pneumonia'] == 0
    assert ann['train']['metainfo']['classes'] == list(CHEXPERT_CLASSES)
    # loads through the dataset class, image sizes checked eagerly
    ds = GazeCXRDataset(ann_file='annotations/mimic_train.json', data_root=root,
                        uncertain_policy='ignore', check_image_size='eager')
    assert len(ds) == 2
    info = ds.get_data_info(1)
    assert info['img_id'] == DICOM_HALF and not info['has_gaze']
    at = CHEXPERT_CLASSES.index('Atelectasis')
    assert info['gt_label_raw'][at] == -1 and not info['gt_label_mask'][at]
    assert info['gt_label'] == [CHEXPERT_CLASSES.index('Cardiomegaly')]


def test_mimic_options_views_policies_negbio_gzip(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    for name in ('metadata', 'split', 'negbio'):   # the release ships .csv.gz
        path = osp.join(root, f'mimic-cxr-2.0.0-{name}.csv')
        with open(path, 'rb') as src, gzip.open(path + '.gz', 'wb') as dst:
            shutil.copyfileobj(src, dst)
    _, ann = _convert(root, views=None, labels='negbio', uncertain_policy='ones',
                      blank_policy='uncertain')
    ids = [e['img_id'] for e in ann['train']['data_list']]
    assert DICOM_LAT in ids and DICOM_BLANK not in ids     # blank view never kept
    labels = dict(zip(CHEXPERT_CLASSES, ann['train']['data_list'][0]['gt_label']))
    assert labels['Atelectasis'] == 1 and labels['Pneumonia'] == -1


def test_mimic_idempotent_same_bytes(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    _convert(root)
    path = osp.join(root, 'annotations', 'mimic_train.json')
    first = open(path, 'rb').read()
    _convert(root)
    assert open(path, 'rb').read() == first


def test_mimic_missing_image_rejected_and_named(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'), skip_images=(DICOM_HALF,))
    report, ann = _convert(root)
    assert report.counts['rejected'] == {'missing_image': 1}
    msg = report.examples['rejected', 'missing_image'][0]
    assert 'mimic-cxr-2.0.0-metadata.csv, row 2' in msg and DICOM_HALF in msg
    assert [e['img_id'] for e in ann['train']['data_list']] == [DICOM_FULL]


def test_mimic_malformed_and_unknown_rows_counted(tmp_path):
    bad = [['deadbeef-00000000-00000000-00000000-00000000', SUBJECT, STUDY_A, 'x',
            'PA', 60, 40, '2180', '1', 'x', 'x', 'x'],
           ['short-row', SUBJECT]]                          # wrong field count
    root = make_mimic(str(tmp_path / 'mimic'), metadata_extra=bad
                      + [[DICOM_FULL, SUBJECT, STUDY_A, 'x', 'PA', 'sixty', 40, '', '',
                          '', '', '']])
    # the short row is not the last one: a per-row error, not a truncated file
    with open(osp.join(root, 'mimic-cxr-2.0.0-metadata.csv'), 'a') as f:
        f.write(','.join([DICOM_VAL + 'x', SUBJECT, STUDY_A, 'x', 'LL', '1', '1',
                          '', '', '', '', '']) + '\n')
    report, _ = _convert(root)
    assert report.counts['rejected']['malformed_row'] == 1
    assert report.counts['rejected']['unknown_dicom_id'] == 1
    assert report.counts['rejected']['duplicated_dicom_id'] == 1
    assert 'row 7' in report.examples['rejected', 'malformed_row'][0]


def test_mimic_size_mismatch_rejected(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    # a JPG whose aspect ratio contradicts Rows x Columns (e.g. a wrong file)
    write_jpg(osp.join(root, jpg_rel(SUBJECT, STUDY_A, DICOM_FULL)), (40, 60))
    report, _ = _convert(root)
    assert report.counts['rejected'] == {'size_mismatch': 1}
    assert 'Rows x Columns = 60x40' in report.examples['rejected', 'size_mismatch'][0]


def test_mimic_structural_errors_stop(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    meta = osp.join(root, 'mimic-cxr-2.0.0-metadata.csv')
    text = open(meta).read()
    open(meta, 'w').write(text[:-20])           # cut in the middle of the last row
    with pytest.raises(ConversionError, match='metadata.csv: truncated file'):
        _convert(root)
    open(meta, 'w').write(text.replace('ViewPosition', 'View'))
    with pytest.raises(ConversionError,
                       match=r"missing column\(s\) \['ViewPosition'\]"):
        _convert(root)
    with gzip.open(meta + '.gz', 'wb') as f:    # a truncated .gz download
        f.write(text.encode())
    data = open(meta + '.gz', 'rb').read()
    shutil.os.remove(meta)
    open(meta + '.gz', 'wb').write(data[:len(data) // 2])
    with pytest.raises(ConversionError, match='metadata.csv.gz'):
        _convert(root)


def test_mimic_cli_report(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mimic_cli', osp.join(osp.dirname(__file__), '..', 'tools',
                              'dataset_converters', 'mimic_cxr_jpg.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    root = make_mimic(str(tmp_path / 'mimic'))
    report_json = str(tmp_path / 'report.json')
    assert cli.main([root, '--no-progress', '--report-json', report_json]) == 0
    out = capsys.readouterr().out
    assert 'images_train: 2' in out and 'view_LATERAL: 1' in out
    assert osp.isfile(osp.join(root, 'annotations', 'mimic_train.json'))
    assert osp.getsize(report_json) > 0
    assert cli.main([str(tmp_path / 'nowhere'), '--no-progress']) == 2
