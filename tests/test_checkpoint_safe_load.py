"""mmengine checkpoints load under torch's weights_only unpickler; unsafe ones don't."""
import os
import pickle
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint

sys.path.insert(0, os.path.dirname(__file__))
from _dist_common import (EMBED, IMG, state_dict_of,  # noqa: E402
                          tiny_runner)

from gazeprior_mm.registry import MODELS  # noqa: E402
from gazeprior_mm.utils.checkpoint import (  # noqa: E402
    SAFE_CHECKPOINT_GLOBALS, install_safe_globals, load_checkpoint_safely,
    restricted_getattr, to_builtin)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A real mmengine run (plain CheckpointHook): 4 iterations, ckpts at 2, 4."""
    work = tmp_path_factory.mktemp('ckpt_run')
    runner = tiny_runner(work, max_iters=4, ckpt_interval=2,
                         checkpoint_type='CheckpointHook')
    runner.train()
    return work, state_dict_of(runner)


def test_mmengine_checkpoint_needs_and_gets_the_allow_list(trained):
    work, _ = trained
    ckpt = str(work / 'iter_4.pth')
    saved = list(torch.serialization.get_safe_globals())
    torch.serialization.clear_safe_globals()
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(ckpt)
        assert any('HistoryBuffer' in g for g in unsafe)
        assert any(g.startswith('numpy') for g in unsafe)
        with pytest.raises(pickle.UnpicklingError):
            torch.load(ckpt, weights_only=True)
    finally:
        torch.serialization.add_safe_globals(saved)
    install_safe_globals()
    ck = torch.load(ckpt)  # torch's default is weights_only=True
    hub = ck['message_hub']['log_scalars']
    assert isinstance(hub['train/loss'], HistoryBuffer)
    assert np.isfinite(hub['train/loss'].mean())
    assert ck['meta']['iter'] == 4


def test_resume_load_from_and_pretrained_under_weights_only(trained, tmp_path):
    work, weights = trained
    ckpt = str(work / 'iter_4.pth')
    # resume=True continues from the latest checkpoint of the work dir
    resumed = tiny_runner(work, max_iters=6, ckpt_interval=2, resume=True,
                          checkpoint_type='CheckpointHook')
    resumed.load_or_resume()
    assert resumed.iter == 4
    assert resumed.message_hub.get_scalar('train/loss').mean() > 0
    for k, v in state_dict_of(resumed).items():
        torch.testing.assert_close(v, weights[k])
    # load_from: weights only, iteration restarts
    loaded = tiny_runner(tmp_path / 'lf', load_from=ckpt)
    loaded.load_or_resume()
    assert loaded.iter == 0
    for k, v in state_dict_of(loaded).items():
        torch.testing.assert_close(v, weights[k])
    # init_cfg Pretrained with prefix='backbone.'
    backbone = MODELS.build(
        dict(type='VisionTransformer',
             arch=dict(embed_dims=EMBED, num_layers=2, num_heads=2,
                       feedforward_channels=64),
             img_size=IMG, patch_size=8, out_type='cls_token',
             init_cfg=dict(type='Pretrained', checkpoint=ckpt,
                           prefix='backbone.')))
    backbone.init_weights()
    for k, v in backbone.state_dict().items():
        torch.testing.assert_close(v, weights['backbone.' + k])


class _RunsShell:
    def __reduce__(self):
        return (os.system, ('touch PWNED_BY_CHECKPOINT',))


class _Arbitrary:
    def __init__(self):
        self.x = 1


class _SneakyGetattr:
    """A reduce through ``getattr`` to a non-HistoryBuffer attribute."""

    def __reduce__(self):
        return (getattr, (np.ndarray, 'tofile'))


@pytest.mark.parametrize('payload', [_RunsShell, _Arbitrary, _SneakyGetattr])
def test_non_allow_listed_globals_are_rejected(tmp_path, payload,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match='evil.pth'):
        load_checkpoint_safely(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(model, path)  # mmengine's path (load_from, Pretrained)
    assert not (tmp_path / 'PWNED_BY_CHECKPOINT').exists()


def test_restricted_getattr_only_reaches_history_buffer_methods():
    assert restricted_getattr(HistoryBuffer, 'mean') is HistoryBuffer.mean
    for obj, name in [(HistoryBuffer, '__init__'), (HistoryBuffer, '__class__'),
                      (os, 'system'), (np.ndarray, 'tofile'),
                      (HistoryBuffer, 'no_such_method')]:
        with pytest.raises(pickle.UnpicklingError):
            restricted_getattr(obj, name)
    names = {g[1] for g in SAFE_CHECKPOINT_GLOBALS if isinstance(g, tuple)}
    assert 'builtins.getattr' in names
    assert getattr not in SAFE_CHECKPOINT_GLOBALS


def test_to_builtin_removes_numpy():
    out = to_builtin({'a': np.float64(1.5), 'b': [np.int64(2), np.arange(2)],
                      'c': (np.bool_(True), 'x')})
    assert out == {'a': 1.5, 'b': [2, [0, 1]], 'c': (True, 'x')}
    assert type(out['a']) is float and type(out['b'][0]) is int
