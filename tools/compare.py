"""Side-by-side comparison of pre-training methods on the synthetic benchmark.

One command: for every method config (SimCLR, MoCo v2, McGIP, FocusContrast,
GazePrior and its ablations; all ResNet-18; plus the untrained, randomly
initialised ResNet-18 as the floor, ``random-init_r18``) and every seed it

1. pre-trains with the same budget (epochs, batch, view size, data) and seed
   (``randomness.seed=S``),
2. trains a linear probe (``configs/benchmarks/resnet18_linear_synthetic.py``,
   frozen backbone) and tests it: macro AUC-ROC over the classes that have both
   positives and negatives in the test split; and fits the converged logistic
   probe (``tools/analysis/logistic_probe.py``) on the same frozen embeddings,
3. runs anomaly detection (``tools/analysis/anomaly_detection.py``: one-class SVM
   on the frozen embeddings of the normal training images, AUC normal vs abnormal),
4. runs gaze alignment (``tools/analysis/gaze_alignment.py``: Grad-CAM vs gaze,
   Spearman rho and EMD, plus a few figures),

and writes ``results.json`` (mean / std / per-seed values), ``results.md`` (a table,
mean +- std) and ``comparison.png`` into a work directory whose path contains
``compar`` (default ``work_dirs/comparison``).

Each (method, seed) run is one subprocess with one thread; ``--jobs`` run at a
time. Every stage is skipped when its output exists, so an interrupted comparison
continues where it stopped (``--force`` redoes everything).

Examples::

    # the small CPU budget: 3 seeds x all 8 methods (the 5 methods, two
    # GazePrior ablations and the random-init floor), 600 images; ~25 min on
    # 2 cores
    python tools/compare.py --preset cpu-small
    # a subset
    python tools/compare.py --preset cpu-small --methods simclr_r18 gazeprior_r18
    # a quick end-to-end check (1 seed, SimCLR, GazePrior, random init, a few
    # iterations)
    python tools/compare.py --preset smoke --work-dir work_dirs/comparison_smoke
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: name -> (pre-training config, extra config overrides). Names start with the
#: method, as results.json consumers expect.
METHODS = {
    'simclr_r18': ('configs/simclr/simclr_resnet18_synthetic.py', {}),
    'mocov2_r18': ('configs/mocov2/mocov2_resnet18_synthetic.py', {}),
    'mcgip_simclr_r18': ('configs/mcgip/mcgip_simclr_resnet18_synthetic.py', {}),
    'focuscontrast_simclr_r18':
    ('configs/focuscontrast/focuscontrast_simclr_resnet18_synthetic.py', {}),
    'gazeprior_r18': ('configs/gazeprior/gazeprior_resnet18_synthetic.py', {}),
    # the ViT ablations of configs/ablations/, on the ResNet-18 GazePrior
    'gazeprior_r18_no-ggam':
    ('configs/gazeprior/gazeprior_resnet18_synthetic.py',
     {'model.neck.gaze_source': 'none'}),
    'gazeprior_r18_uniform-weights':
    ('configs/gazeprior/gazeprior_resnet18_synthetic.py',
     {'model.head.weight_source': 'uniform'}),
    'gazeprior_r18_image-norm':
    ('configs/gazeprior/gazeprior_resnet18_synthetic.py',
     {'model.head.weight_norm': 'image'}),
    # the floor every method must clear: the same frozen ResNet-18, randomly
    # initialised (seeded) and never trained (its config only gives the model)
    'random-init_r18': ('configs/simclr/simclr_resnet18_synthetic.py', {}),
}
#: methods without pre-training: their "checkpoint" is the seeded initialisation
REFERENCE_METHODS = ('random-init_r18', )
#: the cpu-small preset (under 30 min on 2 cores): the five methods, GazePrior with
#: per-image GWCL weight normalisation, and the random-init floor; the other
#: ablations with ``--methods``
CPU_SMALL_METHODS = ['simclr_r18', 'mocov2_r18', 'mcgip_simclr_r18',
                     'focuscontrast_simclr_r18', 'gazeprior_r18',
                     'gazeprior_r18_image-norm', 'random-init_r18']
PROBE_CONFIG = 'configs/benchmarks/resnet18_linear_synthetic.py'

#: budgets. ``pretrain_epochs`` of ``floor(0.7 * num_images / batch_size)``
#: iterations each (the train split is 70 %, the last partial batch is dropped).
PRESETS = {
    'default': dict(
        methods=list(METHODS), seeds=[0, 1, 2], num_images=2000, img_size=128,
        view_size=112, batch_size=32, pretrain_epochs=20, probe_epochs=30,
        gaze_preset='realistic', data_seed=0, num_figures=4, jobs=2),
    # all seven methods x 3 seeds. Calibrated on the shared 2 cores (other
    # developers' jobs running too), 2 runs at a time, one thread each, 64-px
    # views, batch 32: ~2.3 s/iter (SimCLR, MoCo v2), ~2.9 s/iter (McGIP,
    # FocusContrast), ~3.0 s/iter (GazePrior); 13 iterations per epoch, so 26
    # pre-training iterations per run; linear probe ~6.5 s/epoch; ~40 s per
    # run of start-up, probe test, anomaly detection and alignment. About
    # 2-2.7 min per run, 21 runs 2 at a time: ~24 min (less on idle cores).
    'cpu-small': dict(
        methods=CPU_SMALL_METHODS, seeds=[0, 1, 2], num_images=600,
        img_size=96, view_size=64, batch_size=32, pretrain_epochs=2,
        probe_epochs=4,
        gaze_preset='realistic', data_seed=0, num_figures=2, jobs=2),
    'smoke': dict(
        methods=['simclr_r18', 'gazeprior_r18', 'random-init_r18'], seeds=[0],
        num_images=120,
        img_size=64, view_size=64, batch_size=16, pretrain_epochs=1,
        probe_epochs=1, gaze_preset='realistic', data_seed=0, num_figures=1,
        jobs=2),
}
METRICS = ('linear_auc_macro', 'logistic_auc_macro', 'anomaly_auc', 'spearman',
           'emd', 'pointing')
METRIC_TITLES = {
    'linear_auc_macro': 'linear-probe macro AUC',
    'logistic_auc_macro': 'converged logistic probe macro AUC',
    'anomaly_auc': 'anomaly AUC',
    'spearman': 'Spearman ρ (gaze vs Grad-CAM)',
    'emd': 'EMD (gaze vs Grad-CAM, lower = better)',
    'pointing': 'pointing game (Grad-CAM peak in a lesion box)',
}


# ------------------------------------------------------------- config surgery
def _loaders(cfg):
    return [cfg[k] for k in ('train_dataloader', 'val_dataloader',
                             'test_dataloader') if cfg.get(k) is not None]


def _innermost_dataset(loader):
    dataset = loader['dataset']
    while 'dataset' in dataset:  # LabelFractionDataset, RepeatDataset, ...
        dataset = dataset['dataset']
    return dataset


def _rescale_views(node, view_size: int, ratio: float) -> None:
    """Set crop/resize sizes to ``view_size`` and scale gaze grids by ``ratio``.

    Walks a (nested) pipeline or model config: ``GazeRandomResizedCrop`` /
    ``RandomResizedCrop`` / ``GazeResize`` get the new size, every ``grid`` (of
    ``PackGazeInputs``, the GazePrior model and its GGAM neck) keeps its cells per
    pixel, so a stride-16 feature map stays aligned with the gaze grid.
    """
    if isinstance(node, dict):
        kind = node.get('type')
        if kind in ('GazeRandomResizedCrop', 'RandomResizedCrop'):
            node['scale'] = view_size
        elif kind == 'GazeResize':
            node['scale'] = (view_size, view_size)
        if isinstance(node.get('grid'), int):
            grid = node['grid'] * ratio
            if abs(grid - round(grid)) > 1e-6:
                raise ValueError(f'view size {view_size} does not keep the gaze '
                                 f'grid {node["grid"]} integral ({grid:.2f})')
            node['grid'] = int(round(grid))
        for value in node.values():
            _rescale_views(value, view_size, ratio)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _rescale_views(value, view_size, ratio)


def _set_data(cfg, budget: dict, data_root: str) -> None:
    orig_view = cfg.get('view_size', 112)
    ratio = budget['view_size'] / orig_view
    for loader in _loaders(cfg):
        dataset = _innermost_dataset(loader)
        dataset['data_root'] = data_root
        dataset['synthetic'] = synthetic_kwargs(budget)
        loader['num_workers'] = 0
        loader['persistent_workers'] = False
        loader['batch_size'] = budget['batch_size']
        if budget['view_size'] != orig_view:
            _rescale_views(dataset.get('pipeline', []), budget['view_size'],
                           ratio)
    if budget['view_size'] != orig_view:
        _rescale_views(cfg['model'], budget['view_size'], ratio)
        cfg['view_size'] = budget['view_size']


def _scale_schedule(schedulers, orig_epochs: int, epochs: int) -> List[dict]:
    """Shrink epoch-unit scheduler boundaries from ``orig_epochs`` to ``epochs``."""
    out = []
    for sched in copy.deepcopy(list(schedulers)):
        for key in ('begin', 'end'):
            if key in sched and sched[key] not in (0, None):
                sched[key] = min(epochs,
                                 max(1, round(sched[key] * epochs / orig_epochs)))
        if sched.get('begin', 0) >= sched.get('end', epochs) and 'end' in sched:
            sched['begin'] = max(0, sched['end'] - 1)
        if 'T_max' in sched:
            sched['T_max'] = max(1, sched.get('end', epochs) -
                                 sched.get('begin', 0))
        out.append(sched)
    return out


def synthetic_kwargs(budget: dict) -> dict:
    return dict(num_images=budget['num_images'], img_size=budget['img_size'],
                preset=budget['gaze_preset'], seed=budget['data_seed'])


def pretrain_config(method: str, seed: int, budget: dict, data_root: str,
                    run_dir: Optional[str] = None):
    """The method's config with the shared budget, data and seed applied.

    McGIP's gaze neighbours are mined from this comparison's training annotations
    into ``run_dir`` (one file per run: parallel runs never share a file being
    written), never from the config's default dataset.
    """
    from mmengine.config import Config
    path, overrides = METHODS[method]
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.merge_from_dict(overrides)
    _set_data(cfg, budget, data_root)
    positives = cfg.model.get('gaze_positives')
    if positives is not None:
        positives['ann_file'] = osp.join(data_root, 'annotations', 'train.json')
        folder = run_dir if run_dir is not None else osp.join(data_root,
                                                              'annotations')
        positives['neighbour_file'] = osp.join(
            folder, osp.basename(positives['neighbour_file']))
    epochs = budget['pretrain_epochs']
    orig_epochs = cfg.train_cfg.get('max_epochs', epochs)
    cfg.param_scheduler = _scale_schedule(cfg.get('param_scheduler', []),
                                          orig_epochs, epochs)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def probe_config(checkpoint: str, seed: int, budget: dict, data_root: str):
    """The ResNet-18 linear probe on ``checkpoint``, same data and view size."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, PROBE_CONFIG))
    _set_data(cfg, budget, data_root)
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    epochs = budget['probe_epochs']
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True,
                                begin=0, end=epochs, T_max=epochs, eta_min=0)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=epochs,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def save_random_init(cfg, path: str, seed: int) -> str:
    """Write the seeded, untrained model of ``cfg`` as a checkpoint at ``path``
    (``state_dict`` + ``meta``, as a training run's), so that every evaluation
    stage treats the random-init reference like a pre-trained method."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint, set_random_seed
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    os.makedirs(osp.dirname(path), exist_ok=True)
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(seed=seed, epoch=0, note='random init')),
                    path)
    return path


# -------------------------------------------------------------- one run (worker)
def _load_tool(name: str):
    import importlib.util
    path = osp.join(REPO, 'tools', *name.split('/')) + '.py'
    spec = importlib.util.spec_from_file_location(
        'gp_tool_' + name.replace('/', '_'), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _final_checkpoint(work_dir: str, epochs: int) -> Optional[str]:
    path = osp.join(work_dir, f'epoch_{epochs}.pth')
    return path if osp.exists(path) else None


def run_one(spec: dict) -> dict:
    """All stages of one (method, seed); each skipped if its output exists."""
    budget, run_dir, data_root = spec['budget'], spec['run_dir'], spec['data_root']
    os.makedirs(run_dir, exist_ok=True)
    import gazeprior_mm  # noqa: F401  (registers everything)

    def log(msg):
        print(f'[compare {spec["method"]} seed={spec["seed"]}] {msg}',
              flush=True)

    # 1. pre-training
    pre_dir = osp.join(run_dir, 'pretrain')
    pre_cfg_path = osp.join(run_dir, 'pretrain_config.py')
    ckpt = _final_checkpoint(pre_dir, budget['pretrain_epochs'])
    if ckpt is None:
        log('pre-training')
        cfg = pretrain_config(spec['method'], spec['seed'], budget, data_root,
                              run_dir)
        cfg.dump(pre_cfg_path)
        if spec['method'] in REFERENCE_METHODS:
            log('random initialisation (no pre-training)')
            save_random_init(cfg, osp.join(
                pre_dir, f'epoch_{budget["pretrain_epochs"]}.pth'), spec['seed'])
        else:
            _load_tool('train').main([pre_cfg_path, '--work-dir', pre_dir])
        ckpt = _final_checkpoint(pre_dir, budget['pretrain_epochs'])
        if ckpt is None:
            raise RuntimeError(f'pre-training wrote no checkpoint in {pre_dir}')
    # 2. linear probe (train, then test on the test split)
    probe_dir = osp.join(run_dir, 'probe')
    probe_cfg_path = osp.join(run_dir, 'probe_config.py')
    if not osp.exists(probe_cfg_path):
        probe_config(ckpt, spec['seed'], budget, data_root).dump(probe_cfg_path)
    probe_json = osp.join(run_dir, 'probe_metrics.json')
    if not osp.exists(probe_json):
        probe_ckpt = _final_checkpoint(probe_dir, budget['probe_epochs'])
        if probe_ckpt is None:
            log('linear probe')
            _load_tool('train').main([probe_cfg_path, '--work-dir', probe_dir])
            probe_ckpt = _final_checkpoint(probe_dir, budget['probe_epochs'])
        log('linear probe: test')
        _load_tool('test').main([
            probe_cfg_path, probe_ckpt, '--work-dir',
            osp.join(probe_dir, 'test'), '--out', probe_json,
            '--out-item', 'metrics'])
    # 2b. converged logistic probe and 3. anomaly detection, on the frozen
    # embeddings of the probe config's single-view data
    for tool, out_name in (('logistic_probe', 'logistic_probe.json'),
                           ('anomaly_detection', 'anomaly.json')):
        out_json = osp.join(run_dir, out_name)
        if not osp.exists(out_json):
            log(tool.replace('_', ' '))
            _load_tool(f'analysis/{tool}').main([
                pre_cfg_path, ckpt, '--data-config', probe_cfg_path,
                '--data-root', data_root, '--out', out_json])
    # 4. gaze alignment (+ figures)
    align_dir = osp.join(run_dir, 'alignment')
    align_json = osp.join(align_dir, 'alignment.json')
    if not osp.exists(align_json):
        log('gaze alignment')
        _load_tool('analysis/gaze_alignment').main([
            pre_cfg_path, ckpt, '--out-dir', align_dir, '--num-images',
            str(budget['num_figures']), '--data-config', probe_cfg_path,
            '--data-root', data_root])
    metrics = collect_run(run_dir)
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    log(f'done: {metrics}')
    return metrics


def collect_run(run_dir: str) -> Dict[str, float]:
    """The four headline numbers of one run from its stage outputs."""
    with open(osp.join(run_dir, 'probe_metrics.json')) as f:
        probe = json.load(f)
    auc_keys = [k for k in probe if k.split('/')[-1] == 'auc_macro']
    if len(auc_keys) != 1:
        raise KeyError(f'{run_dir}/probe_metrics.json: expected one *auc_macro '
                       f'key, found {sorted(probe)}')
    with open(osp.join(run_dir, 'logistic_probe.json')) as f:
        logistic = json.load(f)
    with open(osp.join(run_dir, 'anomaly.json')) as f:
        anomaly = json.load(f)
    with open(osp.join(run_dir, 'alignment', 'alignment.json')) as f:
        align = json.load(f)
    return dict(linear_auc_macro=float(probe[auc_keys[0]]),
                logistic_auc_macro=float(logistic['auc_macro']),
                anomaly_auc=float(anomaly['anomaly_auc']),
                spearman=float(align['spearman']), emd=float(align['emd']),
                pointing=float(align.get('pointing', float('nan'))))


# ------------------------------------------------------------------ aggregation
def _finite_or_none(x: float):
    return float(x) if x is not None and math.isfinite(x) else None


def summarise(values: Sequence[float]) -> dict:
    """mean, sample std (ddof = 1; 0 for one value) over the finite values."""
    vals = [_finite_or_none(v) for v in values]
    finite = np.array([v for v in vals if v is not None], dtype=np.float64)
    mean = float(finite.mean()) if finite.size else None
    std = float(finite.std(ddof=1)) if finite.size > 1 else (
        0.0 if finite.size else None)
    return dict(mean=mean, std=std, values=vals, n=int(finite.size))


def aggregate(per_run: Dict[str, Dict[int, Dict[str, float]]],
              budget: dict, seeds: Sequence[int]) -> dict:
    """``{method: {seed: {metric: value}}}`` -> the results.json structure."""
    methods = {}
    for name, runs in per_run.items():
        ordered = [runs[s] for s in sorted(runs)]
        methods[name] = {
            metric: summarise([r.get(metric, float('nan')) for r in ordered])
            for metric in METRICS}
        methods[name]['seeds'] = sorted(runs)
    return dict(methods=methods, budget=budget, seeds=list(seeds))


def _fmt(stat: dict) -> str:
    if stat['mean'] is None:
        return 'n/a'
    return f'{stat["mean"]:.3f} ± {stat["std"]:.3f}'


def markdown_table(results: dict) -> str:
    """results.md: one row per method, mean ± std over seeds."""
    budget = results['budget']
    lines = [
        '# Side-by-side comparison (synthetic benchmark)', '',
        f'Seeds {results["seeds"]}; budget: '
        + ', '.join(f'{k}={v}' for k, v in budget.items()
                    if k not in ('methods', 'seeds')) + '.', '',
        '| method | n | linear-probe macro AUC ↑ | logistic-probe macro AUC ↑ | '
        'anomaly AUC ↑ | Spearman ρ ↑ | EMD ↓ | pointing game ↑ |',
        '|---|---|---|---|---|---|---|---|']
    for name, res in results['methods'].items():
        n = max(res[m]['n'] for m in METRICS)
        lines.append(f'| {name} | {n} | ' +
                     ' | '.join(_fmt(res[m]) for m in METRICS) + ' |')
    lines += ['', 'mean ± sample std over seeds; AUCs in [0, 1]; linear probe: '
              "mmpretrain's linear head trained for the budget's probe epochs; "
              'logistic probe: per-class logistic regression fitted to '
              'convergence on the same frozen embeddings; Spearman ρ '
              'and EMD between the gaze and the Grad-CAM of the frozen '
              'backbone on the test split; pointing game: share of test images '
              'with lesions whose Grad-CAM peak lies in a lesion box.', '']
    return '\n'.join(lines)


def plot(results: dict, path: str) -> str:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(results['methods'])
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 4.2))
    x = np.arange(len(names))
    for ax, metric in zip(axes, METRICS):
        stats = [results['methods'][n][metric] for n in names]
        means = [np.nan if s['mean'] is None else s['mean'] for s in stats]
        stds = [0.0 if s['std'] is None else s['std'] for s in stats]
        ax.bar(x, means, yerr=stds, capsize=3, color='C0', alpha=0.6)
        for i, s in enumerate(stats):
            vals = [v for v in s['values'] if v is not None]
            ax.scatter(np.full(len(vals), i), vals, color='k', s=8, zorder=3)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=60, ha='right', fontsize=8)
        ax.set_title(METRIC_TITLES[metric], fontsize=9)
        if metric.endswith('auc') or metric.endswith('auc_macro'):
            ax.axhline(0.5, color='grey', lw=0.8, ls='--')  # chance
            ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_results(per_run, budget, seeds, work_dir: str) -> dict:
    results = aggregate(per_run, budget, seeds)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(markdown_table(results))
    plot(results, osp.join(work_dir, 'comparison.png'))
    return results


# ------------------------------------------------------------------- main loop
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu-small')
    parser.add_argument('--work-dir', default='work_dirs/comparison',
                        help='output directory; its path must contain "compar"')
    parser.add_argument('--methods', nargs='+', choices=sorted(METHODS),
                        help='override the preset\'s methods')
    parser.add_argument('--seeds', nargs='+', type=int)
    parser.add_argument('--jobs', type=int, help='runs at a time (1 thread each)')
    for key in ('num_images', 'img_size', 'view_size', 'batch_size',
                'pretrain_epochs', 'probe_epochs'):
        parser.add_argument('--' + key.replace('_', '-'), type=int, dest=key)
    parser.add_argument('--gaze-preset', choices=['realistic', 'strong'],
                        dest='gaze_preset',
                        help='synthetic gaze: realistic (as weakly on lesions as '
                        'in real data, the default) or strong (gaze clearly on '
                        'the findings: a ceiling for what gaze can add)')
    parser.add_argument('--data-root',
                        help='synthetic data (default '
                        'WORK_DIR/data_n<images>_s<size>_<gaze preset>); '
                        'generated on first use')
    parser.add_argument('--force', action='store_true',
                        help='redo every stage even if its outputs exist')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_budget(args) -> dict:
    budget = copy.deepcopy(PRESETS[args.preset])
    for key in ('methods', 'seeds', 'jobs', 'num_images', 'img_size',
                'view_size', 'batch_size', 'pretrain_epochs', 'probe_epochs',
                'gaze_preset'):
        if getattr(args, key, None) is not None:
            budget[key] = getattr(args, key)
    budget['preset'] = args.preset
    n_train = int(0.7 * budget['num_images'])
    budget['pretrain_iters'] = budget['pretrain_epochs'] * (
        n_train // budget['batch_size'])
    return budget


def _complete(metrics_path: str) -> bool:
    """A run is done when its metrics file has every metric; one written by an
    older version (fewer metrics) is completed by rerunning its missing stages."""
    if not osp.exists(metrics_path):
        return False
    with open(metrics_path) as f:
        return set(METRICS) <= set(json.load(f))


def _launch(spec_path: str, log_path: str) -> int:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONUNBUFFERED='1')
    with open(log_path, 'a') as log:
        return subprocess.call(
            [sys.executable, osp.abspath(__file__), '--worker', spec_path],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        with open(args.worker) as f:
            return run_one(json.load(f))
    if 'compar' not in osp.abspath(args.work_dir):
        raise ValueError(f'--work-dir {args.work_dir!r}: the path must contain '
                         '"compar"')
    budget = make_budget(args)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    data_root = osp.abspath(args.data_root or osp.join(
        work_dir, f'data_n{budget["num_images"]}_s{budget["img_size"]}_'
        f'{budget["gaze_preset"]}'))
    if not osp.exists(osp.join(data_root, 'annotations', 'test.json')):
        from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
        print(f'[compare] generating the synthetic data into {data_root}')
        generate_synthetic_cxr(data_root, **synthetic_kwargs(budget))

    specs = []
    # seed-major order: an interrupted comparison has whole seeds done
    for seed in budget['seeds']:
        for method in budget['methods']:
            run_dir = osp.join(work_dir, method, f'seed{seed}')
            if args.force and osp.isdir(run_dir):
                import shutil
                shutil.rmtree(run_dir)
            os.makedirs(run_dir, exist_ok=True)
            spec = dict(method=method, seed=seed, budget=budget,
                        run_dir=run_dir, data_root=data_root)
            with open(osp.join(run_dir, 'spec.json'), 'w') as f:
                json.dump(spec, f, indent=2)
            specs.append(spec)

    def run(spec):
        if _complete(osp.join(spec['run_dir'], 'metrics.json')):
            return spec, 0, 0.0
        start = time.time()
        code = _launch(osp.join(spec['run_dir'], 'spec.json'),
                       osp.join(spec['run_dir'], 'log.txt'))
        return spec, code, time.time() - start

    per_run, failures = {}, []
    start = time.time()
    with ThreadPoolExecutor(max_workers=budget['jobs']) as pool:
        for spec, code, secs in pool.map(run, specs):
            tag = f'{spec["method"]} seed={spec["seed"]}'
            if code != 0:
                failures.append(tag)
                print(f'[compare] FAILED {tag} (exit {code}); see '
                      f'{spec["run_dir"]}/log.txt', flush=True)
                continue
            print(f'[compare] {tag}: done ({secs:.0f} s)', flush=True)
            with open(osp.join(spec['run_dir'], 'metrics.json')) as f:
                per_run.setdefault(spec['method'], {})[spec['seed']] = \
                    json.load(f)
    budget['wall_seconds_this_call'] = round(time.time() - start, 1)
    if not per_run:
        raise RuntimeError(f'every run failed: {failures}')
    results = write_results(per_run, budget, budget['seeds'], work_dir)
    print(markdown_table(results))
    print(f'[compare] results: {work_dir}/results.{{json,md}}, '
          f'{work_dir}/comparison.png')
    if failures:
        print(f'[compare] {len(failures)} runs failed: {failures} (rerun the '
              'same command to retry them)')
        sys.exit(1)
    return results


if __name__ == '__main__':
    main()
