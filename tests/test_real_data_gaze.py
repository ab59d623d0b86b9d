"""EGD-CXR and REFLACX gaze converters: format-faithful fixtures -> gaze attached to the
MIMIC images, coordinates mapped to the stored JPG's grid, loaded by GazeCXRDataset."""
import os
import os.path as osp

import numpy as np
import pytest
from _real_data_fixtures import (DICOM_FULL, DICOM_HALF, DICOM_VAL, EGD_FIX_HEADER,
                                 EGD_PADS, MARK_XY, egd_fpog_for, egd_row, make_egd,
                                 make_mimic, make_reflacx, reflacx_fix_row, write_csv)
from pycocotools import mask as mask_utils

from gazeprior_mm.datasets import GazeCXRDataset
from gazeprior_mm.datasets.converters import (ConversionError, convert_egd_cxr,
                                              convert_mimic_cxr_jpg, convert_reflacx,
                                              load_annotation_file)
from gazeprior_mm.gaze.formats import map_points_to_grid
from gazeprior_mm.gaze.formats.egd import egd_screen_to_dicom

SPLITS = ('train', 'validate', 'test')


def _mimic(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'), progress=False)
    return root


def _pairs(root, src='mimic', dst='mimic_gaze'):
    ann = osp.join(root, 'annotations')
    return [(osp.join(ann, f'{src}_{s}.json'), osp.join(ann, f'{dst}_{s}.json'))
            for s in SPLITS]


def _entries(root, split='train', prefix='mimic_gaze'):
    ann = load_annotation_file(osp.join(root, 'annotations', f'{prefix}_{split}.json'))
    return {e['img_id']: e for e in ann['data_list']}


def _readers(entry):
    return {r['reader']: np.array(r['fixations']) for r in entry['gaze']['readers']}


def test_egd_official_mapping_reproduces_sample_row():
    # data_formats.md §1.1: 2544 x 3056 DICOM, pads (0, 0, 534, 534)
    xy = egd_screen_to_dicom([[0.45224, 0.33879], [0.1, 0.5]], (0, 0, 534, 534),
                             (3056, 2544))
    np.testing.assert_array_equal(xy, [[998, 1035], [-2, -2]])


def test_map_points_to_grid_aligns_pixel_edges():
    pts = map_points_to_grid([[0, 0, 0.3], [79, 119, 0.1], [30, 100, 1.0]],
                             (120, 80), (60, 40))
    np.testing.assert_allclose(pts, [[-0.25, -0.25, 0.3], [39.25, 59.25, 0.1],
                                     [14.75, 49.75, 1.0]])


def test_egd_to_jpg_pixel_through_dataset_and_heatmap(tmp_path):
    root = _mimic(tmp_path)
    egd_root = make_egd(str(tmp_path / 'egd'), old_pad_names=True)  # older spelling
    report = convert_egd_cxr(egd_root, _pairs(root), progress=False)
    # FPOGX/FPOGY + pads -> X_ORIGINAL = the marked DICOM pixel
    fpog = egd_fpog_for(MARK_XY, (120, 80))
    assert tuple(egd_screen_to_dicom([fpog], EGD_PADS, (120, 80))[0]) == MARK_XY
    assert report.counts['dropped'] == {'calibration_or_unknown_dicom_id': 1,
                                        'invalid_fpogv': 1, 'off_image_negative': 1}
    assert report.counts['written']['gaze_sets_attached'] == 2
    assert report.total('rejected') == 0
    entries = _entries(root)
    half = entries[DICOM_HALF]
    assert half['gaze']['image_size'] == [60, 40]
    fix = _readers(half)['egd']
    assert fix.shape == (2, 3) and fix[0, 2] == pytest.approx(0.4)
    # DICOM (30, 100) on the 120 x 80 grid -> JPG (14.75, 49.75) -> pixel (15, 50)
    np.testing.assert_allclose(fix[0, :2], [14.75, 49.75])
    assert [a['name'] for a in half['anatomy']] == ['right lung', 'cardiac silhouette']
    np.testing.assert_allclose(half['anatomy'][0]['bbox'], [4.75, 9.75, 14.0, 40.0])
    np.testing.assert_allclose(_readers(entries[DICOM_FULL])['egd'], [[5, 6, 0.25]])
    # through the dataset and GazeHeatmap: the fixation lands on the bright mark
    ds = GazeCXRDataset(
        ann_file='annotations/mimic_gaze_train.json', data_root=root,
        check_image_size='eager',
        pipeline=[dict(type='LoadImageFromFile', color_type='grayscale'),
                  dict(type='GazeHeatmap', sigma=1.0, duration_weighted=True)])
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))].index(DICOM_HALF)
    out = ds[idx]
    x, y = np.rint(out['gaze_fixations'][0]).astype(int)
    assert (x, y) == (15, 50)
    assert out['img'][y, x] > 200 and np.median(out['img']) < 80
    peak = np.unravel_index(np.argmax(out['gaze_map']), out['gaze_map'].shape)
    assert tuple(peak) == (50, 15)


def test_reflacx_readers_lesions_and_combination_with_egd(tmp_path):
    root = _mimic(tmp_path)
    convert_egd_cxr(make_egd(str(tmp_path / 'egd')), _pairs(root), progress=False)
    refl = make_reflacx(str(tmp_path / 'reflacx'))
    report = convert_reflacx(refl, _pairs(root, 'mimic_gaze', 'mimic_gaze'),
                             progress=False)
    assert report.counts['skipped']['eye_tracking_data_discarded'] == 1
    assert report.counts['dropped'] == {'outside_shown_rect': 2, 'outside_image': 2,
                                        'nonpositive_duration': 2}
    half = _entries(root)[DICOM_HALF]
    readers = _readers(half)
    assert sorted(readers) == ['P102R000001', 'P102R000002', 'egd']
    # DICOM px (30, 100) -> JPG (14.75, 49.75); duration = end - start
    np.testing.assert_allclose(readers['P102R000001'], [[14.75, 49.75, 0.25]])
    # certainty 4 ellipse kept (one per reader), certainty 2 skipped
    assert [(les['category'], les['reader']) for les in half['lesions']] == [
        ('Nodule', 'P102R000001'), ('Nodule', 'P102R000002')]
    lesion = half['lesions'][0]
    np.testing.assert_allclose(lesion['bbox'], [9.75, 39.75, 10.0, 20.0])
    mask = mask_utils.decode(dict(lesion['segmentation'],
                                  counts=lesion['segmentation']['counts'].encode()))
    assert mask.shape == (60, 40) and mask[50, 15] == 1 and mask[5, 5] == 0
    rows, cols = np.nonzero(mask)
    assert 39 <= rows.min() and rows.max() <= 60
    assert 9 <= cols.min() and cols.max() <= 20
    ds = GazeCXRDataset(ann_file='annotations/mimic_gaze_train.json', data_root=root)
    info = [ds.get_data_info(i) for i in range(len(ds))]
    assert {i['img_id']: len(i['gaze']['readers']) for i in info} == {
        DICOM_FULL: 1, DICOM_HALF: 3}


def test_gaze_attach_idempotent_in_place(tmp_path):
    root = _mimic(tmp_path)
    egd_root = make_egd(str(tmp_path / 'egd'))
    refl = make_reflacx(str(tmp_path / 'reflacx'))
    path = osp.join(root, 'annotations', 'mimic_gaze_train.json')
    convert_egd_cxr(egd_root, _pairs(root), progress=False)
    convert_reflacx(refl, _pairs(root, 'mimic_gaze', 'mimic_gaze'), progress=False)
    first = open(path, 'rb').read()
    convert_reflacx(refl, _pairs(root, 'mimic_gaze', 'mimic_gaze'), progress=False)
    assert open(path, 'rb').read() == first
    convert_egd_cxr(egd_root, _pairs(root, 'mimic_gaze', 'mimic_gaze'), progress=False)
    assert open(path, 'rb').read() == first


def test_only_with_gaze(tmp_path):
    root = _mimic(tmp_path)
    convert_reflacx(make_reflacx(str(tmp_path / 'reflacx')), _pairs(root),
                    only_with_gaze=True, progress=False)
    assert list(_entries(root)) == [DICOM_HALF]
    assert _entries(root, 'validate') == {}


def test_reflacx_duplicated_and_unknown_and_missing(tmp_path):
    root = _mimic(tmp_path)
    unknown = 'abcdef01-abcdef01-abcdef01-abcdef01-abcdef01'
    refl = make_reflacx(str(tmp_path / 'reflacx'), readings=[
        ('P102R000001', 'train', 'False', DICOM_HALF),
        ('P102R000001', 'train', 'False', DICOM_HALF),    # duplicated reading
        ('P102R000004', 'train', 'False', unknown),       # not a MIMIC image here
        ('P102R000005', 'validate', 'False', DICOM_VAL)])
    os.remove(osp.join(refl, 'main_data', 'P102R000005', 'fixations.csv'))
    report = convert_reflacx(refl, _pairs(root), progress=False)
    rej = report.counts['rejected']
    assert rej == {'duplicated_reading': 1, 'unknown_dicom_id': 1,
                   'missing_fixations_file': 1}
    ex = report.examples
    assert 'metadata_phase_1.csv, row 2' in ex['rejected', 'duplicated_reading'][0]
    assert unknown in ex['rejected', 'unknown_dicom_id'][0]
    assert 'row 3' in ex['rejected', 'unknown_dicom_id'][0]
    assert 'P102R000005' in ex['rejected', 'missing_fixations_file'][0]
    assert sorted(_readers(_entries(root)[DICOM_HALF])) == ['P102R000001']


def test_reflacx_malformed_and_truncated_fixation_files(tmp_path):
    root = _mimic(tmp_path)
    rows = [reflacx_fix_row(0.1, 0.3, *MARK_XY), ['oops'] + reflacx_fix_row(
        0.4, 0.5, 5, 5)[1:], reflacx_fix_row(0.6, 0.9, 20, 30)]
    refl = make_reflacx(str(tmp_path / 'reflacx'), fixations=rows, ellipses=False,
                        readings=[('P102R000001', 'train', 'False', DICOM_HALF),
                                  ('P102R000002', 'train', 'False', DICOM_HALF)])
    trunc = osp.join(refl, 'main_data', 'P102R000002', 'fixations.csv')
    text = open(trunc, newline='').read()
    open(trunc, 'w', newline='').write(text[:-9])
    report = convert_reflacx(refl, _pairs(root), progress=False)
    assert report.counts['rejected']['malformed_row'] == 2   # one in each file
    assert report.examples['rejected', 'malformed_row'][0].endswith(
        "P102R000001/fixations.csv, row 2: column 'timestamp_start_fixation' is not "
        "a number: 'oops'")
    assert report.counts['rejected']['unreadable_reading_file'] == 1
    assert 'truncated' in report.examples['rejected', 'unreadable_reading_file'][0]
    assert len(_readers(_entries(root)[DICOM_HALF])['P102R000001']) == 2


def test_egd_duplicated_session_outside_image_and_structural(tmp_path):
    root = _mimic(tmp_path)
    size = (120, 80)
    extra = [egd_row('2', DICOM_HALF, egd_fpog_for((1, 1), size), (1, 1), cnt=70),
             egd_row('1', DICOM_HALF, (0.9, 0.9), (80, 130), cnt=80)]  # beyond 80x120
    egd_root = make_egd(str(tmp_path / 'egd'), extra_fix_rows=extra)
    report = convert_egd_cxr(egd_root, _pairs(root), progress=False)
    assert report.counts['rejected'] == {'duplicated_reading': 1}
    assert 'fixations.csv, row 7' in \
        report.examples['rejected', 'duplicated_reading'][0]
    assert report.counts['dropped']['outside_image'] == 1
    assert len(_readers(_entries(root)[DICOM_HALF])['egd']) == 2
    # structural: a missing column and a truncated fixations.csv stop the conversion
    fix_path = osp.join(egd_root, 'fixations.csv')
    header = [c if c != 'FPOGD' else 'DUR' for c in EGD_FIX_HEADER]
    write_csv(fix_path, header, [])
    with pytest.raises(ConversionError, match=r"fixations.csv: missing column.*FPOGD"):
        convert_egd_cxr(egd_root, _pairs(root), progress=False)
    make_egd(egd_root)
    text = open(fix_path).read()
    open(fix_path, 'w').write(text[:-30])
    with pytest.raises(ConversionError, match='fixations.csv: truncated file'):
        convert_egd_cxr(egd_root, _pairs(root), progress=False)
    with pytest.raises(ConversionError, match='annotation file not found'):
        convert_egd_cxr(make_egd(egd_root), _pairs(root, 'nothing'), progress=False)


def test_ellipse_mask_matches_definition_inside_and_across_borders():
    from gazeprior_mm.gaze.formats.reflacx import ellipse_mask
    rows, cols = np.mgrid[0:30, 0:20]
    for box in [(2, 3, 12, 25), (-6, -4, 8, 10), (15, 20, 40, 50), (5, 5, 5, 5)]:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        a = max((box[2] - box[0]) / 2, 0.5)
        b = max((box[3] - box[1]) / 2, 0.5)
        expected = ((cols - cx) / a) ** 2 + ((rows - cy) / b) ** 2 <= 1
        mask = ellipse_mask(box, (30, 20))
        np.testing.assert_array_equal(mask, expected)
        assert mask.any()
    assert not ellipse_mask((40, 40, 50, 50), (30, 20)).any()


def test_gaze_cli_commands(tmp_path, capsys):
    import importlib.util
    tools = osp.join(osp.dirname(__file__), '..', 'tools', 'dataset_converters')

    def load(name):
        spec = importlib.util.spec_from_file_location(name, osp.join(tools, name))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    root = _mimic(tmp_path)
    ann = osp.join(root, 'annotations')
    egd_cli, refl_cli = load('egd_cxr.py'), load('reflacx.py')
    assert egd_cli.main([make_egd(str(tmp_path / 'egd')), '--ann-dir', ann,
                         '--no-progress']) == 0
    assert refl_cli.main([make_reflacx(str(tmp_path / 'reflacx')), '--ann-dir', ann,
                          '--src-prefix', 'mimic_gaze', '--no-progress',
                          '--only-with-gaze', '--splits', 'train']) == 0
    out = capsys.readouterr().out
    assert 'EGD-CXR: conversion report' in out and 'invalid_fpogv: 1' in out
    assert 'eye_tracking_data_discarded: 1' in out
    assert sorted(_entries(root)) == sorted([DICOM_FULL, DICOM_HALF])
    assert refl_cli.main([str(tmp_path / 'nowhere'), '--ann-dir', ann,
                          '--no-progress']) == 2
    assert 'no main_data/metadata_phase' in capsys.readouterr().err


def test_downscaled_copies_and_gaze_on_their_grid(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    small = str(tmp_path / 'mimic_30')
    ann = osp.join(small, 'annotations')
    report = convert_mimic_cxr_jpg(root, ann, image_out=small, max_side=30,
                                   progress=False)
    assert report.counts['written']['resized_copies_written'] == 3
    again = convert_mimic_cxr_jpg(root, ann, image_out=small, max_side=30,
                                  progress=False)
    assert again.counts['written']['resized_copies_up_to_date'] == 3
    convert_egd_cxr(make_egd(str(tmp_path / 'egd')),
                    [(osp.join(ann, 'mimic_train.json'),
                      osp.join(ann, 'mimic_gaze_train.json'))], progress=False)
    entry = _entries(small)[DICOM_HALF]
    assert entry['img_shape'] == [30, 20] and entry['dicom_shape'] == [120, 80]
    # DICOM (30, 100) on 120 x 80 -> (7.125, 24.625) on 30 x 20 -> pixel (7, 25)
    np.testing.assert_allclose(_readers(entry)['egd'][0, :2], [7.125, 24.625])
    ds = GazeCXRDataset(ann_file='annotations/mimic_gaze_train.json', data_root=small,
                        check_image_size='eager',
                        pipeline=[dict(type='LoadImageFromFile',
                                       color_type='grayscale')])
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))].index(DICOM_HALF)
    img = ds[idx]['img']
    assert img.shape == (30, 20) and img[25, 7] > 100 and np.median(img) < 80


def test_reflacx_size_disagreeing_with_metadata_is_noted(tmp_path):
    root = _mimic(tmp_path)
    refl = make_reflacx(str(tmp_path / 'reflacx'),
                        readings=[('P102R000001', 'train', 'False', DICOM_FULL)])
    # the fixture's REFLACX size is 120 x 80; DICOM_FULL's metadata says 60 x 40
    report = convert_reflacx(refl, _pairs(root), progress=False)
    assert report.counts['notes']['gaze_grid_differs_from_metadata_rows_columns'] == 1
    # the gaze file's own grid is used: DICOM (30, 100) on 120 x 80 -> JPG 60 x 40
    np.testing.assert_allclose(_readers(_entries(root)[DICOM_FULL])['P102R000001'],
                               [[14.75, 49.75, 0.25]])


def test_kept_readers_follow_a_changed_image_size(tmp_path):
    from gazeprior_mm.datasets.converters import write_annotation_file
    root = _mimic(tmp_path)
    convert_egd_cxr(make_egd(str(tmp_path / 'egd')), _pairs(root), progress=False)
    path = osp.join(root, 'annotations', 'mimic_gaze_train.json')
    ann = load_annotation_file(path)
    for entry in ann['data_list']:
        entry['img_shape'] = [30, 20]          # e.g. images replaced by smaller copies
    write_annotation_file(path, ann['metainfo'], ann['data_list'])
    report = convert_reflacx(make_reflacx(str(tmp_path / 'reflacx')),
                             _pairs(root, 'mimic_gaze', 'mimic_gaze'), progress=False)
    assert report.counts['notes']['kept_readers_rescaled_to_new_image_size'] == 1
    half = _entries(root)[DICOM_HALF]
    assert half['gaze']['image_size'] == [30, 20]
    readers = _readers(half)
    # both sources agree on the marked pixel in the new grid
    np.testing.assert_allclose(readers['egd'][0, :2], [7.125, 24.625])
    np.testing.assert_allclose(readers['P102R000001'][0, :2], [7.125, 24.625])
