"""Synthetic chest-X-ray + gaze benchmark: contract format, determinism, gaze and
image realism (against the real RG1 radiograph), presets, CLI."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pydicom.data import get_testdata_file

from gazeprior_mm.datasets import CHEXPERT_CLASSES, GazeCXRDataset
from gazeprior_mm.datasets.dicom import read_dicom_image
from gazeprior_mm.datasets.synthetic import (ACTIVE_CLASSES, SPLIT_NAMES,
                                             generate_synthetic_cxr,
                                             render_synthetic_image)
from gazeprior_mm.datasets.synthetic_parts.stats import gaze_lesion_ncc, psd_slope

SMALL = dict(num_images=40, img_size=64, seed=0)


def load_rows(out_dir):
    rows = []
    for name in SPLIT_NAMES:
        with open(osp.join(out_dir, 'annotations', f'{name}.json')) as f:
            ann = json.load(f)
        assert ann['metainfo']['classes'] == list(CHEXPERT_CLASSES)
        assert all(r['split'] == name for r in ann['data_list'])
        rows += ann['data_list']
    return rows


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('syn_small'))
    return out, generate_synthetic_cxr(out, **SMALL)


def test_contract_format(small):
    out, summary = small
    rows = load_rows(out)
    assert len(rows) == 40 and summary['splits'] == dict(train=28, val=6, test=6)
    assert len({r['img_id'] for r in rows}) == 40
    idx = {c: k for k, c in enumerate(CHEXPERT_CLASSES)}
    inactive = [idx[c] for c in CHEXPERT_CLASSES if c not in ACTIVE_CLASSES]
    num_gaze = num_lesions = 0
    for row in rows:
        img = cv2.imread(osp.join(out, row['img_path']), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape == (64, 64) == tuple(row['img_shape'])
        label = np.array(row['gt_label'])
        assert label.shape == (14,) and set(label) <= {-1, 0, 1}
        assert (label[inactive] == 0).all()
        # No Finding iff nothing else is positive or uncertain
        assert label[0] == int(not label[1:].any())
        if row['split'] != 'train':
            assert (label >= 0).all()
        cats = {les['label'] for les in row['lesions']}
        for les in row['lesions']:
            x, y, w, h = les['bbox']
            assert isinstance(les['segmentation']['counts'], str)
            m = mask_utils.decode(dict(size=les['segmentation']['size'],
                                       counts=les['segmentation']['counts'].encode()))
            ys, xs = np.nonzero(m)
            assert m.sum() == les['area'] > 0
            assert (xs.min(), ys.min(), xs.max() + 1 - x, ys.max() + 1 - y) == (
                x, y, w, h)
            assert label[idx[les['label']]] != 0  # positive (or -1 in train)
        for c in cats:
            assert c in CHEXPERT_CLASSES
        num_lesions += len(row['lesions'])
        if row['gaze'] is not None:
            num_gaze += 1
            assert row['gaze']['image_size'] == [64, 64]
            assert [r['reader'] for r in row['gaze']['readers']] == ['r1', 'r2', 'r3']
            for reader in row['gaze']['readers']:
                fix = np.array(reader['fixations'])
                assert fix.ndim == 2 and fix.shape[1] == 3 and len(fix) >= 8
                assert (fix[:, 2] > 0).all()
                attended = reader['attended_lesions']
                assert all(0 <= k < len(row['lesions']) for k in attended)
    assert summary['images_with_gaze'] == num_gaze and 0 < num_gaze < 40
    coco = COCO(osp.join(out, 'annotations', 'lesions_coco.json'))
    assert len(coco.getAnnIds()) == num_lesions > 0
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert coco.annToMask(ann).sum() == ann['area']
    assert len(coco.getImgIds()) == 40 and len(coco.getCatIds()) == 7
    # the project's dataset reads it
    ds = GazeCXRDataset(ann_file='annotations/train.json', data_root=out,
                        check_image_size='eager')
    assert len(ds) == 28 and any(ds[i]['has_gaze'] for i in range(len(ds)))


def test_deterministic_per_seed(small, tmp_path):
    out, _ = small
    again = str(tmp_path / 'again')
    generate_synthetic_cxr(again, **SMALL)
    for name in ('train.json', 'val.json', 'test.json', 'lesions_coco.json'):
        assert filecmp.cmp(osp.join(out, 'annotations', name),
                           osp.join(again, 'annotations', name), shallow=False)
    for i in range(40):
        assert filecmp.cmp(osp.join(out, f'images/{i:06d}.png'),
                           osp.join(again, f'images/{i:06d}.png'), shallow=False)
    # image i does not depend on how many images are generated
    img = cv2.imread(osp.join(out, 'images/000007.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img, render_synthetic_image(0, 7, 64)[0])
    other = str(tmp_path / 'other')
    generate_synthetic_cxr(other, num_images=6, img_size=64, seed=1)
    differ = [not filecmp.cmp(osp.join(out, f'images/{i:06d}.png'),
                              osp.join(other, f'images/{i:06d}.png'), shallow=False)
              for i in range(6)]
    assert all(differ)
    assert load_rows(other) != load_rows(out)[:6]


def test_gaze_share_and_bad_arguments(tmp_path):
    none = generate_synthetic_cxr(str(tmp_path / 'a'), 8, img_size=48, no_gaze_rate=1.0)
    assert none['images_with_gaze'] == 0
    assert all(r['gaze'] is None for r in load_rows(str(tmp_path / 'a')))
    full = generate_synthetic_cxr(str(tmp_path / 'b'), 8, img_size=48, no_gaze_rate=0.0,
                                  num_readers=2, split=(1, 0, 0))
    assert full['images_with_gaze'] == 8 and full['readings'] == 16
    assert full['splits'] == dict(train=8, val=0, test=0)
    with pytest.warns(UserWarning, match='earlier, larger run'):
        generate_synthetic_cxr(str(tmp_path / 'a'), 3, img_size=48)
    with pytest.raises(ValueError, match='preset'):
        generate_synthetic_cxr(str(tmp_path / 'c'), 4, preset='nope')
    with pytest.raises(ValueError, match='split'):
        generate_synthetic_cxr(str(tmp_path / 'c'), 4, split=(1, -1, 0))
    with pytest.raises(ValueError, match='img_size'):
        generate_synthetic_cxr(str(tmp_path / 'c'), 4, img_size=8)


@pytest.fixture(scope='module')
def realism(tmp_path_factory):
    """~100 images of 128 px, both presets (same pixels, different gaze)."""
    out = {}
    for preset in ('realistic', 'strong'):
        root = str(tmp_path_factory.mktemp(preset))
        out[preset] = (root, generate_synthetic_cxr(root, 100, img_size=128, seed=3,
                                                    preset=preset))
    return out


def test_gaze_statistics_and_presets(realism):
    root, summary = realism['realistic']
    # data_formats.md §3.2: ~45 fixations per reading, median ~0.35 s, 5-10% off image
    assert 35 <= summary['fixations_per_reading'] <= 60
    assert 0.25 <= summary['fixation_duration_median_s'] <= 0.45
    assert 0.04 <= summary['off_image_fraction'] <= 0.12
    rows = load_rows(root)
    fix = np.concatenate([np.array(r['fixations']) for row in rows if row['gaze']
                          for r in row['gaze']['readers']])
    outside = (fix[:, :2] < -0.5).any(1) | (fix[:, :2] > 127.5).any(1)
    assert 0.04 <= outside.mean() <= 0.12
    assert np.percentile(fix[:, 2], 90) > 1.5 * np.median(fix[:, 2])  # right skew
    # gaze presence is independent of the findings (separate random streams): every
    # finding type is attended by some reader, about as often as VinDr's readers
    attending = summary['readers_attending_given_any']
    assert set(attending) == set(summary['lesions']) and len(attending) == 7
    assert all(1.0 <= v <= 3.0 for v in attending.values())
    assert attending['Cardiomegaly'] > attending['Atelectasis']
    has_gaze = np.array([row['gaze'] is not None for row in rows])
    has_lesion = np.array([bool(row['lesions']) for row in rows])
    assert abs(has_gaze[has_lesion].mean() - has_gaze[~has_lesion].mean()) < 0.2
    weak = gaze_lesion_ncc(rows)
    strong = gaze_lesion_ncc(load_rows(realism['strong'][0]))
    assert weak['num_images'] >= 25
    # REFLACX: gaze beats a centre prior only slightly (+0.05); strong: >= 0.6
    assert 0.0 < weak['delta'] < 0.15
    assert strong['ncc_gaze'] >= 0.6 and strong['delta'] > 0.3
    assert strong['ncc_centre'] == pytest.approx(weak['ncc_centre'])
    # the preset changes gaze only, never the pixels
    assert filecmp.cmp(osp.join(root, 'images/000042.png'),
                       osp.join(realism['strong'][0], 'images/000042.png'),
                       shallow=False)


def test_findings_small_and_in_typical_places(realism):
    rows = load_rows(realism['realistic'][0])
    boxes = {}
    for row in rows:
        for les in row['lesions']:
            x, y, w, h = les['bbox']
            boxes.setdefault(les['category'], []).append(
                (les['area'], (x + w / 2) / 128, (y + h / 2) / 128, w / 128, h / 128))
    boxes = {k: np.array(v) for k, v in boxes.items()}
    assert len(boxes) >= 6
    nodules = boxes['Nodule']
    assert np.median(nodules[:, 0]) <= 60 and np.median(nodules[:, 3]) <= 12 / 128
    # data_formats.md §3.1 places (centre row v): effusion at the costophrenic
    # angles, pneumothorax apical, atelectasis lower zones, heart mid-lower
    assert (boxes['Effusion'][:, 2] > 0.55).all()
    assert (boxes['Pneumothorax'][:, 2] < 0.45).all()
    assert (boxes['Atelectasis'][:, 2] > 0.45).all()
    cardio = boxes['Cardiomegaly']
    assert (cardio[:, 3] > 0.4).all() and (np.abs(cardio[:, 1] - 0.5) < 0.15).all()
    big = max(np.median(v[:, 0]) for k, v in boxes.items() if k != 'Cardiomegaly')
    assert big < 0.06 * 128 * 128  # every finding but the heart is a small target


def roi_ratio(img):
    h, w = img.shape

    def box(y0, y1, x0, x1):
        return img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].mean()
    lung = 0.5 * (box(.25, .45, .18, .35) + box(.25, .45, .65, .82))
    return lung / box(.2, .6, .46, .54)


def test_intensity_realism_against_rg1(realism):
    rg1 = read_dicom_image(get_testdata_file('RG1_UNCR.dcm')).astype(np.float64)
    rg1_small = cv2.resize(rg1, (128, 128), interpolation=cv2.INTER_AREA)
    rg1_ratio, rg1_slope = roi_ratio(rg1_small), psd_slope(rg1_small)
    assert 0.55 <= rg1_ratio <= 0.75 and -3.8 <= rg1_slope <= -2.8

    root = realism['realistic'][0]
    imgs = np.stack([cv2.imread(osp.join(root, f'images/{i:06d}.png'),
                                cv2.IMREAD_UNCHANGED) for i in range(100)]
                    ).astype(np.float64)
    ratios = np.array([roi_ratio(im) for im in imgs])
    slopes = np.array([psd_slope(im) for im in imgs])
    assert (ratios < 0.85).all()  # lungs darker than the mediastinum, every patient
    assert 0.55 <= ratios.mean() <= 0.75 and abs(ratios.mean() - rg1_ratio) < 0.1
    assert -3.8 <= slopes.mean() <= -2.8 and abs(slopes.mean() - rg1_slope) < 0.4
    assert abs(imgs.mean() / 255 - rg1.mean() / 255) < 0.1
    # "patients" differ in exposure and anatomy
    assert np.std(imgs.mean((1, 2))) > 2.0 and np.std(ratios) > 0.01


def test_cli(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('make_synthetic_cxr', osp.join(
        osp.dirname(__file__), '..', 'tools', 'dataset_converters',
        'make_synthetic_cxr.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    main = cli.main
    report = tmp_path / 'report.json'
    assert main([str(tmp_path / 'cli'), '--num-images', '12', '--img-size', '48',
                 '--no-gaze-rate', '0', '--preset', 'strong', '--ncc',
                 '--report-json', str(report), '--no-progress']) == 0
    text = capsys.readouterr().out
    assert 'synthetic CXR: 12 images of 48 px' in text and 'NCC(gaze, lesion)' in text
    saved = json.loads(report.read_text())
    assert saved['num_images'] == 12 and saved['images_with_gaze'] == 12
    assert len(load_rows(str(tmp_path / 'cli'))) == 12
    assert main([str(tmp_path / 'bad'), '--num-images', '0', '--no-progress']) == 2
    assert 'error' in capsys.readouterr().err


def test_pose_moves_anatomy_and_survey_together():
    """The patient's pose (positioning) moves the drawn anatomy and the readers'
    survey zones identically, so gaze stays on the anatomy it looks at."""
    from dataclasses import replace

    from gazeprior_mm.datasets.synthetic_parts.anatomy import (lung_masks,
                                                               patient_grid,
                                                               patient_to_image,
                                                               sample_patient)
    from gazeprior_mm.datasets.synthetic_parts.readers import survey_zones
    rng = np.random.default_rng(0)
    poses = [sample_patient(rng) for _ in range(30)]
    assert np.std([p.scale for p in poses]) > 0.01
    assert np.std([p.angle for p in poses]) > 0.005
    assert np.std([p.shift for p in poses]) > 0.003
    base = replace(poses[0], scale=1.04, angle=0.05, shift=(0.02, -0.01))
    # patient_to_image inverts patient_grid's map
    u, v = patient_grid(base, 64)
    back = patient_to_image(base, np.stack([u, v], -1))
    rows, cols = np.mgrid[:64, :64]
    np.testing.assert_allclose(back[..., 0], (cols + 0.5) / 64, atol=1e-5)
    np.testing.assert_allclose(back[..., 1], (rows + 0.5) / 64, atol=1e-5)
    size = 128
    left = replace(base, angle=0.0, shift=(-0.02, 0.0))
    right = replace(base, angle=0.0, shift=(0.02, 0.0))
    cols = np.arange(size)
    centroid = [(lung_masks(p, size).sum(0) * cols).sum() / lung_masks(p, size).sum()
                for p in (left, right)]
    assert centroid[1] - centroid[0] == pytest.approx(0.04 * size, abs=0.5)
    zones = [survey_zones(p) for p in (left, right)]
    np.testing.assert_allclose(zones[1][:, 0] - zones[0][:, 0], 0.04, atol=1e-9)
    np.testing.assert_allclose(zones[1][:, 1:], zones[0][:, 1:], atol=1e-9)


def test_rewrite_leaves_no_partial_files(tmp_path):
    out = str(tmp_path / 'syn')
    generate_synthetic_cxr(out, 5, img_size=32, seed=2)
    summary = generate_synthetic_cxr(out, 4, img_size=32, seed=2)
    ann = sorted(os.listdir(osp.join(out, 'annotations')))
    assert ann == ['lesions_coco.json', 'synthetic_summary.json', 'test.json',
                   'train.json', 'val.json']
    assert sum(summary['splits'].values()) == 4 == len(load_rows(out))
    with open(osp.join(out, 'annotations', 'train.json')) as f:
        assert json.load(f)['metainfo']['generator']['version'] == \
            summary['generator_version'] >= 1


def test_sub_pixel_finding_keeps_a_flagged_one_pixel_mask(monkeypatch):
    from gazeprior_mm.datasets.synthetic_parts import findings
    from gazeprior_mm.datasets.synthetic_parts.anatomy import (render_anatomy,
                                                               sample_patient)
    rng = np.random.default_rng(5)
    patient = sample_patient(rng)
    _, parts = render_anatomy(patient, 32, rng)
    # a pneumothorax reaching only 0.1 px below the apex covers no pixel centre
    monkeypatch.setitem(findings.FINDINGS, 'Pneumothorax',
                        dict(findings.FINDINGS['Pneumothorax'], size=(3, 3)))
    with pytest.warns(UserWarning, match='Pneumothorax covers no pixel centre'):
        _, lesions = findings.render_findings(['Pneumothorax', 'Effusion'], patient,
                                              parts, 32, rng)
    assert [les['category'] for les in lesions] == ['Pneumothorax', 'Effusion']
    assert lesions[0]['mask_fallback'] and lesions[0]['mask'].sum() == 1
    assert parts['lungs'].sum(0)[lesions[0]['mask']] > 0.5  # in a lung, not a corner
    assert not lesions[1]['mask_fallback'] and lesions[1]['mask'].sum() > 1


def test_cli_makes_what_a_config_declares(tmp_path, capsys):
    """--config: the benchmark of the config's synthetic_benchmark, into its
    data_root; never into a folder holding other data (exit 2)."""
    spec = importlib.util.spec_from_file_location('make_synthetic_cxr', osp.join(
        osp.dirname(__file__), '..', 'tools', 'dataset_converters',
        'make_synthetic_cxr.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    root = tmp_path / 'declared'
    config = tmp_path / 'cfg.py'
    config.write_text(f'synthetic_benchmark = dict(data_root={str(root)!r}, '
                      'num_images=5, img_size=48, preset="strong", seed=2)\n')
    assert cli.main(['--config', str(config), '--no-progress']) == 0
    assert 'synthetic CXR: 5 images of 48 px' in capsys.readouterr().out
    assert len(load_rows(str(root))) == 5
    user = tmp_path / 'user'
    user.mkdir()
    (user / 'notes.txt').write_text('not generated')
    assert cli.main([str(user), '--num-images', '3', '--no-progress']) == 2
    assert 'holds data' in capsys.readouterr().err
    assert sorted(p.name for p in user.iterdir()) == ['notes.txt']
