"""Train a model from a config, like mmpretrain's ``tools/train.py``.

Differences from mmpretrain's script, each because of where GazePrior-MM runs:

* the distributed backend falls back to ``gloo`` when CUDA is unavailable, so the
  same config runs under ``tools/dist_train.sh`` on a GPU node (NCCL) and on a CPU
  machine (gloo);
* ``pin_memory`` is switched off without CUDA (it only warns there);
* every run gets the three safety hooks (``ensure_safety_hooks``): a config's
  ``CheckpointHook`` becomes ``AtomicCheckpointHook`` (crash-safe saves), and
  ``NaNGuardHook`` / ``RNGStateHook`` are added to ``custom_hooks`` if missing
  (the shipped configs have them; a user's own config is protected too). Each
  change is logged;
* ``--resume`` checks the checkpoint first: a truncated / corrupt latest
  checkpoint is named and the run falls back, with a warning, to the newest
  intact earlier one (``resolve_resume_checkpoint``);
* ``--tensorboard`` adds mmengine's ``TensorboardVisBackend`` to the visualizer
  (scalars go to ``<log_dir>/vis_data`` as TensorBoard event files as well as
  ``scalars.json``; needs ``pip install -e ".[tensorboard]"``);
* at the end the script prints where the checkpoints, logs, scalars and figures
  went (training itself draws no figure; the line says which tools do).
"""
import argparse
import os
import os.path as osp
from copy import deepcopy

import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or (no value) from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by actual batch size / base batch size')
    parser.add_argument(
        '--no-pin-memory', action='store_true', help='disable pin_memory')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers')
    parser.add_argument(
        '--tensorboard',
        action='store_true',
        help='also log scalars for TensorBoard (adds TensorboardVisBackend to '
        'visualizer.vis_backends; needs the tensorboard package)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, xxx=yyy format')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config."""
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True

    # before the loader fix-ups below, so that e.g. num_workers=0 given here
    # also switches persistent_workers off
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # after --cfg-options, so that a replaced vis_backends list keeps it
    if getattr(args, 'tensorboard', False):
        add_tensorboard_backend(cfg)

    has_cuda = torch.cuda.is_available()
    default_loader = ConfigDict(
        pin_memory=has_cuda,
        persistent_workers=True,
        collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(default_loader)
        loader.update(cfg[field])
        if args.no_pin_memory or not has_cuda:
            loader['pin_memory'] = False
        if args.no_persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
        cfg[field] = loader

    # NCCL needs GPUs; on CPU-only machines the same config runs on gloo.
    if not has_cuda:
        cfg.setdefault('env_cfg', ConfigDict())
        cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'

    # after --cfg-options: a replaced custom_hooks list must not drop them
    from gazeprior_mm.engine.hooks import ensure_safety_hooks
    for change in ensure_safety_hooks(cfg):
        print_log(f'[gazeprior_mm] safety hooks: {change}', logger='current')
    return cfg


def add_tensorboard_backend(cfg):
    """Append ``dict(type='TensorboardVisBackend')`` to the visualizer's backends
    (once; a visualizer is created if the config has none). Only the config
    changes here, so this works without tensorboard installed;
    :func:`check_tensorboard` tells the user before the run starts."""
    if cfg.get('visualizer', None) is None:
        cfg.visualizer = ConfigDict(
            type='UniversalVisualizer',
            vis_backends=[dict(type='LocalVisBackend')])
    backends = list(cfg.visualizer.get('vis_backends', None) or [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
    cfg.visualizer.vis_backends = backends
    return cfg


def uses_tensorboard(cfg) -> bool:
    vis = cfg.get('visualizer', None) or {}
    return any(b.get('type') == 'TensorboardVisBackend'
               for b in vis.get('vis_backends', None) or [])


def check_tensorboard(cfg):
    """Fail before training, with the fix, when the config asks for TensorBoard
    but the package is missing (mmengine would fail only at the first log)."""
    if not uses_tensorboard(cfg):
        return
    try:
        import tensorboard  # noqa: F401
    except ImportError as err:
        raise SystemExit(
            'TensorboardVisBackend is configured (--tensorboard) but the '
            'tensorboard package is not installed: pip install tensorboard '
            '(or pip install -e ".[tensorboard]")') from err


def resolve_resume(cfg):
    """Point ``cfg.load_from`` at an intact checkpoint before resuming.

    mmengine would load the file ``last_checkpoint`` names and, if it is truncated,
    stop with ``PytorchStreamReader failed reading zip archive`` naming no file.
    """
    if not cfg.get('resume', False):
        return cfg
    from gazeprior_mm.utils.checkpoint import resolve_resume_checkpoint
    path = resolve_resume_checkpoint(cfg.work_dir, cfg.get('load_from', None))
    if path is not None:
        cfg.load_from = path
    return cfg


def report_outputs(runner):
    """Print where this run's checkpoints, logs and figures are."""
    work_dir = osp.abspath(runner.work_dir)
    last = osp.join(work_dir, 'last_checkpoint')
    ckpt = open(last).read().strip() if osp.exists(last) else None
    print(f'[gazeprior_mm] work dir   : {work_dir}')
    print(f'[gazeprior_mm] checkpoint : {ckpt}')
    print(f'[gazeprior_mm] logs       : {osp.abspath(runner.log_dir)}')
    scalars = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    if osp.isfile(scalars):
        print(f'[gazeprior_mm] scalars    : {osp.abspath(scalars)}')
    if uses_tensorboard(runner.cfg):
        print('[gazeprior_mm] tensorboard: tensorboard --logdir '
              f'{osp.abspath(osp.join(runner.log_dir, "vis_data"))}')
    # training draws no figure; say which tools do instead of pointing at a
    # folder of JSON files
    print('[gazeprior_mm] figures    : none drawn by training; loss curves: '
          f'python tools/analysis/plot_loss_curves.py {work_dir} --out '
          f'{osp.join(work_dir, "loss_curves.png")}; gaze vs attention: '
          'python tools/analysis/gaze_alignment.py CONFIG CHECKPOINT '
          '--out-dir DIR')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    check_tensorboard(cfg)
    cfg = resolve_resume(cfg)
    # CPU-only nodes: mmengine's init_dist/DDP wrapper assume CUDA; set up gloo
    from gazeprior_mm.engine.distributed import setup_cpu_distributed
    setup_cpu_distributed(cfg)
    # old McGIP configs mined inside the model: their keys move to the config's
    # gaze_neighbour_table before the model is built
    from gazeprior_mm.mining import (prepare_gaze_neighbour_table,
                                     translate_deprecated_mining)
    translate_deprecated_mining(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    # after the runner (process group up), before train() builds the datasets
    from gazeprior_mm.datasets import prepare_synthetic_benchmark
    prepare_synthetic_benchmark(cfg)
    prepare_gaze_neighbour_table(cfg)  # reads the (now present) annotations
    runner.train()
    if runner.rank == 0:
        report_outputs(runner)
    return runner


if __name__ == '__main__':
    main()
