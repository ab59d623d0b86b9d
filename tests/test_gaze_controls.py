"""Gaze controls (shuffled / oracle gaze) and the rule that a missing annotation
file never makes the synthetic generator write into somebody's data."""
import hashlib
import json
import os

import numpy as np
import pytest
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401
from gazeprior_mm.gaze.controls import (MIN_ORACLE_FIXATIONS, apply_gaze_control,
                                        oracle_gaze, shuffle_gaze)
from gazeprior_mm.mining.neighbours import read_annotation_gaze
from gazeprior_mm.registry import DATASETS

init_default_scope('mmpretrain')


def _rows(num=7, size=(100, 80)):
    rows = []
    for i in range(num):
        gaze = None if i == 2 else dict(
            image_size=list(size),
            readers=[dict(reader='a', fixations=[[i + 1.0, 2.0 * i, 0.2],
                                                 [5.0, 6.0 + i, 0.4]])])
        lesions = [dict(category='x', bbox=[10.0 + i, 20.0, 15.0, 30.0]),
                   dict(category='y', bbox=[50.0, 60.0, 5.0, 4.0])] \
            if i % 2 else []
        rows.append(dict(img_path=f'images/{i}.png', img_id=f'id{i}',
                         gt_label=[0] * 14, gaze=gaze, lesions=lesions))
    return rows


def _key(gaze):
    return json.dumps(gaze, sort_keys=True)


def test_shuffled_gaze_is_a_derangement_of_the_same_gaze():
    rows = _rows()
    out = shuffle_gaze(rows, seed=3)
    with_gaze = [i for i, r in enumerate(rows) if r['gaze']]
    # no image keeps its own gaze, every gaze is used once, no-gaze rows stay
    for i in with_gaze:
        assert _key(out[i]['gaze']) != _key(rows[i]['gaze'])
        assert out[i]['gaze_source_img_id'] != rows[i]['img_id']
    assert sorted(_key(out[i]['gaze']) for i in with_gaze) == \
        sorted(_key(rows[i]['gaze']) for i in with_gaze)
    assert out[2]['gaze'] is None
    # fixed per seed, different across seeds, input untouched
    assert [_key(r['gaze']) for r in shuffle_gaze(rows, 3)] == \
        [_key(r['gaze']) for r in out]
    assert [_key(r['gaze']) for r in shuffle_gaze(rows, 4)] != \
        [_key(r['gaze']) for r in out]
    assert rows == _rows()


def test_shuffled_gaze_is_rescaled_to_the_receiving_image():
    rows = _rows(2)
    rows[1]['gaze'] = dict(image_size=[200, 160], readers=[
        dict(reader='b', fixations=[[80.0, 100.0, 0.3]])])
    out = shuffle_gaze(rows, 0)
    # image 0 (100 x 80) gets image 1's fixation at half the coordinates
    assert out[0]['gaze']['image_size'] == [100, 80]
    assert out[0]['gaze']['readers'][0]['fixations'] == [[40.0, 50.0, 0.3]]
    assert out[1]['gaze']['image_size'] == [200, 160]


def test_oracle_fixations_lie_inside_the_lesion_boxes():
    rows = _rows()
    rows[3]['gaze'] = None  # read by nobody, with lesions: stays without gaze
    rows[5]['gaze'].pop('image_size')  # the size then comes from img_shape
    rows[5]['img_shape'] = [100, 80]
    out = oracle_gaze(rows, seed=0)
    for row, new in zip(rows, out):
        if not row['lesions'] or row['gaze'] is None:
            # normal images keep their gaze, images nobody read stay so
            assert new['gaze'] == row['gaze']
            continue
        fix = np.array(new['gaze']['readers'][0]['fixations'])
        assert len(fix) >= MIN_ORACLE_FIXATIONS
        boxes = np.array([les['bbox'] for les in row['lesions']])
        inside = ((fix[:, :1] >= boxes[:, 0]) & (fix[:, :1] <= boxes[:, 0]
                                                   + boxes[:, 2])
                  & (fix[:, 1:2] >= boxes[:, 1])
                  & (fix[:, 1:2] <= boxes[:, 1] + boxes[:, 3])).any(1)
        assert inside.all()
        assert new['gaze']['image_size'] == [100, 80]
    with pytest.raises(ValueError, match='lesion boxes'):
        oracle_gaze([dict(r, lesions=[]) for r in rows], 0)
    with pytest.raises(ValueError, match='gaze_control'):
        apply_gaze_control(rows, 'reversed')


def _write_root(root, rows):
    import cv2
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    for row in rows:
        cv2.imwrite(str(root / row['img_path']), np.zeros((100, 80), np.uint8))
    (root / 'annotations' / 'train.json').write_text(json.dumps(
        dict(metainfo=dict(), data_list=rows)))


def test_dataset_and_mcgip_mining_apply_the_same_control(tmp_path):
    rows = _rows()
    for row in rows:  # mining and dataset name images by img_path without it
        del row['img_id']
    _write_root(tmp_path, rows)
    ann = str(tmp_path / 'annotations' / 'train.json')
    dataset = DATASETS.build(dict(type='GazeCXRDataset', data_root=str(tmp_path),
                                  ann_file='annotations/train.json',
                                  gaze_control='shuffle', gaze_control_seed=5))
    ids, gazes = read_annotation_gaze(ann, 'shuffle', 5)
    expected = shuffle_gaze(rows, 5)
    assert ids == [r['img_path'] for r in rows]
    assert [_key(g) for g in gazes] == [_key(r['gaze']) for r in expected]
    for i, row in enumerate(expected):
        info = dataset.get_data_info(i)
        assert info['img_id'] == row['img_path']
        if row['gaze'] is None:
            assert not info['has_gaze']
        else:
            fixations = np.concatenate([np.asarray(r['fixations'])[:, :2]
                                        for r in row['gaze']['readers']])
            assert np.allclose(np.concatenate(
                [np.asarray(r['fixations'])[:, :2]
                 for r in info['gaze']['readers']]), fixations)
    with pytest.raises(ValueError, match='gaze_control'):
        DATASETS.build(dict(type='GazeCXRDataset', data_root=str(tmp_path),
                            ann_file='annotations/train.json',
                            gaze_control='mirror'))


def _tree_digest(root):
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(path.encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_missing_file_never_generates_into_user_data(tmp_path):
    _write_root(tmp_path, _rows())
    before = _tree_digest(tmp_path)
    from mmengine.config import Config

    from gazeprior_mm.datasets import prepare_synthetic_benchmark
    cfg = Config(dict(
        synthetic_benchmark=dict(data_root=str(tmp_path), num_images=10,
                                 img_size=64),
        val_dataloader=dict(dataset=dict(type='GazeCXRDataset',
                                         data_root=str(tmp_path),
                                         ann_file='annotations/val.json'))))
    with pytest.raises(FileNotFoundError, match='refusing to generate'):
        prepare_synthetic_benchmark(cfg)
    with pytest.warns(DeprecationWarning), \
            pytest.raises(FileNotFoundError, match='val.json not found'):
        DATASETS.build(dict(type='GazeCXRDataset', data_root=str(tmp_path),
                            ann_file='annotations/val.json',
                            synthetic=dict(num_images=10, img_size=64)))
    assert _tree_digest(tmp_path) == before


def test_mining_names_a_file_that_is_not_json(tmp_path):
    bad = tmp_path / 'train.yaml'
    bad.write_text('data_list: []\n')
    with pytest.raises(ValueError, match='train.yaml: not a JSON annotation'):
        read_annotation_gaze(str(bad))
