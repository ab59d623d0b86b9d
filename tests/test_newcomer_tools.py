"""What a new user meets: the TensorBoard switch of ``tools/train.py``, the
loss-curve plotter, the backbone exporter and the gaze-vs-attention figure.

Each of these exists because a first run left a question open (where are the
curves? can plain mmpretrain load the weights? what does the figure show?), so the
tests check the answer a user gets, not only that the code runs.
"""
import importlib.util
import json
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import gazeprior_mm  # noqa: F401
from gazeprior_mm.datasets import prepare_synthetic_benchmark
from gazeprior_mm.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from test_gazeprior_train import _tiny_cfg  # noqa: E402

DEMO = osp.join(ROOT, 'configs', 'gazeprior',
                'gazeprior_vit-tiny-p8_synthetic.py')
RESNET = osp.join(ROOT, 'configs', 'gazeprior',
                  'gazeprior_resnet18_synthetic.py')


def _load_tool(rel):
    path = osp.join(ROOT, 'tools', rel)
    name = 'newcomer_' + rel.replace('/', '_').replace('.py', '')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_tool('train.py')
plot_tool = _load_tool('analysis/plot_loss_curves.py')
export_tool = _load_tool('analysis/export_backbone.py')
align_tool = _load_tool('analysis/gaze_alignment.py')


# ------------------------------------------------------------ --tensorboard
def _backend_types(cfg):
    return [b['type'] for b in cfg.visualizer.vis_backends]


def test_tensorboard_flag_adds_the_backend_to_the_config(tmp_path):
    """``--tensorboard`` appends TensorboardVisBackend (keeping the local JSON
    backend that the loss-curve tool reads), together with ``--cfg-options``
    on the visualizer, and only once; without the flag nothing changes. Only
    the config is built here, so tensorboard need not be installed."""
    plain = train_tool.merge_args(
        Config.fromfile(DEMO),
        train_tool.parse_args([DEMO, '--work-dir', str(tmp_path)]))
    assert _backend_types(plain) == ['LocalVisBackend']
    assert not train_tool.uses_tensorboard(plain)

    cfg = train_tool.merge_args(
        Config.fromfile(DEMO),
        train_tool.parse_args([DEMO, '--work-dir', str(tmp_path),
                               '--tensorboard']))
    assert _backend_types(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']
    assert train_tool.uses_tensorboard(cfg)
    train_tool.add_tensorboard_backend(cfg)  # idempotent
    assert _backend_types(cfg).count('TensorboardVisBackend') == 1

    replaced = train_tool.merge_args(
        Config.fromfile(DEMO),
        train_tool.parse_args([
            DEMO, '--work-dir', str(tmp_path), '--tensorboard', '--cfg-options',
            'visualizer.type=Visualizer']))
    assert replaced.visualizer.type == 'Visualizer'
    assert _backend_types(replaced) == ['LocalVisBackend',
                                        'TensorboardVisBackend']
    no_vis = Config(dict(model=dict(type='X')))
    train_tool.add_tensorboard_backend(no_vis)  # a config without visualizer
    assert _backend_types(no_vis) == ['LocalVisBackend', 'TensorboardVisBackend']


def test_tensorboard_missing_is_reported_before_training(tmp_path):
    """Without the package the run stops before training, saying how to install
    it; with it (or without the flag) the check passes."""
    cfg = train_tool.merge_args(
        Config.fromfile(DEMO),
        train_tool.parse_args([DEMO, '--work-dir', str(tmp_path),
                               '--tensorboard']))
    try:
        import tensorboard  # noqa: F401
        installed = True
    except ImportError:
        installed = False
    if installed:
        train_tool.check_tensorboard(cfg)
    else:
        with pytest.raises(SystemExit, match='pip install tensorboard'):
            train_tool.check_tensorboard(cfg)
    plain = train_tool.merge_args(
        Config.fromfile(DEMO),
        train_tool.parse_args([DEMO, '--work-dir', str(tmp_path)]))
    assert train_tool.check_tensorboard(plain) is None


# ------------------------------------------------------------ loss curves
def _write_scalars(work_dir, stamp, records):
    path = osp.join(work_dir, stamp, 'vis_data', 'scalars.json')
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        for rec in records:
            f.write((rec if isinstance(rec, str) else json.dumps(rec)) + '\n')
    return path


def _fake_run(work_dir, n=6, offset=0.0):
    return _write_scalars(work_dir, '20260101_000000', [
        dict(loss=2.0 - 0.1 * i + offset, loss_gwcl=1.5 - 0.1 * i,
             lr=1e-3, step=i + 1) for i in range(n)
    ] + [dict(auc_macro=0.6, step=n)])  # a validation line: no loss


def test_plot_loss_curves_writes_a_png_for_several_runs_and_keys(tmp_path):
    run_a, run_b = str(tmp_path / 'run_a'), str(tmp_path / 'run_b')
    _fake_run(run_a)
    scalars_b = _fake_run(run_b, offset=0.3)
    out = str(tmp_path / 'plots' / 'curves.png')
    plot_tool.main([run_a, scalars_b, '--keys', 'loss', 'loss_gwcl',
                    '--out', out])
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert osp.getsize(out) > 5000  # two panels with lines, not an empty canvas
    panels = plot_tool.load_curves([run_a, scalars_b], ['loss', 'loss_gwcl'])
    assert list(panels['loss']) == ['run_a', 'run_b']  # file -> its run's name
    steps, values = panels['loss']['run_b'][0]
    assert steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert values[0] == pytest.approx(2.3)


def test_plot_loss_curves_names_file_and_line_of_a_malformed_record(tmp_path):
    run = str(tmp_path / 'run')
    path = _write_scalars(run, '20260101_000000', [
        dict(loss=1.0, step=1), dict(loss=0.9, step=2), '{"loss": 0.8, "st'])
    with pytest.raises(SystemExit) as err:
        plot_tool.main([run, '--out', str(tmp_path / 'x.png')])
    assert path in str(err.value) and 'line 3' in str(err.value)
    assert not osp.exists(tmp_path / 'x.png')


def test_plot_loss_curves_unknown_key_lists_the_logged_ones(tmp_path):
    run = str(tmp_path / 'run')
    _fake_run(run)
    with pytest.raises(SystemExit) as err:
        plot_tool.main([run, '--keys', 'loss_nope', '--out',
                        str(tmp_path / 'x.png')])
    assert 'loss_nope' in str(err.value) and 'loss_gwcl' in str(err.value)
    with pytest.raises(SystemExit, match='no <timestamp>/vis_data'):
        plot_tool.main([str(tmp_path / 'empty'), '--out',
                        str(tmp_path / 'x.png')])


# ------------------------------------------------------------ export_backbone
LOAD_WITHOUT_PLUGIN = textwrap.dedent('''
    import json, sys
    import torch
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    weights, sidecar, expected = sys.argv[1], sys.argv[2], sys.argv[3]
    meta = json.load(open(sidecar))
    init_default_scope(meta['scope'])
    state = torch.load(weights, map_location='cpu', weights_only=True)
    assert all(type(v) is torch.Tensor for v in state.values())
    model = MODELS.build(meta['backbone'])
    model.load_state_dict(state, strict=True)
    # and mmpretrain's own way: init_cfg=Pretrained, no prefix
    other = MODELS.build(dict(meta['backbone'],
                              init_cfg=dict(type='Pretrained',
                                            checkpoint=weights)))
    other.init_weights()
    total = sum(float(p.double().sum()) for p in model.state_dict().values()
                if p.is_floating_point())
    total2 = sum(float(p.double().sum()) for p in other.state_dict().values()
                 if p.is_floating_point())
    assert abs(total - float(expected)) < 1e-6 * max(1.0, abs(total)), total
    assert abs(total2 - total) < 1e-9 * max(1.0, abs(total)), (total, total2)
    assert not any(m.startswith('gazeprior_mm') for m in sys.modules), \\
        sorted(m for m in sys.modules if m.startswith('gazeprior_mm'))
    print('LOADED', type(model).__name__, len(state))
''')


def _checksum(state):
    return sum(float(v.double().sum()) for v in state.values()
               if v.is_floating_point())


def _load_in_plain_python(tmp_path, out, expected):
    script = tmp_path / 'load_plain.py'
    script.write_text(LOAD_WITHOUT_PLUGIN)
    proc = subprocess.run(
        [sys.executable, str(script), out, export_tool.sidecar_path(out),
         repr(expected)],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_exported_gazeprior_vit_checkpoint_loads_without_the_plugin(tmp_path):
    """A real (2-iteration) GazePrior run's checkpoint, exported, loads into
    mmpretrain's VisionTransformer with strict=True in a process that never
    imports gazeprior_mm, with the trained values."""
    cfg = _tiny_cfg(str(tmp_path / 'work'), str(tmp_path / 'data'), max_iters=2)
    runner = Runner.from_cfg(cfg)
    prepare_synthetic_benchmark(cfg)
    runner.train()
    ckpt = str(tmp_path / 'work' / 'iter_2.pth')
    raw = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    assert any(k.startswith('neck.') for k in raw)  # GGAM's keys are there

    out = str(tmp_path / 'export' / 'backbone.pth')
    meta = export_tool.main([ckpt, '--out', out])
    assert meta['backbone']['type'] == 'VisionTransformer'
    assert meta['backbone']['arch']['embed_dims'] == 32
    assert meta['source_model'] == 'GazePrior'
    state = torch.load(out, map_location='cpu', weights_only=True)
    assert not any(k.startswith(('backbone.', 'neck.', 'head.')) for k in state)
    trained = runner.model.backbone.state_dict()
    assert set(state) == set(trained)
    for key in trained:
        assert torch.equal(state[key], trained[key]), key
    with open(export_tool.sidecar_path(out)) as f:
        assert json.load(f)['backbone'] == meta['backbone']
    assert 'LOADED VisionTransformer' in _load_in_plain_python(
        tmp_path, out, _checksum(state))


def test_exported_resnet_checkpoint_loads_without_the_plugin(tmp_path):
    """The CNN path (ResNet-18 with the stride-16 last stage, BN buffers
    included), from a checkpoint in mmengine's layout with the config in meta."""
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(RESNET)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(meta=dict(cfg=cfg.pretty_text, epoch=1),
                    state_dict=model.state_dict()), ckpt)
    out = str(tmp_path / 'r18.pth')
    meta = export_tool.main([ckpt, '--out', out])
    assert meta['backbone']['type'] == 'ResNet'
    assert meta['backbone']['strides'] == [1, 2, 2, 1]
    state = torch.load(out, map_location='cpu', weights_only=True)
    assert 'bn1.running_mean' in state
    assert 'LOADED ResNet' in _load_in_plain_python(tmp_path, out,
                                                    _checksum(state))


def test_export_refuses_a_checkpoint_without_backbone(tmp_path):
    ckpt = str(tmp_path / 'head_only.pth')
    torch.save(dict(state_dict={'head.fc.weight': torch.zeros(2, 2)}), ckpt)
    with pytest.raises(ValueError, match='no "backbone'):
        export_tool.main([ckpt, '--out', str(tmp_path / 'o.pth')])
    assert not osp.exists(tmp_path / 'o.pth')


# ------------------------------------------------------------ figures / demo text
def test_gaze_figure_states_method_labels_and_legend(tmp_path, monkeypatch):
    """The figure carries colour bars (6 axes: 4 panels + 2 bars), the resolved
    method's readable name, the image's labels and a legend for boxes and
    contours."""
    import matplotlib.pyplot as plt

    from gazeprior_mm.visualization import gaze_figure
    seen = {}
    real_savefig = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        seen['axes'] = len(fig.axes)
        seen['titles'] = [ax.get_title() for ax in fig.axes]
        legend = fig.axes[3].get_legend()
        seen['legend'] = [t.get_text() for t in legend.get_texts()]
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(plt.Figure, 'savefig', spy)
    img = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)
    gaze = np.zeros((32, 32))
    gaze[10:20, 10:20] = 1
    out = gaze_figure.draw_gaze_attention(
        img, gaze, np.random.default_rng(1).random((4, 4)),
        str(tmp_path / 'f.png'), boxes=np.array([[8, 8, 10, 10]]),
        scores=dict(spearman=0.1), method='gradcam',
        labels=['Lung Lesion', 'Lung Opacity'])
    assert osp.getsize(out) > 0
    assert seen['axes'] == 6
    assert 'Grad-CAM' in seen['titles'][2]
    assert 'Lung Lesion, Lung Opacity' in seen['titles'][0]
    assert any('lesion box' in t for t in seen['legend'])
    assert any('gaze contours' in t for t in seen['legend'])


def test_alignment_tool_resolves_auto_and_explains_each_metric():
    """``auto`` becomes the method actually used (rollout for ViTs, Grad-CAM for
    CNNs) and every headline number gets one line: range and better direction."""
    init_default_scope('mmpretrain')
    vit = MODELS.build(dict(type='VisionTransformer', arch=dict(
        embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=16),
        img_size=32, patch_size=8))
    cnn = MODELS.build(dict(type='ResNet', depth=18))
    assert align_tool.resolve_method(vit, 'auto') == 'rollout'
    assert align_tool.resolve_method(cnn, 'auto') == 'gradcam'
    assert align_tool.resolve_method(cnn, 'cls') == 'cls'
    # every per-image number the metric computes has an explanation
    from gazeprior_mm.evaluation.metrics.gaze_alignment import alignment_scores
    rng = np.random.default_rng(0)
    scores = alignment_scores(rng.random((2, 16)), rng.random((2, 32, 32)),
                              rng.random((2, 32, 32)),
                              boxes=[np.array([[0., 0., 8., 8.]])] * 2)
    assert set(scores) <= set(align_tool.METRIC_HELP), set(scores)
    lines = align_tool.explain_metrics(dict(
        spearman=0.1, num_spearman=5, emd=0.2, num_emd=5, pointing=0.5,
        num_pointing=4))
    assert len(lines) == 3
    assert 'higher' in lines[0] and '-1..1' in lines[0] and '[5 images]' in lines[0]
    assert 'lower' in lines[1] and lines[1].strip().startswith('emd = 0.200')
    assert 'higher' in lines[2] and '0..1' in lines[2]


def test_train_report_points_at_real_outputs(tmp_path, capsys):
    """The final print no longer calls a folder of JSON "figures": it names the
    scalars file and the tools that draw figures."""
    log_dir = tmp_path / '20260101_000000'
    (log_dir / 'vis_data').mkdir(parents=True)
    (log_dir / 'vis_data' / 'scalars.json').write_text('{"loss": 1, "step": 1}\n')

    class FakeRunner:
        work_dir = str(tmp_path)
        cfg = Config(dict(visualizer=dict(vis_backends=[
            dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])))
    FakeRunner.log_dir = str(log_dir)
    train_tool.report_outputs(FakeRunner())
    text = capsys.readouterr().out
    assert 'scalars.json' in text
    assert 'none drawn by training' in text
    assert 'plot_loss_curves.py' in text and 'gaze_alignment.py' in text
    assert 'tensorboard --logdir' in text
