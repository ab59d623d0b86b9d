"""Gaze maths: heatmaps, patch weights, cleaning, multi-reader fusion."""
import numpy as np
import pytest
from scipy.special import ndtr

from gazeprior_mm.gaze import (clean_fixations, fixation_array,
                               fixations_to_heatmap, fixations_to_patch_weights,
                               fuse_heatmaps, fuse_reader_fixations,
                               gaze_mass_map, patch_gaze_mass,
                               per_reader_heatmaps)


def brute_force_heatmap(fix, weights, size, sx, sy, exact):
    """Pixel-by-pixel evaluation of the documented formula (broadcast over
    fixation x row x column): the exact pixel integral or the sampled density."""
    rows = np.arange(size[0])[None, :, None]
    cols = np.arange(size[1])[None, None, :]
    x, y = fix[:, 0, None, None], fix[:, 1, None, None]
    if exact:
        py = ndtr((rows + 0.5 - y) / sy) - ndtr((rows - 0.5 - y) / sy)
        px = ndtr((cols + 0.5 - x) / sx) - ndtr((cols - 0.5 - x) / sx)
    else:
        py = np.exp(-0.5 * ((rows - y) / sy) ** 2)
        px = np.exp(-0.5 * ((cols - x) / sx) ** 2)
    mass = (weights[:, None, None] * py * px).sum(0)
    return mass / mass.sum()


@pytest.mark.parametrize('sigma,exact', [((3.0, 1.5), False), (0.4, True)])
def test_heatmap_sums_to_one_and_matches_formula(sigma, exact):
    fix = np.array([[5.0, 7.0], [20.3, 3.2], [11.0, 15.5]])
    weights = np.array([0.2, 0.5, 0.3])
    heat = fixations_to_heatmap(fix, (18, 25), sigma=sigma, weights=weights)
    assert heat.shape == (18, 25) and heat.dtype == np.float32
    assert heat.sum() == pytest.approx(1.0, abs=1e-5)
    sx, sy = (sigma, sigma) if np.isscalar(sigma) else sigma
    expected = brute_force_heatmap(fix, weights, (18, 25), sx, sy, exact)
    np.testing.assert_allclose(heat, expected, atol=1e-6)


def test_heatmap_peak_sigma_and_weights():
    heat = fixations_to_heatmap([[10, 4]], (16, 32), sigma=2.0)
    assert np.unravel_index(heat.argmax(), heat.shape) == (4, 10)
    # anisotropic sigma: wider along x than along y
    wide = fixations_to_heatmap([[16, 8]], (16, 32), sigma=(4.0, 1.0))
    assert wide[8, 12] > wide[4, 16]
    # a heavier fixation gets the higher peak
    two = fixations_to_heatmap([[5, 5], [25, 10]], (16, 32), sigma=1.0,
                               weights=[1.0, 3.0])
    assert two[10, 25] == pytest.approx(3 * two[5, 5], rel=1e-4)


def test_tiny_sigma_puts_all_mass_in_one_pixel():
    heat = fixations_to_heatmap([[3, 6]], (8, 8), sigma=1e-3)
    assert heat[6, 3] == pytest.approx(1.0, abs=1e-6)


def test_mass_map_is_in_image_share():
    # a fixation on the left border keeps half of its mass in the image
    mass = gaze_mass_map([[-0.5, 20.0]], (40, 40), sigma=2.0)
    assert mass.sum() == pytest.approx(0.5, abs=1e-4)
    assert gaze_mass_map([[20.0, 20.0]], (40, 40), sigma=2.0).sum() == \
        pytest.approx(1.0, abs=1e-5)


def test_zero_gaze_gives_zeros():
    heat = fixations_to_heatmap(np.zeros((0, 2)), (6, 9))
    assert heat.shape == (6, 9) and not heat.any()
    weights = fixations_to_patch_weights(np.zeros((0, 2)), (6, 9), 3)
    assert weights.shape == (9, ) and not weights.any()
    # zero weights are no gaze either
    assert not fixations_to_heatmap([[2, 2]], (6, 9), weights=[0.0]).any()


def test_patch_weights_max_one_and_row_major():
    weights = fixations_to_patch_weights([[27.0, 4.0]], (32, 32), 4,
                                         sigma=1.0)  # 8-px patches
    assert weights.shape == (16, )
    assert weights.max() == pytest.approx(1.0)
    assert weights.min() >= 0
    assert weights.argmax() == 0 * 4 + 3  # row 0, column 3


def test_deprecated_raster_pooling_is_area_exact_for_uneven_grid():
    # 10 px into 3 patches: borders cut pixels 3 and 6; a uniform map has the same
    # mass (10/3 px) in each patch -- a floor/ceil split would not
    uniform = np.full((10, 10), 0.01, np.float32)
    with pytest.warns(DeprecationWarning):
        mass = patch_gaze_mass(uniform, 3)
    np.testing.assert_allclose(mass, np.full(9, 1 / 9), rtol=1e-5)


def test_clean_fixations_counts_and_warns_with_image_id():
    fix = [[1, 2, 0.3], [np.nan, 1, 0.2], [1, np.inf, 0.2], [1, 1, -0.1],
           [10.2, 2, 0.3], [3, -0.7, 0.3], [9.4, 9.4, 0.1]]
    with pytest.warns(UserWarning, match=r"image 'img-7'.*dropped 5 of 7"):
        kept, counts = clean_fixations(fix, (10, 10), image_id='img-7')
    assert counts == dict(nan=1, inf=1, negative_duration=1, outside=2, kept=2)
    np.testing.assert_allclose(kept, [[1, 2, 0.3], [9.4, 9.4, 0.1]], rtol=1e-6)


def test_clean_fixations_rejects_non_numeric():
    with pytest.raises(ValueError, match="'img-1'.*not numeric"):
        clean_fixations([['a', 1, 2]], (5, 5), image_id='img-1')
    with pytest.raises(ValueError, match='shape'):
        clean_fixations([[1, 2, 3, 4]], (5, 5), image_id='img-1')


def test_fixation_array_is_the_one_shape_check():
    assert fixation_array(None).shape == (0, 3)
    assert fixation_array([]).shape == (0, 3)
    fix = np.ones((4, 2), np.float32)
    assert fixation_array(fix) is fix
    with pytest.raises(ValueError, match=r"reader 0 \('r'\) are not numeric"):
        fixation_array([['a', 1]], "reader 0 ('r')")
    with pytest.raises(ValueError, match=r'must be \(K, 2\) or \(K, 3\), got '
                       r'shape \(1, 4\)'):
        fixation_array([[1, 2, 3, 4]])


def test_fused_fixations_equal_mean_of_reader_heatmaps():
    readers = [np.array([[10., 12., 0.2], [20., 22., 0.6]]),
               np.array([[30., 8., 0.3]]),
               np.array([[15., 30., 0.5], [16., 31., 0.5], [40., 40., 1.0]])]
    size, sigma = (48, 48), 2.0
    xy, weights, rho = fuse_reader_fixations(readers, size, sigma, mode='mean')
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(rho, 1 / 3)
    per_reader = np.stack([
        fixations_to_heatmap(r[:, :2], size, sigma, r[:, 2]) for r in readers])
    fused, spread, _ = fuse_heatmaps(per_reader, mode='mean')
    np.testing.assert_allclose(fixations_to_heatmap(xy, size, sigma, weights),
                               fused, atol=1e-6)
    assert spread.max() > 0
    # the batched per-reader rendering agrees with one map per reader
    index = np.repeat(np.arange(3), [len(r) for r in readers])
    batched = per_reader_heatmaps(np.concatenate(readers)[:, :2], index, 3, size,
                                  sigma, np.concatenate(readers)[:, 2])
    np.testing.assert_allclose(batched, per_reader, atol=1e-6)


def test_agreement_fusion_down_weights_the_outlier_reader():
    agree = [np.array([[10., 10., 0.3]]), np.array([[11., 10., 0.3]])]
    outlier = [np.array([[40., 40., 0.3]])]
    _, _, rho = fuse_reader_fixations(agree + outlier, (48, 48), 3.0,
                                      mode='agreement')
    assert rho[2] < 0.1 * rho[0] and rho.sum() == pytest.approx(1.0)
    same = np.stack([fixations_to_heatmap([[5, 5]], (12, 12), 2.0)] * 3)
    fused, spread, rho_same = fuse_heatmaps(same, mode='agreement')
    np.testing.assert_allclose(rho_same, 1 / 3)
    np.testing.assert_allclose(fused, same[0], atol=1e-7)
    assert spread.max() < 1e-6


def test_fusion_without_fixations_and_without_durations():
    xy, weights, rho = fuse_reader_fixations([np.zeros((0, 3))] * 2, (8, 8))
    assert xy.shape == (0, 2) and weights.size == 0 and not rho.any()
    # (K, 2) fixations: uniform within a reader, readers weighted equally
    xy, weights, _ = fuse_reader_fixations(
        [np.array([[1., 1.], [2., 2.]]), np.array([[5., 5.]])], (8, 8))
    np.testing.assert_allclose(weights, [0.25, 0.25, 0.5])


def test_bad_arguments_are_rejected_with_a_reason():
    with pytest.raises(ValueError, match='weights has 1 entries for 2'):
        fixations_to_heatmap([[1, 1], [2, 2]], (4, 4), weights=[1.0])
    with pytest.raises(ValueError, match='non-negative'):
        fixations_to_heatmap([[1, 1]], (4, 4), weights=[-1.0])
    with pytest.raises(ValueError, match='sigma'):
        fixations_to_heatmap([[1, 1]], (4, 4), sigma=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match='size'):
        fixations_to_heatmap([[1, 1]], (0, 4))
    with pytest.raises(ValueError, match='grid'):
        fixations_to_patch_weights([[1, 1]], (4, 4), 0)


def test_pool_fusion_is_one_plain_gaussian_per_fixation():
    """mode='pool' (the proposal's heatmap): every fixation of every reader
    weighs the same, so a reader with more fixations counts more."""
    from gazeprior_mm.gaze.fusion import (fuse_fixation_weights,
                                          fuse_reader_fixations, reader_weights)
    readers = [np.array([[1., 1., 0.2], [2., 2., 0.9], [3., 3., 0.1]]),
               np.array([[5., 5., 0.3]])]
    xy, weights, rho = fuse_reader_fixations(readers, (8, 8), mode='pool',
                                             duration_weighted=False)
    assert np.allclose(weights, 0.25) and np.allclose(rho, [0.75, 0.25])
    # 'mean' gives each reader half, whatever its number of fixations
    _, mean_w, _ = fuse_reader_fixations(readers, (8, 8), mode='mean',
                                         duration_weighted=False)
    assert np.allclose(mean_w, [1 / 6, 1 / 6, 1 / 6, 0.5])
    # with durations, pooled weights are the durations over all readers
    _, dur_w, _ = fuse_reader_fixations(readers, (8, 8), mode='pool')
    assert np.allclose(dur_w, np.array([0.2, 0.9, 0.1, 0.3]) / 1.5)
    with pytest.raises(ValueError, match='pool'):
        reader_weights(np.ones((2, 4, 4)), 'pool')
    assert fuse_fixation_weights(np.zeros((0, 2)), np.zeros(0, int), 2,
                                 mode='pool')[0].size == 0
