"""tools/analysis/gaze_diagnosis.py: gate, gradient share and cancellation."""
import math
import os.path as osp

import pytest

from _tools import REPO, load_tool



def _tool():
    return load_tool('analysis/gaze_diagnosis')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
    root = str(tmp_path_factory.mktemp('diag'))
    generate_synthetic_cxr(root, num_images=20, img_size=64, seed=2)
    return root


def test_diagnosis_of_the_gated_model(data_root, tmp_path):
    report = _tool().main([
        osp.join(REPO, 'configs/gazeprior/gazeprior_resnet18_synthetic.py'),
        '--batches', '1', '--batch-size', '4', '--data-root', data_root,
        '--out', str(tmp_path / 'd.json'), '--figure', str(tmp_path / 'd.png')])
    res = report['results'][0]
    # at initialisation w_g = 1, b_g = 0: sigma(1) on fully gazed patches
    assert res['w_g'] == 1.0 and res['b_g'] == 0.0
    assert 0.5 < res['alpha_ungazed'] < res['alpha_gazed'] <= 1 / (1 + math.e ** -1)
    assert 0.0 < res['gazed_patch_share'] < 1.0
    assert 0.0 < res['gazed_grad_share'] < 1.0
    assert math.isfinite(res['loss_gate_effect'])
    assert 0.0 < res['cos_gated_vs_ungated'] <= 1.0 + 1e-6
    assert (tmp_path / 'd.png').stat().st_size > 0


def test_no_gate_means_no_gate_effect(data_root):
    """The no-gaze control has alpha = 1: gating changes nothing, exactly."""
    res = _tool().main([
        osp.join(REPO,
                 'configs/controls/gazeprior_resnet18_synthetic_no-gaze.py'),
        '--batches', '1', '--batch-size', '4',
        '--data-root', data_root])['results'][0]
    assert res['alpha_gazed'] in (0.0, 1.0) and res['alpha_ungazed'] == 1.0
    assert res['loss_gate_effect'] == 0.0
    assert res['cos_gated_vs_ungated'] == pytest.approx(1.0)


def test_nss_hand_computed():
    import numpy as np

    from gazeprior_mm.evaluation.metrics.gaze_alignment import nss_per_image
    gaze = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    saliency = np.array([[3.0, 1.0, 1.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    # row 0: mean 2, std 1 -> z = [1, -1, -1, 1]; gaze mass on patches 0 and 3
    nss = nss_per_image(gaze, saliency)
    assert nss[0] == pytest.approx(1.0)
    assert math.isnan(nss[1])  # no gaze
    assert math.isnan(nss_per_image(gaze[:1], np.ones((1, 4)))[0])  # constant


def test_gaze_prediction_scored_next_to_the_mean_map(data_root, tmp_path):
    from mmengine.config import Config

    from gazeprior_mm.evaluation.runs import run_gaze_prediction
    compare = load_tool('compare')
    budget = dict(compare.PRESETS['smoke'], batch_size=4)
    data_cfg = str(tmp_path / 'probe.py')
    outs = {}
    for method in ('gazeprior_r18', 'simclr_r18'):
        cfg = compare.pretrain_config(method, 0, budget, data_root,
                                      str(tmp_path / method))
        cfg_path = str(tmp_path / f'{method}.py')
        cfg.dump(cfg_path)
        ckpt = compare.save_random_init(Config.fromfile(cfg_path),
                                        str(tmp_path / f'{method}.pth'), 0)
        compare.probe_config(ckpt, 0, budget, data_root).dump(data_cfg)
        outs[method] = run_gaze_prediction(cfg_path, ckpt, data_cfg, data_root)
    assert outs['simclr_r18'] == dict(available=False)
    pred = outs['gazeprior_r18']
    assert pred['available'] and pred['num_spearman'] > 0
    for key in ('spearman', 'mean_gaze_spearman'):
        assert -1.0 <= pred[key] <= 1.0
    for key in ('emd', 'mean_gaze_emd'):
        assert pred[key] >= 0.0
    assert math.isfinite(pred['nss']) and math.isfinite(pred['mean_gaze_nss'])


def test_gated_features_for_the_probe(tmp_path):
    import torch
    from mmengine.config import Config

    from gazeprior_mm.evaluation.embeddings import pooled_embedding
    from gazeprior_mm.evaluation.runs import gated_features
    compare = load_tool('compare')
    paths = {}
    for name, config in (('gp', 'configs/gazeprior/gazeprior_resnet18_synthetic.py'),
                         ('sc', 'configs/simclr/simclr_resnet18_synthetic.py')):
        paths[name] = osp.join(REPO, config)
        compare.save_random_init(Config.fromfile(paths[name]),
                                 str(tmp_path / f'{name}.pth'), 0)
    features = gated_features(paths['gp'], str(tmp_path / 'gp.pth'))
    images = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        tokens = features(images)
        plain = pooled_embedding(features.model.backbone, images)
    assert tokens.shape == (2, 49, 512)
    gated = pooled_embedding(features, images)
    assert gated.shape == plain.shape and not torch.allclose(gated, plain)
    with pytest.raises(ValueError, match='gaze-prediction branch'):
        gated_features(paths['sc'], str(tmp_path / 'sc.pth'))
