"""Stop training at the first non-finite loss, before it can be checkpointed."""
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.hooks import Hook

from gazeprior_mm.registry import HOOKS


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raise ``FloatingPointError`` when any logged loss term is NaN or Inf.

    After every training iteration the parsed loss dict the model returned
    (``outputs`` of ``after_train_iter``: ``loss`` and every ``loss_*`` /
    logged term) is checked. The hook runs with priority ``ABOVE_NORMAL``, i.e.
    before :class:`CheckpointHook` (``VERY_LOW``), so the poisoned state is never
    saved: the run stops and the last good checkpoint stays the latest. As a second
    line of defence, ``before_save_checkpoint`` refuses to write a state dict with
    non-finite floating-point weights.

    Under DDP the "any term non-finite" flags are all-reduced (MAX) so every rank
    stops at the same iteration instead of the healthy ranks hanging in the next
    collective. The error names the iteration (1-based, as mmengine logs it), the
    epoch, each non-finite term with its value on the rank(s) that saw it, and the
    last checkpoint.

    Args:
        check_weights_on_save (bool): also check the weights before each save.
            Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_weights_on_save: bool = True):
        self.check_weights_on_save = check_weights_on_save

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        names = list(outputs.keys())
        values = torch.stack([
            torch.as_tensor(v, dtype=torch.float64).detach().cpu().reshape(-1)
            .sum() for v in outputs.values()
        ])
        bad = (~torch.isfinite(values)).to(torch.float64)
        if is_distributed():
            # a rank-local NaN must stop all ranks, or the others deadlock
            seen = bad.clone()
            backend = torch_dist.get_backend()
            device = 'cuda' if backend == 'nccl' else 'cpu'
            seen = seen.to(device)
            torch_dist.all_reduce(seen, op=torch_dist.ReduceOp.MAX)
            bad = seen.cpu()
        if not bool(bad.any()):
            return
        local = {n: float(v) for n, v in zip(names, values)
                 if not torch.isfinite(v)}
        terms = [n for n, b in zip(names, bad) if b > 0]
        last_ckpt = runner.message_hub.get_info('last_ckpt', None)
        raise FloatingPointError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}): term(s) {terms} are NaN/Inf'
            f'{" on some rank" if not local else f" (this rank: {local})"}. '
            'Training stopped before checkpointing this state; the last good '
            f'checkpoint is {last_ckpt or "none (no checkpoint saved yet)"}.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if not self.check_weights_on_save:
            return
        # per-tensor checks (no concatenated copy of a large model)
        bad = [
            k for k, t in checkpoint.get('state_dict', {}).items()
            if torch.is_tensor(t) and t.is_floating_point()
            and not bool(torch.isfinite(t).all())
        ]
        if bad:
            raise FloatingPointError(
                f'Refusing to save a checkpoint at iteration {runner.iter + 1}: '
                f'non-finite weights in {bad[:5]}{"..." if len(bad) > 5 else ""}')
