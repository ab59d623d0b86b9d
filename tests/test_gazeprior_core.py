"""GazePrior model code: gwcl_loss, patch correspondence, GGAM, GWCLHead, GazePrior."""
import math

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

import gazeprior_mm  # noqa: F401
from gazeprior_mm.models.losses.gwcl import gwcl_loss
from gazeprior_mm.models.necks.ggam import GGAM
from gazeprior_mm.models.utils.correspondence import patch_correspondence
from gazeprior_mm.registry import MODELS


def _loop_gwcl(z1, z2, g1, g2, tau, pair_weight, negatives, valid=None):
    """Independent reference: the DESIGN §4 formula, one patch at a time."""
    n_img, n_patch, _ = z1.shape
    valid = torch.ones(n_img, n_patch, dtype=torch.bool) if valid is None else valid
    total = 0.0
    for n in range(n_img):
        for i in range(n_patch):
            a = z1[n, i] / z1[n, i].norm()
            cands = []  # (image, patch) candidates of the softmax
            for j in range(n_patch):
                if valid[n, j]:
                    cands.append((n, j))
            if negatives == 'batch':
                cands += [(m, j) for m in range(n_img) if m != n
                          for j in range(n_patch)]
            logits = {c: float(a @ (z2[c[0], c[1]] / z2[c[0], c[1]].norm())) / tau
                      for c in cands}
            log_norm = math.log(sum(math.exp(v) for v in logits.values()))
            for j in range(n_patch):
                if not valid[n, j] or (pair_weight == 'matched' and j != i):
                    continue
                if not valid[n, i] and pair_weight == 'matched':
                    continue
                w = float(g1[n, i] * valid[n, i]) * float(g2[n, j])
                total -= w * (logits[(n, j)] - log_norm)
    return total / (n_img * n_patch)


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_gwcl_matches_loop_reference(pair_weight, negatives):
    gen = torch.Generator().manual_seed(0)
    z1 = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    z2 = torch.randn(3, 5, 4, generator=gen, dtype=torch.float64)
    g1 = torch.rand(3, 5, generator=gen, dtype=torch.float64)
    g2 = torch.rand(3, 5, generator=gen, dtype=torch.float64)
    got = gwcl_loss(z1, z2, g1, g2, 0.1, pair_weight, negatives)
    want = _loop_gwcl(z1, z2, g1, g2, 0.1, pair_weight, negatives)
    assert got.item() == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
def test_gwcl_invalid_slots_leave_softmax(pair_weight):
    gen = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(2, 2, 6, 3, generator=gen, dtype=torch.float64)
    g1, g2 = torch.rand(2, 2, 6, generator=gen, dtype=torch.float64)
    valid = torch.rand(2, 6, generator=gen) > 0.3
    got = gwcl_loss(z1, z2, g1, g2, 0.2, pair_weight, 'image', valid=valid)
    want = _loop_gwcl(z1, z2, g1, g2, 0.2, pair_weight, 'image', valid)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_gwcl_product_equals_seed_formula_float32_and_stable():
    gen = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(2, 4, 9, 8, generator=gen)
    g1, g2 = torch.rand(2, 4, 9, generator=gen)
    sim = torch.einsum('npd,nqd->npq', torch.nn.functional.normalize(z1, dim=-1),
                       torch.nn.functional.normalize(z2, dim=-1)) / 0.1
    seed = -(g1[:, :, None] * g2[:, None, :] * sim.log_softmax(-1)).sum() / (4 * 9)
    assert gwcl_loss(z1, z2, g1, g2).item() == pytest.approx(seed.item(), rel=1e-5)
    # tiny temperature: log-sum-exp keeps it finite
    assert torch.isfinite(gwcl_loss(z1, z2, g1, g2, temperature=1e-4))
    with pytest.raises(ValueError, match='pair_weight'):
        gwcl_loss(z1, z2, g1, g2, pair_weight='sum')


def test_gwcl_zero_gaze_gives_zero_loss():
    z = torch.randn(2, 4, 3)
    assert gwcl_loss(z, z, torch.zeros(2, 4), torch.ones(2, 4)).item() == 0.0


def test_correspondence_known_crop_and_flip():
    grid = 4
    # view 1 = left half of a 100x100 image, view 2 = the whole image
    box1 = torch.tensor([[0., 0., 50., 100.]])
    box2 = torch.tensor([[0., 0., 100., 100.]])
    index, valid = patch_correspondence(box1, torch.tensor([False]), box2,
                                        torch.tensor([False]), grid)
    assert valid.all()
    # view-1 patch (row 1, col 3): centre x = 43.75 -> view-2 col 1, row 1
    assert index[0, 1 * grid + 3].item() == 1 * grid + 1
    # view 2 flipped: x = 43.75 -> u2 = 1 - 0.4375 -> col 2
    index_f, _ = patch_correspondence(box1, torch.tensor([False]), box2,
                                      torch.tensor([True]), grid)
    assert index_f[0, 1 * grid + 3].item() == 1 * grid + 2
    # identical flipped views map every patch to itself
    same, ok = patch_correspondence(box2, torch.tensor([True]), box2,
                                    torch.tensor([True]), grid)
    assert ok.all() and torch.equal(same[0], torch.arange(grid * grid))
    # disjoint views: nothing valid
    right = torch.tensor([[60., 0., 100., 100.]])
    _, none = patch_correspondence(box1, torch.tensor([False]), right,
                                   torch.tensor([False]), grid)
    assert not none.any()


def test_ggam_alpha_range_gradients_and_no_gaze():
    ggam = GGAM(in_channels=8, grid=3)
    assert ggam.w_g.item() == 1.0
    tokens = torch.randn(2, 9, 8)
    gaze = torch.rand(2, 9)
    gaze[1] = 0
    out = ggam(tokens, gaze, has_gaze=torch.tensor([True, False]))
    assert ((out['alpha'] > 0) & (out['alpha'] < 1)).all()
    # image 1 has no gaze: its weights come from the prediction branch
    assert torch.allclose(out['gaze'][1], GGAM.predicted_weights(out['gaze_logits'])[1])
    assert torch.allclose(out['gaze'][0], gaze[0])
    assert out['gaze'][1].max().item() == pytest.approx(1.0)
    out['out'].sum().backward()
    assert ggam.w_g.grad is not None and ggam.w_g.grad.abs() > 0
    assert ggam.b_g.grad is not None and ggam.b_g.grad.abs() > 0
    # CNN map: gate upsampled to the map
    fmap = torch.ones(2, 8, 6, 6)
    gated = ggam(fmap, gaze, has_gaze=torch.tensor([True, True]))['out']
    expect = torch.sigmoid(gaze[0, 0] + 0.0)
    assert gated[0, :, 0, 0].allclose(expect.expand(8))
    none = GGAM(in_channels=8, grid=3, gaze_source='none', predict_gaze=False)
    assert torch.equal(none(tokens, gaze)['out'], tokens)


def _tiny_gazeprior(pairing='geometry', negatives='image', insert_after=None,
                    pair_weight='product'):
    grid = 4
    return MODELS.build(dict(
        type='GazePrior', grid=grid, pairing=pairing,
        ggam_insert_after=insert_after,
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.] * 3,
                               std=[1.] * 3),
        backbone=dict(type='VisionTransformer',
                      arch=dict(embed_dims=16, num_layers=2, num_heads=2,
                                feedforward_channels=32),
                      img_size=32, patch_size=8, out_type='featmap'),
        neck=dict(type='GGAM', in_channels=16, grid=grid),
        head=dict(type='GWCLHead', in_channels=16, hid_channels=16,
                  out_channels=8, negatives=negatives, pair_weight=pair_weight)))


def _samples(n, grid=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(n):
        s = DataSample()
        gaze = torch.rand(2, grid * grid, generator=gen)
        gaze = gaze / gaze.amax(-1, keepdim=True)
        has = torch.tensor([i % 3 != 0, True])
        s.set_field(torch.where(has[:, None], gaze, torch.zeros_like(gaze)),
                    'gaze_weights')
        s.set_field(has, 'has_gaze')
        s.set_field(torch.tensor([[0., 0., 96., 128.], [20., 10., 128., 120.]]),
                    'crop_box')
        s.set_field(torch.tensor([False, i % 2 == 1]), 'flip')
        samples.append(s)
    return samples


@pytest.mark.parametrize('kwargs', [
    dict(), dict(pairing='same_index', pair_weight='matched'),
    dict(negatives='batch'), dict(insert_after=0)])
def test_gazeprior_train_step_updates_gate_and_backbone(kwargs):
    torch.manual_seed(0)
    model = _tiny_gazeprior(**kwargs)
    inputs = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    losses = model.loss(inputs, _samples(4))
    assert set(losses) == {'loss_gwcl', 'loss_reg', 'loss_gaze_pred'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.neck.w_g.grad is not None and model.neck.w_g.grad.abs() > 0
    assert model.backbone.patch_embed.projection.weight.grad.abs().sum() > 0
    assert model.neck.gaze_predictor[1].weight.grad.abs().sum() > 0
    # checkpoint keys: the backbone under ``backbone.`` for mmpretrain's Pretrained
    assert any(k.startswith('backbone.') for k in model.state_dict())
    # test time: gaze prediction without any recorded gaze
    pred = model.predict_gaze(inputs[0])
    assert pred.shape == (4, 16) and pred.amax(-1).allclose(torch.ones(4))


def test_gazeprior_rejects_grid_mismatch():
    model = _tiny_gazeprior()
    samples = _samples(2, grid=5)
    with pytest.raises(ValueError, match='grid'):
        model.loss([torch.randn(2, 3, 32, 32)] * 2, samples)


def test_gazeprior_on_real_pipeline_batch(tmp_path):
    from mmengine.dataset import default_collate
    from mmengine.registry import init_default_scope

    from gazeprior_mm.datasets.synthetic import generate_synthetic_cxr
    from gazeprior_mm.registry import DATASETS
    init_default_scope('mmpretrain')
    generate_synthetic_cxr(str(tmp_path), num_images=12, img_size=64, seed=3,
                           preset='strong')
    view = [dict(type='GazeRandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.)),
            dict(type='GazeRandomFlip', prob=0.5)]
    dataset = DATASETS.build(dict(
        type='GazeCXRDataset', data_root=str(tmp_path),
        ann_file='annotations/train.json',
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='GazeHeatmap', sigma_rel=0.04, render_map=False),
                  dict(type='GazeMultiView', num_views=2, transforms=[view]),
                  dict(type='PackGazeInputs', grid=4, with_map=False)]))
    batch = default_collate([dataset[i] for i in range(4)])
    model = _tiny_gazeprior()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_gwcl'] > 0
    assert np.isfinite(float(sum(losses.values())))
