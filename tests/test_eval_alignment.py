"""Gaze-alignment maths: Spearman vs scipy, exact EMD, pointing game, metric."""
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr, wasserstein_distance

from gazeprior_mm.evaluation.metrics.gaze_alignment import (
    GazeAlignmentMetric, boxes_to_view, grid_emd, pointing_game,
    spearman_per_image)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    g = np.round(rng.random((6, 16)), 1)
    a = np.round(g + 0.3 * rng.random((6, 16)), 1)
    rho = spearman_per_image(g, a)
    for n in range(6):
        assert rho[n] == pytest.approx(spearmanr(g[n], a[n]).statistic)
    assert np.isnan(spearman_per_image(np.ones((1, 4)), a[:1, :4]))[0]


def test_emd_zero_for_identical_and_hand_solved_shift():
    rng = np.random.default_rng(1)
    maps = rng.random((3, 16, 16))
    np.testing.assert_allclose(grid_emd(maps, maps, grid=4), 0, atol=1e-12)
    # all mass in cell (0, 0) vs cell (0, 3) on a 4x4 grid: distance 3/4
    a = np.zeros((1, 4, 4))
    b = np.zeros((1, 4, 4))
    a[0, 0, 0] = 1
    b[0, 0, 3] = 1
    assert grid_emd(a, b, grid=4)[0] == pytest.approx(0.75)


def test_emd_equals_1d_wasserstein_for_row_profiles():
    # mass only in one row: the 2-D EMD reduces to 1-D W1 along x
    rng = np.random.default_rng(2)
    p, q = rng.random(8), rng.random(8)
    a = np.zeros((1, 8, 8))
    b = np.zeros((1, 8, 8))
    a[0, 4], b[0, 4] = p, q
    centres = (np.arange(8) + 0.5) / 8
    expected = wasserstein_distance(centres, centres, p, q)
    assert grid_emd(a, b, grid=8)[0] == pytest.approx(expected)
    assert np.isnan(grid_emd(np.zeros((1, 8, 8)), b, grid=8)[0])


def test_pointing_game_and_box_mapping():
    sal = np.zeros((3, 10, 10))
    sal[0, 2, 3] = 1  # peak at x=3, y=2
    sal[1, 8, 8] = 1
    sal[2, 5, 5] = 1
    boxes = [np.array([[2, 1, 2, 2]]), np.array([[0, 0, 3, 3]]), np.zeros((0, 4))]
    hits = pointing_game(sal, boxes)
    assert hits[0] == 1 and hits[1] == 0 and np.isnan(hits[2])
    assert pointing_game(sal[1:2], boxes[1:2], tolerance=6)[0] == 1
    # crop (10, 20)-(30, 60) resized to (20, 40) view, flipped
    view = boxes_to_view(np.array([[12, 30, 4, 10]]), np.array([10, 20, 30, 60]),
                         True, (20, 40))
    np.testing.assert_allclose(view, [[40 - (4 + 8), 5, 8, 5]])


def test_metric_attention_equal_to_gaze_gives_rho1_emd0():
    grid, size = 4, 16
    rng = np.random.default_rng(3)
    samples = []
    for i in range(3):
        weights = rng.random(grid * grid)
        # a piecewise-constant gaze map whose patches carry `weights`
        gaze_map = np.kron(weights.reshape(grid, grid), np.ones((4, 4)))
        gaze_map /= gaze_map.sum()
        peak = np.unravel_index(gaze_map.argmax(), gaze_map.shape)
        samples.append(dict(
            gaze_map=torch.tensor(gaze_map[None], dtype=torch.float32),
            gaze_weights=torch.tensor(weights[None] / weights.max()),
            has_gaze=torch.tensor([True]),
            saliency_map=torch.tensor(gaze_map),
            crop_box=torch.tensor([[0., 0., size, size]]),
            flip=torch.tensor([False]),
            lesions=[dict(bbox=[peak[1] - 1, peak[0] - 1, 2, 2])]))
    samples.append(dict(samples[0], has_gaze=torch.tensor([False])))
    metric = GazeAlignmentMetric(emd_grid=4)
    metric.process(None, samples)
    with pytest.warns(UserWarning, match='1/4'):
        res = metric.evaluate(len(samples))
    assert res['gaze/spearman'] == pytest.approx(1.0)
    assert res['gaze/emd'] == pytest.approx(0.0, abs=1e-6)
    assert res['gaze/pointing'] == 1.0
    assert res['gaze/num_spearman'] == 3 and res['gaze/num_pointing'] == 4


def test_boxes_to_view_flip_mirrors_box_edges():
    from gazeprior_mm.evaluation.metrics.gaze_alignment import boxes_to_view
    crop = np.array([0., 0., 100., 50.])
    # a box on the left edge lands on the right edge after the flip, same size
    out = boxes_to_view(np.array([[0., 10., 20., 5.]]), crop, True, (50, 100))
    np.testing.assert_allclose(out, [[80., 10., 20., 5.]])
    # the whole view maps onto itself
    whole = boxes_to_view(np.array([[0., 0., 100., 50.]]), crop, True, (50, 100))
    np.testing.assert_allclose(whole, [[0., 0., 100., 50.]])
