"""Kill-and-resume gives the uninterrupted run; saves are atomic; NaN stops cleanly.

The runs use the hooks of the project runtime (configs/_base_/default_runtime.py:
its checkpoint hook and custom hooks), not hooks added here, so these tests check
what every config trains with. tests/test_config_safety_hooks.py repeats the
kill-and-resume and NaN cases end to end through tools/train.py on the demo config.
"""
import io
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel

sys.path.insert(0, os.path.dirname(__file__))
from _dist_common import (KillAt, LossRecorder, TinyImages,  # noqa: E402
                          state_dict_of, tiny_runner)

HERE = os.path.dirname(os.path.abspath(__file__))
_RUNTIME = Config.fromfile(osp.join(HERE, '..', 'configs', '_base_',
                                    'default_runtime.py'))
#: the custom hooks (NaNGuardHook, RNGStateHook) and the checkpoint hook type
#: (AtomicCheckpointHook) that every config gets from the project runtime
DEFAULT_HOOKS = [h.to_dict() for h in _RUNTIME.custom_hooks]
CHECKPOINT = _RUNTIME.default_hooks.checkpoint.type


def test_the_runtime_switches_the_safety_hooks_on():
    """The premise of the tests below: they run with the runtime's hooks."""
    assert {h['type'] for h in DEFAULT_HOOKS} == {'NaNGuardHook', 'RNGStateHook'}
    assert CHECKPOINT == 'AtomicCheckpointHook'


def _last(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


# random flips in the main process + dropout: needs the saved generator states
RANDOM = dict(augment=True, dropout=0.2)


def test_sigkill_at_iteration_k_then_resume_equals_uninterrupted(tmp_path):
    # reference: 8 uninterrupted iterations
    ref = LossRecorder()
    ref_runner = tiny_runner(tmp_path / 'ref', max_iters=8, ckpt_interval=3,
                             custom_hooks=[ref, *DEFAULT_HOOKS],
                             checkpoint_type=CHECKPOINT, **RANDOM)
    ref_runner.train()

    # crashed run: SIGKILLed at iteration 5 (last checkpoint: iteration 3)
    work = tmp_path / 'crash'
    script = textwrap.dedent(f'''
        import sys; sys.path.insert(0, {HERE!r})
        from _dist_common import KillAt, tiny_runner
        tiny_runner({str(work)!r}, max_iters=8, ckpt_interval=3,
                    custom_hooks=[KillAt(5, 'sigkill'), *{DEFAULT_HOOKS!r}],
                    checkpoint_type={CHECKPOINT!r},
                    augment=True, dropout=0.2).train()
    ''')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'),
                          timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert _last(work).endswith('iter_3.pth')

    resumed = LossRecorder()
    runner = tiny_runner(work, max_iters=8, ckpt_interval=3, resume=True,
                         custom_hooks=[resumed, *DEFAULT_HOOKS],
                         checkpoint_type=CHECKPOINT, **RANDOM)
    runner.train()
    assert sorted(resumed.losses) == [4, 5, 6, 7, 8]
    for it in resumed.losses:
        assert resumed.samples[it] == ref.samples[it], f'data order, iter {it}'
        assert resumed.losses[it] == pytest.approx(ref.losses[it], rel=1e-5,
                                                   abs=1e-6)
    for k, v in state_dict_of(runner).items():
        torch.testing.assert_close(v, state_dict_of(ref_runner)[k])


def test_without_saved_rng_state_a_resumed_run_diverges(tmp_path):
    """The control for the test above: mmengine alone re-seeds on resume (the
    runtime's hooks without RNGStateHook)."""
    hooks = [h for h in DEFAULT_HOOKS if h['type'] != 'RNGStateHook']
    ref = LossRecorder()
    tiny_runner(tmp_path / 'ref', max_iters=5, ckpt_interval=3,
                custom_hooks=[ref, *hooks], **RANDOM).train()
    with pytest.raises(KeyboardInterrupt):
        tiny_runner(tmp_path / 'crash', max_iters=5, ckpt_interval=3,
                    custom_hooks=[KillAt(4), *hooks], **RANDOM).train()
    resumed = LossRecorder()
    tiny_runner(tmp_path / 'crash', max_iters=5, ckpt_interval=3, resume=True,
                custom_hooks=[resumed, *hooks], **RANDOM).train()
    assert resumed.samples[4] == ref.samples[4]  # the sampler order is kept
    assert resumed.losses[4] != pytest.approx(ref.losses[4], rel=1e-5)


def _interrupted_save(monkeypatch, calls_before_kill):
    """Make the n-th checkpoint write die halfway (like a kill mid-write)."""
    import mmengine.runner.runner as runner_mod
    real_save = runner_mod.save_checkpoint
    calls = {'n': 0}

    def dying_save(checkpoint, filename, *args, **kwargs):
        calls['n'] += 1
        if calls['n'] <= calls_before_kill:
            return real_save(checkpoint, filename, *args, **kwargs)
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        with open(filename, 'wb') as f:
            f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
        raise KeyboardInterrupt('killed while writing the checkpoint')

    monkeypatch.setattr(runner_mod, 'save_checkpoint', dying_save)


@pytest.mark.parametrize('hook', [CHECKPOINT, 'CheckpointHook'])
def test_kill_during_save_keeps_previous_checkpoint(tmp_path, monkeypatch,
                                                    hook):
    work = tmp_path / hook
    _interrupted_save(monkeypatch, calls_before_kill=1)
    runner = tiny_runner(work, max_iters=4, ckpt_interval=2, max_keep_ckpts=1,
                         checkpoint_type=hook)
    with pytest.raises(KeyboardInterrupt):
        runner.train()
    latest = _last(work)
    assert latest.endswith('iter_2.pth')
    if hook == 'CheckpointHook':
        # mmengine deletes the kept checkpoint before writing the new one and
        # writes in place: the pointer dangles and iter_4.pth is truncated
        assert not osp.exists(latest)
        with pytest.raises(Exception):
            torch.load(osp.join(work, 'iter_4.pth'))
        return
    ckpt = torch.load(latest, weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert not osp.exists(osp.join(work, 'iter_4.pth'))
    monkeypatch.undo()
    # resuming cleans the half-written temp file and finishes
    runner = tiny_runner(work, max_iters=4, ckpt_interval=2, max_keep_ckpts=1,
                         resume=True, checkpoint_type=CHECKPOINT,
                         custom_hooks=DEFAULT_HOOKS)
    runner.train()
    assert runner.iter == 4
    assert osp.isfile(work / 'iter_4.pth')
    assert not [f for f in os.listdir(work) if f.startswith('.tmp-')]
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # max_keep_ckpts=1
    assert torch.load(_last(work))['meta']['iter'] == 4


class TwoTermModel(BaseModel):
    """``loss_fit`` + ``loss_reg``; ``loss_reg`` turns NaN once ``poison`` is set."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(3, 1)
        self.poison = False

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs).float().mean(dim=(2, 3)) / 255.
        out = self.proj(x)
        reg = (self.proj.weight ** 2).sum()
        if self.poison:
            reg = reg * float('nan')
        return dict(loss_fit=(out ** 2).mean(), loss_reg=reg)


class PoisonAt(KillAt):

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        runner.model.poison = runner.iter + 1 >= self.k

    def after_train_iter(self, *args, **kwargs):
        pass


def test_nan_guard_names_iteration_and_term_and_keeps_last_good(tmp_path):
    runner = tiny_runner(tmp_path, max_iters=6, ckpt_interval=1,
                         model=TwoTermModel(), checkpoint_type=CHECKPOINT,
                         custom_hooks=[*DEFAULT_HOOKS, PoisonAt(3)])
    with pytest.raises(FloatingPointError) as err:
        runner.train()
    msg = str(err.value)
    assert 'iteration 3' in msg and "'loss_reg'" in msg and 'loss_fit' not in \
        msg.split('(this rank')[0].split('term(s)')[1]
    assert 'iter_2.pth' in msg
    assert _last(tmp_path).endswith('iter_2.pth')
    assert not osp.exists(tmp_path / 'iter_3.pth')
    good = torch.load(_last(tmp_path))
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values())


def test_nan_guard_refuses_to_save_non_finite_weights(tmp_path):
    from gazeprior_mm.engine.hooks import NaNGuardHook
    runner = tiny_runner(tmp_path, max_iters=1, model=TwoTermModel())
    ckpt = {'state_dict': {'proj.weight': torch.tensor([1., float('inf')]),
                           'step': torch.tensor(3)}}
    with pytest.raises(FloatingPointError, match='proj.weight'):
        NaNGuardHook().before_save_checkpoint(runner, ckpt)
    ckpt['state_dict']['proj.weight'] = torch.ones(2)
    NaNGuardHook().before_save_checkpoint(runner, ckpt)  # finite: no error


def test_tiny_dataset_is_deterministic():
    ds = TinyImages(4)
    assert torch.equal(ds[1]['inputs'], ds[1]['inputs'])
    assert not torch.equal(ds[1]['inputs'], ds[2]['inputs'])
