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
* at the end the script prints where the checkpoints, logs and figures went.
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
    vis_dir = osp.join(runner.log_dir, 'vis_data')
    if osp.isdir(vis_dir):
        print(f'[gazeprior_mm] figures    : {osp.abspath(vis_dir)}')


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    cfg = resolve_resume(cfg)
    # CPU-only nodes: mmengine's init_dist/DDP wrapper assume CUDA; set up gloo
    from gazeprior_mm.engine.distributed import setup_cpu_distributed
    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    if runner.rank == 0:
        report_outputs(runner)
    return runner


if __name__ == '__main__':
    main()
