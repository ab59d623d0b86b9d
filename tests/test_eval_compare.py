"""tools/compare.py: aggregation, results.json schema, markdown, config surgery,
and the smoke preset end to end."""
import hashlib
import json
import math
import os
import os.path as osp

import numpy as np
import pytest

from _tools import REPO, load_tool

compare = load_tool('compare')

FAKE = {
    'simclr_r18': {
        0: dict(linear_auc_macro=0.60, anomaly_auc=0.70, spearman=0.10,
                emd=0.20),
        1: dict(linear_auc_macro=0.64, anomaly_auc=0.72, spearman=0.12,
                emd=0.18),
        2: dict(linear_auc_macro=0.62, anomaly_auc=0.74, spearman=0.08,
                emd=0.22),
    },
    'gazeprior_r18': {
        2: dict(linear_auc_macro=0.70, anomaly_auc=0.75, spearman=0.30,
                emd=0.10),
        0: dict(linear_auc_macro=0.66, anomaly_auc=0.71, spearman=float('nan'),
                emd=0.12),
    },
}
BUDGET = dict(preset='fake', num_images=10, pretrain_epochs=1)


def test_aggregate_mean_std_and_schema():
    results = compare.aggregate(FAKE, BUDGET, [0, 1, 2])
    assert set(results) >= {'methods', 'budget', 'seeds'}
    assert results['seeds'] == [0, 1, 2]
    assert results['budget'] == BUDGET
    for name, res in results['methods'].items():
        assert name.startswith(('simclr', 'gazeprior'))
        for metric in compare.METRICS:
            assert set(res[metric]) >= {'mean', 'std', 'values'}
    simclr = results['methods']['simclr_r18']['linear_auc_macro']
    values = [0.60, 0.64, 0.62]
    assert simclr['values'] == pytest.approx(values)
    assert simclr['mean'] == pytest.approx(np.mean(values))
    assert simclr['std'] == pytest.approx(np.std(values, ddof=1))
    # seeds are ordered; a NaN is kept as null and left out of mean/std
    gp = results['methods']['gazeprior_r18']
    assert gp['seeds'] == [0, 2]
    assert gp['linear_auc_macro']['values'] == pytest.approx([0.66, 0.70])
    assert gp['spearman']['values'] == [None, pytest.approx(0.30)]
    assert gp['spearman']['mean'] == pytest.approx(0.30)
    assert gp['spearman']['std'] == 0.0 and gp['spearman']['n'] == 1
    # strict JSON (no NaN tokens)
    text = json.dumps(results, allow_nan=False)
    assert json.loads(text)['methods']['gazeprior_r18']['emd']['mean'] == \
        pytest.approx(0.11)


def test_write_results_markdown_and_plot(tmp_path):
    work = tmp_path / 'comparison'
    work.mkdir()
    results = compare.write_results(FAKE, BUDGET, [0, 1, 2], str(work))
    with open(work / 'results.json') as f:
        assert json.load(f) == json.loads(json.dumps(results))
    md = (work / 'results.md').read_text()
    rows = [line for line in md.splitlines() if line.startswith('| ')]
    assert rows[0].startswith('| method')
    assert len(rows) == 1 + len(FAKE)
    simclr_row = next(r for r in rows if r.startswith('| simclr_r18'))
    mean, std = np.mean([0.60, 0.64, 0.62]), np.std([0.60, 0.64, 0.62],
                                                    ddof=1)
    assert f'{mean:.3f} ± {std:.3f}' in simclr_row
    assert '| 3 |' in simclr_row
    png = work / 'comparison.png'
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:4] == b'\x89PNG'


def test_summarise_edge_cases():
    assert compare.summarise([float('nan')]) == dict(
        mean=None, std=None, values=[None], n=0)
    one = compare.summarise([0.5])
    assert one['mean'] == 0.5 and one['std'] == 0.0


def test_schedule_scaling_and_view_rescale():
    scheds = [
        dict(type='LinearLR', by_epoch=True, begin=0, end=2),
        dict(type='CosineAnnealingLR', T_max=18, by_epoch=True, begin=2,
             end=20),
    ]
    out = compare._scale_schedule(scheds, 20, 4)
    assert out[0]['end'] == 1 and out[1]['begin'] == 1
    assert out[1]['end'] == 4 and out[1]['T_max'] == 3
    assert scheds[1]['T_max'] == 18  # input untouched
    model = dict(grid=7, neck=dict(type='GGAM', grid=7))
    pipeline = [dict(type='GazeRandomResizedCrop', scale=112),
                dict(type='GazeResize', scale=(112, 112)),
                dict(type='PackGazeInputs', grid=14)]
    compare._rescale_views(model, 64, 64 / 112)
    compare._rescale_views(pipeline, 64, 64 / 112)
    assert model == dict(grid=4, neck=dict(type='GGAM', grid=4))
    assert pipeline[0]['scale'] == 64 and pipeline[1]['scale'] == (64, 64)
    assert pipeline[2]['grid'] == 8
    with pytest.raises(ValueError, match='grid'):
        compare._rescale_views(dict(grid=7), 60, 60 / 112)


def test_mcgip_neighbours_come_from_the_comparison_data(tmp_path):
    """McGIP mines from the comparison's own annotations into its run folder, not
    from the config's default data/synthetic_cxr."""
    budget = compare.PRESETS['smoke']
    data_root, run_dir = str(tmp_path / 'data'), str(tmp_path / 'run')
    cfg = compare.pretrain_config('mcgip_simclr_r18', 0, budget, data_root, run_dir)
    table = cfg.gaze_neighbour_table
    assert table.ann_file == osp.join(data_root, 'annotations', 'train.json')
    assert osp.dirname(table.neighbour_file) == run_dir
    assert cfg.model.gaze_positives.neighbour_file == table.neighbour_file
    assert cfg.train_dataloader.dataset.data_root == data_root
    assert cfg.synthetic_benchmark is None  # compare prepares its data


def test_mcgip_control_takes_the_run_seed(tmp_path):
    """One permutation per seed: the shuffled-gaze McGIP control mines with the
    run's seed."""
    cfg = compare.pretrain_config('mcgip_simclr_r18_shuffled-gaze', 2,
                                  compare.PRESETS['smoke'],
                                  str(tmp_path / 'data'), str(tmp_path / 'run'))
    assert cfg.gaze_neighbour_table.mine_cfg.gaze_control == 'shuffle'
    assert cfg.gaze_neighbour_table.mine_cfg.gaze_control_seed == 2


def test_method_table_file(tmp_path):
    """The method table is data: shuffled controls are generated, kinds read,
    and a bad entry is an error naming the file and the method."""
    assert compare.METHODS['gazeprior_r18_global_shuffled-gaze'][1][
        'train_dataloader.dataset.gaze_control'] == 'shuffle'
    assert compare.REFERENCE_METHODS == ('random-init_r18', )
    assert compare.SUPERVISED_METHODS == ('gazegnn_supervised', )
    assert set(compare.CPU_METHODS) <= set(compare.METHODS)
    bad = tmp_path / 'methods.yaml'
    bad.write_text('baseline: a\nmethods:\n  a:\n    config: '
                   'configs/simclr/simclr_resnet18_synthetic.py\n    kind: '
                   'teacher\n')
    with pytest.raises(ValueError, match=r"methods.yaml: method 'a': kind"):
        compare.load_method_table(str(bad))
    bad.write_text('baseline: a\nmethods:\n  a:\n    config: nowhere.py\n')
    with pytest.raises(ValueError, match='nowhere.py'):
        compare.load_method_table(str(bad))


def _tree_digest(root):
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = osp.join(folder, name)
            digest.update(path.encode())
            with open(path, 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_user_data_root_is_read_only_any_work_dir(tmp_path):
    """A canonical data root without img_id and without val.json, made
    read-only: every stage runs (McGIP names images by img_path), val comes from
    train into the work dir, nothing in the root changes, results name it."""
    from gazeprior_mm.datasets.synthetic import (SUMMARY_FILE,
                                                 generate_synthetic_cxr)
    root = tmp_path / 'user_data'
    generate_synthetic_cxr(str(root), num_images=90, img_size=64, seed=1)
    os.remove(root / SUMMARY_FILE)  # not the generator's folder any more
    os.remove(root / 'annotations' / 'val.json')
    ann = json.loads((root / 'annotations' / 'train.json').read_text())
    for row in ann['data_list']:
        del row['img_id']
    (root / 'annotations' / 'train.json').write_text(json.dumps(ann))
    for folder, _, files in os.walk(root):
        for name in files:
            os.chmod(osp.join(folder, name), 0o444)
    before = _tree_digest(root)
    work = tmp_path / 'results'  # no "compar" in the path
    results = compare.main([
        '--preset', 'smoke', '--work-dir', str(work), '--data-root', str(root),
        '--methods', 'mcgip_simclr_r18', 'gazeprior_r18_shuffled-gaze'])
    assert _tree_digest(root) == before
    assert set(results['methods']) == {'mcgip_simclr_r18',
                                       'gazeprior_r18_shuffled-gaze'}
    assert results['data']['root'] == str(root)
    assert results['data']['synthetic'] is False
    assert (work / 'derived_splits' / 'val.json').exists()
    assert 'no val.json' in results['data']['note']
    text = (work / 'results.md').read_text()
    assert str(root) in text and '(user data)' in text
    cfg_text = (work / 'gazeprior_r18_shuffled-gaze' / 'seed0' /
                'pretrain_config.py').read_text()
    assert "gaze_control='shuffle'" in cfg_text
    # a root without test.json is an error naming the file, nothing written
    os.chmod(root / 'annotations' / 'test.json', 0o644)
    os.remove(root / 'annotations' / 'test.json')
    with pytest.raises(FileNotFoundError, match='test.json not found'):
        compare.main(['--preset', 'smoke', '--work-dir', str(work),
                      '--data-root', str(root)])


def test_smoke_preset_end_to_end(tmp_path):
    """3 methods x 1 seed, a few iterations at 64 px, every stage; then resume."""
    work = tmp_path / 'comparison_smoke'
    results = compare.main(['--preset', 'smoke', '--work-dir', str(work),
                            '--num-images', '100'])
    assert set(results['methods']) == {'simclr_r18', 'gazeprior_r18',
                                       'random-init_r18'}
    assert results['seeds'] == [0]
    for res in results['methods'].values():
        for metric in compare.METRICS:
            value = res[metric]['mean']
            assert value is not None and math.isfinite(value)
        assert 0.0 <= res['linear_auc_macro']['mean'] <= 1.0
        assert 0.0 <= res['anomaly_auc']['mean'] <= 1.0
        assert -1.0 <= res['spearman']['mean'] <= 1.0
        assert res['emd']['mean'] >= 0.0
    run = work / 'gazeprior_r18' / 'seed0'
    assert (run / 'pretrain' / 'epoch_1.pth').exists()
    assert list((run / 'alignment').glob('*.png'))
    # the lesion boxes of the test split reach the pointing game
    align = json.loads((run / 'alignment' / 'alignment.json').read_text())
    assert align['num_pointing'] > 0
    assert 0.0 <= results['methods']['gazeprior_r18']['pointing']['mean'] <= 1.0
    text = (work / 'results.md').read_text()
    main_table = text.split('## ')[0]
    assert main_table.count('| gazeprior_r18 |') == 1
    # paired differences vs SimCLR, per-class AUCs, loss curves
    assert '| gazeprior_r18 - simclr_r18 |' in text
    assert set(results['paired']) == {'gazeprior_r18 - simclr_r18',
                                      'random-init_r18 - simclr_r18'}
    assert '## Logistic-probe AUC per class' in text
    assert (work / 'loss_curves.png').stat().st_size > 0
    assert any(k.startswith('logistic_auc/')
               for k in results['methods']['gazeprior_r18'])
    assert (run / 'logistic_scores.npz').exists()
    # resumable: a second call reuses every stage output
    stamp = os.path.getmtime(run / 'metrics.json')
    again = compare.main(['--preset', 'smoke', '--work-dir', str(work),
                          '--num-images', '100'])
    assert os.path.getmtime(run / 'metrics.json') == stamp
    assert again['methods']['gazeprior_r18']['emd'] == \
        results['methods']['gazeprior_r18']['emd']
    # a metrics file of an older version (a metric missing) reruns only the
    # missing stage
    metrics = json.loads((run / 'metrics.json').read_text())
    del metrics['logistic_auc_macro']
    (run / 'metrics.json').write_text(json.dumps(metrics))
    os.remove(run / 'logistic_probe.json')
    probe_stamp = os.path.getmtime(run / 'probe_metrics.json')
    third = compare.main(['--preset', 'smoke', '--work-dir', str(work),
                          '--num-images', '100'])
    assert os.path.getmtime(run / 'probe_metrics.json') == probe_stamp
    assert (run / 'logistic_probe.json').exists()
    assert third['methods']['gazeprior_r18']['logistic_auc_macro'] == \
        results['methods']['gazeprior_r18']['logistic_auc_macro']


def test_random_init_reference_checkpoint(tmp_path):
    """The random-init floor: a seeded, untrained model saved as a checkpoint that
    loads (weights_only) into the probe's backbone like a pre-trained one."""
    import torch
    from mmengine.config import Config

    from gazeprior_mm.utils.checkpoint import load_checkpoint_safely
    assert 'random-init_r18' in compare.PRESETS['cpu-small']['methods']
    cfg = Config.fromfile(osp.join(compare.REPO,
                                   compare.METHODS['random-init_r18'][0]))
    paths = [compare.save_random_init(cfg, str(tmp_path / f'{name}.pth'), seed)
             for name, seed in (('a', 0), ('b', 0), ('c', 1))]
    states = [load_checkpoint_safely(p)['state_dict'] for p in paths]
    key = 'backbone.conv1.weight'
    assert torch.equal(states[0][key], states[1][key])  # same seed, same weights
    assert not torch.equal(states[0][key], states[2][key])
    assert any(k.startswith('backbone.layer4') for k in states[0])


@pytest.mark.parametrize('method', sorted(compare.METHODS))
def test_every_method_config_builds(tmp_path, method):
    """Each compared method's config, with its overrides and the shared budget, gives
    a model (catches an override the model does not accept)."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    budget = compare.PRESETS['cpu-small']
    if method in compare.SUPERVISED_METHODS:
        cfg = compare.supervised_config(method, 0, budget,
                                        str(tmp_path / 'data'))
        assert cfg.train_cfg.max_epochs == budget['probe_epochs']
        model = MODELS.build(cfg.model)
        assert model.backbone.grid == 8  # 64-px views, 8-px patches
        return
    cfg = compare.pretrain_config(method, 0, budget, str(tmp_path / 'data'),
                                  str(tmp_path / 'run'))
    assert cfg.randomness.seed == 0
    assert cfg.train_cfg.max_epochs == budget['pretrain_epochs']
    model = MODELS.build(cfg.model)
    if method.startswith('gazeprior'):
        assert model.grid == 4  # 64-px views, stride 16
        if method.endswith('image-norm'):
            assert model.head.loss_module.weight_norm == 'image'
