"""Let mmengine's ``launcher='pytorch'|'slurm'`` run on CPU-only machines (gloo).

mmengine 0.10.7 assumes GPUs when distributed: ``init_dist`` calls
``torch.cuda.set_device`` and ``Runner.wrap_model`` passes
``device_ids=[LOCAL_RANK]`` to DDP, both of which fail without CUDA. The Runner
skips ``init_dist`` when a process group already exists, and builds the wrapper
from ``model_wrapper_cfg``, so :func:`setup_cpu_distributed` (called by
``tools/train.py`` / ``tools/test.py`` before building the Runner) initialises the
gloo group itself and selects :class:`CPUCompatibleDistributedDataParallel`.
On GPU machines it does nothing: NCCL and mmengine's defaults apply unchanged.
"""
import atexit
import logging
import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
# mmengine's Runner.wrap_model looks the type up in the *root* registry
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUCompatibleDistributedDataParallel', 'setup_cpu_distributed',
           'init_cpu_process_group']


@MODEL_WRAPPERS.register_module()
class CPUCompatibleDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also runs CPU modules (gloo).

    For a module on CPU it

    * drops ``device_ids`` (torch's DDP requires ``None`` there; mmengine always
      passes ``[LOCAL_RANK]``);
    * reverts ``SyncBatchNorm`` layers (configs written for GPUs, e.g.
      mmpretrain's SimCLR/MoCo necks, use them; torch implements them for GPUs
      only) to ``BatchNorm``: statistics become per rank, as with plain BN under
      DDP. A warning gives the number of layers reverted.

    On GPU modules it behaves exactly like its base.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            num_sync_bn = sum(isinstance(m, torch.nn.SyncBatchNorm)
                              for m in module.modules())
            if num_sync_bn:
                module = revert_sync_batchnorm(module)
                print_log(
                    f'{num_sync_bn} SyncBatchNorm layer(s) reverted to '
                    'BatchNorm for CPU (gloo) training: BN statistics are per '
                    'rank', logger='current', level=logging.WARNING)
        super().__init__(
            module=module, device_ids=None if on_cpu else device_ids, **kwargs)


def _slurm_env() -> None:
    """Fill torch's env:// variables from Slurm's (as mmengine's slurm init)."""
    os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
    os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
    os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
    if 'MASTER_ADDR' not in os.environ:
        node_list = os.environ['SLURM_NODELIST']
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_PORT', '29500')


def init_cpu_process_group(launcher: str, timeout_s: int = 1800) -> None:
    """Initialise a gloo process group from the launcher's environment.

    Args:
        launcher (str): ``'pytorch'`` (torchrun env vars) or ``'slurm'``.
        timeout_s (int): collective timeout in seconds.
    """
    if torch_dist.is_initialized():
        return
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'CPU distributed training supports launcher '
                         f"'pytorch' or 'slurm', got {launcher!r}")
    from datetime import timedelta
    torch_dist.init_process_group(
        backend='gloo', timeout=timedelta(seconds=timeout_s))
    # tear the group down before interpreter exit: a gloo group left to the
    # C++ destructors can abort a rank ("terminate called without an active
    # exception") while the other rank is still closing its connections
    atexit.register(_destroy_process_group)


def _destroy_process_group() -> None:
    # no barrier: a rank exiting on an error must not wait for the others
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def setup_cpu_distributed(cfg) -> bool:
    """Prepare ``cfg`` (an mmengine Config) for distributed training on CPU.

    Does nothing when CUDA is available or ``cfg.launcher`` is ``'none'``.
    Otherwise sets the gloo backend, initialises the process group and defaults
    ``model_wrapper_cfg`` to :class:`CPUCompatibleDistributedDataParallel`.

    Returns:
        bool: whether a CPU process group was set up.
    """
    launcher = cfg.get('launcher', 'none')
    if torch.cuda.is_available() or launcher == 'none':
        return False
    cfg.setdefault('env_cfg', dict())
    cfg.env_cfg.setdefault('dist_cfg', dict())
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg', None) or dict()
    if wrapper.get('type', 'MMDistributedDataParallel') in (
            'MMDistributedDataParallel', MMDistributedDataParallel):
        wrapper = dict(wrapper)
        wrapper['type'] = 'CPUCompatibleDistributedDataParallel'
        # the defaults Runner.wrap_model uses when model_wrapper_cfg is None
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    init_cpu_process_group(launcher)
    return True
