"""tools/analysis/gaze_diagnosis.py: gate, gradient share and cancellation."""
import importlib.util
import math
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'gp_gaze_diagnosis', osp.join(REPO, 'tools', 'analysis',
                                      'gaze_diagnosis.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
