"""2-process gloo DDP pre-training of a small GazePrior config on CPU.

Both ranks must hold identical weights afterwards, with cross-rank GWCL negatives
(``negatives='batch'``, gathered with gradients) and the synthetic benchmark generated
once by rank 0 while rank 1 waits.
"""
import os
import socket
import sys

import torch
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(__file__))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world_size, port, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    from mmengine.runner import Runner
    from test_gazeprior_train import _tiny_cfg

    from gazeprior_mm.datasets import prepare_synthetic_benchmark
    from gazeprior_mm.engine.distributed import setup_cpu_distributed
    cfg = _tiny_cfg(os.path.join(out_dir, 'work'), os.path.join(out_dir, 'data'),
                    max_iters=4)
    cfg.model.head.loss.negatives = 'batch'
    cfg.train_dataloader.batch_size = 4
    cfg.launcher = 'pytorch'
    assert setup_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    prepare_synthetic_benchmark(cfg)  # rank 0 generates, both meet at a barrier
    runner.train()
    model = runner.model.module
    losses, _ = runner.message_hub.get_scalar('train/loss_gwcl').data
    torch.save(dict(state={k: v.detach().clone()
                           for k, v in model.state_dict().items()},
                    losses=[float(v) for v in losses], wrapper=type(runner.model).__name__),
               os.path.join(out_dir, f'rank{rank}.pth'))
    torch.distributed.barrier()
    torch.distributed.destroy_process_group()


def test_gazeprior_two_rank_gloo_ranks_identical(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert 'DistributedDataParallel' in r0['wrapper']
    assert len(r0['losses']) == 4 and all(torch.isfinite(torch.tensor(r0['losses'])))
    # each rank computes its own images' loss: the logged values differ ...
    assert r0['losses'] != r1['losses']
    # ... but the averaged gradients keep the replicas identical
    for key in r0['state']:
        torch.testing.assert_close(r0['state'][key], r1['state'][key], rtol=0,
                                   atol=0, msg=f'ranks differ in {key}')
    assert (tmp_path / 'data' / 'annotations' / 'train.json').exists()
    assert (tmp_path / 'work' / 'iter_4.pth').exists()
