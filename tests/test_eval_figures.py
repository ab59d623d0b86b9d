"""The figure writers produce real PNG files."""
import numpy as np

from gazeprior_mm.visualization import draw_comparison_bars, draw_gaze_attention


def test_gaze_attention_figure_png(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((48, 48)) * 255).astype(np.uint8)
    gaze = np.zeros((48, 48))
    gaze[20:28, 10:18] = 1
    out = draw_gaze_attention(
        img, gaze, rng.random((6, 6)), str(tmp_path / 'sub' / 'fig.png'),
        fixations=np.array([[14., 24.]]), boxes=np.array([[10, 20, 8, 8]]),
        scores=dict(rho=0.5, emd=0.1), title='t')
    data = open(out, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 5000
    # no gaze (image without eye tracking) is drawn too
    out2 = draw_gaze_attention(np.stack([img] * 3, -1), None,
                               rng.random((48, 48)), str(tmp_path / 'b.png'))
    assert open(out2, 'rb').read()[:4] == b'\x89PNG'


def test_comparison_bars_png(tmp_path):
    methods = {'simclr': {'auc': {'mean': 0.6, 'std': 0.05}},
               'gazeprior': {'auc': {'mean': 0.7, 'std': 0.0}}}
    out = draw_comparison_bars(methods, ['auc', 'missing'],
                               str(tmp_path / 'c.png'))
    data = open(out, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 3000
