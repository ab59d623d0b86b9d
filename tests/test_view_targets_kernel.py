"""The compiled per-view gaze kernel against the float64 reference."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from _gaze_reference import float64_view_targets
from scipy.special import ndtr

from gazeprior_mm.gaze import view_targets_kernel as kernel
from gazeprior_mm.gaze.geometry import (init_geometry, source_to_view_fraction,
                                        view_fraction_to_source)
from gazeprior_mm.gaze.targets import render_source_views


def test_numba_is_installed_so_the_pipeline_runs_the_kernel():
    # numba is a runtime requirement: without it the pipeline runs the same
    # functions interpreted, ~1000x slower
    assert kernel.HAS_NUMBA
    assert hasattr(kernel.batch_views_targets, 'signatures')  # a numba dispatcher


def test_normal_cdf_matches_ndtr_everywhere():
    z = np.concatenate([np.linspace(-40, 40, 80001),
                        [0.0, -7.0, 7.0, -kernel.CDF_RANGE, kernel.CDF_RANGE,
                         -1e-300, 1e-300]])
    got = np.array([kernel.normal_cdf(v) for v in z])
    assert np.abs(got - ndtr(z)).max() < 1e-12
    assert (got[z <= -kernel.CDF_RANGE] == 0).all()
    assert (got[z >= kernel.CDF_RANGE] == 1).all()
    inside = np.linspace(-8, 8, 160001)
    assert (np.diff([kernel.normal_cdf(v) for v in inside]) >= -1e-15).all()


def test_axis_masses_vectorised_loop_equals_scalar_cdf():
    """The compiled loop (SIMD over the fixations) gives what the scalar CDF
    gives, fixation by fixation, for odd K (the loop's scalar remainder)."""
    rng = np.random.default_rng(1)
    for num in (1, 3, 7, 141):
        fix = rng.uniform(-20, 150, (num, 2)).astype(np.float32)
        weights = rng.uniform(0.1, 1, num)
        borders = np.sort(rng.uniform(-30, 30, 9))
        masses = np.empty((8, num))
        kernel._axis_masses(fix, 1, 0.2, borders, weights, masses,
                            np.empty((2, num)))
        cdf = np.array([[kernel.normal_cdf(b - float(y) * 0.2) for y in fix[:, 1]]
                        for b in borders])
        np.testing.assert_allclose(masses, weights * np.abs(np.diff(cdf, axis=0)),
                                   rtol=0, atol=1e-15)


def random_geometries(rng, src, view, num):
    """Random crop + resize (+ flip) views of a ``src`` image, as the pipeline
    composes them."""
    geometries = []
    for _ in range(num):
        width, height = rng.uniform(0.2, 1.0) * src[1], rng.uniform(0.2, 1.0) * src[0]
        x0, y0 = rng.uniform(-0.1, 1.0) * (src[1] - width), rng.uniform(
            0, 1.0) * (src[0] - height)
        sx, sy = view[1] / width, view[0] / height
        geometry = init_geometry(src).then(sx, sx * (0.5 - x0) - 0.5, sy,
                                           sy * (0.5 - y0) - 0.5, view)
        if rng.random() < 0.5:
            geometry = geometry.then(-1.0, view[1] - 1.0, 1.0, 0.0, view)
        geometries.append(geometry)
    return geometries


@pytest.mark.parametrize('src,view,grid,sigma', [
    ((128, 128), (112, 112), 14, (5.12, 5.12)),   # the demo's pipeline
    ((96, 80), (40, 56), (4, 7), (4.0, 2.5)),      # non-square everything
    ((64, 64), (32, 32), 8, (1e-4, 1e-4)),         # near-point fixations
    ((64, 64), (32, 32), 8, (40.0, 40.0)),         # gaze wider than the image
])
def test_kernel_equals_float64_reference(src, view, grid, sigma):
    rng = np.random.default_rng(3)
    for trial in range(20):
        num = int(rng.integers(1, 160))
        fix = np.column_stack([rng.uniform(0, src[1] - 1, num),
                               rng.uniform(0, src[0] - 1, num)]).astype(np.float32)
        weights = rng.uniform(0.05, 1, num).astype(np.float32)
        weights /= weights.sum()
        geometries = random_geometries(rng, src, view, 3)
        min_mass = float(rng.choice([0.0, 0.1, 0.5]))
        got = render_source_views(fix, weights, sigma, geometries, grid, True,
                                  min_mass, with_map=False)
        assert got['gaze_weights'].dtype == np.float32
        assert got['view_has_gaze'].dtype == bool and got['flip'].dtype == bool
        for v, geometry in enumerate(geometries):
            ref = float64_view_targets(fix, weights, sigma, geometry, grid,
                                       min_mass)
            assert got['gaze_view_mass'][v] == pytest.approx(
                ref['gaze_view_mass'], abs=1e-6)
            # the keep decision may differ only at the threshold itself
            if abs(ref['gaze_view_mass'] - min_mass) > 1e-6:
                assert bool(got['view_has_gaze'][v]) == ref['view_has_gaze']
                # float64 inside: within 1e-6 of the float64 integral
                np.testing.assert_allclose(got['gaze_weights'][v],
                                           ref['gaze_weights'], atol=1e-6)
            np.testing.assert_allclose(got['crop_box'][v], ref['crop_box'],
                                       atol=1e-4)
            assert bool(got['flip'][v]) == ref['flip']
        for v in np.flatnonzero(got['view_has_gaze']):
            assert got['gaze_weights'][v].max() == pytest.approx(1.0)
        assert not got['gaze_weights'][~got['view_has_gaze']].any()


def test_kernel_mass_equals_float64_integral():
    """Patch masses of a flipped zoomed view against scipy's ndtr in float64."""
    rng = np.random.default_rng(0)
    fix = rng.uniform(0, 127, (50, 2)).astype(np.float32)
    weights = np.full(50, 1 / 50, np.float32)
    view = init_geometry((128, 128)).then(1.4, -20.0, 1.2, -8.0, (112, 112)).then(
        -1.0, 111.0, 1.0, 0.0, (112, 112))
    got = render_source_views(fix, weights, (5.0, 6.0), [view], 14, True, 0.0,
                              with_map=False)
    ref = float64_view_targets(fix, weights, (5.0, 6.0), view, 14)
    assert got['gaze_view_mass'][0] == pytest.approx(ref['gaze_view_mass'],
                                                     abs=1e-7)
    np.testing.assert_allclose(got['gaze_weights'][0], ref['gaze_weights'],
                               atol=1e-6)
    assert got['flip'].tolist() == [True]


def test_crop_box_and_fraction_maps_are_one_convention():
    """The kernel's crop box is ViewGeometry's, and the fraction maps used by the
    patch correspondence send the view's corners to that box (mirrored when
    flipped) and back."""
    rng = np.random.default_rng(6)
    for geometry in random_geometries(rng, (96, 80), (40, 56), 8):
        got = render_source_views(np.zeros((0, 2), np.float32),
                                  np.zeros(0, np.float32), (1.0, 1.0),
                                  [geometry], 4, False, 0.1, with_map=False)
        box = geometry.crop_box
        np.testing.assert_allclose(got['crop_box'][0], box, atol=1e-4)
        assert bool(got['flip'][0]) == geometry.flip
        # the view's left edge, at u = 0, in the source: x = -1/2 mapped back
        left = (-0.5 - geometry.bx) / geometry.ax + 0.5
        u = np.array([0.0, 1.0, 0.3])
        v = np.array([0.0, 1.0, 0.8])
        x, y = view_fraction_to_source(u, v, box, float(geometry.flip))
        assert x[0] == pytest.approx(left)
        assert y[0] == pytest.approx(box[1]) and y[1] == pytest.approx(box[3])
        back_u, back_v = source_to_view_fraction(x, y, box, float(geometry.flip))
        np.testing.assert_allclose(back_u, u, atol=1e-12)
        np.testing.assert_allclose(back_v, v, atol=1e-12)


def test_kernel_without_fixations_still_gives_geometry():
    base = init_geometry((96, 96))
    # crop 60 x 48 at (10, 20) resized to 40 x 56, then flipped
    sx, sy = 56 / 60, 40 / 48
    crop = base.then(sx, sx * (0.5 - 10) - 0.5, sy, sy * (0.5 - 20) - 0.5, (40, 56))
    flipped = crop.then(-1.0, 55.0, 1.0, 0.0, (40, 56))
    for has_gaze, fix in ((False, np.ones((5, 2), np.float32) * 30),
                          (True, np.zeros((0, 2), np.float32))):
        weights = np.full(len(fix), 1 / max(len(fix), 1), np.float32)
        out = render_source_views(fix, weights, (3.0, 3.0), [crop, flipped], (4, 7),
                                  has_gaze, 0.1, with_map=True)
        assert out['gaze_weights'].shape == (2, 28) and not out['gaze_weights'].any()
        assert out['view_has_gaze'].tolist() == [False, False]
        assert out['gaze_view_mass'].tolist() == [0.0, 0.0]
        assert out['gaze_map'].shape == (2, 40, 56) and not out['gaze_map'].any()
        np.testing.assert_allclose(out['crop_box'], [[10, 20, 70, 68]] * 2,
                                   atol=1e-4)
        assert out['flip'].tolist() == [False, True]


def test_interpreted_kernel_equals_compiled():
    """Without numba the same functions run as plain Python (no second
    implementation): the interpreted batch routine gives the compiled values."""
    rng = np.random.default_rng(2)
    counts = [12, 0, 5]
    fix = rng.uniform(-5, 40, (sum(counts), 2)).astype(np.float32)
    weights = np.concatenate([np.full(k, 1 / k, np.float32) for k in counts if k])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    sigmas = rng.uniform(1, 4, (3, 2))
    coefficients = np.stack([[g.coefficients for g in random_geometries(
        rng, (40, 40), (24, 24), 2)] for _ in counts])
    args = (fix, weights, offsets, sigmas, coefficients, 24, 24, 3, 3, 0.1)
    compiled = kernel.batch_views_targets(*args)
    interpreted = kernel.batch_views_targets.py_func(*args)
    for name, a, b in zip(kernel.TARGET_KEYS, compiled, interpreted):
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)


def test_without_numba_the_same_code_runs_interpreted():
    """numba missing: the kernel's functions run as plain Python (a fresh
    interpreter with numba blocked) and still match the float64 reference."""
    code = '''
import sys
sys.modules['numba'] = None
import numpy as np
from gazeprior_mm.gaze import view_targets_kernel, targets
from gazeprior_mm.gaze.geometry import init_geometry
from _gaze_reference import float64_view_targets
assert not view_targets_kernel.HAS_NUMBA
rng = np.random.default_rng(0)
fix = rng.uniform(0, 63, (40, 2)).astype(np.float32)
w = np.full(40, 1 / 40, np.float32)
view = init_geometry((64, 64)).then(1.2, -5, 1.2, -3, (48, 48)).then(
    -1, 47, 1, 0, (48, 48))
got = targets.render_source_views(fix, w, (3.0, 3.0), [view], 6, True, 0.1,
                                  with_map=False)
ref = float64_view_targets(fix, w, (3.0, 3.0), view, 6, 0.1)
assert np.abs(got['gaze_weights'][0] - ref['gaze_weights']).max() < 1e-6
assert np.abs(got['crop_box'][0] - ref['crop_box']).max() < 1e-4
print('ok')
'''
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [tests_dir, os.path.dirname(tests_dir),
         os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith('ok'), \
        out.stderr[-2000:]


def test_warm_up_compiles_what_setup_env_calls():
    """tools/setup_env.sh compiles the kernel into numba's cache with warm_up():
    the name must exist and run (a fresh checkout's setup stops otherwise)."""
    import re
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    with open(osp.join(root, 'tools', 'setup_env.sh')) as f:
        called = re.findall(r'from (gazeprior_mm[\w.]*) import (\w+); \2\(\)',
                            f.read())
    assert called, 'setup_env.sh no longer warms the kernel up'
    import importlib
    for module, name in called:
        getattr(importlib.import_module(module), name)()
