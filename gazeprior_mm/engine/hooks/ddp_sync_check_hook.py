"""Check that DDP ranks still hold identical parameters."""
from typing import Optional, Sequence

import torch
from mmengine.dist import all_gather, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from gazeprior_mm.registry import HOOKS


def tensor_fingerprint(tensors) -> torch.Tensor:
    """``(2 * T,)`` float64: per tensor, its sum and a position-weighted sum.

    ``f_t = [sum_i p_i, sum_i cos(i) p_i]``: two ranks whose fingerprints agree
    exactly hold the same values in (practically) every position, including
    permuted ones, at the cost of one pass over the weights.
    """
    prints = []
    for param in tensors:
        flat = param.detach().reshape(-1).to(torch.float64)
        weights = torch.cos(torch.arange(flat.numel(), dtype=torch.float64,
                                         device=flat.device))
        prints.append(torch.stack([flat.sum(), (flat * weights).sum()]))
    return torch.stack(prints).reshape(-1)


@HOOKS.register_module()
class DDPSyncCheckHook(Hook):
    """Raise if the ranks' parameters diverge (every ``interval`` iters and at end).

    DDP keeps replicas identical only if every rank applies the same averaged
    gradient; a rank-dependent branch (e.g. a gaze-only term computed on one rank's
    images and not all-reduced, an unsynchronised random draw, a parameter left
    out of the backward graph) silently breaks that. The fingerprints of all ranks
    (:func:`tensor_fingerprint`) are all-gathered and compared with rank 0's.
    Buffers are compared only when named: BN running statistics legitimately
    differ (mmengine's DDP does not broadcast them), while e.g. MoCo/McGIP queues
    of all-gathered keys and sample rows must be identical
    (``buffer_keys=('queue',)``).

    Args:
        interval (int): check every ``interval`` training iterations; 0 = only
            after training. Defaults to 0.
        atol (float): allowed absolute fingerprint difference. Defaults to 0.
        buffer_keys (Sequence[str]): also compare buffers whose name contains
            one of these substrings. Defaults to ().
    """

    priority = 'LOW'

    def __init__(self, interval: int = 0, atol: float = 0.0,
                 buffer_keys: Sequence[str] = ()):
        self.interval = interval
        self.atol = atol
        self.buffer_keys = tuple(buffer_keys)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self.check(runner, iteration=runner.iter + 1)

    def after_train(self, runner) -> None:
        self.check(runner, iteration=runner.iter)

    def check(self, runner, iteration: int) -> None:
        """All-gather fingerprints and compare them with rank 0's.

        Args:
            runner: the Runner.
            iteration (int): number of completed iterations (for messages).
        """
        world_size = get_world_size()
        if world_size == 1:
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        named = list(model.named_parameters()) + [
            (n, b) for n, b in model.named_buffers()
            if any(key in n for key in self.buffer_keys)
        ]
        names = [n for n, _ in named]
        prints = all_gather(tensor_fingerprint(t for _, t in named))
        reference = prints[0].cpu()
        for rank, other in enumerate(prints[1:], start=1):
            diff = (other.cpu() - reference).abs().reshape(-1, 2).amax(dim=1)
            if bool((diff > self.atol).any()):
                first = names[int(torch.nonzero(diff > self.atol)[0])]
                raise RuntimeError(
                    f'DDP ranks diverged by iteration {iteration}: rank {rank} '
                    f'differs from rank 0 in {int((diff > self.atol).sum())} '
                    f'tensor(s), first {first!r} (max fingerprint '
                    f'difference {float(diff.max()):.3g})')
        runner.logger.info(
            f'DDPSyncCheckHook: parameters identical on {world_size} ranks at '
            f'iteration {iteration} ({len(names)} tensors)')
