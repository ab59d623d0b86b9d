"""mine_gaze_pairs tool, McGIP format reader and the FocusContrast crop."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

from gazeprior_mm.datasets.transforms.focus_crop import GazeFocusCrop
from gazeprior_mm.datasets.transforms.geometry import view_fixations
from gazeprior_mm.mining import mcgip_files as mcgip
from gazeprior_mm.mining.table import GazeNeighbours

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool():
    path = osp.join(ROOT, 'tools', 'analysis', 'mine_gaze_pairs.py')
    spec = importlib.util.spec_from_file_location('mine_gaze_pairs', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mine_tool_on_annotation_file(tmp_path, capsys):
    items = []
    for i in range(12):
        item = dict(img_path=f'{i}.png', img_id=f'a{i}', gt_label=[0] * 14)
        if i % 4:  # every 4th image has no gaze
            side = 20 if i % 2 else 80  # two gaze locations -> two groups
            item['gaze'] = dict(image_size=[100, 100], readers=[dict(
                reader='r', fixations=[[side + j, 50, 0.2] for j in range(4)])])
        items.append(item)
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(metainfo={}, data_list=items)))
    out = str(tmp_path / 'pairs.npz')
    summary = load_tool().main([str(ann), '--out', out, '--k', '3',
                                '--threshold', '0.5'])
    table = GazeNeighbours.load(out)
    assert summary['images'] == 12 and summary['with_gaze'] == 9
    for i in range(12):
        nbrs = table.neighbours_of(f'a{i}')
        if i % 4 == 0:
            assert nbrs == {}
        else:  # neighbours share the gaze side (same parity); odd: 6 images,
            # even: 3 (2, 6, 10), and the threshold removes the other side
            assert len(nbrs) == (3 if i % 2 else 2)
            assert all(int(n[1:]) % 2 == i % 2 and int(n[1:]) % 4 for n in nbrs)
    assert '"pairs": 24' in capsys.readouterr().out


def test_mcgip_fixation_filter_keeps_last_fixation():
    samples = np.array([[0, 0], [5, 5], [100, 100], [102, 101], [300, 10]])
    fix = mcgip.samples_to_fixations(samples, radius=40)
    np.testing.assert_allclose(fix, [[2.5, 2.5, 2], [101, 100.5, 2], [300, 10, 1]])


def test_mcgip_gaze_dir_and_relation(tmp_path):
    gaze_dir = tmp_path / 'gaze'
    gaze_dir.mkdir()
    for name, pts in (('img10', [[10, 10], [12, 11]]), ('img2', [[700, 700]]),
                      ('img1', [])):
        (gaze_dir / f'{name}.json').write_text(json.dumps(dict(gaze=pts)))
    ids, gazes = mcgip.read_mcgip_gaze_dir(str(gaze_dir))
    assert ids == ['img1', 'img2', 'img10']  # numeric, not lexicographic
    assert gazes[0] is None and gazes[1]['image_size'] == [800, 800]
    relation = np.array([[1.0, 0.96, 0.2], [0.96, 1.0, 0.99], [0.2, 0.99, 1.0]])
    table = mcgip.relation_to_neighbours(relation, ids, k=2, threshold=0.95)
    assert table.neighbours_of('img1') == pytest.approx({'img2': 0.96})
    assert table.neighbours_of('img2') == pytest.approx({'img10': 0.99, 'img1': 0.96})
    with pytest.raises(ValueError, match='out of sync'):
        mcgip.relation_to_neighbours(relation, ids[:2])
    bad = gaze_dir / 'bad.json'
    bad.write_text(json.dumps(dict(points=[])))
    names = tmp_path / 'names.txt'
    names.write_text('bad\n')
    with pytest.raises(ValueError, match='bad.json'):
        mcgip.read_mcgip_gaze_dir(str(gaze_dir), str(names))


def focus_results(fixations, shape=(64, 96)):
    from gazeprior_mm.datasets.transforms.gaze_heatmap import GazeHeatmap
    gaze = None if fixations is None else dict(
        image_size=list(shape),
        readers=[dict(reader='r', fixations=[[x, y, 0.3] for x, y in fixations])])
    results = dict(img=np.zeros(shape + (3, ), np.uint8), img_shape=shape,
                   has_gaze=gaze is not None, img_id='x', gaze=gaze)
    return GazeHeatmap(sigma=3)(results)


def test_focus_crop_keeps_gaze_share_and_records_box():
    np.random.seed(0)
    crop = GazeFocusCrop(scale=32, min_gaze_share=0.9, crop_ratio_range=(0.1, 0.5))
    for _ in range(20):
        out = crop(focus_results([(80, 15), (84, 20)]))
        assert out['gaze_crop_mass'] >= 0.9
        oh, ow, h, w = out['crop_params']
        box = out['gaze_geometry']['crop_box']
        np.testing.assert_allclose(box, [ow, oh, ow + w, oh + h])
        assert out['img'].shape[:2] == (32, 32)
        fix = view_fixations(out)
        assert np.all((fix > -0.5) & (fix < 31.5))  # the gaze stays in the view
    assert crop.num_fallback == 0 and crop.num_no_gaze == 0


def test_focus_crop_box_mass_matches_bruteforce():
    rng = np.random.default_rng(0)
    gaze_map = rng.random((20, 30))
    boxes = np.array([[0, 0, 20, 30], [3, 4, 5, 6], [10, 25, 10, 5]])
    mass = GazeFocusCrop.box_mass(gaze_map, boxes)
    expected = [gaze_map[y:y + h, x:x + w].sum() for y, x, h, w in boxes]
    np.testing.assert_allclose(mass, expected)


def test_focus_crop_fallbacks_are_counted():
    np.random.seed(1)
    # gaze in two opposite corners: no small crop holds 90 % of it
    crop = GazeFocusCrop(scale=16, min_gaze_share=0.9, crop_ratio_range=(0.05, 0.1))
    with pytest.warns(UserWarning, match='highest-mass'):
        out = crop(focus_results([(2, 2), (93, 61)]))
    assert crop.num_fallback == 1 and 0.05 < out['gaze_crop_mass'] < 0.9
    with pytest.warns(UserWarning, match='without gaze'):
        out = crop(focus_results(None))
    assert crop.num_no_gaze == 1 and out['img'].shape[:2] == (16, 16)
