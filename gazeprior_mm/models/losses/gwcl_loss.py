"""GWCLLoss: the gaze-weighted contrastive loss as a registered loss module."""
from typing import Optional

import torch
import torch.nn as nn

from gazeprior_mm.registry import MODELS
from ..utils.gather import gather_local_first
from .gwcl import NEGATIVES, PAIR_WEIGHTS, WEIGHT_NORMS, gwcl_loss

WEIGHT_SOURCES = ('gaze', 'uniform')


@MODELS.register_module()
class GWCLLoss(nn.Module):
    r"""Gaze-weighted contrastive loss between the patch embeddings of two views.

    With :math:`\log p_{ij'} = \log\mathrm{softmax}_{j'}(\cos(z_i, z_{j'}) / \tau)`
    over the candidate view-2 patches (the image's own :math:`P` for
    ``negatives='image'``, every view-2 patch of the global batch for ``'batch'``):

    .. math::

        L = \frac{1}{N P} \sum_n \sum_i \sum_{j'} w_{ij'} \,(-\log p_{ij'}),
        \qquad w_{ij'} = \tilde g_i \tilde g_{j'}

    (``pair_weight='product'``; ``'matched'`` keeps only :math:`j' = m(i)`). The
    computation is :func:`gwcl_loss`; this module holds its options, replaces the
    gaze by :math:`1/\sqrt P` for ``weight_source='uniform'`` and, for
    ``negatives='batch'``, all-gathers the view-2 embeddings of every rank (with
    gradients) as candidates, so the algorithm gathers nothing itself.

    Args:
        temperature (float): τ. Defaults to 0.1.
        pair_weight (str): ``'product'`` (the seed's) or ``'matched'``.
        negatives (str): ``'image'`` or ``'batch'``.
        weight_norm (str): ``'none'`` (the seed's weights) or ``'image'`` (each
            image's weights rescaled to sum P).
        weight_source (str): ``'gaze'``, or ``'uniform'`` for the ablation with
            :math:`w_{ij'} = 1/P` (``'product'``: :math:`\tilde g = 1/\sqrt P`;
            ``'matched'``: :math:`w_{ii'} = 1/P`).
        loss_weight (float): factor on the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 pair_weight: str = 'product',
                 negatives: str = 'image',
                 weight_norm: str = 'none',
                 weight_source: str = 'gaze',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        for name, value, allowed in (('pair_weight', pair_weight, PAIR_WEIGHTS),
                                     ('negatives', negatives, NEGATIVES),
                                     ('weight_norm', weight_norm, WEIGHT_NORMS),
                                     ('weight_source', weight_source,
                                      WEIGHT_SOURCES)):
            if value not in allowed:  # fail at build, not at the first step
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        self.temperature = temperature
        self.pair_weight = pair_weight
        self.negatives = negatives
        self.weight_norm = weight_norm
        self.weight_source = weight_source
        self.loss_weight = loss_weight

    def forward(self,
                z1: torch.Tensor,
                z2: torch.Tensor,
                g1: torch.Tensor,
                g2: torch.Tensor,
                valid: Optional[torch.Tensor] = None,
                match: Optional[torch.Tensor] = None,
                valid2: Optional[torch.Tensor] = None,
                z2_negatives: Optional[torch.Tensor] = None) -> torch.Tensor:
        """GWCL of one batch.

        Args:
            z1, z2 (Tensor): (N, P, D) patch embeddings of views 1 and 2.
            g1, g2 (Tensor): (N, P) gaze weights in [0, 1].
            valid, match, valid2 (Tensor, optional): (N, P) pairing of the views'
                patches, see :func:`gwcl_loss` (None: same-index pairing).
            z2_negatives (Tensor, optional): (B, P, D) candidates for
                ``negatives='batch'``, local rows first. Defaults to ``z2``
                gathered from every rank.

        Returns:
            Tensor: scalar loss.
        """
        if self.weight_source == 'uniform':
            g1 = g2 = torch.full_like(g1, g1.shape[1] ** -0.5)
        if self.negatives == 'batch' and z2_negatives is None:
            z2_negatives = gather_local_first(z2)
        loss = gwcl_loss(z1, z2, g1, g2, temperature=self.temperature,
                         pair_weight=self.pair_weight, negatives=self.negatives,
                         valid=valid, match=match, valid2=valid2,
                         z2_negatives=z2_negatives, weight_norm=self.weight_norm)
        return self.loss_weight * loss
