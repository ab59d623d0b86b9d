"""gwcl_loss against an independent loop implementation; patch correspondence."""
import math

import pytest
import torch
import torch.nn.functional as F

from gazeprior_mm.models.losses.gwcl import gwcl_loss
from gazeprior_mm.models.utils.correspondence import patch_correspondence


def _loop_gwcl(z1, z2, g1, g2, tau, pair_weight, negatives, valid=None,
               match=None, valid2=None, extra=None):
    """Independent reference: docs/design.md §4 one anchor patch at a time.

    Candidates of the softmax: every view-2 patch of the anchor's image, plus (for
    ``'batch'``) every view-2 patch of the other images and of ``extra``.
    """
    n_img, n_patch, _ = z1.shape
    ones = torch.ones(n_img, n_patch, dtype=torch.bool)
    valid = ones if valid is None else valid
    valid2 = ones if valid2 is None else valid2
    others = [z2[m] for m in range(n_img)]
    if extra is not None:
        others += list(extra)

    def unit(v):
        return v / v.norm()

    total = 0.0
    for n in range(n_img):
        for i in range(n_patch):
            a = unit(z1[n, i])
            cands = [z2[n, j] for j in range(n_patch)]
            if negatives == 'batch':
                cands += [img[j] for m, img in enumerate(others) if m != n
                          for j in range(n_patch)]
            log_norm = math.log(sum(math.exp(float(a @ unit(c)) / tau)
                                    for c in cands))
            if not valid[n, i]:
                continue
            if pair_weight == 'matched':
                targets = [i if match is None else int(match[n, i])]
            else:
                targets = [j for j in range(n_patch) if valid2[n, j]]
            for j in targets:
                log_p = float(a @ unit(z2[n, j])) / tau - log_norm
                total -= float(g1[n, i]) * float(g2[n, j]) * log_p
    return total / (n_img * n_patch)


def _inputs(seed, n=3, p=5, d=4):
    gen = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, p, d, generator=gen, dtype=torch.float64)
    z2 = torch.randn(n, p, d, generator=gen, dtype=torch.float64)
    g1 = torch.rand(n, p, generator=gen, dtype=torch.float64)
    g2 = torch.rand(n, p, generator=gen, dtype=torch.float64)
    return gen, z1, z2, g1, g2


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_gwcl_matches_loop_reference(pair_weight, negatives):
    _, z1, z2, g1, g2 = _inputs(0)
    got = gwcl_loss(z1, z2, g1, g2, 0.1, pair_weight, negatives)
    want = _loop_gwcl(z1, z2, g1, g2, 0.1, pair_weight, negatives)
    assert got.item() == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_gwcl_geometry_masks_and_match_match_loop(pair_weight, negatives):
    gen, z1, z2, g1, g2 = _inputs(1, n=2, p=6, d=3)
    valid = torch.rand(2, 6, generator=gen) > 0.3
    valid2 = torch.rand(2, 6, generator=gen) > 0.3
    # duplicates on purpose: a zoomed-out view 2 maps several view-1 patches to one
    match = torch.randint(0, 6, (2, 6), generator=gen)
    match[0, :3] = 4
    extra = torch.randn(2, 6, 3, generator=gen, dtype=torch.float64)
    z2_neg = torch.cat([z2, extra]) if negatives == 'batch' else None
    got = gwcl_loss(z1, z2, g1, g2, 0.2, pair_weight, negatives, valid,
                    match=match, valid2=valid2, z2_negatives=z2_neg)
    want = _loop_gwcl(z1, z2, g1, g2, 0.2, pair_weight, negatives, valid, match,
                      valid2, extra if negatives == 'batch' else None)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_gwcl_match_is_a_reordering_of_view2():
    """Pairing through ``match`` = permuting view 2 and pairing same indices (the
    softmax over view-2 patches is permutation invariant)."""
    gen, z1, z2, g1, g2 = _inputs(2, n=2, p=6, d=3)
    perm = torch.stack([torch.randperm(6, generator=gen) for _ in range(2)])
    via_match = gwcl_loss(z1, z2, g1, g2, pair_weight='matched', match=perm)
    reordered = gwcl_loss(z1, z2.gather(1, perm[..., None].expand_as(z2)), g1,
                          g2.gather(1, perm), pair_weight='matched')
    assert via_match.item() == pytest.approx(reordered.item(), rel=1e-12)


def test_gwcl_product_equals_seed_formula_float32_and_stable():
    gen = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(2, 4, 9, 8, generator=gen)
    g1, g2 = torch.rand(2, 4, 9, generator=gen)
    sim = torch.einsum('npd,nqd->npq', F.normalize(z1, dim=-1),
                       F.normalize(z2, dim=-1)) / 0.1
    seed = -(g1[:, :, None] * g2[:, None, :] * sim.log_softmax(-1)).sum() / (4 * 9)
    assert gwcl_loss(z1, z2, g1, g2).item() == pytest.approx(seed.item(), rel=1e-5)
    # tiny temperature: log-sum-exp keeps it finite, gradients too
    z1.requires_grad_(True)
    loss = gwcl_loss(z1, z2, g1, g2, temperature=1e-4)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()
    with pytest.raises(ValueError, match='pair_weight'):
        gwcl_loss(z1, z2, g1, g2, pair_weight='sum')
    with pytest.raises(ValueError, match='negatives'):
        gwcl_loss(z1, z2, g1, g2, negatives='queue')


def test_gwcl_zero_gaze_gives_zero_loss_and_positives_attract():
    z = torch.randn(2, 4, 3)
    assert gwcl_loss(z, z, torch.zeros(2, 4), torch.ones(2, 4)).item() == 0.0
    # matched: aligned views (z2 = z1) score lower than shuffled ones
    z1 = torch.randn(4, 9, 16)
    g = torch.ones(4, 9)
    aligned = gwcl_loss(z1, z1, g, g, pair_weight='matched')
    shuffled = gwcl_loss(z1, z1[:, torch.randperm(9)], g, g, pair_weight='matched')
    assert aligned < shuffled


def test_correspondence_known_crop_and_flip():
    grid = 4
    # view 1 = left half of a 100x100 image, view 2 = the whole image
    box1 = torch.tensor([[0., 0., 50., 100.]])
    box2 = torch.tensor([[0., 0., 100., 100.]])
    no, yes = torch.tensor([False]), torch.tensor([True])
    index, valid = patch_correspondence(box1, no, box2, no, grid)
    assert valid.all()
    # view-1 patch (row 1, col 3): centre x = 43.75 -> view-2 col 1, row 1
    assert index[0, 1 * grid + 3].item() == 1 * grid + 1
    # view 2 flipped: x = 43.75 -> u2 = 1 - 0.4375 -> col 2
    index_f, _ = patch_correspondence(box1, no, box2, yes, grid)
    assert index_f[0, 1 * grid + 3].item() == 1 * grid + 2
    # view 1 flipped: its col 0 shows the right edge of its box (x = 43.75)
    index_1f, _ = patch_correspondence(box1, yes, box2, no, grid)
    assert index_1f[0, 1 * grid + 0].item() == 1 * grid + 1
    # identical flipped views map every patch to itself
    same, ok = patch_correspondence(box2, yes, box2, yes, grid)
    assert ok.all() and torch.equal(same[0], torch.arange(grid * grid))
    # the reverse direction: only view-2 patches of the left half lie in view 1
    _, inside = patch_correspondence(box2, no, box1, no, grid)
    assert torch.equal(inside[0].view(grid, grid)[:, :2].all(0), torch.tensor(
        [True, True])) and not inside[0].view(grid, grid)[:, 2:].any()
    # disjoint views: nothing valid
    right = torch.tensor([[60., 0., 100., 100.]])
    _, none = patch_correspondence(box1, no, right, no, grid)
    assert not none.any()


def test_correspondence_round_trip_on_overlap():
    """Mapping view 1 -> view 2 -> view 1 lands back on the same patch when both
    views have the same scale (pure shift + flip)."""
    grid = 7
    box1 = torch.tensor([[10., 5., 80., 75.], [0., 0., 70., 70.]])
    box2 = torch.tensor([[30., 15., 100., 85.], [0., 0., 70., 70.]])
    flip1, flip2 = torch.tensor([False, True]), torch.tensor([True, False])
    fwd, ok = patch_correspondence(box1, flip1, box2, flip2, grid)
    back, ok_back = patch_correspondence(box2, flip2, box1, flip1, grid)
    assert ok.any() and ok[1].all()
    round_trip = back.gather(1, fwd)
    assert torch.equal(round_trip[ok], torch.arange(grid * grid).expand(2, -1)[ok])
    # image 0, view-1 row 1 (y = 20) -> view-2 row 0; col c (x = 15 + 10 c) lies
    # in view 2 from x >= 30 on, at flipped view-2 col 6 - (x - 30) // 10
    x = 15 + 10 * torch.arange(grid)
    inside = x >= 30
    assert torch.equal(ok[0, grid:2 * grid], inside)
    assert torch.equal(fwd[0, grid:2 * grid][inside], (6 - (x - 30) // 10)[inside])


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
def test_image_weight_norm_matches_per_image_loop(pair_weight):
    """weight_norm='image': image n's loop loss scaled by P / (its total weight)."""
    gen, z1, z2, g1, g2 = _inputs(2, n=3, p=5, d=4)
    valid = torch.rand(3, 5, generator=gen) > 0.3
    valid2 = torch.rand(3, 5, generator=gen) > 0.3
    match = torch.randint(0, 5, (3, 5), generator=gen)
    g1[2] = 0.0  # an image without weight contributes nothing (and no NaN)
    got = gwcl_loss(z1, z2, g1, g2, 0.1, pair_weight, 'image', valid=valid,
                    match=match if pair_weight == 'matched' else None,
                    valid2=valid2, weight_norm='image')
    want = 0.0
    for n in range(3):
        one = slice(n, n + 1)
        m = match[one] if pair_weight == 'matched' else None
        g1v = g1[n] * valid[n]
        if pair_weight == 'product':
            total = float(g1v.sum() * (g2[n] * valid2[n]).sum())
        else:
            total = float((g1v * g2[n][match[n]]).sum())
        if total == 0:
            continue
        part = _loop_gwcl(z1[one], z2[one], g1[one], g2[one], 0.1, pair_weight,
                          'image', valid=valid[one], match=m, valid2=valid2[one])
        want += part * 5 / total / 3  # loop divides by 1 * P; the loss by N * P
    assert got.item() == pytest.approx(want, rel=1e-10)
    assert torch.isfinite(got)


def test_image_weight_norm_ignores_the_scale_of_an_images_gaze():
    _, z1, z2, g1, g2 = _inputs(3)
    louder = g1.clone()
    louder[0] *= 5.0  # e.g. a flat predicted map: g~ near 1 everywhere
    for norm, same in (('image', True), ('none', False)):
        a = gwcl_loss(z1, z2, g1, g2, weight_norm=norm)
        b = gwcl_loss(z1, z2, louder, g2, weight_norm=norm)
        assert torch.isclose(a, b).item() is same
    with pytest.raises(ValueError, match='weight_norm'):
        gwcl_loss(z1, z2, g1, g2, weight_norm='softmax')


@pytest.mark.parametrize('pair_weight', ['product', 'matched'])
@pytest.mark.parametrize('negatives', ['image', 'batch'])
def test_gwcl_loss_module_is_the_function_with_its_options(pair_weight, negatives):
    """GWCLLoss (built from a config) computes gwcl_loss with the options it holds;
    one process: 'batch' candidates are the local batch."""
    from gazeprior_mm.registry import MODELS
    _, z1, z2, g1, g2 = _inputs(6)
    module = MODELS.build(dict(type='GWCLLoss', temperature=0.2,
                               pair_weight=pair_weight, negatives=negatives,
                               weight_norm='image'))
    want = gwcl_loss(z1, z2, g1, g2, 0.2, pair_weight, negatives,
                     weight_norm='image')
    assert module(z1, z2, g1, g2).item() == pytest.approx(want.item(), rel=1e-12)
    with pytest.raises(ValueError, match='negatives'):
        MODELS.build(dict(type='GWCLLoss', negatives='queue'))
    with pytest.raises(ValueError, match='weight_source'):
        MODELS.build(dict(type='GWCLLoss', weight_source='random'))


def test_gwcl_loss_module_uniform_weights():
    """weight_source='uniform': g~ = 1/sqrt(P), whatever the gaze given."""
    from gazeprior_mm.models.losses import GWCLLoss
    _, z1, z2, g1, g2 = _inputs(7)
    flat = torch.full_like(g1, g1.shape[1] ** -0.5)
    got = GWCLLoss(weight_source='uniform')(z1, z2, g1, g2)
    assert got.item() == pytest.approx(gwcl_loss(z1, z2, flat, flat).item())


def test_gwcl_head_old_loss_keywords_are_translated():
    """GWCLHead(temperature=..., negatives=...) still builds, warns, and puts the
    options into its GWCLLoss; the old attributes still read (with a warning)."""
    from gazeprior_mm.registry import MODELS
    with pytest.warns(DeprecationWarning, match='GWCLLoss'):
        head = MODELS.build(dict(type='GWCLHead', in_channels=4, hid_channels=4,
                                 out_channels=4, temperature=0.3,
                                 negatives='batch', weight_norm='image'))
    loss = head.loss_module
    assert (loss.temperature, loss.negatives, loss.weight_norm) == \
        (0.3, 'batch', 'image')
    with pytest.warns(DeprecationWarning, match='loss_module.weight_norm'):
        assert head.weight_norm == 'image'
    with pytest.raises(TypeError, match='unexpected'):
        MODELS.build(dict(type='GWCLHead', in_channels=4, hid_channels=4,
                          out_channels=4, temprature=0.3))
