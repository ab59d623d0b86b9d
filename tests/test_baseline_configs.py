"""Baseline configs: they inherit mmpretrain's, keep the shared data section, and
each trains a couple of iterations on CPU on tiny data built here."""
import glob
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.mining import prepare_gaze_neighbour_table
from gazeprior_mm.mining.table import GazeNeighbours

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = ['No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
           'Lung Opacity', 'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia',
           'Atelectasis', 'Pneumothorax', 'Pleural Effusion', 'Pleural Other',
           'Fracture', 'Support Devices']


def cfg_path(name):
    return osp.join(ROOT, 'configs', name)


def mmpretrain_cfg(name):
    import mmpretrain
    return Config.fromfile(
        osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', name))


def strip_scope(obj):
    if isinstance(obj, dict):
        return {k: strip_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return [strip_scope(v) for v in obj]
    return obj


BASELINES = {
    'simclr/simclr_resnet18_synthetic.py': 'synthetic_gaze_pretrain',
    'mocov2/mocov2_resnet18_synthetic.py': 'synthetic_gaze_pretrain',
    'simclr/simclr_resnet50_mimic.py': 'mimic_gaze_pretrain',
    'mocov2/mocov2_resnet50_mimic.py': 'mimic_gaze_pretrain',
}
METHOD_DIRS = ('simclr', 'mocov2', 'mcgip', 'focuscontrast')
# what only a data section says: a method config that writes one of these states
# data of its own instead of taking the shared section's
DATA_LITERALS = [re.compile(p) for p in (
    r"'(LoadImageFromFile|GazeHeatmap|GazeMultiView|PackGazeInputs)'",
    r"'(GazeRandomResizedCrop|ColorJitter|GaussianBlur|GazeRandomFlip)'",
    r"'(DefaultSampler|default_collate|GazeCXRDataset|SelfSupDataPreprocessor)'",
    r"\b(data_root|ann_file|data_prefix)\s*=\s*'",  # a dataset's own files
    r"(?<!base_)\b(batch_size|num_workers)\s*=",
    r"\b(mean|std)\s*=\s*\[")]


def packers(pipeline):
    return [step for step in pipeline if step['type'] == 'PackGazeInputs']


@pytest.mark.parametrize('name,base', BASELINES.items())
def test_data_section_is_the_shared_one(name, base):
    """By construction: a baseline's data is its family's parts file's section
    (without the per-view maps), which is the GazePrior configs' base section
    with only PackGazeInputs(with_map=False) changed."""
    cfg = Config.fromfile(cfg_path(name))
    parts = Config.fromfile(cfg_path(f'_base_/datasets/{base}_parts.py'))
    classic = Config.fromfile(cfg_path(f'_base_/datasets/{base}.py'))
    got = strip_scope(cfg.train_dataloader.to_dict())
    assert got == strip_scope(parts.gaze_pretrain_nomap_train_dataloader.to_dict())
    assert strip_scope(cfg.data_preprocessor.to_dict()) == \
        strip_scope(classic.data_preprocessor.to_dict())
    assert cfg.train_pipeline == cfg.train_dataloader.dataset.pipeline
    assert cfg.data_root == classic.data_root == got['dataset']['data_root']
    # the baselines read no per-view gaze map: they do not pack one
    packer, = packers(got['dataset']['pipeline'])
    assert packer['with_map'] is False
    want = strip_scope(classic.train_dataloader.to_dict())
    packer_want, = packers(want['dataset']['pipeline'])
    assert 'with_map' not in packer_want  # the classic section keeps the contract
    packer_want['with_map'] = False
    assert got == want
    assert cfg.custom_imports.imports == ['gazeprior_mm']


@pytest.mark.parametrize('path', sorted(
    p for d in METHOD_DIRS
    for p in glob.glob(osp.join(ROOT, 'configs', d, '*.py'))), ids=osp.basename)
def test_method_configs_state_no_data_of_their_own(path):
    """The baselines take the data section from the shared parts; a method config
    names none of its pieces (FocusContrast names only its crop)."""
    text = open(path).read()
    found = [m.group(0) for p in DATA_LITERALS for m in p.finditer(text)]
    assert not found, f'{osp.relpath(path, ROOT)} states data: {found}'
    cfg = Config.fromfile(path)
    packer, = packers(cfg.train_dataloader.dataset.pipeline)
    assert packer.with_map is False


def test_only_data_backbone_schedule_differ_from_mmpretrain():
    cfg = Config.fromfile(cfg_path('simclr/simclr_resnet18_synthetic.py'))
    ref = mmpretrain_cfg('simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py')
    assert cfg.model.type == ref.model.type == 'SimCLR'
    assert cfg.model.head == ref.model.head
    assert cfg.optim_wrapper.optimizer.type == ref.optim_wrapper.optimizer.type
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.norm_cfg.type == 'BN'
    moco = Config.fromfile(cfg_path('mocov2/mocov2_resnet18_synthetic.py'))
    ref = mmpretrain_cfg('mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py')
    assert moco.model.head == ref.model.head and moco.model.momentum == ref.model.momentum


def write_tiny_dataset(root, num=8, size=48):
    rng = np.random.default_rng(0)
    items = []
    for i in range(num):
        img = (rng.random((size, size)) * 255).astype(np.uint8)
        cv2.imwrite(osp.join(root, f'{i}.png'), img)
        item = dict(img_path=f'{i}.png', img_id=f'tiny-{i}', gt_label=[0] * 14)
        if i != 3:  # one image without gaze
            centre = rng.uniform(10, size - 10, 2)
            fix = np.column_stack([centre + rng.normal(0, 3, (6, 2)),
                                   np.full(6, 0.25)]).clip(0, size - 1)
            item['gaze'] = dict(image_size=[size, size],
                                readers=[dict(reader='r1', fixations=fix.tolist())])
        items.append(item)
    ann = osp.join(root, 'ann.json')
    with open(ann, 'w') as f:
        json.dump(dict(metainfo=dict(classes=CLASSES), data_list=items), f)
    return ann


def shrink(pipeline, size):
    for step in pipeline:
        if 'scale' in step:
            step['scale'] = size
        for sub in step.get('transforms', []):
            shrink(sub if isinstance(sub, list) else [sub], size)


@pytest.mark.parametrize('name', [
    'simclr/simclr_resnet18_synthetic.py',
    'mocov2/mocov2_resnet18_synthetic.py',
    'mcgip/mcgip_simclr_resnet18_synthetic.py',
    'mcgip/gzpt_mocov2_resnet18_synthetic.py',
    'focuscontrast/focuscontrast_simclr_resnet18_synthetic.py',
])
def test_baseline_trains_from_config(name, tmp_path):
    ann = write_tiny_dataset(str(tmp_path))
    cfg = Config.fromfile(cfg_path(name))
    loader = cfg.train_dataloader
    loader.update(batch_size=4, num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=str(tmp_path), ann_file='ann.json')
    shrink(loader.dataset.pipeline, 32)
    if 'queue_len' in cfg.model:
        cfg.model.queue_len = 16
    gaze_cfg = cfg.model.get('gaze_positives')
    if gaze_cfg is not None:
        gaze_cfg.update(neighbour_file=str(tmp_path / 'pairs.npz'), threshold=None)
        cfg.gaze_neighbour_table.update(neighbour_file=gaze_cfg.neighbour_file,
                                        ann_file=ann)
        cfg.gaze_neighbour_table.mine_cfg.update(k=2, candidates=4)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    assert prepare_gaze_neighbour_table(cfg) == (gaze_cfg is not None)
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    assert runner.iter == 2
    assert osp.exists(osp.join(cfg.work_dir, 'epoch_1.pth'))
    if gaze_cfg is not None:
        table = GazeNeighbours.load(str(tmp_path / 'pairs.npz'))
        assert table.neighbours_of('tiny-3') == {}  # no gaze, no neighbours
        assert len(table.indices) > 0
        assert runner.message_hub.get_scalar('train/num_gaze_pos') is not None
