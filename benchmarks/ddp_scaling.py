"""2-process gloo DDP throughput / 1-process throughput on CPU (one thread each).

What it runs: the project's real training step -- an mmpretrain model built from a
config dict through the registry, ``model.train_step(data, optim_wrapper)`` as
mmengine's loop calls it, wrapped in
:class:`gazeprior_mm.engine.distributed.CPUCompatibleDistributedDataParallel` for
the 2-process run (gradient all-reduce over gloo). Weak scaling: every process
trains on ``--batch`` images per step, so the 2-process run does twice the work
per step; ratio = (2 x batch / step time with 2 processes) / (batch / step time
with 1 process), ideal 2.0.

Default model (``--model vit-s``): ViT, 6 layers, 192 dims, 3 heads, 64 px
images, patch 8 (64 tokens), linear head, batch 32 per process: about 2.7 M
parameters (11 MB of gradients all-reduced per step) against ~40 GFLOP of compute
per step, so communication is a few percent of a step -- the regime of real
multi-GPU runs, where a ViT-B step on 256 images dwarfs its 330 MB all-reduce.

Prints one JSON line last: ``{"throughput_ratio_2_over_1": float, ...}``, plus
diagnostics: ``allreduce_s`` (one gloo all-reduce of all gradients, measured),
``ideal_ratio_compute_plus_allreduce`` (the ratio if a step were the 1-process
compute plus that all-reduce, no overlap) and ``cpu_share_*`` (CPU time / wall
time per process: well below 1 means other programs took the cores and the ratio
measures the machine's load, not DDP). Needs two free cores for a meaningful
number; ``--steps 3 --warmup 1`` is a smoke run.
"""
import argparse
import json
import shutil
import tempfile
import os
import socket
import sys
import time

ARCHS = {
    'vit-s': dict(embed_dims=192, num_layers=6, num_heads=3,
                  feedforward_channels=768),
    'vit-tiny': dict(embed_dims=64, num_layers=2, num_heads=2,
                     feedforward_channels=128),
}


def _model_cfg(arch, img):
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[128.] * 3,
                               std=[64.] * 3),
        backbone=dict(type='VisionTransformer', arch=ARCHS[arch], img_size=img,
                      patch_size=8, out_type='cls_token', drop_path_rate=0.),
        head=dict(type='LinearClsHead', num_classes=14,
                  in_channels=ARCHS[arch]['embed_dims']))


def _batch(batch, img, seed):
    import torch
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 256, (batch, 3, img, img), generator=gen,
                         dtype=torch.uint8)
    labels = torch.randint(0, 14, (batch, ), generator=gen)
    return dict(inputs=list(imgs),
                data_samples=[DataSample().set_gt_label(int(y)) for y in labels])


def _run(rank, world, port, args, out):
    """Train ``warmup + steps`` steps; put (per-step seconds, n params) in out."""
    os.environ['OMP_NUM_THREADS'] = '1'
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    import gazeprior_mm  # noqa: F401
    from mmengine.optim import build_optim_wrapper
    from gazeprior_mm.registry import MODELS
    if world > 1:
        os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                          RANK=str(rank), WORLD_SIZE=str(world),
                          LOCAL_RANK=str(rank))
        from gazeprior_mm.engine.distributed import (
            CPUCompatibleDistributedDataParallel, init_cpu_process_group)
        init_cpu_process_group('pytorch')
    model = MODELS.build(_model_cfg(args.model, args.img))
    n_params = sum(p.numel() for p in model.parameters())
    if world > 1:
        model = CPUCompatibleDistributedDataParallel(
            model, broadcast_buffers=False)
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-5)))
    data = _batch(args.batch, args.img, seed=rank)
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            if world > 1:
                torch.distributed.barrier()
            start = time.perf_counter()
            cpu_start = time.process_time()
        model.train_step(data, optim_wrapper=optim)
    if world > 1:
        torch.distributed.barrier()
    elapsed = time.perf_counter() - start
    # < 1 when other processes compete for this core (a busy machine)
    cpu_share = (time.process_time() - cpu_start) / elapsed
    allreduce_s = 0.0
    if world > 1:
        flat = torch.zeros(n_params)
        torch.distributed.barrier()
        t0 = time.perf_counter()
        for _ in range(3):
            torch.distributed.all_reduce(flat)
        allreduce_s = (time.perf_counter() - t0) / 3
        torch.distributed.destroy_process_group()
    out[rank] = (elapsed / args.steps, n_params, cpu_share, allreduce_s)


def _worker(rank, world, port, args, result_dir):
    out = {}
    _run(rank, world, port, args, out)
    # a file, not a multiprocessing queue: a rank that exits right after
    # destroy_process_group can lose a queued item and leave the parent waiting
    with open(os.path.join(result_dir, f'rank{rank}.json'), 'w') as f:
        json.dump(out[rank], f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', choices=sorted(ARCHS), default='vit-s')
    parser.add_argument('--img', type=int, default=64)
    parser.add_argument('--batch', type=int, default=32,
                        help='images per process per step')
    parser.add_argument('--steps', type=int, default=12)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args(argv)

    import torch.multiprocessing as mp
    ctx = mp.get_context('spawn')
    results = {}
    for world in (1, 2):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        result_dir = tempfile.mkdtemp(prefix='ddp_scaling_')
        procs = [ctx.Process(target=_worker,
                             args=(r, world, port, args, result_dir))
                 for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=3600)
            if p.exitcode != 0:
                sys.exit(f'worker failed with exit code {p.exitcode}')
        outs = {}
        for r in range(world):
            with open(os.path.join(result_dir, f'rank{r}.json')) as f:
                outs[r] = json.load(f)
        shutil.rmtree(result_dir, ignore_errors=True)
        step_s = max(o[0] for o in outs.values())  # slowest rank sets the pace
        results[world] = dict(
            step_s=step_s, n_params=outs[0][1],
            cpu_share=min(o[2] for o in outs.values()),
            allreduce_s=max(o[3] for o in outs.values()),
            throughput=world * args.batch / step_s)
    ratio = results[2]['throughput'] / results[1]['throughput']
    report = dict(
        throughput_ratio_2_over_1=round(ratio, 4),
        throughput_1proc_img_s=round(results[1]['throughput'], 3),
        throughput_2proc_img_s=round(results[2]['throughput'], 3),
        step_s_1proc=round(results[1]['step_s'], 4),
        step_s_2proc=round(results[2]['step_s'], 4),
        model=f'{args.model} ImageClassifier, {args.img}px, patch 8',
        params=results[1]['n_params'],
        allreduce_mb=round(results[1]['n_params'] * 4 / 2**20, 2),
        allreduce_s=round(results[2]['allreduce_s'], 4),
        # ratio if the step were compute + one un-overlapped gradient all-reduce
        ideal_ratio_compute_plus_allreduce=round(
            2 * results[1]['step_s'] /
            (results[1]['step_s'] + results[2]['allreduce_s']), 4),
        cpu_share_1proc=round(results[1]['cpu_share'], 3),
        cpu_share_2proc_min=round(results[2]['cpu_share'], 3),
        batch_per_process=args.batch, steps=args.steps, warmup=args.warmup,
        backend='gloo', threads_per_process=1, cpu_count=os.cpu_count(),
        load_avg_1min=round(os.getloadavg()[0], 2), target=1.6)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
