"""Bad input files: nothing runs code from a data file, and every error or drop
names the file (and row / image id) and says what is wrong (issue 16)."""
import json
import os
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import yaml

sys.path.insert(0, osp.dirname(__file__))
from _real_data_fixtures import (DICOM_FULL, DICOM_HALF, EGD_FIX_HEADER,  # noqa: E402
                                 SUBJECT, egd_row, make_chexpert, make_egd,
                                 make_mimic, make_reflacx, reflacx_fix_row)
from test_gaze_dataset import build, make_rows, write_dataset  # noqa: E402

from gazeprior_mm.datasets.converters import (  # noqa: E402
    ConversionError, convert_chexpert, convert_egd_cxr, convert_mimic_cxr_jpg,
    convert_reflacx, load_annotation_file, write_annotation_file)
from gazeprior_mm.datasets.converters.csv_stream import parse_int  # noqa: E402
from gazeprior_mm.datasets.gaze_cxr import AnnotationError  # noqa: E402
from gazeprior_mm.gaze.fusion import fuse_reader_fixations  # noqa: E402
from gazeprior_mm.gaze.heatmap import clean_fixations  # noqa: E402
from gazeprior_mm.registry import TRANSFORMS  # noqa: E402

SPLITS = ('train', 'validate', 'test')


# ------------------------------------------------------------ no code from data
class _TouchMarker:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _assert_payload_is_live(marker, unsafe_load):
    """The payload really runs when loaded unsafely (so the refusal below is what
    keeps the marker away); the marker is removed again."""
    unsafe_load()
    assert marker.exists()
    marker.unlink()


def test_pickle_annotation_file_is_refused_and_runs_no_code(tmp_path):
    write_dataset(tmp_path)
    marker = tmp_path / 'PWNED_BY_PICKLE'
    data = pickle.dumps(dict(metainfo={}, data_list=[_TouchMarker(marker)]))
    _assert_payload_is_live(marker, lambda: pickle.loads(data))
    (tmp_path / 'annotations' / 'train.pkl').write_bytes(data)
    with pytest.raises(AnnotationError, match=r'train\.pkl: annotation files must '
                       r'be JSON .*pickle.*refused'):
        build(tmp_path, ann_file='annotations/train.pkl')
    # pickle bytes behind a .json name are not JSON: refused, file named
    (tmp_path / 'annotations' / 'evil.json').write_bytes(data)
    with pytest.raises(AnnotationError, match=r'evil\.json: not (valid JSON|UTF-8)'):
        build(tmp_path, ann_file='annotations/evil.json')
    # the converters read annotation files as JSON only
    with pytest.raises(ConversionError, match=r'evil\.json: not'):
        load_annotation_file(str(tmp_path / 'annotations' / 'evil.json'))
    assert not marker.exists()


def test_yaml_payload_is_refused_and_safe_yaml_loads(tmp_path):
    ann = write_dataset(tmp_path)
    marker = tmp_path / 'PWNED_BY_YAML'
    text = f'!!python/object/apply:os.system ["touch {marker}"]\n'
    _assert_payload_is_live(marker, lambda: yaml.unsafe_load(text))
    (tmp_path / 'annotations' / 'evil.yaml').write_text(text)
    with pytest.raises(AnnotationError, match=r'evil\.yaml: not valid \(safe\) YAML'):
        build(tmp_path, ann_file='annotations/evil.yaml')
    assert not marker.exists()
    # plain YAML with the canonical content is still read
    (tmp_path / 'annotations' / 'train.yaml').write_text(
        yaml.safe_dump(json.loads(ann.read_text())))
    dataset = build(tmp_path, ann_file='annotations/train.yaml')
    assert len(dataset) == 4 and dataset.get_data_info(2)['img_id'] == 'syn-2'


def test_mcgip_neighbour_table_with_pickled_objects_is_refused(tmp_path):
    from gazeprior_mm.models.selfsup.mcgip import GazeNeighbourPositives
    marker = tmp_path / 'PWNED_BY_NPZ'
    path = tmp_path / 'neighbours.npz'
    with open(path, 'wb') as f:
        np.savez(f, img_ids=np.array([_TouchMarker(marker)], dtype=object),
                 indptr=np.zeros(2, np.int64), indices=np.zeros(0, np.int64),
                 values=np.zeros(0, np.float32), meta=np.asarray('{}'))

    def unsafe():
        with np.load(path, allow_pickle=True) as data:
            data['img_ids']
    _assert_payload_is_live(marker, unsafe)
    positives = GazeNeighbourPositives(neighbour_file=str(path))
    with pytest.raises(ValueError, match=r'neighbours\.npz: .*allow_pickle=False'):
        positives.rows([])  # first use loads the table
    assert not marker.exists()


# ------------------------------------------------------ dataset: errors name file
def test_malformed_annotation_json_names_the_file(tmp_path):
    ann = write_dataset(tmp_path)
    ann.write_text(ann.read_text()[:-40])  # truncated download
    with pytest.raises(AnnotationError,
                       match=r'train\.json: not valid JSON \(truncated\?\): .* line '
                       r'1, column \d+'):
        build(tmp_path)


@pytest.mark.parametrize('damage', ['zero_bytes', 'truncated_png'])
def test_undecodable_image_names_path_and_img_id(tmp_path, damage):
    write_dataset(tmp_path)
    image = tmp_path / 'images' / '002.png'
    data = image.read_bytes()
    image.write_bytes(b'' if damage == 'zero_bytes' else data[:len(data) // 2])
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile'),
                                        dict(type='GazeHeatmap')])
    assert dataset[1]['img'].shape[:2] == (48, 64)  # the other images load
    with pytest.raises(AnnotationError) as info:
        dataset[2]
    message = str(info.value)
    assert 'train.json, row 2: cannot load image ' in message
    assert str(image) in message and "(img_id 'syn-2')" in message
    assert info.value.__cause__ is not None  # OpenCV's / mmcv's error, chained


def test_failures_after_loading_are_not_relabelled(tmp_path):
    """Only load failures are wrapped: a later transform's error is unchanged."""
    write_dataset(tmp_path)
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile'),
                                        dict(type='GazeHeatmap')])
    dataset.pipeline.transforms.append(lambda results: results['no_such_key'])
    with pytest.raises(KeyError, match='no_such_key'):
        dataset[0]


def test_infinite_fixation_is_counted_as_inf_not_nan(tmp_path):
    fix = [[1, 2, 0.3], [np.inf, 1, 0.2], [1, -np.inf, 0.2], [1, 1, np.inf],
           [np.nan, 1, 0.2]]
    with pytest.warns(UserWarning, match=r"image 'img-3': dropped 4 of 5 fixations "
                      r'\(1 nan, 3 inf\)'):
        kept, counts = clean_fixations(fix, (10, 10), image_id='img-3')
    assert counts == dict(nan=1, inf=3, negative_duration=0, outside=0, kept=1)
    np.testing.assert_allclose(kept, [[1, 2, 0.3]])
    # through the dataset (JSON writes Infinity) and GazeHeatmap
    rows = make_rows()
    rows[0]['gaze']['readers'][0]['fixations'] = [[10, 20, 0.3], [np.inf, 2, 0.3]]
    write_dataset(tmp_path, rows)
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile'),
                                        dict(type='GazeHeatmap')])
    with pytest.warns(UserWarning, match=r"image 'syn-0'.*\(1 inf\)"):
        out = dataset[0]
    assert out['gaze_drop_counts']['inf'] == 1 and out['gaze_drop_counts']['nan'] == 0


def test_empty_data_list_is_an_empty_dataset(tmp_path):
    """What the converters write for an empty split loads as a dataset of length
    0 (not mmengine's 'need at least one array to concatenate')."""
    write_dataset(tmp_path)
    path = str(tmp_path / 'annotations' / 'empty.json')
    write_annotation_file(path, dict(classes=['Cardiomegaly', 'Edema']), [])
    dataset = build(tmp_path, ann_file='annotations/empty.json')
    assert len(dataset) == 0 and dataset.CLASSES == ('Cardiomegaly', 'Edema')
    assert dataset.get_gt_labels().shape == (0, 2)
    # nothing left after filtering is empty too
    assert len(build(tmp_path, filter_cfg=dict(split='test'))) == 0


# ----------------------------------------------------- GazeHeatmap: durations
def test_reader_without_durations_keeps_the_others_durations():
    with_dur = [[10., 10., 0.1], [30., 30., 0.3]]
    no_dur = [[20., 20.], [40., 40.]]
    transform = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0,
                                      render_map=False))
    out = transform(dict(img_shape=(48, 64), has_gaze=True, img_id='mixed',
                         gaze=dict(image_size=[48, 64], readers=[
                             dict(reader='a', fixations=np.array(with_dur)),
                             dict(reader='b', fixations=np.array(no_dur))])))
    # reader a: 0.5 * (0.25, 0.75); reader b (no durations): 0.5 * (0.5, 0.5)
    np.testing.assert_allclose(out['gaze_fixation_weights'],
                               [0.125, 0.375, 0.25, 0.25], rtol=1e-6)
    assert out['gaze_reader_index'].tolist() == [0, 0, 1, 1]
    _, weights, _ = fuse_reader_fixations([np.array(with_dur), np.array(no_dur)],
                                          (48, 64))
    np.testing.assert_allclose(weights, [0.125, 0.375, 0.25, 0.25], rtol=1e-6)


# ---------------------------------------------------------------- converters
def _mimic(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'), progress=False)
    return root


def _pairs(root):
    ann = osp.join(root, 'annotations')
    return [(osp.join(ann, f'mimic_{s}.json'), osp.join(ann, f'mimic_gaze_{s}.json'))
            for s in SPLITS]


def _gaze_entries(root):
    path = osp.join(root, 'annotations', 'mimic_gaze_train.json')
    with open(path) as f:  # strict JSON: NaN / Infinity would fail here
        ann = json.load(f, parse_constant=lambda c: pytest.fail(f'{c} in {path}'))
    return {e['img_id']: e for e in ann['data_list']}


def _load_cli(name):
    """A command of tools/dataset_converters as a module."""
    import importlib.util
    path = osp.join(osp.dirname(__file__), '..', 'tools', 'dataset_converters', name)
    spec = importlib.util.spec_from_file_location(name[:-3] + '_cli', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _append_bad_byte_row(path, row, pad_rows, pad_row):
    """Append ``pad_rows`` copies of ``pad_row`` (pushing the bad row past the
    first 8 kB read), then ``row`` with a Latin-1 degree sign (0xb0) in it.

    Returns:
        int: the 1-based data row number of the bad row.
    """
    with open(path, 'rb') as f:
        num_rows = f.read().count(b'\n') - 1  # no quoted newlines in these files
    with open(path, 'ab') as f:
        for _ in range(pad_rows):
            f.write((','.join(map(str, pad_row)) + '\n').encode())
        f.write((','.join(map(str, row)) + '\n').encode('latin-1'))
    assert osp.getsize(path) > 8192
    return num_rows + pad_rows + 1


def test_egd_non_utf8_byte_names_file_and_row_and_encoding_option(tmp_path,
                                                                   capsys):
    root = _mimic(tmp_path)
    egd_root = make_egd(str(tmp_path / 'egd'))
    fix_path = osp.join(egd_root, 'fixations.csv')
    pad = egd_row('1', DICOM_FULL, (0.5, 0.5), (5, 6), 0.25, cnt=70)
    bad = egd_row('1', DICOM_FULL, (0.5, 0.5), (5, 6), 0.25, cnt=71)
    bad[EGD_FIX_HEADER.index('MEDIA_ID')] = '12\xb0'
    row = _append_bad_byte_row(fix_path, bad, 80, pad)
    with pytest.raises(ConversionError) as info:
        convert_egd_cxr(egd_root, _pairs(root), progress=False)
    assert f'fixations.csv, row {row} (line {row + 1}): bytes not decodable as ' \
        'utf-8' in str(info.value) and '--encoding' in str(info.value)
    report = convert_egd_cxr(egd_root, _pairs(root), progress=False,
                             encoding='latin-1')
    assert report.counts['written']['gaze_sets_attached'] == 2
    # the command line: exit 2 with the file named, then --encoding
    egd_cli = _load_cli('egd_cxr.py')
    argv = [egd_root, '--ann-dir', osp.join(root, 'annotations'), '--no-progress']
    assert egd_cli.main(argv) == 2
    assert f'fixations.csv, row {row}' in capsys.readouterr().err
    assert egd_cli.main(argv + ['--encoding', 'latin-1']) == 0
    with pytest.raises(SystemExit):
        egd_cli.main(argv + ['--encoding', 'no-such-codec'])
    assert "unknown text encoding 'no-such-codec'" in capsys.readouterr().err


def test_reflacx_non_utf8_byte_names_file_and_row(tmp_path):
    root = _mimic(tmp_path)
    ref_root = make_reflacx(str(tmp_path / 'reflacx'))
    meta = osp.join(ref_root, 'main_data', 'metadata_phase_1.csv')
    with open(meta, 'rb') as f:
        last = f.read().decode().rstrip('\r\n').rsplit('\r\n', 1)[1].split(',')
    bad = list(last)
    bad[0] = 'P102R000009'
    bad[3] = 'physionet\xb0'
    row = _append_bad_byte_row(meta, bad, 80, last)
    with pytest.raises(ConversionError,
                       match=rf'metadata_phase_1\.csv, row {row} \(line {row + 1}\)'):
        convert_reflacx(ref_root, _pairs(root), progress=False)
    report = convert_reflacx(ref_root, _pairs(root), progress=False,
                             encoding='cp1252')
    assert report.counts['rejected']['duplicated_reading'] == 80
    assert report.counts['written']['gaze_sets_attached'] == 2


def test_mimic_and_chexpert_non_utf8_byte_names_file_and_row(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    meta = osp.join(root, 'mimic-cxr-2.0.0-metadata.csv')
    pad = ['00000000-00000000-00000000-00000000-00000000', SUBJECT, '50414267',
           'x', 'LATERAL', 60, 40, '', '', '', '', '']
    bad = list(pad)
    bad[3] = 'CHEST\xb0'
    row = _append_bad_byte_row(meta, bad, 200, pad)
    with pytest.raises(ConversionError,
                       match=rf'metadata\.csv, row {row} \(line {row + 1}\): bytes '
                       'not decodable as utf-8'):
        convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'), progress=False)
    report = convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'),
                                   progress=False, encoding='latin-1')
    assert report.counts['written']['images_train'] == 2
    mimic_cli = _load_cli('mimic_cxr_jpg.py')
    assert mimic_cli.main([root, '--no-progress']) == 2
    assert mimic_cli.main([root, '--no-progress', '--encoding', 'latin-1']) == 0

    chex = make_chexpert(str(tmp_path / 'chexpert'))
    train = osp.join(chex, 'train.csv')
    with open(train) as f:
        lines = f.read().splitlines()
    pad = lines[2].split(',')  # the lateral row: skipped, never an image
    bad = list(pad)
    bad[1] = 'F\xe9male'
    row = _append_bad_byte_row(train, bad, 200, pad)
    with pytest.raises(ConversionError, match=rf'train\.csv, row {row} '):
        convert_chexpert(chex, osp.join(chex, 'annotations'), progress=False)
    report = convert_chexpert(chex, osp.join(chex, 'annotations'), progress=False,
                              encoding='latin-1')
    assert report.counts['written']['images_train'] == 2
    chexpert_cli = _load_cli('chexpert.py')
    assert chexpert_cli.main([chex, '--no-progress']) == 2
    assert chexpert_cli.main([chex, '--no-progress', '--encoding', 'latin-1']) == 0


def test_nonfinite_fixation_durations_are_dropped_and_counted(tmp_path):
    root = _mimic(tmp_path)
    extra = [egd_row('1', DICOM_FULL, (0.5, 0.5), (7, 8), 'nan', cnt=61),
             egd_row('1', DICOM_FULL, (0.5, 0.5), (7, 9), 'inf', cnt=62),
             egd_row('1', DICOM_FULL, (0.5, 0.5), ('nan', 9), 0.3, cnt=63)]
    egd_root = make_egd(str(tmp_path / 'egd'), extra_fix_rows=extra)
    report = convert_egd_cxr(egd_root, _pairs(root), progress=False)
    assert report.counts['dropped']['nonfinite_duration'] == 2
    assert report.counts['dropped']['nonfinite_coordinate'] == 1
    fixations = np.array(_gaze_entries(root)[DICOM_FULL]['gaze']['readers'][0]
                         ['fixations'])
    assert fixations.shape == (1, 3) and np.isfinite(fixations).all()

    ref_root = make_reflacx(str(tmp_path / 'reflacx'), fixations=[
        reflacx_fix_row(0.1, 0.35, 30, 100),
        reflacx_fix_row(0.4, 'inf', 30, 100),
        reflacx_fix_row('nan', 0.9, 30, 100)])
    report = convert_reflacx(ref_root, [(p[1], p[1]) for p in _pairs(root)],
                             progress=False)
    assert report.counts['dropped']['nonfinite_duration'] == 4  # 2 per reading
    for reader, fix in ((r['reader'], np.array(r['fixations'])) for r in
                        _gaze_entries(root)[DICOM_HALF]['gaze']['readers']):
        assert np.isfinite(fix).all(), reader
        if reader != 'egd':
            assert fix.shape == (1, 3)


def test_reflacx_image_size_zero_or_fractional_is_rejected_integral_float_ok(
        tmp_path):
    root = _mimic(tmp_path)
    ref_root = make_reflacx(str(tmp_path / 'reflacx'), readings=[
        ('P102R000001', 'train', 'False', DICOM_HALF),
        ('P102R000002', 'train', 'False', DICOM_HALF),
        ('P102R000004', 'train', 'False', DICOM_HALF)])
    meta = osp.join(ref_root, 'main_data', 'metadata_phase_1.csv')
    with open(meta, newline='') as f:
        text = f.read()
    lines = text.split('\r\n')
    lines[1] = lines[1].replace(',80,120,', ',0,120,')       # image_size_x = 0
    lines[2] = lines[2].replace(',80,120,', ',80.5,120,')    # not an integer
    lines[3] = lines[3].replace(',80,120,', ',80.0,120.0,')  # integral: accepted
    with open(meta, 'w', newline='') as f:
        f.write('\r\n'.join(lines))
    report = convert_reflacx(ref_root, _pairs(root), progress=False)
    assert report.counts['rejected']['malformed_row'] == 2
    messages = report.examples['rejected', 'malformed_row']
    assert messages[0].startswith(f'{meta}, row 1: dicom_id {DICOM_HALF}: '
                                  "image_size_x/y '0'/'120' must be positive")
    assert messages[1] == (f"{meta}, row 2: column 'image_size_x' is not an "
                           "integer: '80.5'")
    readers = [r['reader'] for r in _gaze_entries(root)[DICOM_HALF]['gaze']
               ['readers']]
    assert readers == ['P102R000004']


def test_mimic_rows_columns_integral_floats_accepted_fractions_rejected(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    meta = osp.join(root, 'mimic-cxr-2.0.0-metadata.csv')
    with open(meta) as f:
        text = f.read()
    text = text.replace(f'{DICOM_FULL},{SUBJECT},50414267,CHEST (PA AND LAT),PA,60,40',
                        f'{DICOM_FULL},{SUBJECT},50414267,CHEST (PA AND LAT),PA,'
                        '60.0,40.0')
    text = text.replace('AP,120,80', 'AP,120.5,80')
    with open(meta, 'w') as f:
        f.write(text)
    report = convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'),
                                   progress=False)
    assert report.counts['rejected'] == {'malformed_row': 1}
    assert report.examples['rejected', 'malformed_row'] == [
        f"{meta}, row 2: dicom_id {DICOM_HALF}: column 'Rows' is not an integer: "
        "'120.5'"]
    train = load_annotation_file(osp.join(root, 'annotations', 'mimic_train.json'))
    assert [(e['img_id'], e['dicom_shape']) for e in train['data_list']] == \
        [(DICOM_FULL, [60, 40])]


@pytest.mark.parametrize('value,expected', [
    ('3056', 3056), (' 3056.0 ', 3056), ('3.056e3', 3056), ('0', 0)])
def test_parse_int_accepts_integral_values(value, expected):
    assert parse_int(value, 'Rows') == expected


@pytest.mark.parametrize('value', ['3056.5', '', 'nan', 'inf', 'x3056'])
def test_parse_int_rejects_the_rest_naming_column_and_value(value):
    with pytest.raises(ValueError, match=f"column 'Rows' is not an integer: "
                       f'{value!r}'):
        parse_int(value, 'Rows')


def test_mimic_messages_name_dicom_ids_not_patients(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    labels = osp.join(root, 'mimic-cxr-2.0.0-chexpert.csv')
    with open(labels) as f:
        lines = f.read().splitlines()
    with open(labels, 'w') as f:  # drop study B's labels, list study A twice
        f.write('\n'.join([lines[0], lines[1], lines[1]]) + '\n')
    report = convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'),
                                   progress=False)
    note = report.examples['notes', 'images_without_label_row_(blank_labels)']
    duplicated = report.examples['rejected', 'duplicated_study']
    assert note and duplicated
    assert 'dicom_id fffabebf' in note[0]
    assert 'study_id 50414267' in duplicated[0]
    report = convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'),
                                   progress=False, require_labels=True)
    rejected = report.examples['rejected', 'no_label_row']
    assert 'dicom_id fffabebf' in rejected[0]
    for message in note + duplicated + rejected:
        assert SUBJECT not in message, message
