"""GazePrior vs SimCLR training-step time and peak memory, same backbone and batch.

One step = forward + backward + optimizer step on a batch of two 112-px views.
Both models share the backbone config (ViT-tiny/8, 6 blocks, 14 x 14 tokens, as the
demo config; ResNet-18 with a stride-16 last stage, 7 x 7 map) and use the same
optimizer (AdamW), so the ratio isolates GazePrior's own cost: pooling to the gaze
grid, GGAM and its gaze-prediction branch, the per-patch projector, the
correspondence and GWCL.

Timing: both models are built in this process and their steps are interleaved
(A, B, A, B, ...) after warm-up, so load changes on a shared machine hit both;
the ratio is the ratio of medians of wall-clock step times. ``cpu_ratio`` is the
same for the process's CPU time (``time.process_time``), which other processes on a
shared machine disturb far less (exact with ``--threads 1``). Memory: each model runs alone in a child
process; ``peak_mb`` is the child's peak resident set size (``VmHWM``) minus its
resident size just before the model is built, i.e. the model, activations,
gradients and optimizer state of a step (CPU; on GPU use
``torch.cuda.max_memory_allocated`` instead).

Usage: python benchmarks/step_time.py [--batch 32] [--iters 10] [--threads 2]
Last line: JSON {"vit": {"ratio", "gazeprior_s", "simclr_s", "cpu_ratio", "gazeprior_peak_mb",
"simclr_peak_mb"}, "resnet": {...}, ...}.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

VIEW = 112


def backbone_cfg(kind: str) -> dict:
    if kind == 'vit':
        return dict(type='VisionTransformer',
                    arch=dict(embed_dims=192, num_layers=6, num_heads=3,
                              feedforward_channels=768),
                    img_size=VIEW, patch_size=8, out_type='featmap')
    return dict(type='ResNet', depth=18, strides=(1, 2, 2, 1), out_indices=(3, ),
                norm_cfg=dict(type='BN'))


def model_cfg(kind: str, method: str) -> dict:
    channels = 192 if kind == 'vit' else 512
    grid = 14 if kind == 'vit' else 7
    preprocessor = dict(type='SelfSupDataPreprocessor', mean=[0.] * 3, std=[1.] * 3)
    if method == 'simclr':
        return dict(type='SimCLR', data_preprocessor=preprocessor,
                    backbone=backbone_cfg(kind),
                    neck=dict(type='NonLinearNeck', in_channels=channels,
                              hid_channels=channels, out_channels=128,
                              num_layers=2, with_avg_pool=True),
                    head=dict(type='ContrastiveHead',
                              loss=dict(type='CrossEntropyLoss'),
                              temperature=0.1))
    return dict(type='GazePrior', grid=grid, data_preprocessor=preprocessor,
                backbone=backbone_cfg(kind),
                neck=dict(type='GGAM', in_channels=channels, grid=grid),
                # the projector widths of the synthetic GazePrior configs
                head=dict(type='GWCLHead', in_channels=channels,
                          hid_channels=128, out_channels=128))


def make_batch(batch: int, grid: int, seed: int = 0):
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, VIEW, VIEW, generator=gen) for _ in range(2)]
    samples = []
    for i in range(batch):
        s = DataSample()
        # stand-in g̃: values in [0, 1) with one patch at the maximum 1 (the
        # targets' own normalisation is not part of the timed step)
        gaze = torch.rand(2, grid * grid, generator=gen)
        gaze[:, 0] = 1.0
        s.set_field(gaze, 'gaze_weights')
        s.set_field(torch.tensor([i % 7 != 0, True]), 'has_gaze')
        s.set_field(torch.tensor([[0., 0., 100., 128.], [10., 8., 128., 120.]]),
                    'crop_box')
        s.set_field(torch.tensor([False, bool(i % 2)]), 'flip')
        samples.append(s)
    return views, samples


class Stepper:
    """One model, its optimizer and a fixed batch; ``step()`` returns seconds."""

    def __init__(self, kind: str, method: str, batch: int):
        from gazeprior_mm.registry import MODELS
        torch.manual_seed(0)
        self.model = MODELS.build(model_cfg(kind, method)).train()
        self.optim = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.views, self.samples = make_batch(batch, 14 if kind == 'vit' else 7)

    def step(self) -> tuple:
        """One step; returns (wall seconds, process CPU seconds)."""
        start, start_cpu = time.perf_counter(), time.process_time()
        losses = self.model.loss(self.views, self.samples)
        loss = sum(v for v in losses.values())
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        self.optim.step()
        return time.perf_counter() - start, time.process_time() - start_cpu


def time_pair(kind: str, batch: int, iters: int, warmup: int) -> dict:
    steppers = {m: Stepper(kind, m, batch) for m in ('gazeprior', 'simclr')}
    for _ in range(warmup):
        for s in steppers.values():
            s.step()
    times = {m: [] for m in steppers}
    cpu = {m: [] for m in steppers}
    for _ in range(iters):
        for m, s in steppers.items():
            wall, used = s.step()
            times[m].append(wall)
            cpu[m].append(used)
    med = {m: statistics.median(t) for m, t in times.items()}
    med_cpu = {m: statistics.median(t) for m, t in cpu.items()}
    return dict(ratio=med['gazeprior'] / med['simclr'],
                gazeprior_s=med['gazeprior'], simclr_s=med['simclr'],
                gazeprior_min_s=min(times['gazeprior']),
                simclr_min_s=min(times['simclr']),
                cpu_ratio=med_cpu['gazeprior'] / med_cpu['simclr'],
                gazeprior_cpu_s=med_cpu['gazeprior'],
                simclr_cpu_s=med_cpu['simclr'])


def proc_status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (per address space, so, unlike
    ``ru_maxrss``, not inherited from the parent across fork + exec)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def child_peak(kind: str, method: str, batch: int) -> None:
    import gazeprior_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    before = proc_status_mb('VmRSS')
    stepper = Stepper(kind, method, batch)
    for _ in range(2):
        stepper.step()
    peak = proc_status_mb('VmHWM')
    print(json.dumps(dict(peak_mb=peak - before)))


def peak_in_child(kind: str, method: str, batch: int, threads: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, '--child', kind, method, '--batch', str(batch),
         '--threads', str(threads)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])['peak_mb']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--child', nargs=2, metavar=('KIND', 'METHOD'))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        child_peak(*args.child, args.batch)
        return
    import gazeprior_mm  # noqa: F401
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    result = dict(batch=args.batch, view=VIEW, threads=args.threads,
                  iters=args.iters, device='cpu')
    for kind in ('vit', 'resnet'):
        entry = time_pair(kind, args.batch, args.iters, args.warmup)
        for method in ('gazeprior', 'simclr'):
            entry[f'{method}_peak_mb'] = peak_in_child(kind, method, args.batch,
                                                       args.threads)
        entry['meets_target'] = entry['ratio'] <= 1.05
        result[kind] = entry
        print(kind, json.dumps(entry), file=sys.stderr)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
