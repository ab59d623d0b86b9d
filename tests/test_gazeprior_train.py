"""GazePrior configs build; a short CPU pre-training run learns and its checkpoint
loads as an mmpretrain backbone."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.datasets import prepare_synthetic_benchmark
from gazeprior_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
GAZEPRIOR_CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'gazeprior', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'ablations', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'gazeprior_*_mimic.py')))


@pytest.mark.parametrize('path', GAZEPRIOR_CONFIGS, ids=osp.basename)
def test_config_builds_model_matching_its_packer(path):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    packer = cfg.train_dataloader.dataset.pipeline[-1]
    assert packer.type == 'PackGazeInputs'
    assert packer.grid == model.grid == model.neck.grid
    assert 'Pretrained' not in str(cfg.model.backbone.get('init_cfg', ''))


def _tiny_cfg(work_dir, data_root, max_iters):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py'))
    view = cfg.view_pipeline
    view[0].update(scale=32)
    cfg.train_dataloader.update(batch_size=8, num_workers=0,
                                persistent_workers=False)
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=data_root)
    # made by prepare_synthetic_benchmark(cfg) after the runner, as tools/train.py
    cfg.synthetic_benchmark = dict(data_root=data_root, num_images=40,
                                   img_size=48, preset='strong', seed=0)
    ds.pipeline[2].transforms = [view]
    ds.pipeline[3].grid = 4
    cfg.model.update(grid=4)
    cfg.model.backbone.update(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                        feedforward_channels=64), img_size=32)
    cfg.model.neck.update(in_channels=32, grid=4)
    cfg.model.head.update(in_channels=32, hid_channels=32, out_channels=16)
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=max_iters,
                                        by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo'))
    return cfg


def test_short_pretraining_loss_falls_and_backbone_loads(tmp_path):
    cfg = _tiny_cfg(str(tmp_path / 'work'), str(tmp_path / 'data'), max_iters=40)
    runner = Runner.from_cfg(cfg)
    assert prepare_synthetic_benchmark(cfg)
    runner.train()
    losses, _ = runner.message_hub.get_scalar('train/loss_gwcl').data
    assert len(losses) == 40 and np.isfinite(losses).all()
    assert np.mean(losses[-8:]) < 0.9 * np.mean(losses[:8]), losses
    ckpt = tmp_path / 'work' / 'iter_40.pth'
    assert ckpt.exists()

    # the checkpoint loads as a backbone in mmpretrain (weights_only loading)
    backbone = MODELS.build(dict(
        type='VisionTransformer',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=32, patch_size=8, out_type='avg_featmap',
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt), prefix='backbone.')))
    backbone.init_weights()
    trained = runner.model.backbone.state_dict()
    loaded = backbone.state_dict()
    shared = set(loaded) & set(trained)  # avg_featmap adds its own final norm
    assert len(shared) >= len(trained) - 2
    for key in shared:
        assert torch.equal(loaded[key], trained[key]), key
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert any(k.startswith('backbone.') for k in state['state_dict'])
