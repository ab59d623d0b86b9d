"""GazePrior algorithm: train steps (ViT, ResNet, GGAM inside the backbone),
geometry-aware pairing, images without gaze, a batch from the real data pipeline."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS


RESNET = dict(type='ResNet', depth=18, strides=(1, 2, 2, 1), out_indices=(3, ),
              norm_cfg=dict(type='BN'))


def _tiny_gazeprior(pairing='geometry', negatives='image', insert_after=None,
                    pair_weight='product', resnet=False):
    grid = 4
    if resnet:  # stride-16 last stage: 64-px inputs give the 4 x 4 grid
        return MODELS.build(dict(
            type='GazePrior', grid=grid, pairing=pairing,
            ggam_insert_after=insert_after,
            data_preprocessor=dict(type='SelfSupDataPreprocessor',
                                   mean=[0.] * 3, std=[1.] * 3),
            backbone=RESNET,
            # GGAM after stage k needs that stage's channels (64 * 2**k)
            neck=dict(type='GGAM', grid=grid, in_channels=512 if insert_after is None
                      else 64 * 2**insert_after),
            head=dict(type='GWCLHead', in_channels=512, hid_channels=16,
                      out_channels=8, loss=dict(type='GWCLLoss',
                                                negatives=negatives,
                                                pair_weight=pair_weight))))
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
                  out_channels=8, loss=dict(type='GWCLLoss', negatives=negatives,
                                            pair_weight=pair_weight))))


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
    dict(pair_weight='matched'), dict(negatives='batch'), dict(insert_after=0),
    dict(resnet=True), dict(resnet=True, insert_after=2)])
def test_gazeprior_train_step_updates_gate_and_backbone(kwargs):
    torch.manual_seed(0)
    model = _tiny_gazeprior(**kwargs)
    size = 64 if kwargs.get('resnet') else 32
    inputs = [torch.randn(4, 3, size, size), torch.randn(4, 3, size, size)]
    losses = model.loss(inputs, _samples(4))
    assert set(losses) == {'loss_gwcl', 'loss_reg', 'loss_gaze_pred'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_gwcl'] > 0 and losses['loss_reg'] > 0
    sum(losses.values()).backward()
    assert model.neck.w_g.grad is not None and model.neck.w_g.grad.abs() > 0
    assert model.neck.b_g.grad is not None and model.neck.b_g.grad.abs() > 0
    first = next(model.backbone.parameters())
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert model.neck.gaze_predictor[1].weight.grad.abs().sum() > 0
    # checkpoint keys: the backbone under ``backbone.`` for mmpretrain's Pretrained
    assert any(k.startswith('backbone.') for k in model.state_dict())
    # test time: gaze prediction without any recorded gaze
    pred = model.predict_gaze(inputs[0])
    assert pred.shape == (4, 16) and pred.amax(-1).allclose(torch.ones(4))
    # extract_feat is the plain backbone (no gate, no hook state left behind)
    feats = model.extract_feat(inputs[0])
    assert torch.equal(feats[-1], model.backbone(inputs[0])[-1])


def test_gazeprior_images_without_gaze():
    """A batch nobody read: the prediction replaces g~, losses stay finite and
    the gaze-prediction loss (which needs recorded gaze) is exactly 0."""
    torch.manual_seed(0)
    model = _tiny_gazeprior()
    samples = _samples(4)
    for s in samples:
        s.set_field(torch.zeros(2, 16), 'gaze_weights')
        s.set_field(torch.tensor([False, False]), 'has_gaze')
    losses = model.loss([torch.randn(4, 3, 32, 32)] * 2, samples)
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_gaze_pred'].item() == 0.0
    assert losses['loss_gwcl'] > 0  # predicted weights are never all zero
    sum(losses.values()).backward()
    assert model.neck.w_g.grad.abs() > 0


def test_geometry_pairing_equals_same_index_for_identical_views():
    """Same crop, no flip: geometry-aware pairing is the identity, so both
    pairings give the same loss; a flip on view 2 makes them differ."""
    torch.manual_seed(0)
    geometry = _tiny_gazeprior(pair_weight='matched')
    same = _tiny_gazeprior(pairing='same_index', pair_weight='matched')
    same.load_state_dict(geometry.state_dict())
    samples = _samples(4)
    for s in samples:
        s.set_field(torch.tensor([[8., 8., 120., 120.]] * 2), 'crop_box')
        s.set_field(torch.tensor([False, False]), 'flip')
    inputs = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)]
    a = geometry.loss(inputs, samples)['loss_gwcl']
    b = same.loss(inputs, samples)['loss_gwcl']
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    for s in samples:
        s.set_field(torch.tensor([False, True]), 'flip')
    c = geometry.loss(inputs, samples)['loss_gwcl']
    assert abs(c.item() - b.item()) > 1e-4


def test_gazeprior_rejects_bad_batches():
    model = _tiny_gazeprior()
    samples = _samples(2, grid=5)
    with pytest.raises(ValueError, match='grid'):
        model.loss([torch.randn(2, 3, 32, 32)] * 2, samples)
    with pytest.raises(KeyError, match='PackGazeInputs'):
        model.loss([torch.randn(2, 3, 32, 32)] * 2, [DataSample(), DataSample()])
    with pytest.raises(ValueError, match='2 views'):
        model.loss([torch.randn(2, 3, 32, 32)] * 3, _samples(2))


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
    assert np.isfinite(float(sum(losses.values()).detach()))


def test_gwcl_weight_share_tool_accounts_every_pair():
    """tools/analysis/gwcl_weight_share.py: the shares add up, the pair counts match
    the batch, and a pair with a predicted (flat) map weighs more than its count."""
    import importlib.util
    import os.path as osp
    path = osp.join(osp.dirname(__file__), '..', 'tools', 'analysis',
                    'gwcl_weight_share.py')
    spec = importlib.util.spec_from_file_location('gwcl_weight_share', path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    torch.manual_seed(0)
    model = _tiny_gazeprior()
    # a flat prediction (constant logits): max-normalised g~ = 1 on every patch
    predictor = model.neck.gaze_predictor[-1]
    torch.nn.init.zeros_(predictor.weight)
    torch.nn.init.zeros_(predictor.bias)
    samples = _samples(6)
    for sample in samples:  # focused recorded gaze: one patch at 1, the rest 0.05
        focused = torch.full_like(sample.gaze_weights, 0.05)
        focused[:, 5] = 1.0
        sample.gaze_weights = focused * sample.has_gaze[:, None]
    batch = dict(inputs=[torch.rand(6, 3, 32, 32) * 255 for _ in range(2)],
                 data_samples=samples)
    out = tool.weight_share(model, [batch])
    assert out['pairs'] == 6 and out['num_patches'] == 16
    # images 0 and 3 have a view without gaze (i % 3 == 0)
    assert out['predicted_pair_share'] == pytest.approx(2 / 6)
    assert out['recorded_weight_share'] + out['predicted_weight_share'] == \
        pytest.approx(1.0)
    assert out['mean_gaze_sum_predicted'] == pytest.approx(16.0)
    assert out['mean_gaze_sum_recorded'] == pytest.approx(1.0 + 15 * 0.05)
    # a flat view weighs ~9x a focused one: 2 of 6 pairs carry most of the weight
    assert out['predicted_weight_share'] > 0.5 > out['predicted_pair_share']


def test_gazeprior_state_dict_keys_unchanged_by_the_loss_module():
    """GWCLLoss holds no tensors: checkpoints keep the keys they had when the loss
    options were head keywords, so old checkpoints load strictly."""
    model = _tiny_gazeprior()
    head_keys = sorted(k for k in model.state_dict() if k.startswith('head.'))
    assert head_keys == ['head.projector.0.bias', 'head.projector.0.weight',
                         'head.projector.2.bias', 'head.projector.2.weight']
    with pytest.warns(DeprecationWarning):
        old_style = MODELS.build(dict(
            type='GazePrior', grid=4,
            data_preprocessor=dict(type='SelfSupDataPreprocessor',
                                   mean=[0.] * 3, std=[1.] * 3),
            backbone=dict(type='VisionTransformer',
                          arch=dict(embed_dims=16, num_layers=2, num_heads=2,
                                    feedforward_channels=32),
                          img_size=32, patch_size=8, out_type='featmap'),
            neck=dict(type='GGAM', in_channels=16, grid=4),
            head=dict(type='GWCLHead', in_channels=16, hid_channels=16,
                      out_channels=8, temperature=0.1, negatives='image')))
    old_style.load_state_dict(model.state_dict(), strict=True)


def test_gazeprior_gives_ggam_its_grid():
    """GGAM's grid defaults to the model's; a contradicting one fails at build."""
    cfg = dict(type='GazePrior', grid=4,
               backbone=dict(type='VisionTransformer',
                             arch=dict(embed_dims=16, num_layers=1, num_heads=2,
                                       feedforward_channels=32),
                             img_size=32, patch_size=8, out_type='featmap'),
               neck=dict(type='GGAM', in_channels=16),
               head=dict(type='GWCLHead', in_channels=16, hid_channels=8,
                         out_channels=8))
    assert MODELS.build(cfg).neck.grid == 4
    cfg['neck'] = dict(type='GGAM', in_channels=16, grid=7)
    with pytest.raises(ValueError, match='GGAM grid 7'):
        MODELS.build(cfg)
