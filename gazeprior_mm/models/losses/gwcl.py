"""Gaze-Weighted Contrastive Loss (GWCL) between the patch embeddings of two views."""
from typing import Optional

import torch
import torch.nn.functional as F

PAIR_WEIGHTS = ('product', 'matched')
NEGATIVES = ('image', 'batch')


def gwcl_loss(z1: torch.Tensor,
              z2: torch.Tensor,
              g1: torch.Tensor,
              g2: torch.Tensor,
              temperature: float = 0.1,
              pair_weight: str = 'product',
              negatives: str = 'image',
              valid: Optional[torch.Tensor] = None,
              z2_negatives: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""Gaze-weighted contrastive loss (DESIGN §4).

    With :math:`s_{ij'} = \cos(z_i, z_{j'}) / \tau` between patch :math:`i` of view 1
    and patch :math:`j'` of view 2 and :math:`\log p_{ij'} = \log\mathrm{softmax}_{j'}
    (s_{ij'})` over the candidate set (the :math:`P` patches of view 2 of the same
    image for ``negatives='image'``; all view-2 patches of the batch for ``'batch'``):

    .. math::

        L_i = -\sum_{j'} w_{ij'} \log p_{ij'}, \qquad
        L = \frac{1}{N P} \sum_n \sum_i L_i

    ``pair_weight='product'``: :math:`w_{ij'} = \tilde g_i \tilde g_{j'}` over all
    :math:`P \times P` pairs (the seed's formula). ``'matched'``: only
    :math:`j' = i`, :math:`w_{ii'} = \tilde g_i \tilde g_{i'}` (patch :math:`i` of
    view 2 must then be the patch corresponding to patch :math:`i` of view 1).

    Args:
        z1 (Tensor): (N, P, D) patch embeddings of view 1.
        z2 (Tensor): (N, P, D) patch embeddings of view 2.
        g1 (Tensor): (N, P) gaze weights of view 1, in [0, 1].
        g2 (Tensor): (N, P) gaze weights of view 2, in [0, 1].
        temperature (float): τ. Defaults to 0.1.
        pair_weight (str): ``'product'`` or ``'matched'``.
        negatives (str): ``'image'`` or ``'batch'``.
        valid (Tensor, optional): (N, P) bool. ``False`` marks a view-2 slot that has
            no counterpart (a view-1 patch whose image point lies outside view 2,
            geometry-aware pairing): it leaves the softmax and carries no weight.
        z2_negatives (Tensor, optional): (B, P, D) candidates for
            ``negatives='batch'`` whose first N rows are the images of ``z2`` and
            whose other rows are further images (e.g. gathered from other ranks).
            Defaults to ``z2`` (the local batch).

    Returns:
        Tensor: scalar loss.
    """
    if pair_weight not in PAIR_WEIGHTS:
        raise ValueError(f'pair_weight must be one of {PAIR_WEIGHTS}, '
                         f'got {pair_weight!r}')
    if negatives not in NEGATIVES:
        raise ValueError(f'negatives must be one of {NEGATIVES}, got {negatives!r}')
    num_images, num_patches, _ = z1.shape
    z1 = F.normalize(z1, dim=-1)
    z2 = F.normalize(z2, dim=-1)
    if valid is None:
        valid = torch.ones(z2.shape[:2], dtype=torch.bool, device=z2.device)
    g1 = g1 * valid
    g2 = g2 * valid

    # (N, P, P): every view-1 patch against the view-2 patches of its own image
    own = torch.einsum('npd,nqd->npq', z1, z2) / temperature
    own = own.masked_fill(~valid[:, None, :], float('-inf'))
    if negatives == 'image':
        log_norm = torch.logsumexp(own, dim=-1, keepdim=True)
    else:
        others = z2 if z2_negatives is None else F.normalize(z2_negatives, dim=-1)
        # (N, P, B*P) against every view-2 patch of the batch; the own image's
        # block is replaced by ``own`` so masking of invalid slots still holds
        cross = torch.einsum('npd,bqd->npbq', z1, others) / temperature
        keep_other = torch.ones(num_images, cross.shape[2], dtype=torch.bool,
                                device=z1.device)
        keep_other[:, :num_images] = ~torch.eye(num_images, dtype=torch.bool,
                                                 device=z1.device)
        cross = cross.masked_fill(~keep_other[:, None, :, None], float('-inf'))
        log_norm = torch.logaddexp(
            torch.logsumexp(own, dim=-1),
            torch.logsumexp(cross.flatten(2), dim=-1)).unsqueeze(-1)
    log_prob = own - log_norm

    if pair_weight == 'product':
        weight = g1[:, :, None] * g2[:, None, :]
        # -inf * 0 at masked slots: the weight is zero there by construction
        loss_per_patch = -(weight * log_prob.masked_fill(~valid[:, None, :], 0.)
                           ).sum(-1)
    else:
        diag = torch.diagonal(log_prob, dim1=1, dim2=2)
        loss_per_patch = -(g1 * g2 * diag.masked_fill(~valid, 0.))
    return loss_per_patch.sum() / (num_images * num_patches)
