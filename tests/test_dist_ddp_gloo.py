"""2-process gloo DDP on CPU: identical weights, balanced disjoint data, NaN stop."""
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(__file__))
from _dist_common import TinyImages, ddp_worker  # noqa: E402


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def ddp_run(tmp_path_factory):
    """One 2-process spawn: a training run, then a run with a NaN on rank 1."""
    out = tmp_path_factory.mktemp('ddp')
    mp.spawn(ddp_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return out


def test_two_rank_gloo_training_keeps_ranks_identical(ddp_run):
    tmp_path = ddp_run
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert r0['wrapper'] == 'CPUCompatibleDistributedDataParallel'
    for k in r0['state']:
        torch.testing.assert_close(r0['state'][k], r1['state'][k], rtol=0,
                                   atol=0, msg=f'ranks differ in {k}')
    # the ranks trained (weights moved away from the shared initialisation)
    assert os.path.isfile(tmp_path / 'work_train' / 'iter_6.pth')
    init = torch.load(tmp_path / 'work_train' / 'iter_3.pth')['state_dict']
    assert any(not torch.equal(init[k], r0['state'][k]) for k in init)
    # each rank saw different samples; gaze share per rank is balanced
    has_gaze = [TinyImages().get_data_info(i)['has_gaze'] for i in range(32)]
    seen = []
    for rec in (r0, r1):
        first_epoch = [i for it in sorted(rec['samples'])[:4]
                       for i in rec['samples'][it]]
        seen.append(first_epoch)
    # 11 gaze + 21 no-gaze images: each group is padded by one repeat for 2 ranks
    assert len(set(seen[0]) & set(seen[1])) <= 2
    assert len(set(seen[0]) | set(seen[1])) >= 30
    gaze_counts = [sum(has_gaze[i] for i in s) for s in seen]
    assert abs(gaze_counts[0] - gaze_counts[1]) <= 1


def test_nan_on_one_rank_stops_all_ranks(ddp_run):
    tmp_path = ddp_run
    msgs = [open(tmp_path / f'nan_rank{r}.txt').read() for r in (0, 1)]
    for msg in msgs:
        assert 'iteration 2' in msg and "['loss']" in msg, msg
    assert 'this rank' in msgs[1] and 'on some rank' in msgs[0]
    assert 'iter_1.pth' in msgs[0]
