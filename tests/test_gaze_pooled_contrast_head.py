"""GazePooledContrastHead: gaze-weighted pooling and SimCLR's InfoNCE."""
import math
import os
import socket

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

import gazeprior_mm  # noqa: F401
from gazeprior_mm.registry import MODELS


def _head(**kwargs):
    return MODELS.build(dict(type='GazePooledContrastHead', in_channels=8,
                             hid_channels=16, out_channels=4, **kwargs))


def test_pooling_follows_the_gaze():
    head = _head(eps=0.1)
    head.projector = torch.nn.Identity()  # look at the pooled features
    tokens = torch.eye(8)[None, :4]  # (1, P=4, C=8): patch i = e_i
    gaze = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    pooled = head(tokens, gaze)
    expected = F.normalize(torch.tensor([[1.1, 0.1, 0.1, 0.1, 0, 0, 0, 0]]),
                           dim=-1)
    assert torch.allclose(pooled, expected)
    # no gaze at all: a uniform mean, not a division by zero
    flat = head(tokens, torch.zeros(1, 4))
    assert torch.allclose(flat, F.normalize(tokens.mean(1), dim=-1))


def test_loss_is_simclr_infonce():
    torch.manual_seed(0)
    head = _head(temperature=0.5, loss_weight=2.0)
    q1, q2 = (F.normalize(torch.randn(3, 4), dim=-1) for _ in range(2))
    q = torch.cat([q1, q2])
    total = 0.0
    for a in range(6):  # explicit sum over anchors
        pos = (a + 3) % 6
        sims = [math.exp(float(q[a] @ q[b]) / 0.5) for b in range(6) if b != a]
        total -= math.log(math.exp(float(q[a] @ q[pos]) / 0.5) / sum(sims))
    loss = head.loss(q1, q2)['loss_global']
    assert math.isclose(float(loss), 2.0 * total / 6, rel_tol=1e-5)
    # identical views score lower than unrelated ones
    assert head.loss(q1, q1)['loss_global'] < loss


def _two_rank_loss(rank, port, q1, q2, out):
    """One rank of a 2-process gloo group: the loss on this rank's half."""
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    head = _head(temperature=0.5)
    half = q1.shape[0] // 2
    rows = slice(rank * half, (rank + 1) * half)
    out[rank] = float(head.loss(q1[rows], q2[rows])['loss_global'])
    dist.destroy_process_group()


def test_two_ranks_see_the_whole_batch_as_negatives():
    """Gathered across 2 ranks (this rank's rows first), the mean of the ranks'
    losses equals the single-process loss on the whole batch: every anchor is
    contrasted with the same keys."""
    torch.manual_seed(0)
    q1, q2 = (F.normalize(torch.randn(4, 4), dim=-1) for _ in range(2))
    whole = float(_head(temperature=0.5).loss(q1, q2)['loss_global'])
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_two_rank_loss, args=(port, q1, q2, out), nprocs=2, join=True)
    assert math.isclose((out[0] + out[1]) / 2, whole, rel_tol=1e-5)
    assert not math.isclose(out[0], whole, rel_tol=1e-3)  # halves differ


def test_gazeprior_with_global_head_trains_it():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    cfg = Config.fromfile('configs/variants/gazeprior_resnet18_synthetic_global.py')
    model = MODELS.build(cfg.model)
    assert model.global_head is not None
    tokens = torch.randn(4, 49, 512, requires_grad=True)
    gaze = torch.rand(4, 49)
    q = model.global_head(tokens, gaze)
    loss = model.global_head.loss(q[:2], q[2:])['loss_global']
    loss.backward()
    assert tokens.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.global_head.parameters())
