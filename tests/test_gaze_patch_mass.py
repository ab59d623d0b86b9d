"""Exact per-patch gaze mass straight from fixations (no raster), through the one
route (gaze.targets -> the kernel), against the float64 reference."""
import warnings

import numpy as np
import pytest
from _gaze_reference import (float64_patch_mass, float64_view_targets,
                             raster_patch_mass)

from gazeprior_mm.gaze import (fixation_patch_mass, fixations_to_heatmap,
                               fixations_to_patch_weights, gaze_mass_map,
                               gaze_mass_maps, patch_gaze_mass,
                               patch_gaze_weights)
from gazeprior_mm.gaze.geometry import init_geometry
from gazeprior_mm.gaze.targets import render_source_views
from gazeprior_mm.gaze.view_targets_kernel import views_patch_mass


@pytest.mark.parametrize('size,grid', [((112, 112), (14, 14)),   # even
                                       ((50, 37), (3, 5)),        # uneven borders
                                       ((40, 64), (4, 8))])
def test_patch_mass_matches_float64_reference(size, grid):
    rng = np.random.default_rng(1)
    # fixations inside and up to 10 px outside the view (crops cut gaze off)
    fix = rng.uniform(-10, max(size) + 10, (3, 60, 2)).astype(np.float32)
    weights = rng.uniform(0.1, 1.0, 60).astype(np.float32)
    weights /= weights.sum()
    sigmas = np.array([[5.0, 6.0], [2.0, 9.0], [0.3, 1.2]])
    identity = np.array([init_geometry(size).coefficients])
    for v in range(3):
        mass = views_patch_mass(fix[v], weights, sigmas[v, 0], sigmas[v, 1],
                                identity, size[0], size[1], *grid)[0]
        ref = float64_patch_mass(fix[v].astype(np.float64),
                                 weights.astype(np.float64), size, grid,
                                 *sigmas[v]).reshape(-1)
        # float64 inside: only the kernel's CDF (<1e-12) and float32 inputs
        np.testing.assert_allclose(mass, ref, rtol=0, atol=1e-9)


def test_patch_mass_is_exact_pixel_integral_of_heatmap_for_point_like_gaze():
    """For sigma < 1 px the raster heatmap holds exact pixel integrals, so on an
    evenly divided grid its patch sums equal the exact patch masses."""
    fix = np.array([[3.2, 4.9], [10.0, 1.5], [14.7, 12.1]], np.float32)
    weights = np.array([0.2, 0.5, 0.3], np.float32)
    raster = raster_patch_mass(gaze_mass_map(fix, (16, 16), 0.6, weights,
                                             dtype=np.float64), 4)
    exact = views_patch_mass(fix, weights, 0.6, 0.6,
                             np.array([init_geometry((16, 16)).coefficients]),
                             16, 16, 4, 4)[0]
    np.testing.assert_allclose(exact, raster, atol=1e-6)
    assert exact.sum() < 0.99  # 14.7 is 1.3 sigma from the right border


def test_patch_weights_agree_with_raster_up_to_its_midpoint_rule():
    """fixations_to_patch_weights vs the raster map's patch sums: the raster
    samples the density at pixel centres (sigma >= 1), the midpoint rule of the
    exact integral -- close, not identical; a finer raster (4x supersampled)
    converges to the exact value."""
    rng = np.random.default_rng(2)
    fix = rng.uniform(0, 63, (40, 2))
    weights = rng.uniform(0.1, 1.0, 40)
    exact = fixations_to_patch_weights(fix, (64, 64), 8, 4.0, weights)
    coarse = raster_patch_mass(fixations_to_heatmap(fix, (64, 64), 4.0, weights), 8)
    assert exact.max() == pytest.approx(1.0) and exact.shape == (64, )
    coarse_error = np.abs(exact - coarse / coarse.max()).max()
    assert 1e-6 < coarse_error < 5e-3
    fine = raster_patch_mass(
        fixations_to_heatmap((fix + 0.5) * 4 - 0.5, (256, 256), 16.0, weights), 8)
    fine_error = np.abs(exact - fine / fine.max()).max()
    assert fine_error < coarse_error / 8  # midpoint-rule error falls like h^2


def test_patch_weights_edge_cases():
    assert not fixations_to_patch_weights(np.zeros((0, 2)), (16, 16), 4).any()
    # all gaze far outside the image: no mass anywhere
    assert not fixations_to_patch_weights([[500.0, 500.0]], (16, 16), 4, 1.0).any()
    # a point fixation on a patch centre: all of its mass in that patch
    weights = fixations_to_patch_weights([[5.5, 9.5, 0.3]], (16, 16), 4, 0.0)
    assert weights.reshape(4, 4)[2, 1] == 1.0 and weights.sum() == 1.0
    with pytest.raises(ValueError, match='grid'):
        fixations_to_patch_weights([[1.0, 1.0]], (16, 16), 0)
    with pytest.raises(ValueError, match='shape'):
        fixations_to_patch_weights(np.zeros((2, 3, 4)), (16, 16), 4)


def test_deprecated_patch_mass_variants_warn_and_forward():
    rng = np.random.default_rng(4)
    fix = rng.uniform(0, 31, (2, 20, 2)).astype(np.float32)
    weights = np.full(20, 1 / 20, np.float32)
    with pytest.warns(DeprecationWarning, match='fixation_patch_mass'):
        mass = fixation_patch_mass(fix, (32, 32), 4, [[3.0, 2.0], [1.5, 4.0]],
                                   weights)
    assert mass.shape == (2, 4, 4) and mass.dtype == np.float32
    np.testing.assert_allclose(
        mass[1], float64_patch_mass(fix[1].astype(np.float64), weights, (32, 32),
                                    (4, 4), 1.5, 4.0), atol=1e-7)
    heat = fixations_to_heatmap(fix[0], (32, 32), 3.0, weights)
    with pytest.warns(DeprecationWarning, match='patch_gaze_mass'):
        pooled = patch_gaze_mass(heat, (4, 2))
    np.testing.assert_allclose(pooled, raster_patch_mass(heat, (4, 2)), atol=1e-6)
    with pytest.warns(DeprecationWarning, match='patch_gaze_weights'):
        tilde = patch_gaze_weights(heat, (4, 2))
    np.testing.assert_allclose(tilde, pooled / pooled.max(), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        assert not patch_gaze_weights(np.zeros((6, 9)), 3).any()
        with pytest.raises(ValueError, match='non-negative'):
            patch_gaze_weights(-np.ones((4, 4)), 2)


def _crop_views(src, view):
    """Crop 60 x 48 at (10, 20) of ``src`` resized to ``view``; then flipped."""
    sx, sy = view[1] / 60, view[0] / 48
    crop = init_geometry(src).then(sx, sx * (0.5 - 10) - 0.5, sy,
                                   sy * (0.5 - 20) - 0.5, view)
    return [crop, crop.then(-1.0, view[1] - 1.0, 1.0, 0.0, view)]


@pytest.mark.parametrize('grid', [(5, 5), (4, 7)])
def test_source_views_equal_float64_reference(grid):
    """The route -- source fixations, the views' borders mapped into the source
    -- gives the float64 targets of the fixations moved into each view (flips and
    zooms included); the maps do not change g̃ and sum to 1."""
    rng = np.random.default_rng(5)
    fix = rng.uniform(0, 96, (40, 2)).astype(np.float32)
    weights = rng.uniform(0.1, 1, 40).astype(np.float32)
    weights /= weights.sum()
    sigma = (4.0, 3.0)
    view = (40, 56)
    geometries = _crop_views((96, 96), view)
    full = render_source_views(fix, weights, sigma, geometries, grid, True, 0.05,
                               with_map=True)
    light = render_source_views(fix, weights, sigma, geometries, grid, True, 0.05,
                                with_map=False)
    assert 'gaze_map' not in light and full['gaze_map'].shape == (2, ) + view
    for key in light:
        np.testing.assert_array_equal(light[key], full[key])
    for v, geometry in enumerate(geometries):
        ref = float64_view_targets(fix, weights, sigma, geometry, grid, 0.05)
        assert full['gaze_view_mass'][v] == pytest.approx(ref['gaze_view_mass'],
                                                          abs=1e-6)
        assert bool(full['view_has_gaze'][v]) == ref['view_has_gaze']
        np.testing.assert_allclose(full['gaze_weights'][v], ref['gaze_weights'],
                                   atol=1e-6)
        np.testing.assert_allclose(full['crop_box'][v], ref['crop_box'], atol=1e-4)
        assert bool(full['flip'][v]) == ref['flip']
        assert full['gaze_map'][v].sum() == pytest.approx(1.0, abs=1e-5)
    # the map is the raster of the moved fixations, normalised
    moved = np.stack([g.to_view(fix) for g in geometries])
    sigmas = np.array([g.view_sigma(sigma) for g in geometries], np.float32)
    maps = gaze_mass_maps(moved, view, sigmas, weights)
    np.testing.assert_allclose(full['gaze_map'],
                               maps / maps.sum(axis=(1, 2), keepdims=True),
                               atol=1e-7)
    # the flip mirrors the patch grid
    np.testing.assert_allclose(full['gaze_weights'][1].reshape(grid),
                               full['gaze_weights'][0].reshape(grid)[:, ::-1],
                               atol=2e-6)
    # a view that keeps too little gaze: zeros, and no map
    far = render_source_views(fix + 200, weights, sigma, geometries, grid, True,
                              0.05, with_map=True)
    assert not far['view_has_gaze'].any() and not far['gaze_weights'].any()
    assert not far['gaze_map'].any()


def test_view_resized_behind_the_gaze_is_refused():
    from gazeprior_mm.datasets.transforms.formatting import _view_targets
    fix = np.ones((3, 2), np.float32)
    weights = np.full(3, 1 / 3, np.float32)
    crop = _crop_views((96, 96), (40, 56))[0]
    results = dict(gaze_fixations=fix, gaze_sigma=(2.0, 2.0), img_id='img-7',
                   gaze_fixation_weights=weights, has_gaze=True)
    with pytest.raises(ValueError, match="img-7.*without carrying the gaze"):
        _view_targets(results, [crop], [np.zeros((20, 28, 3))], 4, 0.1, False)
