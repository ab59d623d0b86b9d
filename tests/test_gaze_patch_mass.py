"""Exact per-patch gaze mass straight from fixations (no raster), and its use by
the packer."""
import numpy as np
import pytest
import torch

from _gaze_reference import float64_patch_mass

from gazeprior_mm.datasets.transforms.formatting import (render_source_views,
                                                      render_views)
from gazeprior_mm.gaze import (fixation_patch_mass, fixations_to_heatmap,
                               fixations_to_patch_weights, gaze_mass_map,
                               patch_gaze_mass, patch_gaze_weights)


@pytest.mark.parametrize('size,grid', [((112, 112), (14, 14)),   # even
                                       ((50, 37), (3, 5)),        # uneven borders
                                       ((40, 64), (4, 8))])
def test_patch_mass_matches_float64_erf_reference(size, grid):
    rng = np.random.default_rng(1)
    # fixations inside and up to 10 px outside the view (crops cut gaze off)
    fix = rng.uniform(-10, max(size) + 10, (3, 60, 2))
    weights = rng.uniform(0.1, 1.0, 60)
    weights /= weights.sum()
    sigmas = np.array([[5.0, 6.0], [2.0, 9.0], [0.3, 1.2]])
    mass = fixation_patch_mass(fix, size, grid, sigmas, weights)
    assert mass.shape == (3, ) + grid and mass.dtype == np.float32
    for v in range(3):
        ref = float64_patch_mass(fix[v], weights, size, grid, *sigmas[v])
        # float32: ~1e-6 of the peak patch; ~1e-5 for point-like sigma (view 2),
        # where the float32 rounding of the coordinates (~1e-5 px at 100 px)
        # dominates
        rel = 2e-6 if sigmas[v].min() >= 1 else 1e-5
        np.testing.assert_allclose(mass[v], ref, rtol=0, atol=rel * ref.max())
        assert mass[v].sum() == pytest.approx(ref.sum(), abs=1e-6)


def test_patch_mass_is_exact_pixel_integral_of_heatmap_for_point_like_gaze():
    """For sigma < 1 px the raster heatmap holds exact pixel integrals, so on an
    evenly divided grid its patch sums equal the analytic patch masses."""
    fix = np.array([[3.2, 4.9], [10.0, 1.5], [14.7, 12.1]])  # 1.5: a border
    weights = np.array([0.2, 0.5, 0.3])
    raster = patch_gaze_mass(gaze_mass_map(fix, (16, 16), 0.6, weights,
                                           dtype=np.float64), 4)
    exact = fixation_patch_mass(fix, (16, 16), 4, 0.6, weights).reshape(-1)
    np.testing.assert_allclose(exact, raster, atol=1e-6)
    assert exact.sum() == pytest.approx(raster.sum(), abs=1e-6)
    assert exact.sum() < 0.99  # 14.7 is 1.3 sigma from the right border


def test_patch_weights_agree_with_raster_up_to_its_midpoint_rule():
    """fixations_to_patch_weights vs patch_gaze_weights(fixations_to_heatmap):
    the raster samples the density at pixel centres (sigma >= 1), which is the
    midpoint rule of the exact integral -- close, not identical; a finer raster
    (4x supersampled) converges to the exact value."""
    rng = np.random.default_rng(2)
    fix = rng.uniform(0, 63, (40, 2))
    weights = rng.uniform(0.1, 1.0, 40)
    exact = fixations_to_patch_weights(fix, (64, 64), 8, 4.0, weights)
    raster = patch_gaze_weights(fixations_to_heatmap(fix, (64, 64), 4.0, weights), 8)
    assert exact.max() == pytest.approx(1.0) and exact.shape == (64, )
    coarse_error = np.abs(exact - raster).max()
    assert 1e-6 < coarse_error < 5e-3
    fine = patch_gaze_weights(
        fixations_to_heatmap((fix + 0.5) * 4 - 0.5, (256, 256), 16.0, weights), 8)
    fine_error = np.abs(exact - fine).max()
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
        fixation_patch_mass(np.zeros((2, 3, 4, 2)), (16, 16), 4, 1.0, np.ones(3))


def test_render_views_targets_are_exact_and_independent_of_with_map():
    rng = np.random.default_rng(3)
    fix = rng.uniform(-5, 40, (2, 30, 2)).astype(np.float32)
    fix[1] += 30  # the second view keeps less than half of the gaze
    weights = rng.uniform(0.1, 1, 30).astype(np.float32)
    weights /= weights.sum()
    sigmas = np.array([[3.0, 3.0], [2.5, 4.0]], np.float32)
    light = render_views(fix, weights, sigmas, (40, 40), 5, True, 0.5, False)
    full = render_views(fix, weights, sigmas, (40, 40), 5, True, 0.5, True)
    assert 'gaze_map' not in light and full['gaze_map'].shape == (2, 40, 40)
    for key in ('gaze_weights', 'view_has_gaze', 'gaze_view_mass'):
        np.testing.assert_array_equal(light[key], full[key])
    refs = [float64_patch_mass(fix[v].astype(np.float64), weights, (40, 40),
                               (5, 5), *sigmas[v]) for v in range(2)]
    masses = [r.sum() for r in refs]
    np.testing.assert_allclose(light['gaze_view_mass'], masses, atol=1e-6)
    assert light['view_has_gaze'].tolist() == [m >= 0.5 for m in masses] \
        == [True, False]
    np.testing.assert_allclose(light['gaze_weights'][0],
                               (refs[0] / refs[0].max()).reshape(-1), atol=2e-6)
    assert not light['gaze_weights'][1].any()  # below min_view_mass
    assert full['gaze_map'][0].sum() == pytest.approx(1.0, abs=1e-5)
    assert not full['gaze_map'][1].any()
    # no gaze at all: zeros, also as tensors-to-be of the right shapes
    none = render_views(fix[:, :0], weights[:0], sigmas, (40, 40), 5, True, 0.1)
    assert none['gaze_weights'].shape == (2, 25) and not none['view_has_gaze'].any()
    assert torch.from_numpy(none['gaze_map']).shape == (2, 40, 40)


@pytest.mark.parametrize('grid', [(5, 5), (4, 7)])
def test_source_views_equal_moved_fixations(grid):
    """The packer's path -- source fixations, the views' borders mapped into the
    source -- gives the targets of the fixations moved into each view (flips and
    zooms included) and the float64 reference."""
    from gazeprior_mm.datasets.transforms.geometry import init_geometry
    rng = np.random.default_rng(5)
    fix = rng.uniform(0, 96, (40, 2)).astype(np.float32)
    weights = rng.uniform(0.1, 1, 40).astype(np.float32)
    weights /= weights.sum()
    sigma = (4.0, 3.0)
    view = (40, 56)
    # crop 60 x 48 at (10, 20), resize to the view; the second view also flipped
    base = init_geometry((96, 96))
    sx, sy = view[1] / 60, view[0] / 48
    crop = base.then(sx, sx * (0.5 - 10) - 0.5, sy, sy * (0.5 - 20) - 0.5, view)
    flipped = crop.then(-1.0, view[1] - 1.0, 1.0, 0.0, view)
    geometries = [crop, flipped]
    got = render_source_views(fix, weights, sigma, geometries, grid, True, 0.05,
                              with_map=True)
    moved = np.stack([fix * [g.ax, g.ay] + [g.bx, g.by] for g in geometries])
    sigmas = np.array([[sigma[0] * abs(g.ax), sigma[1] * abs(g.ay)]
                       for g in geometries], np.float32)
    expected = render_views(moved.astype(np.float32), weights, sigmas, view, grid,
                            True, 0.05, with_map=True)
    for key in ('gaze_weights', 'gaze_view_mass', 'gaze_map'):
        np.testing.assert_allclose(got[key], expected[key], atol=2e-6, rtol=1e-4)
    assert got['view_has_gaze'].tolist() == expected['view_has_gaze'].tolist()
    ref = float64_patch_mass(moved[1].astype(np.float64), weights, view, grid,
                             *sigmas[1])
    assert got['gaze_view_mass'][1] == pytest.approx(ref.sum(), abs=1e-6)
    # the flip mirrors the patch grid
    np.testing.assert_allclose(got['gaze_weights'][1].reshape(grid),
                               got['gaze_weights'][0].reshape(grid)[:, ::-1],
                               atol=2e-6)
    # a view resized behind the gaze's back is refused, naming the image
    from gazeprior_mm.datasets.transforms.formatting import _view_targets
    results = dict(gaze_fixations=fix, gaze_sigma=sigma, img_id='img-7',
                   gaze_fixation_weights=weights, has_gaze=True)
    with pytest.raises(ValueError, match="img-7.*without carrying the gaze"):
        _view_targets(results, [crop], [np.zeros((20, 28, 3))], grid, 0.1, False)
