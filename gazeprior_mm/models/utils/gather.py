"""All-gather a per-rank batch with gradients, the local rows first."""
import torch
from mmengine.dist import get_rank, get_world_size
from mmpretrain.models.selfsup.simclr import GatherLayer


def gather_local_first(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) on each rank -> (B, ...) of every rank, the local N rows first.

    Gradients flow back to every rank's rows (``GatherLayer``). The local block
    comes first so that row ``n < N`` is still local image ``n`` (losses index
    their own image's block by position).

    Args:
        x (Tensor): (N, ...) this rank's rows; every rank must hold the same N.

    Returns:
        Tensor: (B, ...) with B = N x world size; ``x`` itself with one process.
    """
    if get_world_size() == 1:
        return x
    gathered = list(GatherLayer.apply(x.contiguous()))
    rank = get_rank()
    return torch.cat([gathered[rank]] + gathered[:rank] + gathered[rank + 1:])
