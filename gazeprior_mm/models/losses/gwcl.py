"""Gaze-Weighted Contrastive Loss (GWCL) between the patch embeddings of two views."""
from typing import Optional

import torch
import torch.nn.functional as F

PAIR_WEIGHTS = ('product', 'matched')
NEGATIVES = ('image', 'batch')
WEIGHT_NORMS = ('none', 'image')


def gwcl_loss(z1: torch.Tensor,
              z2: torch.Tensor,
              g1: torch.Tensor,
              g2: torch.Tensor,
              temperature: float = 0.1,
              pair_weight: str = 'product',
              negatives: str = 'image',
              valid: Optional[torch.Tensor] = None,
              *,
              match: Optional[torch.Tensor] = None,
              valid2: Optional[torch.Tensor] = None,
              z2_negatives: Optional[torch.Tensor] = None,
              weight_norm: str = 'none') -> torch.Tensor:
    r"""Gaze-weighted contrastive loss (docs/design.md §4).

    With :math:`s_{ij'} = \cos(z_i, z_{j'}) / \tau` between patch :math:`i` of view 1
    and patch :math:`j'` of view 2 and :math:`\log p_{ij'} = \log\mathrm{softmax}_{j'}
    (s_{ij'})` over the candidate set (the :math:`P` patches of view 2 of the same
    image for ``negatives='image'``; all view-2 patches of the batch for ``'batch'``):

    .. math::

        L_i = -\sum_{j'} w_{ij'} \log p_{ij'}, \qquad
        L = \frac{1}{N P} \sum_n \sum_i L_i

    ``pair_weight='product'``: :math:`w_{ij'} = \tilde g_i \tilde g_{j'}` over all
    :math:`P \times P` pairs (the seed's formula). ``'matched'``: only
    :math:`j' = m(i)`, the view-2 patch paired with patch :math:`i`
    (:math:`w_{i m(i)} = \tilde g_i \tilde g_{m(i)}`); :math:`m(i) = i` by default
    (the seed's same-index pairing).

    **Masking (geometry-aware pairing).** ``valid[n, i]`` False says the image point
    of view-1 patch :math:`i` lies outside view 2: the anchor gets weight 0.
    ``valid2[n, j']`` False says view-2 patch :math:`j'` lies outside view 1: it gets
    weight 0 in ``'product'`` (both members of a weighted pair must show content
    that both views contain). Masks only zero weights; every view-2 patch stays a
    candidate of the softmax (it is a real, distinct patch, so a valid negative), and
    :math:`1/(NP)` is kept, so views that overlap little contribute little.

    Args:
        z1 (Tensor): (N, P, D) patch embeddings of view 1.
        z2 (Tensor): (N, P, D) patch embeddings of view 2.
        g1 (Tensor): (N, P) gaze weights of view 1, in [0, 1].
        g2 (Tensor): (N, P) gaze weights of view 2, in [0, 1].
        temperature (float): τ. Defaults to 0.1.
        pair_weight (str): ``'product'`` or ``'matched'``.
        negatives (str): ``'image'`` or ``'batch'``.
        valid (Tensor, optional): (N, P) bool, view-1 patches that have a
            counterpart in view 2. Defaults to all True.
        match (Tensor, optional): (N, P) long, :math:`m(i)`, the view-2 patch
            showing the image point of view-1 patch :math:`i` (``'matched'`` only).
            Defaults to :math:`m(i) = i`.
        valid2 (Tensor, optional): (N, P) bool, view-2 patches inside view 1
            (``'product'`` only). Defaults to all True.
        z2_negatives (Tensor, optional): (B, P, D) candidates for
            ``negatives='batch'`` whose first N rows are ``z2`` and whose other rows
            are further images (e.g. gathered from other ranks, with gradients).
            Defaults to ``z2`` (the local batch).
        weight_norm (str): ``'none'`` (the seed's weights) or ``'image'``: each
            image's weights are rescaled to sum to P,
            :math:`w_{n,ij'} \leftarrow P\, w_{n,ij'} / \sum_{i,j'} w_{n,ij'}`
            (images whose weights are all 0 stay 0), so every image contributes a
            gaze-weighted *mean* of :math:`-\log p` and the loss no longer scales
            with how much of its g̃ is near 1. Max-normalised g̃ of a flat map
            (GGAM's prediction for views without gaze, early in training) is near 1
            everywhere, so without it such images can carry most of the loss
            (``tools/analysis/gwcl_weight_share.py``).

    Returns:
        Tensor: scalar loss.
    """
    if pair_weight not in PAIR_WEIGHTS:
        raise ValueError(f'pair_weight must be one of {PAIR_WEIGHTS}, '
                         f'got {pair_weight!r}')
    if negatives not in NEGATIVES:
        raise ValueError(f'negatives must be one of {NEGATIVES}, got {negatives!r}')
    if weight_norm not in WEIGHT_NORMS:
        raise ValueError(f'weight_norm must be one of {WEIGHT_NORMS}, '
                         f'got {weight_norm!r}')
    num_images, num_patches, _ = z1.shape
    z1 = F.normalize(z1, dim=-1)
    if negatives == 'image':
        # (N, P, P): every view-1 patch against the view-2 patches of its image
        own = torch.einsum('npd,nqd->npq', z1, F.normalize(z2, dim=-1)) / temperature
        log_norm = own.logsumexp(dim=-1, keepdim=True)
    else:
        candidates = F.normalize(z2 if z2_negatives is None else z2_negatives,
                                 dim=-1)
        # (N, P, B, P) against every view-2 patch of the batch; the own image's
        # block is its diagonal in (n, b)
        sim = torch.einsum('npd,bqd->npbq', z1, candidates) / temperature
        log_norm = sim.flatten(2).logsumexp(dim=-1, keepdim=True)
        own = sim[:, :, :num_images].diagonal(dim1=0, dim2=2).permute(2, 0, 1)
    log_prob = own - log_norm  # (N, P, P)

    if valid is not None:
        g1 = g1 * valid
    if pair_weight == 'product':
        if valid2 is not None:
            g2 = g2 * valid2
        weight = g1[:, :, None] * g2[:, None, :]  # (N, P, P)
    elif match is None:  # 'matched', one positive per anchor: j' = i
        log_prob = log_prob.diagonal(dim1=1, dim2=2)  # (N, P)
        weight = g1 * g2
    else:  # 'matched', j' = m(i)
        log_prob = log_prob.gather(2, match[..., None]).squeeze(-1)
        weight = g1 * g2.gather(1, match)
    if weight_norm == 'image':
        total = weight.flatten(1).sum(1).view(-1, *[1] * (weight.dim() - 1))
        weight = weight * (num_patches / total.clamp_min(1e-12))
    loss = -(weight * log_prob).sum()
    return loss / (num_images * num_patches)
