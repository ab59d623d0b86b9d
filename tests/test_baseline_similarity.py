"""Gaze similarity (McGIP / GzPT reference methods, fixed) and neighbour mining."""
import numpy as np
import pytest
import torch

from gazeprior_mm.mining import neighbours as nb
from gazeprior_mm.mining import similarity as sim


def gaze(points, size=(100, 200), dur=0.2):
    return dict(image_size=list(size),
                readers=[dict(reader='r1', fixations=[[x, y, dur] for x, y in points])])


LEFT = gaze([(20, 20), (40, 30), (60, 25), (30, 70), (50, 60)])
RIGHT = gaze([(180, 90), (170, 80), (150, 85), (160, 95), (175, 70)])


@pytest.mark.parametrize('method', sim.SIMILARITY_METHODS)
def test_identical_gaze_is_one(method):
    assert sim.pairwise_similarity(LEFT, LEFT, method) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize('method', ['heatmap_cosine', 'heatmap_pearson', 'dhash'])
def test_disjoint_heatmaps_are_low(method):
    assert sim.pairwise_similarity(LEFT, RIGHT, method) < 0.05


def test_scanpath_opposite_corners_low_position_similarity():
    # normalised by the image, opposite corners are far (the reference's 1920x1080
    # screen put their position similarity above 0.49 on an 800 px canvas)
    a = gaze([(5, 5), (15, 8), (8, 15)], size=(800, 800))
    b = gaze([(795, 795), (785, 792), (792, 785)], size=(800, 800))
    parts = sim.scanpath_similarity(*sim.gaze_to_fixations(a, 'first'),
                                    *sim.gaze_to_fixations(b, 'first'))
    assert parts[3] < 0.05  # position
    assert sim.multimatch_similarity(a, a) == pytest.approx(1.0)
    assert sim.multimatch_similarity(a, b) < sim.multimatch_similarity(a, a) - 0.2


def test_scanpath_keeps_final_fixation():
    # two paths equal except the last fixation must differ (reference dropped it)
    # (the median of two aligned saccades is their mean, so the last one counts)
    a = gaze([(10, 10), (50, 10), (50, 50)])
    b = gaze([(10, 10), (50, 10), (190, 95)])
    assert sim.multimatch_similarity(a, b) < 0.99


def test_moments_float64_no_uint8_overflow_and_known_values():
    maps = np.zeros((2, 32, 32), np.uint8)
    maps[0] = 255  # the reference's uint8 arithmetic overflowed here under NumPy 2
    maps[1, 10, 20] = 255
    moments = sim.heatmap_moments(maps)
    assert moments[0, 0] == pytest.approx(255 * 32 * 32)
    # uniform square: mu20 = mu02 = M00 (G^2 - 1) / 12, phi1 = 2 (G^2 - 1) / (12 M00)
    assert moments[0, 1] == pytest.approx(2 * (32**2 - 1) / 12 / (255 * 1024))
    assert moments[1].tolist() == [255.0, 0.0]


def test_rendering_is_not_hw_swapped():
    # a fixation near the right edge of a wide image lands in the right columns
    maps = sim.render_gaze_grids([np.array([[0.95, 0.15]])], [np.ones(1)], grid=10)
    row, col = np.unravel_index(maps[0].argmax(), maps[0].shape)
    assert (row, col) == (1, 9)
    uv, _ = sim.gaze_to_fixations(gaze([(180, 10)], size=(100, 200)))
    np.testing.assert_allclose(uv, [[0.9, 0.1]])


def test_tima_orders_clusters_numerically_in_time():
    # 12 temporal clusters whose spread grows along the scanpath: a lexicographic
    # cluster order (10 < 2, the reference's file-name sort) would break the
    # monotone phi1 sequence; numeric time order keeps it
    offsets = np.linspace(-1, 1, 6)
    uv = np.concatenate([
        np.column_stack([np.full(6, 0.1 + 0.25 * (i % 4)),
                         0.15 + 0.3 * (i // 4) + 0.004 * (i + 1) * offsets])
        for i in range(12)])
    seq = sim.tima_sequence(uv, np.ones(len(uv)), eps=0.05, min_samples_div=100,
                            grid=128, sigma=0.01)
    assert len(seq) == 12
    assert np.all(np.diff(seq[:, 1]) > 0)


def test_tima_identical_one_and_different_structure_lower():
    # a: two wide clusters (large M00, phi1); b: scattered single fixations
    a = gaze([(x, 30) for x in range(20, 61, 10)] + [(x, 70) for x in range(130, 171, 10)])
    b = gaze([(20, 20), (90, 50), (150, 80), (30, 90), (180, 10), (100, 5)])
    assert sim.pairwise_similarity(a, a, 'tima') == pytest.approx(1.0)
    assert sim.pairwise_similarity(a, b, 'tima') < 0.9


def test_batched_measures_match_single_pair():
    rng = np.random.default_rng(0)
    gazes = [gaze(rng.uniform([0, 0], [200, 100], (rng.integers(3, 9), 2)))
             for _ in range(8)]
    idx_a, idx_b = np.arange(8), rng.permutation(8)
    table = sim.scanpath_tables(gazes)
    batch = sim.scanpath_similarity_batch(table, idx_a, idx_b) @ np.full(5, 0.2)
    single = [sim.multimatch_similarity(gazes[i], gazes[j]) for i, j in zip(idx_a, idx_b)]
    np.testing.assert_allclose(batch, single, atol=1e-9)
    table = sim.tima_tables(gazes)
    batch = sim.tima_similarity_batch(table, idx_a, idx_b)
    single = [sim.pairwise_similarity(gazes[i], gazes[j], 'tima')
              for i, j in zip(idx_a, idx_b)]
    np.testing.assert_allclose(batch, single, atol=1e-9)


def _random_gazes(num, rng, no_gaze_every=7):
    out = []
    for i in range(num):
        if i % no_gaze_every == 3:
            out.append(None)
            continue
        centre = rng.uniform([20, 20], [180, 80])
        out.append(gaze(centre + rng.normal(0, 10, (rng.integers(3, 10), 2))))
    return out


@pytest.mark.parametrize('method', ['heatmap_cosine', 'dhash', 'moments'])
def test_blocked_topk_is_exact(method):
    rng = np.random.default_rng(1)
    gazes = _random_gazes(60, rng)
    desc, has = sim.compute_descriptors(gazes, method)
    csr = nb.topk_neighbours(desc, has, k=5, method=method, block=7)
    dense = sim.vector_similarity(desc, desc, method)
    for row in range(60):
        got = csr['indices'][csr['indptr'][row]:csr['indptr'][row + 1]]
        if not has[row]:
            assert len(got) == 0
            continue
        cand = np.flatnonzero(has & (np.arange(60) != row))
        best = np.sort(dense[row, cand])[::-1][:5]
        assert row not in got and has[got].all()
        np.testing.assert_allclose(np.sort(dense[row, got])[::-1], best, rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize('shape,k', [((64, 5000), 16), ((300, 777), 5),
                                     ((40, 90), 3), ((5, 40), 16)])
@pytest.mark.parametrize('dim', [0, 1])
def test_grouped_topk_equals_topk(shape, k, dim):
    gen = torch.Generator().manual_seed(0)
    for x in (torch.randn(shape, generator=gen),  # distinct values
              torch.randint(0, 4, shape, generator=gen).float()):  # many ties
        if x.shape[dim] < k:
            continue
        values, index = nb.grouped_topk(x, k, dim)
        expected, _ = x.topk(k, dim)
        assert torch.equal(values, expected)
        assert torch.equal(x.gather(dim, index), values)
        # the indices are distinct entries along ``dim``
        assert (index.sort(dim).values.diff(dim=dim) > 0).all()


def test_blocked_topk_is_exact_with_grouping():
    """N large enough that the row-wise top-k takes the group-maxima path."""
    rng = np.random.default_rng(4)
    gazes = _random_gazes(700, rng, no_gaze_every=9)
    desc, has = sim.compute_descriptors(gazes, 'heatmap_cosine', grid=8)
    csr = nb.topk_neighbours(desc, has, k=6, block=128)
    dense = desc @ desc.T
    np.fill_diagonal(dense, -np.inf)
    dense[:, ~has] = -np.inf
    for row in np.flatnonzero(has):
        got = csr['indices'][csr['indptr'][row]:csr['indptr'][row + 1]]
        values = csr['values'][csr['indptr'][row]:csr['indptr'][row + 1]]
        assert len(got) == 6 and row not in got
        np.testing.assert_allclose(values, np.sort(dense[row])[::-1][:6],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dense[row, got], values, rtol=1e-5, atol=1e-6)


def test_mine_save_load_reindex_and_threshold(tmp_path):
    rng = np.random.default_rng(2)
    gazes = _random_gazes(30, rng)
    ids = [f'id{i:03d}' for i in range(30)]
    table = nb.mine_gaze_neighbours(gazes, ids, k=4, threshold=0.3)
    assert (table.values >= 0.3).all()
    assert np.all(np.diff(table.indptr)[[i for i, g in enumerate(gazes) if g is None]] == 0)
    path = str(tmp_path / 'pairs.npz')
    table.save(path)
    loaded = nb.GazeNeighbours.load(path)
    np.testing.assert_array_equal(loaded.indices, table.indices)
    assert loaded.meta['method'] == 'heatmap_cosine'
    shuffled = list(np.random.default_rng(0).permutation(ids)) + ['new']
    re = loaded.reindex(shuffled)
    assert re.neighbours_of('id005') == pytest.approx(loaded.neighbours_of('id005'))
    assert re.neighbours_of('new') == {}
    assert re.meta['reindex']['ids_without_entry'] == 1


def test_pairwise_mining_reranks_candidates():
    rng = np.random.default_rng(3)
    gazes = _random_gazes(25, rng)
    table = nb.mine_gaze_neighbours(gazes, [str(i) for i in range(25)],
                                    method='multimatch', k=3, candidates=6)
    for row in range(25):
        span = slice(table.indptr[row], table.indptr[row + 1])
        vals = table.values[span]
        assert np.all(np.diff(vals) <= 1e-7)
        for j, v in zip(table.indices[span], vals):
            assert v == pytest.approx(sim.multimatch_similarity(gazes[row], gazes[j]),
                                      abs=1e-6)


def test_corrupt_file_and_duplicate_ids_raise(tmp_path):
    with pytest.raises(ValueError, match='not unique'):
        nb.mine_gaze_neighbours([None, None], ['a', 'a'])
    bad = nb.GazeNeighbours(np.array(['a', 'b']), np.array([0, 1, 5]),
                            np.array([1]), np.array([0.5], np.float32))
    path = str(tmp_path / 'bad.npz')
    bad.save(path)
    with pytest.raises(ValueError, match='corrupt'):
        nb.GazeNeighbours.load(path)
