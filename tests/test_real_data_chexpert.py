"""CheXpert converter (uncertainty / blank policies, Path prefix, views) and the
real-data dataset configs (MIMIC+gaze pre-training, CheXpert linear evaluation) on
tiny fixtures."""
import os.path as osp

import numpy as np
import pytest
from _real_data_fixtures import DICOM_HALF, make_chexpert, make_egd, make_mimic
from mmengine.config import Config
from mmengine.registry import init_default_scope

from gazeprior_mm.datasets import CHEXPERT_CLASSES, GazeCXRDataset
from gazeprior_mm.datasets.converters import (ConversionError, convert_chexpert,
                                              convert_egd_cxr, convert_mimic_cxr_jpg,
                                              load_annotation_file)
from gazeprior_mm.datasets.converters.chexpert import chexpert_relpath
from gazeprior_mm.registry import DATASETS

init_default_scope('mmpretrain')

CONFIGS = osp.join(osp.dirname(__file__), '..', 'configs', '_base_', 'datasets')


def _convert(root, **kwargs):
    kwargs.setdefault('progress', False)
    report = convert_chexpert(root, osp.join(root, 'annotations'), **kwargs)
    return report, {s: load_annotation_file(osp.join(root, 'annotations',
                                                      f'chexpert_{s}.json'))
                    for s in ('train', 'valid')}


def _label(entry, name):
    return entry['gt_label'][CHEXPERT_CLASSES.index(name)]


def test_chexpert_prefix_views_and_keep_policy(tmp_path):
    root = make_chexpert(str(tmp_path / 'chexpert'))
    report, ann = _convert(root)
    train = ann['train']['data_list']
    assert [e['img_path'] for e in train] == [
        'train/patient00001/study1/view1_frontal.jpg',
        'train/patient00002/study1/view1_frontal.jpg']
    assert train[0]['img_id'] == 'train/patient00001/study1/view1_frontal'
    assert train[0]['img_shape'] == [48, 40]
    assert report.counts['skipped'] == {'lateral_view': 1}
    assert _label(train[0], 'Atelectasis') == -1 and _label(train[0], 'Edema') == 1
    assert _label(train[0], 'Cardiomegaly') == 0 and _label(train[0], 'Fracture') == 0
    assert len(ann['valid']['data_list']) == 1
    ds = GazeCXRDataset(ann_file='annotations/chexpert_train.json', data_root=root,
                        uncertain_policy='ones', check_image_size='eager')
    assert ds.get_data_info(0)['gt_label'] == sorted(
        CHEXPERT_CLASSES.index(n) for n in ('Edema', 'Atelectasis'))
    assert chexpert_relpath('CheXpert-v1.0/valid/p/s/v.jpg') == 'valid/p/s/v.jpg'
    assert chexpert_relpath('train/p/s/v.jpg') == 'train/p/s/v.jpg'


@pytest.mark.parametrize('policy,blank,expected', [
    ('ones', 'zero', (1, 0)), ('zeros', 'zero', (0, 0)),
    ('ignore', 'uncertain', (-1, -1)),
    ('{"Atelectasis": "ones", "default": "zeros"}', 'zero', (1, 0))])
def test_chexpert_uncertainty_and_blank_policies(tmp_path, policy, blank, expected):
    root = make_chexpert(str(tmp_path / 'chexpert'))
    _, ann = _convert(root, uncertain_policy=policy, blank_policy=blank)
    first = ann['train']['data_list'][0]
    assert (_label(first, 'Atelectasis'), _label(first, 'Pneumonia')) == expected


def test_chexpert_all_views_pa_filter_bad_policy(tmp_path):
    root = make_chexpert(str(tmp_path / 'chexpert'))
    _, ann = _convert(root, frontal_only=False)
    assert len(ann['train']['data_list']) == 3
    _, ann = _convert(root, views=['PA'])
    assert [e['view'] for e in ann['train']['data_list']] == ['PA']
    with pytest.raises(ValueError, match='unknown labels'):
        _convert(root, uncertain_policy={'Nodules': 'ones'})


def test_chexpert_missing_image_and_malformed_label(tmp_path):
    root = make_chexpert(str(tmp_path / 'chexpert'),
                         skip_images=('train/patient00002/study1/view1_frontal.jpg',))
    csv_path = osp.join(root, 'train.csv')
    text = open(csv_path).read().replace(',-1.0,', ',maybe,', 1)
    open(csv_path, 'w').write(text)
    report, ann = _convert(root)
    assert report.counts['rejected'] == {'malformed_label': 1, 'missing_image': 1}
    assert 'train.csv, row 1' in report.examples['rejected', 'malformed_label'][0]
    assert 'train.csv, row 3' in report.examples['rejected', 'missing_image'][0]
    assert ann['train']['data_list'] == []
    open(csv_path, 'w').write('Path,Sex\n')
    with pytest.raises(ConversionError, match='train.csv: missing column'):
        _convert(root)


def test_chexpert_linear_config_builds_and_packs(tmp_path):
    root = make_chexpert(str(tmp_path / 'chexpert'))
    _convert(root)
    cfg = Config.fromfile(osp.join(CONFIGS, 'chexpert_linear.py'))
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/chexpert_valid.json'
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        ds_cfg = dict(loader.dataset, data_root=root)
        ds = DATASETS.build(ds_cfg)
        packed = ds[0]
        assert tuple(packed['inputs'].shape) == (3, 224, 224)
        sample = packed['data_samples']
        assert sample.gaze_weights.shape[-1] == 14 * 14
        assert not bool(np.asarray(sample.has_gaze).any())


def test_mimic_gaze_pretrain_config_builds_two_gaze_views(tmp_path):
    root = make_mimic(str(tmp_path / 'mimic'))
    convert_mimic_cxr_jpg(root, osp.join(root, 'annotations'), progress=False)
    convert_egd_cxr(make_egd(str(tmp_path / 'egd')),
                    [(osp.join(root, 'annotations', 'mimic_train.json'),
                      osp.join(root, 'annotations', 'mimic_gaze_train.json'))],
                    progress=False)
    cfg = Config.fromfile(osp.join(CONFIGS, 'mimic_gaze_pretrain.py'))
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/mimic_gaze_train.json'
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=root))
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))].index(DICOM_HALF)
    # random crops: a view keeps its gaze only if it holds >= 10 % of the gaze
    # mass (about 1 sample in 20 has neither view keeping it), so look at several
    np.random.seed(0)
    num_kept = 0
    for _ in range(10):
        packed = ds[idx]
        assert len(packed['inputs']) == 2
        assert tuple(packed['inputs'][0].shape) == (3, 224, 224)
        sample = packed['data_samples']
        assert tuple(sample.gaze_weights.shape) == (2, 14 * 14)
        peaks = sample.gaze_weights.max(dim=1).values
        for peak, kept in zip(peaks.tolist(), sample.has_gaze.tolist()):
            assert peak == (pytest.approx(1.0) if kept else 0.0)
        num_kept += int(sample.has_gaze.sum())
    assert num_kept >= 10
