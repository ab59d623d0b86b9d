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

and writes ``results.json`` (mean / std / per-seed values, paired differences),
``results.md`` (tables, verdicts) and ``comparison.png`` into the work directory
(default ``work_dirs/comparison``). The methods are declared in
``configs/comparison/methods.yaml`` (``--list-methods``; docs/adding_a_method.md).

Each (method, seed) run is one subprocess with one thread; ``--jobs`` run at a
time. Every stage is skipped when its output exists, so an interrupted comparison
continues where it stopped (``--force`` redoes everything).

Examples::

    # the quick look: 3 seeds x 7 methods (the 5 methods, a GazePrior ablation
    # and the random-init floor), 600 images; ~25 min on 2 cores
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

#: the method table (name, config, overrides, kind, controls, method sets)
METHODS_FILE = 'configs/comparison/methods.yaml'
#: methods that need lesion boxes in the training annotations
ORACLE_SUFFIX = '_oracle-gaze'
#: a method's shuffled-gaze control is the method name plus this suffix
SHUFFLED_SUFFIX = '_shuffled-gaze'
METHOD_KINDS = ('pretrain', 'reference', 'supervised')


def load_method_table(path: str = METHODS_FILE) -> dict:
    """Read the method table (``configs/comparison/methods.yaml``).

    Returns:
        dict: ``methods`` (name -> (config path, overrides dict)), with every
        ``shuffled_control`` method's ``_shuffled-gaze`` twin added; ``kinds``
        (name -> pretrain / reference / supervised), ``about`` (name -> line),
        ``baseline`` and ``method_sets`` (preset -> names). An unknown key, kind,
        config file or method name is an error naming the file and the method.
    """
    import yaml
    full = osp.join(REPO, path)
    with open(full) as f:
        table = yaml.safe_load(f)
    methods, kinds, about = {}, {}, {}
    for name, entry in table['methods'].items():
        where = f'{path}: method {name!r}'
        unknown = set(entry) - {'config', 'options', 'kind', 'shuffled_control',
                                'about'}
        if unknown:
            raise ValueError(f'{where}: unknown keys {sorted(unknown)}')
        if not osp.isfile(osp.join(REPO, entry.get('config', ''))):
            raise ValueError(f'{where}: config {entry.get("config")!r} not found')
        kind = entry.get('kind', 'pretrain')
        if kind not in METHOD_KINDS:
            raise ValueError(f'{where}: kind {kind!r} not in {METHOD_KINDS}')
        options = dict(entry.get('options') or {})
        methods[name], kinds[name] = (entry['config'], options), kind
        about[name] = entry.get('about', '')
        if entry.get('shuffled_control'):
            twin = name + SHUFFLED_SUFFIX
            methods[twin] = (entry['config'], dict(
                options, **{'train_dataloader.dataset.gaze_control': 'shuffle'}))
            kinds[twin] = kind
            about[twin] = f'{name} with every image given another image\'s gaze'
    sets = table.get('method_sets') or {}
    for preset, names in sets.items():
        missing = [n for n in names if n not in methods]
        if missing:
            raise ValueError(f'{path}: method_sets.{preset} names unknown '
                             f'methods {missing}')
    if table.get('baseline') not in methods:
        raise ValueError(f'{path}: baseline {table.get("baseline")!r} is not a '
                         'method')
    return dict(methods=methods, kinds=kinds, about=about,
                baseline=table['baseline'], method_sets=sets)


_TABLE = load_method_table()
#: name -> (pre-training config, extra config overrides). Names start with the
#: method, as results.json consumers expect.
METHODS: Dict[str, tuple] = _TABLE['methods']
#: methods without pre-training: their "checkpoint" is the seeded initialisation
REFERENCE_METHODS = tuple(n for n, k in _TABLE['kinds'].items()
                          if k == 'reference')
#: supervised references: trained and tested on the labels, no frozen probe
SUPERVISED_METHODS = tuple(n for n, k in _TABLE['kinds'].items()
                           if k == 'supervised')
BASELINE = _TABLE['baseline']
CPU_METHODS = list(_TABLE['method_sets']['cpu'])
CPU_SMALL_METHODS = list(_TABLE['method_sets']['cpu-small'])
PROBE_CONFIG = 'configs/benchmarks/resnet18_linear_synthetic.py'
#: linear-probe epochs of the cpu presets: enough for mmpretrain's linear head
#: (BatchNorm-standardised features, SGD) to reach the converged logistic probe
PROBE_EPOCHS = 30

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
        probe_epochs=PROBE_EPOCHS, gaze_preset='realistic', data_seed=0,
        num_figures=2, jobs=2),
    # the budget that separates methods: 15 epochs of 13 iterations (195
    # pre-training iterations per run, 7.5x cpu-small; at 10 epochs SimCLR was
    # only 0.076 above random init), GazePrior's gaze controls, 3 seeds;
    # 15 pre-training runs of ~8-10 min, 2 at a time: about 75 min on 2 cores
    'cpu': dict(
        methods=CPU_METHODS, seeds=[0, 1, 2], num_images=600, img_size=96,
        view_size=64, batch_size=32, pretrain_epochs=15,
        probe_epochs=PROBE_EPOCHS, gaze_preset='realistic', data_seed=0,
        num_figures=2, jobs=2),
    'smoke': dict(
        methods=['simclr_r18', 'gazeprior_r18', 'random-init_r18'], seeds=[0],
        num_images=120,
        img_size=64, view_size=64, batch_size=16, pretrain_epochs=1,
        probe_epochs=2, gaze_preset='realistic', data_seed=0, num_figures=1,
        jobs=2),
}
METRICS = ('linear_auc_macro', 'logistic_auc_macro', 'anomaly_auc', 'spearman',
           'emd', 'pointing')
#: GGAM's predicted gaze vs the recorded gaze of the test split, and the same
#: scores of the mean training gaze map (NaN for models without the branch)
GAZE_PRED_METRICS = ('pred_gaze_spearman', 'pred_gaze_nss', 'pred_gaze_emd',
                     'mean_gaze_spearman', 'mean_gaze_nss', 'mean_gaze_emd')
METRIC_TITLES = {
    'linear_auc_macro': 'linear-probe macro AUC',
    'logistic_auc_macro': 'converged logistic probe macro AUC',
    'anomaly_auc': 'anomaly AUC',
    'spearman': 'Spearman ρ (gaze vs Grad-CAM)',
    'emd': 'EMD (gaze vs Grad-CAM, lower = better)',
    'pointing': 'pointing game (Grad-CAM peak in a lesion box)',
}


# ------------------------------------------------------------- config surgery
SPLITS = ('train', 'val', 'test')


def _loaders(cfg):
    """``(split, loader)`` of the config's train / val / test dataloaders."""
    return [(split, cfg[f'{split}_dataloader']) for split in SPLITS
            if cfg.get(f'{split}_dataloader') is not None]


def data_spec(data_root: str, ann_files: Optional[dict] = None) -> dict:
    """Where the comparison's data is: the root (images are relative to it) and
    the annotation file of each split (absolute; by default
    ``<root>/annotations/<split>.json``)."""
    files = {split: osp.join(data_root, 'annotations', f'{split}.json')
             for split in SPLITS}
    files.update(ann_files or {})
    return dict(root=data_root, ann_files=files)


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
        if kind in ('GazeRandomResizedCrop', 'RandomResizedCrop',
                    'GazeFocusCrop'):
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


def _set_data(cfg, budget: dict, data) -> None:
    """Point every dataloader at the comparison's data (never generating: the
    data are prepared before any run) and apply the budget's batch and view
    size."""
    data = data_spec(data) if isinstance(data, str) else data
    orig_view = cfg.get('view_size', 112)
    ratio = budget['view_size'] / orig_view
    for split, loader in _loaders(cfg):
        dataset = _innermost_dataset(loader)
        dataset['data_root'] = data['root']
        dataset['ann_file'] = data['ann_files'][split]
        loader['num_workers'] = 0
        loader['persistent_workers'] = False
        loader['batch_size'] = budget['batch_size']
        if budget['view_size'] != orig_view:
            _rescale_views(dataset.get('pipeline', []), budget['view_size'],
                           ratio)
    if budget['view_size'] != orig_view:
        _rescale_views(cfg['model'], budget['view_size'], ratio)
        cfg['view_size'] = budget['view_size']
    # the comparison prepares its data itself (prepare_data), never the config
    cfg['synthetic_benchmark'] = None


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


def pretrain_config(method: str, seed: int, budget: dict, data,
                    run_dir: Optional[str] = None):
    """The method's config with the shared budget, data and seed applied.

    ``data``: a data root or a :func:`data_spec`. McGIP's gaze neighbours are
    mined from this comparison's training annotations into ``run_dir`` (one file
    per run: parallel runs never share a file being written), never from the
    config's default dataset and never into the data root. A gaze control
    (shuffled / oracle gaze) takes the run's seed: one permutation per seed.
    """
    from mmengine.config import Config
    data = data_spec(data) if isinstance(data, str) else data
    path, overrides = METHODS[method]
    cfg = Config.fromfile(osp.join(REPO, path))
    cfg.merge_from_dict(overrides)
    _set_data(cfg, budget, data)
    train_set = _innermost_dataset(cfg.train_dataloader)
    if train_set.get('gaze_control') is not None:
        train_set['gaze_control_seed'] = seed
    table = cfg.get('gaze_neighbour_table')
    if table is not None:
        if run_dir is None:
            raise ValueError(f'{method}: McGIP needs a run_dir for its '
                             'neighbour table')
        table['ann_file'] = data['ann_files']['train']
        table['neighbour_file'] = osp.join(
            run_dir, osp.basename(table['neighbour_file']))
        cfg.model.gaze_positives['neighbour_file'] = table['neighbour_file']
        mine_cfg = table.setdefault('mine_cfg', {})
        if mine_cfg.get('gaze_control') is not None:
            mine_cfg['gaze_control_seed'] = seed
    epochs = budget['pretrain_epochs']
    orig_epochs = cfg.train_cfg.get('max_epochs', epochs)
    cfg.param_scheduler = _scale_schedule(cfg.get('param_scheduler', []),
                                          orig_epochs, epochs)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=epochs)
    cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook',
                                        interval=epochs, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def probe_config(checkpoint: str, seed: int, budget: dict, data):
    """mmpretrain's linear probe (``PROBE_CONFIG``) on ``checkpoint``: the
    backbone it was pre-trained with (``PretrainedBackbone`` reads the config
    saved in the checkpoint), same data and view size, the budget's epochs on
    the config's cosine schedule."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, PROBE_CONFIG))
    _set_data(cfg, budget, data)
    cfg.model.backbone.checkpoint = checkpoint
    return _probe_schedule(cfg, budget['probe_epochs'], seed)


def _probe_schedule(cfg, epochs: int, seed: int):
    """``epochs`` epochs on the config's cosine schedule, one checkpoint at the
    end, the run's seed: the budget of probes and supervised references."""
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
    cfg.param_scheduler = [
        dict(sched, begin=0, end=epochs, T_max=epochs) if 'T_max' in sched
        else dict(sched) for sched in cfg.param_scheduler]
    cfg.default_hooks.checkpoint = dict(type='AtomicCheckpointHook',
                                        interval=epochs, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=5)
    cfg.randomness = dict(seed=seed, deterministic=False)
    return cfg


def supervised_config(method: str, seed: int, budget: dict, data):
    """A supervised reference's config with the shared data and view size,
    ``probe_epochs`` epochs on its cosine schedule, and the run's seed."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, METHODS[method][0]))
    cfg.merge_from_dict(METHODS[method][1])
    _set_data(cfg, budget, data)
    return _probe_schedule(cfg, budget['probe_epochs'], seed)


def _train_and_test(cfg_path: str, work_dir: str, epochs: int, out_json: str,
                    log, what: str) -> None:
    """Train ``cfg_path`` (unless its final checkpoint exists), then test it on the
    test split into ``out_json`` (unless that exists)."""
    if osp.exists(out_json):
        return
    ckpt = _final_checkpoint(work_dir, epochs)
    if ckpt is None:
        log(what)
        _load_tool('train').main([cfg_path, '--work-dir', work_dir])
        ckpt = _final_checkpoint(work_dir, epochs)
    log(f'{what}: test')
    _load_tool('test').main([cfg_path, ckpt, '--work-dir',
                             osp.join(work_dir, 'test'), '--out', out_json,
                             '--out-item', 'metrics'])


def run_supervised(spec: dict, log) -> dict:
    """Train a supervised reference on the train split, test it on the test
    split (``probe_metrics.json``); the frozen-feature stages do not apply."""
    budget, run_dir = spec['budget'], spec['run_dir']
    cfg_path = osp.join(run_dir, 'probe_config.py')
    train_dir = osp.join(run_dir, 'probe')
    if not osp.exists(cfg_path):
        supervised_config(spec['method'], spec['seed'], budget,
                          spec['data']).dump(cfg_path)
    _train_and_test(cfg_path, train_dir, budget['probe_epochs'],
                    osp.join(run_dir, 'probe_metrics.json'), log, 'supervised')
    metrics = collect_run(run_dir, supervised=True)
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    log(f'done: {metrics}')
    return metrics


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
    # the config rides along, as in a training run's checkpoint, so the probe
    # rebuilds the same backbone (PretrainedBackbone)
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(seed=seed, epoch=0, note='random init',
                                   cfg=cfg.pretty_text)),
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
    budget, run_dir, data = spec['budget'], spec['run_dir'], spec['data']
    data_root = data['root']
    os.makedirs(run_dir, exist_ok=True)
    import gazeprior_mm  # noqa: F401  (registers everything)

    def log(msg):
        print(f'[compare {spec["method"]} seed={spec["seed"]}] {msg}',
              flush=True)

    if spec['method'] in SUPERVISED_METHODS:
        return run_supervised(spec, log)
    # 1. pre-training
    pre_dir = osp.join(run_dir, 'pretrain')
    pre_cfg_path = osp.join(run_dir, 'pretrain_config.py')
    ckpt = _final_checkpoint(pre_dir, budget['pretrain_epochs'])
    if ckpt is None:
        log('pre-training')
        cfg = pretrain_config(spec['method'], spec['seed'], budget, data,
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
        probe_config(ckpt, spec['seed'], budget, data).dump(probe_cfg_path)
    _train_and_test(probe_cfg_path, probe_dir, budget['probe_epochs'],
                    osp.join(run_dir, 'probe_metrics.json'), log, 'linear probe')
    # 2b. converged logistic probe and 3. anomaly detection, on the frozen
    # embeddings of the probe config's single-view data
    for tool, out_name, extra in (
            ('logistic_probe', 'logistic_probe.json',
             ['--scores-out', osp.join(run_dir, SCORES_FILE)]),
            ('anomaly_detection', 'anomaly.json', [])):
        out_json = osp.join(run_dir, out_name)
        if not osp.exists(out_json):
            log(tool.replace('_', ' '))
            _load_tool(f'analysis/{tool}').main([
                pre_cfg_path, ckpt, '--data-config', probe_cfg_path,
                '--data-root', data_root, '--out', out_json] + extra)
    # 4. gaze alignment (+ figures)
    align_dir = osp.join(run_dir, 'alignment')
    align_json = osp.join(align_dir, 'alignment.json')
    if not osp.exists(align_json):
        log('gaze alignment')
        _load_tool('analysis/gaze_alignment').main([
            pre_cfg_path, ckpt, '--out-dir', align_dir, '--num-images',
            str(budget['num_figures']), '--data-config', probe_cfg_path,
            '--data-root', data_root])
    # 5. predicted gaze (GazePrior models with a gaze-prediction branch)
    pred_json = osp.join(run_dir, 'gaze_prediction.json')
    if not osp.exists(pred_json):
        log('gaze prediction')
        _load_tool('analysis/gaze_prediction').main([
            pre_cfg_path, ckpt, '--data-config', probe_cfg_path,
            '--data-root', data_root, '--out', pred_json])
    metrics = collect_run(run_dir)
    with open(osp.join(run_dir, 'metrics.json'), 'w') as f:
        json.dump(metrics, f, indent=2)
    log(f'done: {metrics}')
    return metrics


SCORES_FILE = 'logistic_scores.npz'


def collect_run(run_dir: str, supervised: bool = False) -> Dict[str, float]:
    """The headline numbers of one run from its stage outputs, plus the logistic
    probe's per-class AUCs (``logistic_auc/<class>``). A supervised reference
    has only its test metrics (the rest is NaN: not applicable)."""
    with open(osp.join(run_dir, 'probe_metrics.json')) as f:
        probe = json.load(f)
    auc_keys = [k for k in probe if k.split('/')[-1] == 'auc_macro']
    if len(auc_keys) != 1:
        raise KeyError(f'{run_dir}/probe_metrics.json: expected one *auc_macro '
                       f'key, found {sorted(probe)}')
    if supervised:
        out = {m: float('nan') for m in METRICS + GAZE_PRED_METRICS}
        out['linear_auc_macro'] = float(probe[auc_keys[0]])
        return out
    with open(osp.join(run_dir, 'logistic_probe.json')) as f:
        logistic = json.load(f)
    with open(osp.join(run_dir, 'anomaly.json')) as f:
        anomaly = json.load(f)
    with open(osp.join(run_dir, 'alignment', 'alignment.json')) as f:
        align = json.load(f)
    out = dict(linear_auc_macro=float(probe[auc_keys[0]]),
               logistic_auc_macro=float(logistic['auc_macro']),
               anomaly_auc=float(anomaly['anomaly_auc']),
               spearman=float(align['spearman']), emd=float(align['emd']),
               pointing=float(align.get('pointing', float('nan'))))
    out.update({f'logistic_{k}': float(v) for k, v in logistic.items()
                if k.startswith('auc/')})
    with open(osp.join(run_dir, 'gaze_prediction.json')) as f:
        pred = json.load(f)
    for key in GAZE_PRED_METRICS:
        source = key.replace('pred_gaze_', '')
        out[key] = float(pred.get(source, float('nan'))) if pred.get(
            'available') else float('nan')
    return out


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
              budget: dict, seeds: Sequence[int],
              data: Optional[dict] = None) -> dict:
    """``{method: {seed: {metric: value}}}`` -> the results.json structure
    (headline metrics, then the per-class ``logistic_auc/<class>`` ones)."""
    methods = {}
    for name, runs in per_run.items():
        ordered = [runs[s] for s in sorted(runs)]
        per_class = sorted({k for r in ordered for k in r
                            if k.startswith('logistic_auc/')})
        methods[name] = {
            metric: summarise([r.get(metric, float('nan')) for r in ordered])
            for metric in list(METRICS) + list(GAZE_PRED_METRICS) + per_class}
        methods[name]['seeds'] = sorted(runs)
    return dict(methods=methods, budget=budget, seeds=list(seeds),
                data=data or {})


def comparison_pairs(methods: Sequence[str]) -> List[tuple]:
    """``(A, B, effect)``: every method vs SimCLR, every method vs its
    shuffled-gaze control, GazePrior vs its no-gaze control."""
    present = set(methods)
    pairs = [(m, BASELINE, 'method') for m in methods
             if m != BASELINE and BASELINE in present]
    pairs += [(m, m + SHUFFLED_SUFFIX, 'gaze') for m in methods
              if m + SHUFFLED_SUFFIX in present]
    pairs += [(m, 'gazeprior_r18_no-gaze', 'gaze') for m in methods
              if m.startswith('gazeprior_r18') and m != 'gazeprior_r18_no-gaze'
              and not m.endswith(SHUFFLED_SUFFIX)
              and 'gazeprior_r18_no-gaze' in present]
    return pairs


def _seed_scores(run_dirs: Dict[int, str]):
    """Per seed, the logistic probe's (N, C) test scores; and the labels / ids."""
    scores, labels, ids = {}, None, None
    for seed, run_dir in run_dirs.items():
        path = osp.join(run_dir, SCORES_FILE)
        if not osp.exists(path):
            return None
        with np.load(path) as f:
            scores[seed] = f['scores']
            if ids is not None and list(f['img_ids']) != ids:
                raise ValueError(f'{path}: test images differ from the other '
                                 'runs (a paired comparison needs the same)')
            labels, ids = f['labels'], list(f['img_ids'])
    return scores, labels, ids


def paired(per_run: Dict[str, Dict[int, dict]],
           run_dirs: Dict[str, Dict[int, str]]) -> dict:
    """``{"A - B": {metric: {"mean", "ci95", "n", "method"}, "effect": ...}}``.

    Seeds are paired (the same seed of A and B). The logistic-probe macro AUC
    gets a two-level bootstrap over seeds and test images (per-image scores),
    every other metric a t interval over the per-seed differences
    (:mod:`gazeprior_mm.evaluation.paired`).
    """
    from gazeprior_mm.evaluation.paired import (paired_bootstrap_auc,
                                                seed_interval)
    out = {}
    for a, b, effect in comparison_pairs(list(per_run)):
        seeds = sorted(set(per_run[a]) & set(per_run[b]))
        if not seeds:
            continue
        entry = {'effect': effect, 'seeds': seeds}
        for metric in METRICS:
            entry[metric] = seed_interval(
                [per_run[a][s].get(metric, float('nan'))
                 - per_run[b][s].get(metric, float('nan')) for s in seeds])
        sa = _seed_scores({s: run_dirs[a][s] for s in seeds})
        sb = _seed_scores({s: run_dirs[b][s] for s in seeds})
        if sa is not None and sb is not None and len(seeds) > 1:
            if sa[2] != sb[2]:
                raise ValueError(f'{a} and {b} were tested on different images')
            entry['logistic_auc_macro'] = paired_bootstrap_auc(
                [sa[0][s] for s in seeds], [sb[0][s] for s in seeds], sa[1])
        out[f'{a} - {b}'] = entry
    return out


def _fmt(stat: dict) -> str:
    if stat['mean'] is None:
        return 'n/a'
    return f'{stat["mean"]:.3f} ± {stat["std"]:.3f}'


def _undefined_notes(results: dict) -> List[str]:
    """Plain-words notes on metrics the data cannot define."""
    notes = []
    for metric in ('pointing', 'spearman', 'emd', 'anomaly_auc'):
        missing = [n for n, r in results['methods'].items()
                   if r[metric]['mean'] is None and n not in SUPERVISED_METHODS]
        if missing:
            why = {'pointing': 'no test image with a lesion box',
                   'spearman': 'no test image with gaze',
                   'emd': 'no test image with gaze',
                   'anomaly_auc': 'no normal training image or no abnormal '
                   'test image'}[metric]
            notes.append(f'- {METRIC_TITLES[metric]}: n/a for '
                         f'{", ".join(missing)} ({why}); left out, not 0.')
    classes = sorted({k for r in results['methods'].values() for k in r
                      if k.startswith('logistic_auc/')})
    undefined = [c.split('/', 1)[1] for c in classes
                 if all(r.get(c, {}).get('mean') is None
                        for r in results['methods'].values())]
    if undefined:
        notes.append('- per-class AUC undefined (a split lacks positives or '
                     f'negatives) for: {", ".join(undefined)}; macro AUCs '
                     'average the other classes.')
    return notes


def markdown_table(results: dict) -> str:
    """results.md: the data, one row per method (mean ± std over seeds), the
    paired differences with their verdicts, per-class AUCs, undefined metrics."""
    from gazeprior_mm.evaluation.paired import verdict
    budget, data = results['budget'], results.get('data') or {}
    kind = 'synthetic benchmark' if data.get('synthetic') else 'user data'
    lines = [
        f'# Side-by-side comparison ({kind})', '',
        f'Data: `{data.get("root", "?")}` ({kind}'
        + (f'; {data["note"]}' if data.get('note') else '') + ').', '',
        f'Seeds {results["seeds"]}; budget: '
        + ', '.join(f'{k}={v}' for k, v in budget.items()
                    if k not in ('methods', 'seeds')) + '.', '',
        '| method | n | linear-probe macro AUC ↑ | logistic-probe macro AUC ↑ | '
        'anomaly AUC ↑ | Spearman ρ ↑ | EMD ↓ | pointing game ↑ | '
        '|linear − logistic| |',
        '|---|---|---|---|---|---|---|---|---|']
    for name, res in results['methods'].items():
        n = max(res[m]['n'] for m in METRICS)
        lin, log = res['linear_auc_macro']['mean'], res['logistic_auc_macro'][
            'mean']
        gap = 'n/a' if lin is None or log is None else f'{abs(lin - log):.3f}'
        lines.append(f'| {name} | {n} | ' +
                     ' | '.join(_fmt(res[m]) for m in METRICS) + f' | {gap} |')
    if any(n in SUPERVISED_METHODS for n in results['methods']):
        lines += ['', 'Supervised references (' + ', '.join(
            n for n in results['methods'] if n in SUPERVISED_METHODS) + '): '
            'trained on the labels of the train split, with gaze; the '
            'linear-probe column holds their own test macro AUC, the other '
            'columns do not apply.']
    lines += ['', 'mean ± sample std over seeds; AUCs in [0, 1]; linear probe: '
              "mmpretrain's ImageClassifier on the frozen pre-trained backbone "
              '(BatchNorm-standardised pooled features, linear head, the '
              "budget's probe epochs); logistic probe: per-class logistic "
              'regression fitted to convergence on the same frozen embeddings; '
              'Spearman ρ and EMD between the gaze and the Grad-CAM of the '
              'frozen backbone on the test split; pointing game: share of test '
              'images with lesions whose Grad-CAM peak lies in a lesion box.', '']
    pairs = results.get('paired') or {}
    if pairs:
        lines += ['## Paired differences (A − B, same seeds)', '',
                  'Logistic-probe macro AUC: two-level bootstrap over seeds and '
                  'test images (95 % percentile interval); the other metrics: t '
                  'interval over the per-seed differences.', '',
                  '| A − B | logistic-probe AUC | linear-probe AUC | Spearman ρ |'
                  ' verdict |', '|---|---|---|---|---|']

        def cell(stat):
            if stat.get('mean') is None:
                return 'n/a'
            ci = stat.get('ci95')
            return (f'{stat["mean"]:+.3f}' + (
                f' [{ci[0]:+.3f}, {ci[1]:+.3f}]' if ci else ''))
        for name, entry in pairs.items():
            lines.append(
                f'| {name} | {cell(entry["logistic_auc_macro"])} | '
                f'{cell(entry["linear_auc_macro"])} | {cell(entry["spearman"])}'
                f' | {verdict(entry["logistic_auc_macro"], entry["effect"])}'
                ' |')
        lines.append('')
    predicting = [n for n, r in results['methods'].items()
                  if r.get('pred_gaze_spearman', {}).get('mean') is not None]
    if predicting:
        lines += ['## Predicted gaze vs recorded gaze (test split)', '',
                  "GGAM's gaze-prediction branch on test images (their gaze "
                  'never seen), against the mean training gaze map used for '
                  'every image, both at the model grid.', '',
                  '| method | Spearman ρ ↑ | NSS ↑ | EMD ↓ | mean-map ρ | '
                  'mean-map NSS | mean-map EMD |', '|---|---|---|---|---|---|---|']
        for name in predicting:
            res = results['methods'][name]
            lines.append(f'| {name} | ' + ' | '.join(
                _fmt(res[m]) for m in GAZE_PRED_METRICS) + ' |')
        lines.append('')
    classes = sorted({k for r in results['methods'].values() for k in r
                      if k.startswith('logistic_auc/')})
    if classes:
        lines += ['## Logistic-probe AUC per class (mean over seeds)', '',
                  '| method | ' + ' | '.join(c.split('/', 1)[1] for c in classes)
                  + ' |', '|---|' + '---|' * len(classes)]
        for name, res in results['methods'].items():
            vals = [res.get(c, {}).get('mean') for c in classes]
            lines.append(f'| {name} | ' + ' | '.join(
                'n/a' if v is None else f'{v:.3f}' for v in vals) + ' |')
        lines.append('')
    notes = _undefined_notes(results)
    if notes:
        lines += ['## Undefined on this data', ''] + notes + ['']
    if results.get('figures'):
        lines += ['## Figures', ''] + [f'- {k}: `{v}`' for k, v in
                                       results['figures'].items()] + ['']
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


def plot_run_losses(run_dirs: Dict[str, Dict[int, str]], path: str) -> str:
    """Pre-training and linear-probe loss curves of every run (one colour per
    method, one line per seed): has the budget let them flatten?"""
    from gazeprior_mm.visualization.loss_curves import (find_scalars,
                                                        plot_loss_curves)
    curves = {}
    for stage in ('pretrain', 'probe'):
        curves[stage] = {
            method: [find_scalars(osp.join(d, stage)) for _, d in
                     sorted(seeds.items())]
            for method, seeds in run_dirs.items()}
    return plot_loss_curves(curves, path)


def write_results(per_run, budget, seeds, work_dir: str,
                  data: Optional[dict] = None,
                  run_dirs: Optional[Dict[str, Dict[int, str]]] = None) -> dict:
    results = aggregate(per_run, budget, seeds, data)
    results['figures'] = dict(metrics=osp.join(work_dir, 'comparison.png'))
    if run_dirs:
        results['paired'] = paired(per_run, run_dirs)
        results['figures']['loss curves'] = plot_run_losses(
            run_dirs, osp.join(work_dir, 'loss_curves.png'))
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
                        help='output directory (runs, results, derived splits)')
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
                        help='a canonical data root (annotations/train.json and '
                        'test.json; val.json optional): used read-only. By '
                        'default the synthetic benchmark, generated on first use '
                        'into WORK_DIR/data_n<images>_s<size>_<gaze preset>')
    parser.add_argument('--list-methods', action='store_true',
                        help=f'print the method table ({METHODS_FILE}) and exit')
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
        return set(METRICS) | set(GAZE_PRED_METRICS) <= set(json.load(f))


def _launch(spec_path: str, log_path: str) -> int:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONUNBUFFERED='1')
    with open(log_path, 'a') as log:
        return subprocess.call(
            [sys.executable, osp.abspath(__file__), '--worker', spec_path],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def has_lesion_boxes(ann_file: str) -> bool:
    """Whether any row of ``ann_file`` has a lesion box (oracle gaze needs one)."""
    with open(ann_file) as f:
        rows = json.load(f).get('data_list', [])
    return any(les.get('bbox') for row in rows for les in row.get('lesions') or [])


def derive_val_split(train_file: str, out_dir: str, seed: int,
                     fraction: float = 0.1) -> dict:
    """A seeded ``fraction`` of ``train_file`` as val, the rest as train, written
    into ``out_dir`` (never beside the user's file). Returns the two paths."""
    from gazeprior_mm.utils.checkpoint import atomic_write_text
    with open(train_file) as f:
        ann = json.load(f)
    rows = ann['data_list']
    if len(rows) < 2:
        raise ValueError(f'{train_file}: {len(rows)} row(s), too few to take a '
                         'val split from')
    order = np.random.default_rng(seed).permutation(len(rows))
    num_val = max(1, int(round(fraction * len(rows))))
    val_rows = set(order[:num_val].tolist())
    paths = {}
    for split, keep in (('train', False), ('val', True)):
        part = dict(ann, data_list=[r for i, r in enumerate(rows)
                                    if (i in val_rows) == keep])
        paths[split] = osp.join(out_dir, f'{split}.json')
        os.makedirs(out_dir, exist_ok=True)
        atomic_write_text(json.dumps(part), paths[split])
    return paths


def prepare_data(data_root: Optional[str], budget: dict, work_dir: str) -> dict:
    """The comparison's data: a user's root, read-only, or the synthetic
    benchmark generated into the work dir.

    A user root needs ``annotations/train.json`` and ``test.json``; without
    ``val.json`` a seeded 10 % of train becomes val, written into
    ``WORK_DIR/derived_splits/`` (printed). Nothing is ever written into a user
    root, and the synthetic generator never runs there.
    """
    if data_root is None:
        from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
        root = osp.join(work_dir, f'data_n{budget["num_images"]}_s'
                        f'{budget["img_size"]}_{budget["gaze_preset"]}')
        if not osp.exists(osp.join(root, 'annotations', 'test.json')):
            print(f'[compare] generating the synthetic data into {root}')
            generate_synthetic_cxr(root, **synthetic_kwargs(budget))
        return dict(data_spec(root), synthetic=True, note='generated by compare')
    from gazeprior_mm.datasets.synthetic import SUMMARY_FILE
    root = osp.abspath(data_root)
    spec = data_spec(root)
    for split in ('train', 'test'):
        if not osp.isfile(spec['ann_files'][split]):
            raise FileNotFoundError(
                f'--data-root {root}: {spec["ann_files"][split]} not found (a '
                'canonical data root has annotations/train.json and test.json)')
    spec['synthetic'] = osp.isfile(osp.join(root, SUMMARY_FILE))
    if not osp.isfile(spec['ann_files']['val']):
        derived = derive_val_split(spec['ann_files']['train'],
                                   osp.join(work_dir, 'derived_splits'),
                                   budget['data_seed'])
        spec['ann_files'].update(derived)
        spec['note'] = (f'no val.json: val = a seeded 10 % of train, written to '
                        f'{osp.dirname(derived["val"])}')
        print(f'[compare] {spec["note"]}')
    return spec


def main(argv=None):
    args = parse_args(argv)
    if args.list_methods:
        for name in METHODS:
            print(f'{name:45s} {_TABLE["kinds"][name]:10s} {_TABLE["about"][name]}')
        return None
    if args.worker:
        with open(args.worker) as f:
            return run_one(json.load(f))
    budget = make_budget(args)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    data = prepare_data(args.data_root, budget, work_dir)
    methods = list(budget['methods'])
    if not has_lesion_boxes(data['ann_files']['train']):
        skipped = [m for m in methods if m.endswith(ORACLE_SUFFIX)]
        if skipped:
            methods = [m for m in methods if m not in skipped]
            data['note'] = '; '.join(filter(None, [
                data.get('note'), f'no lesion boxes: {", ".join(skipped)} '
                'skipped']))
            print(f'[compare] no lesion boxes in the training annotations: '
                  f'skipping {skipped}')

    specs = []
    # seed-major order: an interrupted comparison has whole seeds done
    for seed in budget['seeds']:
        for method in methods:
            run_dir = osp.join(work_dir, method, f'seed{seed}')
            if args.force and osp.isdir(run_dir):
                import shutil
                shutil.rmtree(run_dir)
            os.makedirs(run_dir, exist_ok=True)
            spec = dict(method=method, seed=seed, budget=budget,
                        run_dir=run_dir, data=data)
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

    per_run, run_dirs, failures = {}, {}, []
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
            run_dirs.setdefault(spec['method'], {})[spec['seed']] = \
                spec['run_dir']
    budget['wall_seconds_this_call'] = round(time.time() - start, 1)
    if not per_run:
        raise RuntimeError(f'every run failed: {failures}')
    results = write_results(per_run, budget, budget['seeds'], work_dir, data,
                            run_dirs)
    print(markdown_table(results))
    print(f'[compare] results: {work_dir}/results.{{json,md}}, '
          f'{work_dir}/comparison.png, {work_dir}/loss_curves.png')
    if failures:
        print(f'[compare] {len(failures)} runs failed: {failures} (rerun the '
              'same command to retry them)')
        sys.exit(1)
    return results


if __name__ == '__main__':
    main()
