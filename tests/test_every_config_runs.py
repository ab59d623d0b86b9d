"""Every shipped config trains one iteration on CPU, with the safety hooks on.

Config-level tests elsewhere check pieces (a data section, a model build); this one
catches a config that does not *run*, like the 1 %-label fine-tuning configs whose
``LabelFractionDataset`` inherited the base dataset's ``data_root`` (a TypeError
at the first iteration). Each config in ``configs/`` (files under a ``_``-named
folder, or named ``_*``, are fragments to inherit and are skipped) is loaded
unchanged and only shrunk the way a user would with ``--cfg-options``: batch size,
``num_workers=0``, one epoch of one iteration (``dataset.indices``), a data root
with a handful of small images. The images are small, the networks are not: the
flagship ViT-B/16 and the ResNet-50s run at their 224-px views.

Data roots, all built here once per module:

* synthetic configs: the synthetic generator (24 images of 64 px);
* MIMIC-CXR configs: the format-faithful MIMIC-CXR-JPG + EGD-CXR fixture of
  ``_real_data_fixtures.py`` through the project's converters;
* CheXpert configs: the CheXpert-v1.0-small fixture through its converter.

Probes and fine-tuning load a pre-training checkpoint (``PretrainedBackbone``):
the matching pre-training config's freshly built model is saved with its config,
as a real run's checkpoint is.

Only CPU adaptations that a CPU user would also need are made: ``AmpOptimWrapper``
(CUDA only) becomes ``OptimWrapper``; SyncBN is reverted by mmengine itself.
"""
import glob
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.datasets import prepare_synthetic_benchmark
from gazeprior_mm.mining import prepare_gaze_neighbour_table

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _real_data_fixtures import make_chexpert, make_egd, make_mimic  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs')
SAFETY_HOOKS = ('AtomicCheckpointHook', 'NaNGuardHook', 'RNGStateHook')


def shipped_configs():
    """Relative paths of every runnable config (no ``_``-named file or folder)."""
    found = []
    for path in glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True):
        rel = osp.relpath(path, CONFIG_DIR)
        if not any(part.startswith('_') for part in rel.split(os.sep)):
            found.append(rel)
    return sorted(found)


CONFIGS = shipped_configs()

#: the pre-training config whose backbone a probe / fine-tuning config loads,
#: by the probe's file-name prefix
PRETRAIN_OF = {
    'vit-tiny-p8': 'gazeprior/gazeprior_vit-tiny-p8_synthetic.py',
    'resnet18': 'gazeprior/gazeprior_resnet18_synthetic.py',
    'vit-base-p16': 'gazeprior_vitb_mimic.py',
}


def dataset_path(cfg, loader):
    """Dotted key of the innermost dataset dict of ``loader`` (through wrappers
    such as ``LabelFractionDataset``)."""
    key, ds = f'{loader}.dataset', cfg[loader]['dataset']
    while 'dataset' in ds and 'data_root' not in ds:
        key, ds = f'{key}.dataset', ds['dataset']
    return key, ds


class TinyData:
    """Lazily built tiny data roots and pre-training checkpoints."""

    def __init__(self, folder):
        self.folder = str(folder)
        self._roots = {}
        self._ckpts = {}

    def root(self, kind):
        if kind not in self._roots:
            self._roots[kind] = getattr(self, f'_make_{kind}')(
                osp.join(self.folder, kind))
        return self._roots[kind]

    @staticmethod
    def _make_synthetic(root):
        from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
        generate_synthetic_cxr(root, num_images=24, img_size=64, seed=0)
        return root

    def _make_mimic(self, root):
        from gazeprior_mm.datasets.converters import (convert_egd_cxr,
                                                      convert_mimic_cxr_jpg)
        make_mimic(root)
        ann = osp.join(root, 'annotations')
        convert_mimic_cxr_jpg(root, ann, progress=False)
        convert_egd_cxr(make_egd(osp.join(self.folder, 'egd')),
                        [(osp.join(ann, 'mimic_train.json'),
                          osp.join(ann, 'mimic_gaze_train.json'))],
                        progress=False)
        return root

    @staticmethod
    def _make_chexpert(root):
        from gazeprior_mm.datasets.converters import convert_chexpert
        make_chexpert(root)
        convert_chexpert(root, osp.join(root, 'annotations'), progress=False)
        return root

    def checkpoint(self, pretrain_rel):
        """The pre-training config's model, untrained, saved as a run would."""
        if pretrain_rel not in self._ckpts:
            from gazeprior_mm.registry import MODELS
            cfg = Config.fromfile(osp.join(CONFIG_DIR, pretrain_rel))
            init_default_scope('mmpretrain')
            model = MODELS.build(cfg.model)
            path = osp.join(self.folder, pretrain_rel.replace('/', '_') + '.pth')
            torch.save(dict(meta=dict(cfg=cfg.pretty_text),
                            state_dict=model.state_dict()), path)
            self._ckpts[pretrain_rel] = path
        return self._ckpts[pretrain_rel]


def data_kind(data_root):
    for kind in ('synthetic', 'mimic', 'chexpert'):
        if kind in str(data_root):
            return kind
    raise AssertionError(f'no tiny data for data_root={data_root!r}')


def tiny_config(rel, data, work_dir):
    """The config ``rel`` with ``--cfg-options``-style overrides for a one-iteration
    CPU run on tiny data in ``work_dir``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, rel))
    ds_key, ds = dataset_path(cfg, 'train_dataloader')
    kind = data_kind(ds['data_root'])
    root = data.root(kind)
    pretraining = cfg.model.get('type') != 'ImageClassifier'
    # MIMIC / CheXpert fixtures have 2 training images
    batch = 4 if kind == 'synthetic' else 2
    opts = {'work_dir': str(work_dir),
            'train_cfg.max_epochs': 1,
            'default_hooks.logger.interval': 1}
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is None:
            continue
        key, _ = dataset_path(cfg, loader)
        opts.update({f'{loader}.batch_size': batch,
                     f'{loader}.num_workers': 0,
                     f'{loader}.persistent_workers': False,
                     f'{key}.data_root': root,
                     # one batch: one training iteration per epoch
                     f'{key}.indices': batch})
    table = cfg.get('gaze_neighbour_table')
    if cfg.model.get('gaze_positives') is not None:
        # McGIP / GzPT: the config declares its table; mine it from the tiny data
        assert table is not None, f'{rel}: no gaze_neighbour_table'
        neighbour_file = osp.join(str(work_dir), 'neighbours.npz')
        opts.update({
            'gaze_neighbour_table.ann_file': osp.join(root, ds['ann_file']),
            'gaze_neighbour_table.neighbour_file': neighbour_file,
            'model.gaze_positives.neighbour_file': neighbour_file,
            'gaze_neighbour_table.mine_cfg.k': 2})
        if 'candidates' in table.mine_cfg:
            opts['gaze_neighbour_table.mine_cfg.candidates'] = 4
    if cfg.model.get('backbone', {}).get('type') == 'PretrainedBackbone':
        prefix = next(p for p in PRETRAIN_OF if osp.basename(rel).startswith(p))
        opts['model.backbone.checkpoint'] = data.checkpoint(PRETRAIN_OF[prefix])
    if (cfg.optim_wrapper.get('type') == 'AmpOptimWrapper'
            and not torch.cuda.is_available()):
        opts['optim_wrapper.type'] = 'OptimWrapper'  # torch.cuda.amp needs CUDA
    cfg.merge_from_dict(opts)
    assert pretraining or cfg.get('val_dataloader') is not None
    return cfg


def hook_names(runner):
    return {type(h).__name__ for h in runner.hooks}


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return TinyData(tmp_path_factory.mktemp('tiny_data'))


def test_the_glob_finds_every_kind_of_config():
    """A glob that silently matched nothing would make the test below vacuous."""
    assert len(CONFIGS) >= 30
    for must in ('gazeprior_vitb_mimic.py', 'gazeprior_r50_mimic.py',
                 'benchmarks/vit-base-p16_finetune-1pct_chexpert.py',
                 'mcgip/mcgip_mocov2_resnet50_mimic.py',
                 'simclr/simclr_resnet50_mimic.py'):
        assert must in CONFIGS
    assert not [c for c in CONFIGS if '_base_' in c or
                osp.basename(c).startswith('_')]


@pytest.mark.parametrize('rel', CONFIGS)
def test_config_trains_one_iteration(rel, tiny_data, tmp_path):
    """Train, with the config's own hooks, one iteration (then validate if the
    config does): finite loss, the three safety hooks present, a checkpoint that
    the hook wrote atomically (no temp file left)."""
    work = tmp_path / 'work'
    cfg = tiny_config(rel, tiny_data, work)
    runner = Runner.from_cfg(cfg)
    assert set(SAFETY_HOOKS) <= hook_names(runner), rel
    # what tools/train.py does between building the runner and training
    assert not prepare_synthetic_benchmark(cfg)  # the tiny data are there
    prepare_gaze_neighbour_table(cfg)
    runner.train()
    assert runner.iter == 1, f'{rel}: {runner.iter} iterations, expected 1'
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss), f'{rel}: loss {loss}'
    with open(work / 'last_checkpoint') as f:
        last = f.read().strip()
    assert osp.basename(last) == 'epoch_1.pth' and osp.isfile(last)
    assert not [f for f in os.listdir(work) if f.startswith('.tmp-')]
    shutil.rmtree(work)  # ViT-B checkpoints are large; free the disk at once
