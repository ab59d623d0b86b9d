"""Tiny runners shared by the test_dist_*, test_checkpoint_* and test_resume_* tests.

A 2-layer, 32-dim ViT classifier on 32 px synthetic images (deterministic per index,
no dropout), so that training is exactly reproducible on CPU and each iteration takes
milliseconds.
"""
import itertools
import os
import signal

import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch.utils.data import Dataset

import gazeprior_mm  # noqa: F401  (registers hooks, installs the allow-list)
from mmpretrain.structures import DataSample

_RUN_IDS = itertools.count()
IMG = 32
EMBED = 32


class TinyImages(Dataset):
    """``n`` random 3x``IMG``x``IMG`` images, label = index parity; fixed per index."""

    def __init__(self, n=32, augment=False):
        self.n = n
        self.augment = augment
        self.metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return self.n

    def get_data_info(self, idx):
        return dict(sample_idx=idx, has_gaze=idx % 3 == 0)

    def __getitem__(self, idx):
        gen = torch.Generator().manual_seed(1000 + idx)
        img = torch.randint(0, 256, (3, IMG, IMG), generator=gen,
                            dtype=torch.uint8)
        if self.augment and torch.rand(1).item() < 0.5:  # global RNG, like
            img = img.flip(-1)  # random transforms in the main process
        return dict(inputs=img,
                    data_samples=DataSample(metainfo=dict(
                        sample_idx=idx)).set_gt_label(idx % 2))


def tiny_vit_classifier(dropout=0.0):
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[128.] * 3,
                               std=[64.] * 3),
        backbone=dict(
            type='VisionTransformer',
            arch=dict(embed_dims=EMBED, num_layers=2, num_heads=2,
                      feedforward_channels=64),
            img_size=IMG, patch_size=8, out_type='cls_token',
            drop_rate=dropout),
        head=dict(type='LinearClsHead', num_classes=2, in_channels=EMBED))


class LossRecorder(Hook):
    """Record the loss and the sample indices of each training iteration."""

    priority = 'HIGHEST'

    def __init__(self):
        self.losses = {}
        self.samples = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses[runner.iter + 1] = outputs['loss'].item()
        self.samples[runner.iter + 1] = [
            ds.sample_idx for ds in data_batch['data_samples']]


class KillAt(Hook):
    """Simulated crash at iteration ``k`` (1-based), before it is checkpointed.

    ``mode='sigkill'`` kills the process like the OOM killer / a preempted node;
    ``mode='raise'`` raises (in-process tests).
    """

    priority = 'HIGHEST'

    def __init__(self, k, mode='raise'):
        self.k, self.mode = k, mode

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.k:
            if self.mode == 'sigkill':
                os.kill(os.getpid(), signal.SIGKILL)
            raise KeyboardInterrupt(f'simulated kill at iteration {self.k}')


def tiny_runner(work_dir, max_iters=8, ckpt_interval=2, custom_hooks=(),
                resume=False, load_from=None, launcher='none', n_images=32,
                batch_size=4, checkpoint_type='AtomicCheckpointHook',
                max_keep_ckpts=-1, model=None, sampler=None, lr=0.05,
                model_wrapper_cfg=None, augment=False, dropout=0.0):
    """An iteration-based Runner on :class:`TinyImages`."""
    return Runner(
        model=model or tiny_vit_classifier(dropout),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=TinyImages(n_images, augment),
            sampler=sampler or dict(type='DefaultSampler', shuffle=True),
            batch_size=batch_size, num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=max_iters,
                             by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type=checkpoint_type, interval=ckpt_interval,
                            by_epoch=False, max_keep_ckpts=max_keep_ckpts),
            logger=dict(type='LoggerHook', interval=100)),
        custom_hooks=list(custom_hooks),
        resume=resume, load_from=load_from, launcher=launcher,
        cfg=dict(model_wrapper_cfg=model_wrapper_cfg),
        experiment_name=f'tiny_{os.getpid()}_{next(_RUN_IDS)}',
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_scope='mmpretrain',
        log_level='WARNING')


def state_dict_of(runner):
    model = runner.model.module if hasattr(runner.model, 'module') \
        else runner.model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def ddp_worker(rank, world_size, port, out_dir):
    """Body of one rank of a 2-process gloo run (``torch.multiprocessing.spawn``).

    1. 6 iterations of DDP training with :class:`GazeBalancedSampler`; saves this
       rank's final weights and the samples it saw to ``out_dir/rank{r}.pth``.
    2. A second run in which only rank 1 produces a NaN at iteration 2; saves the
       error message each rank raised to ``out_dir/nan_rank{r}.txt``.
    """
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    from mmengine.config import Config

    from gazeprior_mm.engine.distributed import setup_cpu_distributed
    cfg = Config(dict(launcher='pytorch'))
    assert setup_cpu_distributed(cfg)
    common = dict(launcher='pytorch', model_wrapper_cfg=cfg.model_wrapper_cfg,
                  sampler=dict(type='GazeBalancedSampler', seed=3))
    rec = LossRecorder()
    runner = tiny_runner(os.path.join(out_dir, 'work_train'), max_iters=6,
                         ckpt_interval=3, custom_hooks=[rec], **common)
    runner.train()
    torch.save(dict(state=state_dict_of(runner), samples=rec.samples,
                    wrapper=type(runner.model).__name__),
               os.path.join(out_dir, f'rank{rank}.pth'))

    poison = _RankPoison(rank_to_poison=1, k=2)
    runner = tiny_runner(os.path.join(out_dir, 'work_nan'), max_iters=6,
                         ckpt_interval=1,
                         custom_hooks=[dict(type='NaNGuardHook'), poison],
                         **common)
    try:
        runner.train()
        msg = 'no error'
    except FloatingPointError as err:
        msg = str(err)
    with open(os.path.join(out_dir, f'nan_rank{rank}.txt'), 'w') as f:
        f.write(msg)
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


class _RankPoison(Hook):
    """Scale one rank's logged loss to NaN at iteration ``k`` (after the step)."""

    priority = 'HIGHEST'

    def __init__(self, rank_to_poison, k):
        self.rank_to_poison, self.k = rank_to_poison, k

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.rank == self.rank_to_poison and runner.iter + 1 == self.k:
            outputs['loss'] = outputs['loss'] * float('nan')
