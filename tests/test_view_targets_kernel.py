"""The compiled per-view gaze kernel against the numpy path and float64 maths."""
import numpy as np
import pytest
from _gaze_reference import float64_patch_mass
from scipy.special import ndtr

from gazeprior_mm.datasets.transforms import formatting
from gazeprior_mm.datasets.transforms.formatting import render_source_views
from gazeprior_mm.datasets.transforms.geometry import init_geometry
from gazeprior_mm.gaze import view_targets_kernel as kernel


def test_numba_is_installed_so_the_pipeline_runs_the_kernel():
    # numba is a runtime requirement: without it every test below would compare
    # the numpy path with itself
    assert kernel.HAS_NUMBA
    assert hasattr(kernel.views_targets, 'signatures')  # a numba dispatcher


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


def float64_targets(fix, weights, sigma, geometry, grid):
    """(M_h * M_w,) float64 patch masses of one view: the fixations moved into the
    view (sigma scaled by its zoom; the kernel maps the borders back instead)."""
    grid = (grid, grid) if np.isscalar(grid) else grid
    moved = fix.astype(np.float64) * [geometry.ax, geometry.ay] + [geometry.bx,
                                                                    geometry.by]
    return float64_patch_mass(moved, weights.astype(np.float64),
                              geometry.view_shape, grid,
                              sigma[0] * abs(geometry.ax),
                              sigma[1] * abs(geometry.ay)).reshape(-1)


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
def test_kernel_equals_numpy_path(src, view, grid, sigma):
    rng = np.random.default_rng(3)
    for trial in range(20):
        num = int(rng.integers(1, 160))
        fix = np.column_stack([rng.uniform(0, src[1] - 1, num),
                               rng.uniform(0, src[0] - 1, num)]).astype(np.float32)
        weights = rng.uniform(0.05, 1, num).astype(np.float32)
        weights /= weights.sum()
        geometries = random_geometries(rng, src, view, 3)
        min_mass = float(rng.choice([0.0, 0.1, 0.5]))
        fast = render_source_views(fix, weights, sigma, geometries, grid, True,
                                   min_mass, with_map=False)
        slow = render_source_views(fix, weights, sigma, geometries, grid, True,
                                   min_mass, with_map=False, use_kernel=False)
        assert set(fast) == set(slow)
        np.testing.assert_allclose(fast['gaze_view_mass'], slow['gaze_view_mass'],
                                   atol=1e-6)
        # the keep decision may differ only at the threshold itself
        undecided = np.abs(slow['gaze_view_mass'] - min_mass) < 1e-6
        agree = fast['view_has_gaze'] == slow['view_has_gaze']
        assert (agree | undecided).all()
        # the kernel is float64 inside: within 1e-6 of the float64 integral; the
        # numpy path's float32 erf differences are ~1e-5 off in the tails
        np.testing.assert_allclose(fast['gaze_weights'][agree],
                                   slow['gaze_weights'][agree], atol=3e-5)
        for v, geometry in enumerate(geometries):
            exact = float64_targets(fix, weights, sigma, geometry, grid)
            assert fast['gaze_view_mass'][v] == pytest.approx(exact.sum(), abs=1e-6)
            if fast['view_has_gaze'][v]:
                np.testing.assert_allclose(fast['gaze_weights'][v],
                                           exact / exact.max(), atol=1e-6)
        np.testing.assert_allclose(fast['crop_box'], slow['crop_box'], atol=1e-4)
        assert fast['flip'].tolist() == slow['flip'].tolist()
        for v in np.flatnonzero(fast['view_has_gaze']):
            assert fast['gaze_weights'][v].max() == pytest.approx(1.0)
        assert not fast['gaze_weights'][~fast['view_has_gaze']].any()
        assert fast['gaze_weights'].dtype == np.float32
        assert fast['view_has_gaze'].dtype == bool and fast['flip'].dtype == bool


def test_kernel_mass_equals_float64_integral():
    """Patch masses of a flipped zoomed view against scipy's ndtr in float64."""
    rng = np.random.default_rng(0)
    fix = rng.uniform(0, 127, (50, 2)).astype(np.float32)
    weights = np.full(50, 1 / 50, np.float32)
    view = init_geometry((128, 128)).then(1.4, -20.0, 1.2, -8.0, (112, 112)).then(
        -1.0, 111.0, 1.0, 0.0, (112, 112))
    got = render_source_views(fix, weights, (5.0, 6.0), [view], 14, True, 0.0,
                              with_map=False)
    expected = float64_targets(fix, weights, (5.0, 6.0), view, 14)
    assert got['gaze_view_mass'][0] == pytest.approx(expected.sum(), abs=1e-7)
    np.testing.assert_allclose(got['gaze_weights'][0], expected / expected.max(),
                               atol=1e-6)
    assert got['flip'].tolist() == [True]


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


def test_packer_without_numba_packs_the_same(monkeypatch):
    import copy

    from mmengine.registry import init_default_scope

    from gazeprior_mm.datasets.transforms.formatting import PackGazeInputs
    from gazeprior_mm.datasets.transforms.gaze_heatmap import GazeHeatmap
    from gazeprior_mm.datasets.transforms.wrappers import GazeMultiView
    init_default_scope('mmpretrain')
    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, (64, 64, 3), np.uint8)
    readers = [dict(reader='r0', fixations=np.column_stack([
        rng.uniform(0, 63, (30, 2)), rng.uniform(0.1, 0.5, 30)]).tolist())]
    base = dict(img=img, img_shape=(64, 64), has_gaze=True, img_id='k-1',
                gaze=dict(image_size=[64, 64], readers=readers))
    views = GazeMultiView(num_views=2, transforms=[[
        dict(type='GazeRandomResizedCrop', scale=32, crop_ratio_range=(0.4, 1.0)),
        dict(type='GazeRandomFlip', prob=0.5)]])
    np.random.seed(0)
    results = views(GazeHeatmap(sigma=3.0, render_map=False)(dict(base)))
    packer = PackGazeInputs(grid=4, with_map=False)
    fast = packer(copy.deepcopy(results))['data_samples']
    monkeypatch.setattr(formatting, 'HAS_NUMBA', False)
    slow = packer(copy.deepcopy(results))['data_samples']
    for key in ('gaze_weights', 'gaze_view_mass', 'crop_box'):
        np.testing.assert_allclose(fast.get(key).numpy(), slow.get(key).numpy(),
                                   atol=3e-6)
    for key in ('has_gaze', 'flip'):
        assert fast.get(key).tolist() == slow.get(key).tolist()
    assert fast.has_gaze.any()
    # the views share the source gaze by reference, read-only
    assert results['gaze_fixations'][0] is results['gaze_fixations'][1]
    assert not results['gaze_fixations'][0].flags.writeable
