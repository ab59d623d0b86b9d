"""McGIP / GzPT for SimCLR and MoCo: masks, queue bookkeeping, loss identities."""
import numpy as np
import pytest
import torch
from mmpretrain.models.heads import ContrastiveHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import gazeprior_mm  # noqa: F401
from gazeprior_mm.mining.table import GazeNeighbours, lookup_neighbour_pairs
from gazeprior_mm.models.heads import MultiPositiveContrastiveHead
from gazeprior_mm.models.selfsup import mcgip_moco
from gazeprior_mm.models.selfsup.mcgip import GazeNeighbourPositives
from gazeprior_mm.models.selfsup.mcgip_simclr import simclr_positive_weights


def make_table(num, pairs, sims=None):
    """GazeNeighbours over ids img0..img{num-1} with directed pairs (a, b)."""
    pairs = sorted(pairs)
    rows = np.array([a for a, _ in pairs], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=num))])
    values = np.ones(len(pairs), np.float32) if sims is None else np.asarray(
        [sims[p] for p in pairs], np.float32)
    return GazeNeighbours(np.array([f'img{i}' for i in range(num)]),
                          indptr.astype(np.int64),
                          np.array([b for _, b in pairs], dtype=np.int64),
                          values)


def samples(ids):
    return [DataSample(metainfo=dict(img_id=f'img{i}', sample_idx=i)) for i in ids]


BACKBONE = dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'))
NECK = dict(type='NonLinearNeck', in_channels=512, hid_channels=32,
            out_channels=16, num_layers=2, with_avg_pool=True)
PREPROC = dict(type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1])


def build(kind, table, **pos_cfg):
    head = dict(type='MultiPositiveContrastiveHead', temperature=0.2)
    cfg = dict(backbone=BACKBONE, neck=NECK, head=head,
               data_preprocessor=PREPROC,
               gaze_positives=dict(neighbour_file=table, **pos_cfg))
    if kind == 'moco':
        cfg.update(type='McGIPMoCo', queue_len=16, feat_dim=16, momentum=0.01)
    else:
        cfg.update(type='McGIPSimCLR')
    return MODELS.build(cfg)


def test_head_single_positive_equals_contrastive_head():
    torch.manual_seed(0)
    pos, neg = torch.rand(6, 1), torch.rand(6, 9)
    ref = ContrastiveHead(loss=dict(type='CrossEntropyLoss'), temperature=0.3)
    head = MultiPositiveContrastiveHead(temperature=0.3)
    weight = torch.zeros(6, 10)
    weight[:, 0] = 1
    out = head.loss(torch.cat([pos, neg], 1), weight)
    torch.testing.assert_close(out, ref.loss(pos, neg))


def test_head_per_anchor_vs_global_normalisation():
    sim = torch.tensor([[0.9, 0.1, 0.2, 0.3], [0.5, 0.4, 0.1, 0.0]])
    weight = torch.tensor([[1., 1., 1., 0.], [1., 0., 0., 0.]])
    log_prob = torch.log_softmax(sim / 0.5, dim=1)
    per_anchor = -((log_prob[0, :3].mean()) + log_prob[1, 0]) / 2
    global_avg = -(log_prob[0, :3].sum() + log_prob[1, 0]) / 4
    anchor = MultiPositiveContrastiveHead(0.5, normalise='anchor')
    glob = MultiPositiveContrastiveHead(0.5, normalise='global')
    torch.testing.assert_close(anchor.loss(sim, weight), per_anchor)
    torch.testing.assert_close(glob.loss(sim, weight), global_avg)
    assert not torch.isclose(per_anchor, global_avg)


def test_lookup_matches_dense_bruteforce():
    rng = np.random.default_rng(0)
    num = 30
    pairs = {(a, b) for a, b in rng.integers(0, num, (120, 2)) if a != b}
    table = make_table(num, pairs)
    dense = np.zeros((num, num), bool)
    for a, b in pairs:
        dense[a, b] = True
    query = torch.tensor([0, 5, -1, 7, 29, 5])
    keys = torch.tensor([3, 3, -1, 8, 0, 12, 29, 29, 100])  # repeats, empty, outside
    mask, weight = lookup_neighbour_pairs(
        torch.from_numpy(table.indptr), torch.from_numpy(table.indices),
        torch.from_numpy(table.values), query, keys)
    expected = np.zeros((len(query), len(keys)), bool)
    for i, q in enumerate(query.tolist()):
        for j, k in enumerate(keys.tolist()):
            expected[i, j] = 0 <= q < num and 0 <= k < num and dense[q, k]
    assert expected.any()
    np.testing.assert_array_equal(mask.numpy(), expected)
    np.testing.assert_array_equal(weight.numpy() > 0, expected)


def test_simclr_mask_known_batch_interleaved():
    # batch of images [0, 1, 2]; 0 -> 2 is a gaze pair (symmetric lookup)
    positives = GazeNeighbourPositives(make_table(4, {(0, 2)}))
    rows = positives.rows(samples([0, 1, 2]))
    gaze = positives(rows, rows)
    weight = simclr_positive_weights(rows, gaze)
    # rows of the (6, 6) matrix: img0 v1, img0 v2, img1 v1, img1 v2, img2 v1, img2 v2
    expected = torch.tensor([
        [0, 1, 0, 0, 1, 1],
        [1, 0, 0, 0, 1, 1],
        [0, 0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 1],
        [1, 1, 0, 0, 1, 0]], dtype=torch.float32)
    torch.testing.assert_close(weight, expected)
    directed = GazeNeighbourPositives(make_table(4, {(0, 2)}), symmetric=False)
    assert directed(rows, rows)[2, 0] == 0 and directed(rows, rows)[0, 2] == 1


def test_threshold_weighting_and_missing_ids():
    table = make_table(3, {(0, 1), (0, 2)}, sims={(0, 1): 0.9, (0, 2): 0.6})
    positives = GazeNeighbourPositives(table, threshold=0.7, weighting='similarity')
    with pytest.warns(UserWarning, match='not in the gaze-neighbour table'):
        rows = positives.rows(samples([0, 1, 2, 9]))
    assert rows.tolist() == [0, 1, 2, -1] and positives.num_missing == 1
    weight = positives(rows, rows)
    assert weight[0, 1] == pytest.approx(0.9) and weight[1, 0] == pytest.approx(0.9)
    assert weight[0, 2] == 0 and weight[3].sum() == 0


def _views(batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(batch, 3, 32, 32, generator=gen) for _ in range(2)]


def test_mcgip_simclr_without_neighbours_equals_simclr():
    torch.manual_seed(0)
    model = build('simclr', make_table(4, set()))
    ref = MODELS.build(dict(type='SimCLR', backbone=BACKBONE, neck=NECK,
                            data_preprocessor=PREPROC,
                            head=dict(type='ContrastiveHead', temperature=0.2,
                                      loss=dict(type='CrossEntropyLoss'))))
    ref.load_state_dict(model.state_dict(), strict=True)
    views = _views(4)
    out = model.loss(views, samples(range(4)))
    torch.testing.assert_close(out['loss'], ref.loss(views, samples(range(4)))['loss'])
    assert out['num_gaze_pos'] == 0


def test_drop_prob_zero_equals_mcgip_and_one_equals_simclr():
    table = make_table(4, {(0, 1), (2, 3)})
    torch.manual_seed(0)
    mcgip = build('simclr', table)
    views = _views(4)
    base = mcgip.loss(views, samples(range(4)))
    assert base['num_gaze_pos'] == 2  # both views of the neighbour image
    for prob, expected in ((0.0, base['loss']), ):
        gzpt = build('simclr', table, drop_prob=prob)
        gzpt.load_state_dict(mcgip.state_dict())
        torch.testing.assert_close(gzpt.loss(views, samples(range(4)))['loss'],
                                   expected)
    drop_all = build('simclr', table, drop_prob=1.0)
    drop_all.load_state_dict(mcgip.state_dict())
    none = build('simclr', make_table(4, set()))
    none.load_state_dict(mcgip.state_dict())
    torch.testing.assert_close(drop_all.loss(views, samples(range(4)))['loss'],
                               none.loss(views, samples(range(4)))['loss'])
    assert not torch.isclose(base['loss'], none.loss(views, samples(range(4)))['loss'])


def test_drop_prob_drops_that_share_of_pairs():
    table = make_table(200, {(a, b) for a in range(200) for b in range(200) if a != b})
    positives = GazeNeighbourPositives(table, drop_prob=0.3)
    rows = torch.arange(200)
    torch.manual_seed(0)
    kept = positives(rows, rows).fill_diagonal_(0).sum() / (200 * 199)
    assert abs(float(kept) - 0.7) < 0.01


def test_mcgip_moco_without_neighbours_equals_moco():
    torch.manual_seed(0)
    model = build('moco', make_table(4, set()))
    ref = MODELS.build(dict(type='MoCo', backbone=BACKBONE, neck=NECK,
                            data_preprocessor=PREPROC, queue_len=16, feat_dim=16,
                            momentum=0.01,
                            head=dict(type='ContrastiveHead', temperature=0.2,
                                      loss=dict(type='CrossEntropyLoss'))))
    state = {k: v for k, v in model.state_dict().items() if k != 'queue_rows'}
    ref.load_state_dict(state, strict=True)
    for step in range(2):
        views = _views(4, seed=step)
        torch.manual_seed(step)
        out = model.loss(views, samples(range(4)))
        torch.manual_seed(step)
        torch.testing.assert_close(out['loss'], ref.loss(views, samples(range(4)))['loss'])
    torch.testing.assert_close(model.queue, ref.queue)


def test_moco_queue_rows_across_two_fake_ranks(monkeypatch):
    """Rank 1 holds images 4..7: rows are gathered in the keys' rank order."""
    table = make_table(8, {(0, 5), (1, 6)})
    torch.manual_seed(0)
    model = build('moco', table)
    assert (model.queue_rows == -1).all()

    def fake_all_gather(tensor):
        other = tensor + 4 if tensor.dtype == torch.long else -tensor
        return [tensor, other]

    monkeypatch.setattr(mcgip_moco, 'all_gather', fake_all_gather)
    # before anything is queued, no query has gaze positives (-1 never matches)
    out = model.loss(_views(4), samples(range(4)))
    assert out['num_gaze_pos'] == 0
    assert model.queue_rows[:8].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert (model.queue_rows[8:] == -1).all() and int(model.queue_ptr) == 8
    torch.testing.assert_close(model.queue[:, :4], -model.queue[:, 4:8])
    # next step: query 0's neighbour 5 and query 1's neighbour 6 sit in slots 5, 6
    gaze = model.gaze_positives(model.gaze_positives.rows(samples(range(4))),
                                model.queue_rows)
    assert gaze.nonzero().tolist() == [[0, 5], [1, 6]]
    out = model.loss(_views(4, seed=1), samples(range(4)))
    assert out['num_gaze_pos'] == pytest.approx(0.5)
    assert model.queue_rows.tolist() == list(range(8)) * 2 and int(model.queue_ptr) == 0


def _ann_file(tmp_path, num=6):
    """A canonical annotation file whose images 0-2 and 3-5 share their gaze."""
    import json
    rows = []
    for i in range(num):
        x = 10 if i < num // 2 else 80
        rows.append(dict(img_path=f'{i}.png', img_id=f'img{i}',
                         gaze=dict(image_size=[100, 100], readers=[dict(
                             reader='r', fixations=[[x, x, 0.3], [x + 2, x, 0.2]])])))
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(dict(metainfo={}, data_list=rows)))
    return str(path)


def test_model_loads_a_table_and_never_mines_one(tmp_path):
    """A missing table is a FileNotFoundError naming it and the mining tool; the
    model writes nothing."""
    missing = tmp_path / 'pairs.npz'
    positives = GazeNeighbourPositives(str(missing))
    with pytest.raises(FileNotFoundError, match=r'pairs\.npz not found.*'
                       r'mine_gaze_pairs\.py'):
        positives.rows(samples([0]))
    assert not missing.exists()


def test_prepare_gaze_neighbour_table_mines_what_the_config_declares(tmp_path):
    """prepare_gaze_neighbour_table mines the declared table once (with its
    mine_cfg) when it is the model's; the model then loads it."""
    from mmengine.config import Config

    from gazeprior_mm.mining import GazeNeighbours as Table
    from gazeprior_mm.mining import prepare_gaze_neighbour_table
    table_file = str(tmp_path / 'out' / 'pairs.npz')
    cfg = Config(dict(
        gaze_neighbour_table=dict(neighbour_file=table_file,
                                  ann_file=_ann_file(tmp_path),
                                  mine_cfg=dict(k=2)),
        model=dict(gaze_positives=dict(neighbour_file=table_file))))
    assert prepare_gaze_neighbour_table(cfg)
    assert not prepare_gaze_neighbour_table(cfg)  # there now
    table = Table.load(table_file)
    assert table.meta['k'] == 2 and set(table.neighbours_of('img0')) == {
        'img1', 'img2'}
    positives = GazeNeighbourPositives(table_file)
    assert positives(positives.rows(samples([0])),
                     positives.rows(samples([1, 4])))[0].tolist() == [1.0, 0.0]
    # a model pointed at another file: that file, not the declared one
    cfg.model.gaze_positives.neighbour_file = str(tmp_path / 'other.npz')
    cfg.gaze_neighbour_table.neighbour_file = str(tmp_path / 'unused.npz')
    assert not prepare_gaze_neighbour_table(cfg)
    assert not (tmp_path / 'unused.npz').exists()


def test_old_model_mining_keys_are_translated(tmp_path):
    """model.gaze_positives.ann_file / mine_cfg (the model mined) move to
    gaze_neighbour_table with a DeprecationWarning; the model built from them
    directly still mines (deprecated) so old code keeps running."""
    from mmengine.config import Config

    from gazeprior_mm.mining import translate_deprecated_mining
    ann = _ann_file(tmp_path)
    cfg = Config(dict(
        gaze_neighbour_table=dict(neighbour_file='declared.npz', ann_file='x',
                                  mine_cfg=dict(k=3, gaze_control='shuffle')),
        model=dict(gaze_positives=dict(neighbour_file='run.npz', ann_file=ann))))
    with pytest.warns(DeprecationWarning, match='gaze_neighbour_table'):
        assert translate_deprecated_mining(cfg)
    assert cfg.model.gaze_positives.to_dict() == dict(neighbour_file='run.npz')
    assert cfg.gaze_neighbour_table.to_dict() == dict(
        neighbour_file='run.npz', ann_file=ann,
        mine_cfg=dict(k=3, gaze_control='shuffle'))
    assert not translate_deprecated_mining(cfg)
    with pytest.warns(DeprecationWarning, match='ann_file'):
        positives = GazeNeighbourPositives(str(tmp_path / 'old.npz'),
                                           ann_file=ann, mine_cfg=dict(k=2))
    assert positives.rows(samples([0, 5])).tolist() == [0, 5]
    assert (tmp_path / 'old.npz').exists()


@pytest.mark.parametrize('old, new, name', [
    ('gazeprior_mm.gaze.neighbours', 'gazeprior_mm.mining.neighbours',
     'mine_gaze_neighbours'),
    ('gazeprior_mm.gaze.neighbours', 'gazeprior_mm.mining.table',
     'GazeNeighbours'),
    ('gazeprior_mm.gaze.similarity', 'gazeprior_mm.mining.similarity',
     'compute_descriptors'),
    ('gazeprior_mm.gaze.formats.mcgip', 'gazeprior_mm.mining.mcgip_files',
     'relation_to_neighbours')])
def test_old_mining_import_paths_warn_and_forward(old, new, name):
    """The old modules are thin forwards: a DeprecationWarning naming the new
    module on first import (fresh interpreter), the same objects as it."""
    import importlib
    import subprocess
    import sys
    import warnings
    code = ('import importlib, warnings\nimport gazeprior_mm\n'
            'warnings.simplefilter("error", DeprecationWarning)\n'
            f'try:\n    importlib.import_module("{old}")\n'
            'except DeprecationWarning as w:\n    print("WARNED", w)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=300)
    assert 'WARNED' in out.stdout and new in out.stdout, out.stdout + out.stderr
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        old_module = importlib.import_module(old)
    assert getattr(old_module, name) is getattr(importlib.import_module(new), name)
