"""The safety hooks are on by default, in every config and through tools/train.py.

README promises crash-safe checkpoints, a NaN/Inf guard naming the iteration and the
loss term, and kill-and-resume runs equal to uninterrupted ones. The hooks doing it
(AtomicCheckpointHook, NaNGuardHook, RNGStateHook) are tested in
test_resume_kill_equivalence.py; these tests check that the shipped configs and
``tools/train.py`` actually switch them on, and reproduce the failures measured
without them, end to end through ``tools/train.py``:

* lr=1e25 ran to exit 0 with ``loss: nan`` and NaN checkpoints;
* a SIGKILL while saving with ``max_keep_ckpts=1`` (the probe schedule) left no
  loadable checkpoint;
* a truncated last checkpoint ended ``--resume`` with torch's
  ``PytorchStreamReader failed reading zip archive`` naming no file;
* a killed-and-resumed demo run's epoch-2 losses differed from the uninterrupted
  run's.
"""
import glob
import importlib.util
import json
import logging
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.engine.hooks import ensure_safety_hooks
from gazeprior_mm.utils.checkpoint import (checkpoint_problem,
                                           find_resumable_checkpoint,
                                           load_checkpoint_safely,
                                           resolve_resume_checkpoint)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_every_config_runs import (CONFIGS, SAFETY_HOOKS,  # noqa: E402
                                    TinyData, hook_names, tiny_config)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
DEMO = osp.join(ROOT, 'configs', 'gazeprior',
                'gazeprior_vit-tiny-p8_synthetic.py')
PROBE = osp.join(ROOT, 'configs', 'benchmarks', 'vit-tiny-p8_linear_synthetic.py')

def _load_train_tool():
    spec = importlib.util.spec_from_file_location('gazeprior_train_tool', TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_train_tool()


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return TinyData(tmp_path_factory.mktemp('tiny_data'))


# ------------------------------------------------------------- every config
@pytest.mark.parametrize('rel', CONFIGS)
def test_every_config_declares_the_safety_hooks(rel):
    """As shipped (no tools/train.py in between), each config names the atomic
    checkpoint hook and both custom hooks, so there is nothing for
    ``ensure_safety_hooks`` to add. (tests/test_every_config_runs.py builds each
    into a Runner and checks the registered hooks before training it; building
    here too would double the cost of the ViT-B configs.)"""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', rel))
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook', rel
    assert {h['type'] for h in cfg.custom_hooks} >= {'NaNGuardHook',
                                                     'RNGStateHook'}
    assert ensure_safety_hooks(cfg) == []


def test_a_config_built_into_a_runner_has_the_hook_objects(tiny_data, tmp_path):
    """The names above resolve to the hook classes in a real Runner (registry
    scope, custom_imports), here for the config whose base is mmpretrain's."""
    cfg = tiny_config('simclr/simclr_resnet50_mimic.py', tiny_data,
                      tmp_path / 'work')
    names = hook_names(Runner.from_cfg(cfg))
    assert set(SAFETY_HOOKS) <= names and 'CheckpointHook' not in names


# ------------------------------------------------------------ tools/train.py
def _args(*argv):
    return train_tool.parse_args([*argv])


def test_train_py_adds_missing_safety_hooks_and_logs_it(tmp_path, monkeypatch):
    """A user's config with mmengine's CheckpointHook and its own custom hooks (or
    a ``--cfg-options`` that replaced custom_hooks) still gets all three; each
    change is logged; existing arguments and hooks are kept."""
    logged = []
    monkeypatch.setattr(train_tool, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    args = _args(DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                 "custom_hooks=[]", 'default_hooks.checkpoint.type=CheckpointHook',
                 'default_hooks.checkpoint.max_keep_ckpts=1')
    cfg = train_tool.merge_args(Config.fromfile(DEMO), args)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1
    assert [h.type for h in cfg.custom_hooks] == ['NaNGuardHook', 'RNGStateHook']
    assert any('CheckpointHook -> AtomicCheckpointHook' in m for m in logged)
    assert any('added NaNGuardHook' in m for m in logged)
    assert any('added RNGStateHook' in m for m in logged)

    # a config with no scope, no checkpoint entry and a hook of its own
    bare = Config(dict(custom_hooks=[dict(type='DDPSyncCheckHook', interval=5)],
                       default_hooks=dict(logger=dict(type='LoggerHook'))))
    changes = ensure_safety_hooks(bare)
    assert bare.default_hooks.checkpoint == dict(
        type='mmpretrain.AtomicCheckpointHook', interval=1)
    assert [h['type'] for h in bare.custom_hooks] == [
        'DDPSyncCheckHook', 'mmpretrain.NaNGuardHook', 'mmpretrain.RNGStateHook']
    assert len(changes) == 3 and ensure_safety_hooks(bare) == []  # idempotent
    # the scoped names resolve from mmengine's root registry too
    from mmengine.registry import HOOKS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmengine'):
        built = [HOOKS.build(h) for h in (bare.default_hooks.checkpoint,
                                          *bare.custom_hooks[1:])]
    assert [type(h).__name__ for h in built] == list(SAFETY_HOOKS)
    # checkpointing switched off on purpose stays off
    off = Config(dict(default_hooks=dict(checkpoint=None)))
    ensure_safety_hooks(off)
    assert off.default_hooks.checkpoint is None


# -------------------------------------------------------- end to end, CPU runs
def _tiny_demo_opts(data_root, *extra):
    """``--cfg-options`` for 2-iteration epochs of the demo config on tiny data."""
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
            'train_dataloader.dataset.indices=8',
            'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'default_hooks.logger.interval=1', 'log_processor.window_size=1',
            *extra]


def _run_train(argv, tmp_path, prelude='', timeout=600):
    """``tools/train.py argv`` in a subprocess, after the Python ``prelude``."""
    script = textwrap.dedent(prelude) + textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {osp.join(ROOT, 'tools')!r})
        import train
        train.main({list(argv)!r})
    ''')
    return subprocess.run([sys.executable, '-c', script], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


def _last(work):
    with open(osp.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def test_huge_lr_stops_at_the_nan_and_keeps_the_last_good_checkpoint(
        tiny_data, tmp_path):
    """lr 1e25 with a per-epoch linear warm-up from 1e-30 over 2 epochs: epoch 1
    trains at 1e-5 and is checkpointed, epoch 2 at 5e24. The guard stops the run at
    iteration 4, the first non-finite loss (iteration 3's step blew the weights
    up), naming the term and the last good checkpoint, which loads with finite
    weights. (Schedulers chain, so a warm-up is how an lr jumps mid-run.)"""
    work = tmp_path / 'work'
    root = tiny_data.root('synthetic')
    proc = _run_train([DEMO, '--work-dir', str(work), *_tiny_demo_opts(
        root, 'optim_wrapper.optimizer.lr=1e25',
        'param_scheduler.0.start_factor=1e-30', 'param_scheduler.0.end=2',
        'param_scheduler.0.convert_to_iter_based=False')], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert 'FloatingPointError: Non-finite loss at iteration 4 (epoch 2)' in out, \
        out[-3000:]
    assert "term(s) ['loss" in out
    assert f'the last good checkpoint is {work}/epoch_1.pth' in out
    assert _last(work) == f'{work}/epoch_1.pth'
    assert not osp.exists(work / 'epoch_2.pth')
    good = load_checkpoint_safely(_last(work))
    assert good['meta']['epoch'] == 1
    assert all(torch.isfinite(v).all() for v in good['state_dict'].values()
               if v.is_floating_point())


#: replaces mmengine's save of the ``kill_at``-th checkpoint with half a file and a
#: SIGKILL: a process killed (OOM killer, preempted node) in the middle of a save
KILL_DURING_SAVE = '''
    import io, os, signal
    import torch
    import mmengine.runner.runner as runner_mod
    real_save, calls = runner_mod.save_checkpoint, [0]
    def dying_save(checkpoint, filename, *args, **kwargs):
        calls[0] += 1
        if calls[0] < {kill_at}:
            return real_save(checkpoint, filename, *args, **kwargs)
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        with open(filename, 'wb') as f:
            f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    runner_mod.save_checkpoint = dying_save
'''


def test_sigkill_during_save_with_max_keep_ckpts_1_leaves_a_resumable_run(
        tiny_data, tmp_path):
    """The probe schedule keeps one checkpoint. mmengine deleted it before writing
    its successor in place, so a kill mid-save left nothing loadable. Now the
    previous checkpoint survives until the new one is complete, and ``--resume``
    finishes the run."""
    work = tmp_path / 'work'
    probe_opts = [
        '--cfg-options',
        f'model.backbone.checkpoint={tiny_data.checkpoint(CONFIG_OF_PROBE)}',
        f'train_dataloader.dataset.data_root={tiny_data.root("synthetic")}',
        'train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0',
        f'val_dataloader.dataset.data_root={tiny_data.root("synthetic")}',
        'val_dataloader.dataset.indices=4', 'val_dataloader.num_workers=0',
        'train_cfg.max_epochs=2', 'default_hooks.checkpoint.interval=1']
    assert Config.fromfile(PROBE).default_hooks.checkpoint.max_keep_ckpts == 1
    proc = _run_train([PROBE, '--work-dir', str(work), *probe_opts], tmp_path,
                      prelude=KILL_DURING_SAVE.format(kill_at=2))
    assert proc.returncode == -9, (proc.stdout + proc.stderr)[-3000:]
    assert _last(work) == f'{work}/epoch_1.pth'
    assert checkpoint_problem(_last(work)) is None
    assert not osp.exists(work / 'epoch_2.pth')  # only a hidden temp file
    assert glob.glob(str(work / '.tmp-*epoch_2.pth'))

    proc = _run_train([PROBE, '--work-dir', str(work), '--resume',
                       *probe_opts], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert _last(work) == f'{work}/epoch_2.pth'
    assert load_checkpoint_safely(_last(work))['meta']['epoch'] == 2
    assert not osp.exists(work / 'epoch_1.pth')  # max_keep_ckpts=1, afterwards
    assert not glob.glob(str(work / '.tmp-*'))


CONFIG_OF_PROBE = 'gazeprior/gazeprior_vit-tiny-p8_synthetic.py'


def _scalars(work):
    """iteration -> logged loss, over every run (timestamp folder) in ``work``."""
    losses = {}
    for path in sorted(glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'loss' in row:
                    losses[row['step']] = row['loss']
    return losses


def test_truncated_last_checkpoint_resume_falls_back_with_a_warning(
        tiny_data, tmp_path, monkeypatch):
    """``--resume`` on a run whose newest checkpoint is cut in half: mmengine alone
    stops with torch's error naming no file; tools/train.py names the file in a
    warning, resumes from the previous intact checkpoint and finishes."""
    work = tmp_path / 'work'
    root = tiny_data.root('synthetic')
    train_tool.main([DEMO, '--work-dir', str(work), *_tiny_demo_opts(root)])
    epoch2 = work / 'epoch_2.pth'
    data = epoch2.read_bytes()
    epoch2.write_bytes(data[:len(data) // 2])
    assert _last(work) == str(epoch2)

    # the failure this fixes: mmengine's resume of the truncated file
    cfg = train_tool.merge_args(Config.fromfile(DEMO), _args(
        DEMO, '--work-dir', str(work), '--resume', *_tiny_demo_opts(
            root, 'train_cfg.max_epochs=3')))
    with pytest.raises(RuntimeError, match='PytorchStreamReader') as err:
        Runner.from_cfg(cfg).train()
    assert 'epoch_2.pth' not in str(err.value)

    # an explicit --resume PATH is not replaced, but the error names both files
    with pytest.raises(RuntimeError) as err:
        resolve_resume_checkpoint(str(work), str(epoch2))
    assert str(epoch2) in str(err.value) and 'epoch_1.pth' in str(err.value)
    with pytest.raises(RuntimeError, match=f'{epoch2}: not a complete'):
        load_checkpoint_safely(str(epoch2))

    from mmengine import logging as mm_logging
    logged = []
    real_print_log = mm_logging.print_log

    def print_log(msg, *args, **kwargs):
        logged.append((msg, kwargs.get('level')))
        return real_print_log(msg, *args, **kwargs)

    monkeypatch.setattr(mm_logging, 'print_log', print_log)
    runner = train_tool.main([DEMO, '--work-dir', str(work), '--resume',
                              *_tiny_demo_opts(root, 'train_cfg.max_epochs=3')])
    warnings = [msg for msg, level in logged if str(msg).startswith('Resume:')]
    assert {level for msg, level in logged if msg in warnings} == {
        logging.WARNING}
    assert len(warnings) == 1 and str(epoch2) in warnings[0]
    assert f'previous intact checkpoint {work}/epoch_1.pth' in warnings[0]
    assert runner.cfg.load_from == f'{work}/epoch_1.pth'
    assert runner.epoch == 3 and runner.iter == 6
    assert checkpoint_problem(str(epoch2)) is None  # rewritten whole
    assert find_resumable_checkpoint(str(work))[0] == f'{work}/epoch_3.pth'


def test_demo_config_killed_in_epoch_2_and_resumed_equals_uninterrupted(
        tiny_data, tmp_path):
    """With the demo config as shipped (RNGStateHook on, augmentations drawn in the
    main process with num_workers=0), a run SIGKILLed in epoch 2 and resumed with
    ``--resume`` logs the same epoch-2 losses as an uninterrupted run. Without the
    saved generator states they differed (test_resume_kill_equivalence.py's
    control)."""
    root = tiny_data.root('synthetic')
    ref = tmp_path / 'ref'
    train_tool.main([DEMO, '--work-dir', str(ref), *_tiny_demo_opts(root)])
    want = _scalars(ref)
    assert sorted(want) == [1, 2, 3, 4]

    crash = tmp_path / 'crash'
    kill_at_iter_4 = '''
        import os, signal
        from mmengine.hooks import Hook
        from mmengine.runner import Runner
        class KillAt4(Hook):
            priority = 'HIGHEST'
            def after_train_iter(self, runner, *args, **kwargs):
                if runner.iter + 1 == 4:
                    os.kill(os.getpid(), signal.SIGKILL)
        real_train = Runner.train
        def train(self):
            self.register_hook(KillAt4())
            return real_train(self)
        Runner.train = train
    '''
    proc = _run_train([DEMO, '--work-dir', str(crash), *_tiny_demo_opts(root)],
                      tmp_path, prelude=kill_at_iter_4)
    assert proc.returncode == -9, (proc.stdout + proc.stderr)[-3000:]
    assert _last(crash) == f'{crash}/epoch_1.pth'
    train_tool.main([DEMO, '--work-dir', str(crash), '--resume',
                     *_tiny_demo_opts(root)])
    got = _scalars(crash)
    for it in (3, 4):
        assert got[it] == pytest.approx(want[it], rel=1e-6, abs=1e-7), it
