"""Every linear-probe / low-label config loads and builds its classifier."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'benchmarks', '[!_]*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_benchmark_config_builds_frozen_probe(path):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(path)
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.prefix == 'backbone.'
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert model.head.num_classes == 14
    assert cfg.val_evaluator.type == 'MultiLabelAUC'
    if 'linear' in osp.basename(path):
        frozen = [p.requires_grad for p in model.backbone.parameters()]
        assert not any(frozen)
