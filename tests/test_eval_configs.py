"""Every linear-probe / low-label config loads and builds its classifier on the
backbone a checkpoint was pre-trained with (tests/test_every_config_runs.py trains
one iteration of each)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS
from _tools import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'benchmarks', '[!_]*.py')))


@pytest.fixture(scope='module')
def r18_checkpoint(tmp_path_factory):
    compare = load_tool('compare')
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'gazeprior', 'gazeprior_resnet18_synthetic.py'))
    return compare.save_random_init(
        cfg, str(tmp_path_factory.mktemp('ckpt') / 'r18.pth'), 0)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_benchmark_config_probes_the_pretrained_backbone(path, r18_checkpoint):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.type == 'PretrainedBackbone'
    assert cfg.model.neck.type == 'PooledBatchNormNeck'
    assert cfg.model.head.num_classes == 14
    assert cfg.model.neck.in_channels == cfg.model.head.in_channels
    assert cfg.val_evaluator.type == 'MultiLabelAUC'
    if not osp.basename(path).startswith('resnet18'):
        return  # the ViT ones: tests/test_every_config_runs.py
    cfg.model.backbone.checkpoint = r18_checkpoint
    model = MODELS.build(cfg.model)
    assert tuple(model.backbone.strides) == (1, 2, 2, 1)  # GazePrior's
    trainable = [p.requires_grad for p in model.backbone.parameters()]
    if 'linear' in osp.basename(path):
        assert not any(trainable)
    else:  # fine-tuning trains the whole network
        assert all(trainable)


def _train_pipeline(cfg):
    dataset = cfg.train_dataloader.dataset
    return [step['type'] for step in dataset.get('dataset', dataset).pipeline]


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'synthetic' in p],
                         ids=osp.basename)
def test_synthetic_probes_read_the_test_view(path):
    """The frozen probes train on the resized test view of each image, as the
    converged logistic probe reads it (no random crop or flip); fine-tuning
    trains on random crops; the stock mmpretrain recipe keeps its own."""
    cfg = Config.fromfile(path)
    steps = _train_pipeline(cfg)
    name = osp.basename(path)
    if 'finetune' in name or 'recipe' in name:
        assert 'GazeRandomResizedCrop' in steps, steps
    else:
        assert steps == [s['type'] for s in cfg.test_dataloader.dataset.pipeline]
        assert not any('Random' in s for s in steps), steps
