"""GGAM: gate values, gradients, CNN maps, class tokens, images without gaze."""
import pytest
import torch
import torch.nn.functional as F

from gazeprior_mm.models.necks.ggam import GGAM


def test_ggam_alpha_range_init_and_gradients():
    ggam = GGAM(in_channels=8, grid=3)
    assert ggam.w_g.item() == 1.0 and ggam.b_g.item() == 0.0
    tokens = torch.randn(2, 9, 8)
    gaze = torch.rand(2, 9)
    out = ggam(tokens, gaze, has_gaze=torch.tensor([True, True]))
    assert ((out['alpha'] > 0) & (out['alpha'] < 1)).all()
    assert torch.allclose(out['alpha'], torch.sigmoid(gaze))
    assert torch.allclose(out['out'], tokens * torch.sigmoid(gaze)[..., None])
    out['out'].sum().backward()
    assert ggam.w_g.grad is not None and ggam.w_g.grad.abs() > 0
    assert ggam.b_g.grad is not None and ggam.b_g.grad.abs() > 0
    # extreme gaze values: the gate saturates but stays in [0, 1]
    extreme = ggam.alpha(torch.tensor([[-1e4, 0., 1e4]]))
    assert ((extreme >= 0) & (extreme <= 1)).all() and torch.isfinite(extreme).all()


def test_ggam_no_gaze_uses_prediction_branch():
    ggam = GGAM(in_channels=8, grid=3)
    tokens = torch.randn(2, 9, 8)
    gaze = torch.rand(2, 9)
    gaze[1] = 0
    out = ggam(tokens, gaze, has_gaze=torch.tensor([True, False]))
    predicted = GGAM.predicted_weights(out['gaze_logits'])
    assert torch.allclose(out['gaze'][1], predicted[1])
    assert torch.allclose(out['gaze'][0], gaze[0])
    assert out['gaze'][1].max().item() == pytest.approx(1.0)
    assert not out['gaze'].requires_grad  # the prediction replaces g~ detached
    # test time: no gaze at all -> every image uses the prediction
    test_out = ggam(tokens)
    assert torch.allclose(test_out['gaze'], predicted)
    # 'predicted' ignores recorded gaze
    ggam_pred = GGAM(in_channels=8, grid=3, gaze_source='predicted')
    ggam_pred.load_state_dict(ggam.state_dict())
    assert torch.allclose(ggam_pred(tokens, gaze)['gaze'], predicted)
    # without the branch, missing gaze is g~ = 0: a constant gate sigmoid(b_g)
    plain = GGAM(in_channels=8, grid=3, predict_gaze=False)
    out = plain(tokens, gaze, has_gaze=torch.tensor([True, False]))
    assert out['gaze_logits'] is None
    assert torch.allclose(out['alpha'][1], torch.full((9, ), 0.5))


def test_ggam_prediction_branch_learns_gaze():
    """KL training on images with gaze makes the branch point where readers look."""
    torch.manual_seed(0)
    ggam = GGAM(in_channels=16, grid=4)
    tokens = torch.randn(8, 16, 16)  # patch features that differ per patch
    target = torch.softmax(3 * tokens[..., 0], dim=-1)  # gaze follows channel 0
    optim = torch.optim.Adam(ggam.parameters(), lr=0.05)
    kls = []
    for _ in range(40):
        kl = F.kl_div(ggam(tokens)['gaze_logits'].log_softmax(-1), target,
                      reduction='batchmean')
        optim.zero_grad()
        kl.backward()
        optim.step()
        kls.append(kl.item())
    assert kls[-1] < 0.2 * kls[0]
    predicted = ggam(tokens)['gaze']
    assert (predicted.argmax(-1) == target.argmax(-1)).float().mean() >= 0.75


def test_ggam_cnn_map_and_class_token():
    ggam = GGAM(in_channels=8, grid=3)
    gaze = torch.rand(2, 9)
    # CNN map of 6 x 6: the 3 x 3 gate is upsampled (nearest), 2 x 2 per patch
    fmap = torch.ones(2, 8, 6, 6)
    out = ggam(fmap, gaze, has_gaze=torch.tensor([True, True]))
    assert out['out'].shape == fmap.shape
    alpha = torch.sigmoid(gaze).view(2, 3, 3)
    assert torch.allclose(out['out'][:, 0], alpha.repeat_interleave(2, 1)
                          .repeat_interleave(2, 2))
    # the prediction branch sees the map pooled to the grid
    assert out['gaze_logits'].shape == (2, 9)
    # ViT tokens with a class token: it passes unchanged, patches are gated
    tokens = torch.randn(2, 10, 8)
    out = ggam(tokens, gaze, num_extra_tokens=1)
    assert torch.equal(out['out'][:, 0], tokens[:, 0])
    assert torch.allclose(out['out'][:, 1:], tokens[:, 1:] * alpha.view(2, 9, 1))
    # 'none' = no gating (alpha = 1)
    none = GGAM(in_channels=8, grid=3, gaze_source='none', predict_gaze=False)
    assert torch.equal(none(tokens[:, 1:], gaze)['out'], tokens[:, 1:])
    assert torch.equal(none(tokens[:, 1:], gaze)['alpha'], torch.ones(2, 9))


def test_ggam_rejects_bad_arguments():
    with pytest.raises(ValueError, match='gaze_source'):
        GGAM(in_channels=8, gaze_source='oracle')
    with pytest.raises(ValueError, match='predict_gaze'):
        GGAM(in_channels=8, gaze_source='predicted', predict_gaze=False)
    with pytest.raises(ValueError, match='grid'):
        GGAM(in_channels=8, grid=3)(torch.randn(2, 10, 8))
    with pytest.raises(ValueError, match='in_channels=8'):
        GGAM(in_channels=8, grid=3)(torch.randn(2, 9, 16))
