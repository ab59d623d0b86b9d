"""GazeCXRDataset: canonical annotation file, label policies, gaze, bad input."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401  (registers the dataset and transforms)
from gazeprior_mm.datasets import CHEXPERT_CLASSES
from gazeprior_mm.registry import DATASETS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

init_default_scope('mmpretrain')

SIZE = (48, 64)  # H, W of the test images


def make_rows(num=4):
    rows = []
    for i in range(num):
        label = [0] * 14
        label[i % 14] = 1
        label[6] = -1 if i == 1 else label[6]
        gaze = None if i == 3 else dict(
            image_size=list(SIZE),
            readers=[dict(reader='r1', fixations=[[10 + i, 20, 0.3], [40, 30, 0.5]]),
                     dict(reader='r2', fixations=[[12, 22, 0.4]])])
        rows.append(dict(img_path=f'images/{i:03d}.png', img_id=f'syn-{i}',
                         gt_label=label, img_shape=list(SIZE), split='train',
                         gaze=gaze, lesions=[]))
    return rows


def write_dataset(root, rows=None, classes=CHEXPERT_CLASSES, sizes=None):
    """Canonical JSON + PNGs in ``root``; returns the annotation path."""
    rows = make_rows() if rows is None else rows
    (root / 'images').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i, row in enumerate(rows):
        if isinstance(row, dict) and 'img_path' in row:
            size = (sizes or {}).get(i, SIZE)
            cv2.imwrite(str(root / row['img_path']),
                        rng.integers(0, 255, size, dtype=np.uint8))
    ann = root / 'annotations' / 'train.json'
    ann.parent.mkdir(exist_ok=True)
    ann.write_text(json.dumps(dict(
        metainfo=dict(classes=list(classes), dataset_name='test',
                      uncertain_value=-1),
        data_list=rows)))
    return ann


def build(root, **kwargs):
    cfg = dict(type='GazeCXRDataset', data_root=str(root),
               ann_file='annotations/train.json', pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


PRETRAIN_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='GazeHeatmap', sigma=2.0, render_map=False),
    dict(type='GazeMultiView', num_views=2, transforms=[[
        dict(type='GazeRandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),
        dict(type='GazeRandomFlip', prob=0.5)]]),
    dict(type='PackGazeInputs', grid=4, min_view_mass=0.05),
]


def test_build_from_config_yields_packed_samples(tmp_path):
    write_dataset(tmp_path)
    dataset = build(tmp_path, pipeline=PRETRAIN_PIPELINE)
    assert len(dataset) == 4 and dataset.CLASSES == CHEXPERT_CLASSES
    for idx in range(4):
        out = dataset[idx]
        sample = out['data_samples']
        assert len(out['inputs']) == 2 and out['inputs'][0].shape == (3, 32, 32)
        assert sample.gaze_map.shape == (2, 32, 32)
        assert sample.gaze_weights.shape == (2, 16)
        assert sample.img_id == f'syn-{idx}' and sample.sample_idx == idx
        if idx == 3:  # the row without gaze
            assert sample.has_gaze.tolist() == [False, False]
            assert not sample.gaze_map.any()
        for v in range(2):
            if sample.has_gaze[v]:
                assert sample.gaze_map[v].sum() == pytest.approx(1.0, abs=1e-4)
                assert sample.gaze_weights[v].max() == pytest.approx(1.0)
    # collated as the configs do (collate_fn=dict(type='default_collate'))
    from mmengine.dataset import default_collate
    batch = default_collate([dataset[0], dataset[1]])
    assert batch['inputs'][0].shape == (2, 3, 32, 32)
    assert torch.stack([s.has_gaze for s in batch['data_samples']]).shape == (2, 2)


def test_data_info_labels_and_gaze(tmp_path):
    write_dataset(tmp_path)
    dataset = build(tmp_path)
    info = dataset.get_data_info(1)
    assert info['img_path'] == str(tmp_path / 'images' / '001.png')
    assert info['gt_label'] == [1]  # uncertain Consolidation -> 0 ('zeros')
    assert info['gt_label_raw'][6] == -1 and info['gt_label_raw'].dtype == np.int8
    assert info['gt_label_mask'].all()
    assert info['has_gaze'] and not dataset.get_data_info(3)['has_gaze']
    gaze = dataset.get_gaze(0)
    assert gaze['img_id'] == 'syn-0' and gaze['has_gaze']
    assert gaze['gaze']['readers'][0]['fixations'].shape == (2, 3)
    assert dataset.get_gaze(3)['gaze'] is None
    assert dataset.get_cat_ids(2) == [2]
    assert dataset.get_gt_labels().shape == (4, 14)


@pytest.mark.parametrize('policy,label,mask', [
    ('zeros', [1], True), ('ones', [1, 6], True), ('ignore', [1], False)])
def test_uncertain_policies(tmp_path, policy, label, mask):
    write_dataset(tmp_path)
    info = build(tmp_path, uncertain_policy=policy).get_data_info(1)
    assert info['gt_label'] == label
    assert bool(info['gt_label_mask'][6]) is mask
    assert info['gt_label_mask'].sum() == 13 + mask


def test_class_subset_selects_columns(tmp_path):
    write_dataset(tmp_path)
    dataset = build(tmp_path, classes=['Cardiomegaly', 'No Finding'])
    assert dataset.CLASSES == ('Cardiomegaly', 'No Finding')
    assert dataset.get_data_info(2)['gt_label'] == [0]
    assert dataset.get_data_info(0)['gt_label'] == [1]


def _expect_error(tmp_path, rows, match, row=None, **kwargs):
    write_dataset(tmp_path, rows)
    with pytest.raises(ValueError) as err:
        build(tmp_path, **kwargs)
    message = str(err.value)
    assert 'train.json' in message
    if row is not None:
        assert f'row {row}' in message
    assert match in message, message


def test_missing_image_file_names_file_and_row(tmp_path):
    write_dataset(tmp_path)
    (tmp_path / 'images' / '002.png').unlink()
    with pytest.raises(ValueError, match=r'train\.json, row 2: image file .*002\.png'):
        build(tmp_path)


def test_bad_rows_name_file_and_row(tmp_path):
    rows = make_rows()
    del rows[1]['gt_label']
    _expect_error(tmp_path, rows, "missing key(s) ['gt_label']", row=1)

    rows = make_rows()
    rows[2]['gt_label'] = [0, 1]
    _expect_error(tmp_path, rows, 'gt_label has 2 entries', row=2)

    rows = make_rows()
    rows[0]['gt_label'][3] = 2
    _expect_error(tmp_path, rows, 'gt_label values', row=0)

    rows = make_rows()
    rows[2]['gaze']['readers'][1]['fixations'] = [['left', 3, 0.2]]
    _expect_error(tmp_path, rows, 'not numeric', row=2)

    rows = make_rows()
    rows[1]['gaze']['readers'][0]['fixations'] = [[1, 2, 3, 4]]
    _expect_error(tmp_path, rows, 'must be (K, 2) or (K, 3)', row=1)

    rows = make_rows()
    rows[0]['gaze']['image_size'] = [48]
    _expect_error(tmp_path, rows, 'gaze image_size must be [H, W]', row=0)

    rows = make_rows()
    rows[2]['gaze']['image_size'] = [48, -64]
    _expect_error(tmp_path, rows, 'gaze image_size must be [H, W]', row=2)

    rows = make_rows()
    rows[1]['gaze']['image_size'] = [96, 128]
    _expect_error(tmp_path, rows, 'differs from img_shape', row=1)

    rows = make_rows()
    rows[3]['img_id'] = 'syn-0'
    _expect_error(tmp_path, rows, "img_id 'syn-0' already used in row 0", row=3)


def test_unknown_class_names_the_file(tmp_path):
    write_dataset(tmp_path)
    with pytest.raises(ValueError, match=r"train\.json.*unknown class.*'Nodule'"):
        build(tmp_path, classes=['Cardiomegaly', 'Nodule'])


def test_wrong_image_size_lazy_and_eager(tmp_path):
    write_dataset(tmp_path, sizes={2: (50, 64)})
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile')])
    assert dataset[0]['img'].shape[:2] == SIZE  # good rows load
    with pytest.raises(ValueError,
                       match=r'train\.json, row 2: image .*002\.png is 50x64'):
        dataset[2]
    with pytest.raises(ValueError, match=r'row 2: image .*is 50x64 .*48x64'):
        build(tmp_path, check_image_size='eager')
    # switched off: the sample loads
    unchecked = build(tmp_path, check_image_size=False,
                      pipeline=[dict(type='LoadImageFromFile')])
    assert unchecked[2]['img'].shape[:2] == (50, 64)


def test_bad_fixations_are_dropped_and_counted_not_errors(tmp_path):
    rows = make_rows()
    rows[0]['gaze']['readers'][0]['fixations'] = [[10, 20, 0.3], [500, 2, 0.3],
                                                  [3, 4, -1.0]]
    write_dataset(tmp_path, rows)
    dataset = build(tmp_path, pipeline=[dict(type='LoadImageFromFile'),
                                        dict(type='GazeHeatmap')])
    with pytest.warns(UserWarning, match="image 'syn-0'.*1 negative_duration.*"
                      '1 outside'):
        out = dataset[0]
    assert out['gaze_drop_counts'] == dict(nan=0, inf=0, negative_duration=1,
                                           outside=1, kept=2)
    assert out['gaze_fixations'].shape == (2, 2)


def test_dataset_never_generates_and_names_the_missing_file(tmp_path):
    """The dataset only reads: a missing annotation file is a FileNotFoundError
    naming it and the tool that makes the synthetic benchmark; the deprecated
    ``synthetic=`` warns and generates nothing."""
    root = tmp_path / 'fresh'
    with pytest.raises(FileNotFoundError,
                       match=r'train\.json not found.*make_synthetic_cxr\.py'):
        build(root)
    with pytest.warns(DeprecationWarning, match='synthetic_benchmark'), \
            pytest.raises(FileNotFoundError, match='train.json'):
        build(root, synthetic=dict(num_images=3))
    assert not root.exists()


def _declared(root, data_root=None):
    """A config with a train and a val loader on ``data_root`` (default: the
    benchmark's root) that declares the benchmark at ``root``."""
    from mmengine.config import Config
    data_root = str(root) if data_root is None else str(data_root)
    loader = dict(dataset=dict(type='GazeCXRDataset', data_root=data_root,
                               ann_file='annotations/train.json'))
    val = dict(dataset=dict(type='LabelFractionDataset', dataset=dict(
        loader['dataset'], ann_file='annotations/val.json')))
    return Config(dict(
        synthetic_benchmark=dict(data_root=str(root), num_images=3,
                                 preset='strong', seed=1),
        train_dataloader=loader, val_dataloader=val, test_dataloader=None))


def test_prepare_synthetic_benchmark_generates_what_a_config_declares(
        tmp_path, monkeypatch):
    """prepare_synthetic_benchmark(cfg) calls generate_synthetic_cxr(data_root,
    **options) once when a loader's annotation file in the declared root is
    missing (a stand-in generator here), then never again; loaders on other data
    and configs without a declaration generate nothing."""
    from gazeprior_mm.datasets import synthetic, synthetic_benchmark
    calls = []

    def fake_generate(out_dir, num_images, **kwargs):
        calls.append((out_dir, num_images, kwargs))
        import pathlib
        write_dataset(pathlib.Path(out_dir), make_rows(num_images))
        (pathlib.Path(out_dir) / 'annotations' / 'val.json').write_text(
            (pathlib.Path(out_dir) / 'annotations' / 'train.json').read_text())
        return dict(num_images=num_images)

    monkeypatch.setattr(synthetic, 'generate_synthetic_cxr', fake_generate)
    root = tmp_path / 'fresh'
    cfg = _declared(root)
    assert synthetic_benchmark.missing_benchmark_files(cfg) == [
        str(root / 'annotations' / 'train.json'),
        str(root / 'annotations' / 'val.json')]
    assert synthetic_benchmark.prepare_synthetic_benchmark(cfg)
    assert calls == [(str(root), 3, dict(preset='strong', seed=1))]
    assert len(build(root)) == 3
    assert not synthetic_benchmark.prepare_synthetic_benchmark(cfg)  # exists now
    other = _declared(tmp_path / 'bench', data_root=tmp_path / 'elsewhere')
    assert not synthetic_benchmark.prepare_synthetic_benchmark(other)
    cfg.synthetic_benchmark = None
    assert not synthetic_benchmark.prepare_synthetic_benchmark(cfg)
    assert len(calls) == 1 and not (tmp_path / 'bench').exists()


def test_a_shipped_config_pointed_elsewhere_generates_nothing(tmp_path):
    """The runner's loaders decide: a pre-training config whose train loader reads
    other data needs nothing of its declared benchmark, although its named data
    parts (gaze_pretrain_*_dataloader, never built) still name the default root."""
    from mmengine.config import Config

    from gazeprior_mm.datasets import synthetic_benchmark
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'gazeprior',
                                   'gazeprior_resnet18_synthetic.py'))
    cfg.synthetic_benchmark.data_root = str(tmp_path / 'default')
    for key, loader in cfg.items():
        if key.endswith('_dataloader') and loader:
            loader['dataset']['data_root'] = str(tmp_path / 'default')
    assert synthetic_benchmark.missing_benchmark_files(cfg)  # all point there
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'mine')
    assert synthetic_benchmark.missing_benchmark_files(cfg) == []
    assert not synthetic_benchmark.prepare_synthetic_benchmark(cfg)
    assert not (tmp_path / 'default').exists()


def test_not_a_canonical_file(tmp_path):
    ann = tmp_path / 'annotations' / 'train.json'
    ann.parent.mkdir()
    ann.write_text(json.dumps([dict(img_path='a.png')]))
    with pytest.raises(ValueError, match=r'train\.json: not a canonical'):
        build(tmp_path)
    with pytest.raises(FileNotFoundError, match='missing.json'):
        build(tmp_path, ann_file='missing.json')


@pytest.mark.parametrize('config,loader,views', [
    ('synthetic_gaze_pretrain.py', 'train_dataloader', 2),
    ('synthetic_linear.py', 'train_dataloader', 1),
    ('synthetic_linear.py', 'test_dataloader', 1)])
def test_dataset_configs_build_and_pack(tmp_path, config, loader, views):
    """The shipped dataset configs, pointed at a tiny dataset, give packed samples
    on the 14 x 14 grid of 112-px views."""
    import os.path as osp

    from mmengine.config import Config
    root = osp.join(osp.dirname(__file__), '..', 'configs', '_base_', 'datasets')
    cfg = Config.fromfile(osp.join(root, config))
    rows = make_rows()
    rows[0]['lesions'] = [dict(category='Nodule', bbox=[20.0, 10.0, 6.0, 5.0])]
    write_dataset(tmp_path, rows)
    ds_cfg = cfg[loader].dataset
    ds_cfg.data_root = str(tmp_path)
    ds_cfg.ann_file = 'annotations/train.json'
    dataset = DATASETS.build(ds_cfg)
    np.random.seed(0)
    out = dataset[0]
    sample = out['data_samples']
    assert sample.gaze_weights.shape == (views, 14 * 14)
    assert sample.gaze_map.shape == (views, 112, 112)
    assert sample.has_gaze.shape == (views, ) and sample.crop_box.shape == (views, 4)
    imgs = out['inputs'] if views > 1 else [out['inputs']]
    assert all(img.shape == (3, 112, 112) for img in imgs)
    assert cfg[loader].collate_fn['type'] == 'default_collate'
    if config == 'synthetic_linear.py' and loader == 'test_dataloader':
        # lesion boxes reach the pointing game
        assert sample.lesions == rows[0]['lesions']


def test_filter_cfg_keeps_images_with_gaze_and_splits(tmp_path):
    rows = make_rows()
    rows[0]['split'] = 'val'
    write_dataset(tmp_path, rows)
    with_gaze = build(tmp_path, filter_cfg=dict(require_gaze=True))
    assert [with_gaze.get_data_info(i)['img_id'] for i in range(len(with_gaze))] \
        == ['syn-0', 'syn-1', 'syn-2']
    train = build(tmp_path, filter_cfg=dict(split='train', require_gaze=True))
    assert [train.get_data_info(i)['img_id'] for i in range(len(train))] == \
        ['syn-1', 'syn-2']
    with pytest.raises(ValueError, match='unknown filter_cfg'):
        build(tmp_path, filter_cfg=dict(has_lesion=True))
