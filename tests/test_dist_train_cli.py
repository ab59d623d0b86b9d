"""tools/dist_train.sh: 2-process gloo GazePrior training on CPU, ranks identical."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import cv2
import numpy as np
import torch

import gazeprior_mm  # noqa: F401  (checkpoint allow-list)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# the project's small GazePrior config (ViT-tiny/8 + GGAM + GWCL with cross-rank
# 'batch' negatives) on tiny data, with the fault-tolerance hooks
CONFIG = '''
_base_ = {base!r}
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(_delete_=True, type='GazeBalancedSampler', seed=0),
    dataset=dict(data_root={data_root!r}, ann_file='train.json'))
model = dict(head=dict(loss=dict(negatives='batch')))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=6, by_epoch=False)]
default_hooks = dict(
    checkpoint=dict(_delete_=True, type='AtomicCheckpointHook', interval=3,
                    by_epoch=False),
    logger=dict(interval=1))
custom_hooks = [dict(type='NaNGuardHook'), dict(type='RNGStateHook'),
                dict(type='DDPSyncCheckHook', interval=3)]
'''


def _write_data(root, n=20):
    """n 32x32 PNGs and a canonical annotation file; every 3rd image has gaze."""
    os.makedirs(osp.join(root, 'images'))
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        path = f'images/{i:03d}.png'
        cv2.imwrite(osp.join(root, path),
                    rng.integers(0, 256, (32, 32), dtype=np.uint8))
        labels = [0] * 14
        labels[i % 14] = 1
        row = dict(img_path=path, img_id=f'img-{i}', gt_label=labels)
        if i % 3 == 0:
            row['gaze'] = dict(image_size=[32, 32], readers=[dict(
                reader='r1', fixations=[[10.0, 12.0, 0.3], [20.0, 8.0, 0.5]])])
        rows.append(row)
    with open(osp.join(root, 'train.json'), 'w') as f:
        json.dump(dict(metainfo=dict(dataset_name='tiny'), data_list=rows), f)


def test_dist_train_sh_gazeprior_two_gloo_processes(tmp_path):
    data_root = str(tmp_path / 'data')
    _write_data(data_root, n=24)
    cfg = tmp_path / 'tiny_cfg.py'
    cfg.write_text(CONFIG.format(
        base=osp.join(ROOT, 'configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py'),
        data_root=data_root))
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    work = tmp_path / 'work'
    env = dict(os.environ, PORT=str(port), OMP_NUM_THREADS='1',
               PYTHON=sys.executable)
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools/dist_train.sh'), str(cfg), '2',
         '--work-dir', str(work)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # DDPSyncCheckHook compared the two ranks' parameters at 3, 6 and the end
    assert out.count('parameters identical on 2 ranks') >= 2, out[-4000:]
    assert 'loss_gwcl' in out
    with open(work / 'last_checkpoint') as f:
        last = f.read().strip()
    assert last.endswith('iter_6.pth')
    ckpt = torch.load(last, weights_only=True)
    assert ckpt['meta']['iter'] == 6 and 'rng_state' in ckpt
    assert not [f for f in os.listdir(work) if f.startswith('.tmp-')]
