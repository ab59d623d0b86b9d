"""The linear probe evaluates the backbone that was pre-trained: architecture from
the checkpoint's saved config, weights that must fit exactly, frozen; and a stock
mmpretrain linear-eval recipe reused for the synthetic benchmark trains and tests."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS
from gazeprior_mm.utils.checkpoint import load_checkpoint_safely
from _tools import REPO, load_tool

init_default_scope('mmpretrain')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Seeded, untrained GazePrior (strides 1, 2, 2, 1) and SimCLR (mmpretrain's
    1, 2, 2, 2) ResNet-18 checkpoints, each with its config in meta['cfg']."""
    compare = load_tool('compare')
    out = tmp_path_factory.mktemp('ckpt')
    paths = {}
    for name, config in (
            ('gazeprior', 'configs/gazeprior/gazeprior_resnet18_synthetic.py'),
            ('simclr', 'configs/simclr/simclr_resnet18_synthetic.py')):
        cfg = Config.fromfile(osp.join(REPO, config))
        paths[name] = compare.save_random_init(cfg, str(out / f'{name}.pth'), 0)
    return paths


def test_probe_backbone_is_the_pretrained_architecture(checkpoints):
    gp = MODELS.build(dict(type='PretrainedBackbone',
                           checkpoint=checkpoints['gazeprior']))
    sc = MODELS.build(dict(type='PretrainedBackbone',
                           checkpoint=checkpoints['simclr']))
    assert tuple(gp.strides) == (1, 2, 2, 1)
    assert tuple(sc.strides) == (1, 2, 2, 2)
    x = torch.zeros(1, 3, 64, 64)
    gp.eval(), sc.eval()
    assert gp(x)[-1].shape[-1] == 4 and sc(x)[-1].shape[-1] == 2
    assert not any(p.requires_grad for p in gp.parameters())  # frozen
    assert gp.norm_eval


def test_weights_must_fit_exactly(checkpoints, tmp_path):
    ckpt = load_checkpoint_safely(checkpoints['gazeprior'])
    missing = copy.deepcopy(ckpt)
    del missing['state_dict']['backbone.layer4.1.conv2.weight']
    reshaped = copy.deepcopy(ckpt)
    reshaped['state_dict']['backbone.conv1.weight'] = torch.zeros(64, 3, 3, 3)
    for name, bad, match in (('missing', missing, 'missing .*layer4.1.conv2'),
                             ('reshaped', reshaped, 'other shape .*conv1')):
        path = str(tmp_path / f'{name}.pth')
        save_checkpoint(bad, path)
        with pytest.raises(ValueError, match=f'{name}.pth.*{match}'):
            MODELS.build(dict(type='PretrainedBackbone', checkpoint=path))
    no_cfg = dict(state_dict=ckpt['state_dict'], meta=dict(epoch=1))
    save_checkpoint(no_cfg, str(tmp_path / 'nocfg.pth'))
    with pytest.raises(ValueError, match='nocfg.pth: the checkpoint carries no '
                       'config'):
        MODELS.build(dict(type='PretrainedBackbone',
                          checkpoint=str(tmp_path / 'nocfg.pth')))
    with pytest.raises(ValueError, match='needs a checkpoint'):
        MODELS.build(dict(type='PretrainedBackbone', checkpoint=''))


def test_probe_keeps_the_checkpoint_weights_after_init(checkpoints):
    """ImageClassifier.init_weights must not re-initialise the loaded backbone
    (ResNet's zero-init-residual would zero the last BN of every block)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'benchmarks',
                                   'resnet18_linear_synthetic.py'))
    cfg.model.backbone.checkpoint = checkpoints['gazeprior']
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = load_checkpoint_safely(checkpoints['gazeprior'])['state_dict']
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, state['backbone.' + key]), key
    assert model.neck.bn.affine is False


def test_stock_mmpretrain_linear_recipe_trains_and_tests(checkpoints, tmp_path):
    from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
    data_root = str(tmp_path / 'data')
    generate_synthetic_cxr(data_root, num_images=30, img_size=64, seed=0)
    cfg = Config.fromfile(osp.join(
        REPO, 'configs', 'benchmarks',
        'resnet18_mocov3-linear-recipe_synthetic.py'))
    # the recipe itself: mmpretrain's SGD / cosine / 90 epochs
    assert cfg.optim_wrapper.optimizer.type == 'SGD'
    assert cfg.train_cfg.max_epochs == 90
    cfg.model.backbone.checkpoint = checkpoints['simclr']
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=8, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = data_root
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert 0.0 <= metrics['multi-label/auc_macro'] <= 1.0
    # only the head learned: the backbone still equals the checkpoint
    state = load_checkpoint_safely(checkpoints['simclr'])['state_dict']
    assert torch.equal(runner.model.backbone.conv1.weight,
                       state['backbone.conv1.weight'])
