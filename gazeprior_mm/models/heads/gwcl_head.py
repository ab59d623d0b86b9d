"""GWCLHead: per-patch projection and the gaze-weighted contrastive loss."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS
from ..losses.gwcl import WEIGHT_NORMS, gwcl_loss

WEIGHT_SOURCES = ('gaze', 'uniform')


@MODELS.register_module()
class GWCLHead(BaseModule):
    r"""Per-patch projection MLP and GWCL with a projection-weight penalty.

    .. math::

        z_i = W_2\,\mathrm{ReLU}(W_1 h_i), \qquad
        \mathcal L = \mathcal L_{GWCL}(z^{(1)}, z^{(2)}, \tilde g^{(1)},
        \tilde g^{(2)}) + \lambda \left(\|W_1\|_F^2 + \|W_2\|_F^2\right)

    Args:
        in_channels (int): D_in of the patch features.
        hid_channels (int): hidden width of the projector.
        out_channels (int): D of the projected patch embeddings.
        temperature (float): τ. Defaults to 0.1.
        pair_weight (str): ``'product'`` (seed) or ``'matched'``.
        negatives (str): ``'image'`` or ``'batch'``.
        proj_reg (float): λ. Defaults to 1e-4.
        weight_norm (str): ``'none'`` (the seed's weights) or ``'image'`` (each
            image's weights rescaled to sum P, see :func:`gwcl_loss`).
        weight_source (str): ``'gaze'``, or ``'uniform'`` for the ablation with
            :math:`w_{ij'} = 1/P` (``'product'``; :math:`\tilde g = 1/\sqrt P`) and
            :math:`w_{ii'} = 1/P` (``'matched'``).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 temperature: float = 0.1,
                 pair_weight: str = 'product',
                 negatives: str = 'image',
                 proj_reg: float = 1e-4,
                 weight_source: str = 'gaze',
                 weight_norm: str = 'none',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if weight_source not in WEIGHT_SOURCES:
            raise ValueError(f'weight_source must be one of {WEIGHT_SOURCES}, '
                             f'got {weight_source!r}')
        if weight_norm not in WEIGHT_NORMS:
            raise ValueError(f'weight_norm must be one of {WEIGHT_NORMS}, '
                             f'got {weight_norm!r}')
        self.projector = nn.Sequential(
            nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
            nn.Linear(hid_channels, out_channels))
        self.temperature = temperature
        self.pair_weight = pair_weight
        self.negatives = negatives
        self.proj_reg = proj_reg
        self.weight_source = weight_source
        self.weight_norm = weight_norm

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(N, P, D_in) patch features -> (N, P, D) patch embeddings."""
        return self.projector(tokens)

    def loss(self,
             z1: torch.Tensor,
             z2: torch.Tensor,
             g1: torch.Tensor,
             g2: torch.Tensor,
             valid: Optional[torch.Tensor] = None,
             match: Optional[torch.Tensor] = None,
             valid2: Optional[torch.Tensor] = None,
             z2_negatives: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
        """GWCL on projected embeddings plus the projector penalty.

        Args:
            z1, z2 (Tensor): (N, P, D) projected embeddings of the two views.
            g1, g2 (Tensor): (N, P) gaze weights.
            valid, match, valid2 (Tensor, optional): (N, P) pairing of the views'
                patches, see :func:`gwcl_loss` (None: the seed's same-index pairing).
            z2_negatives (Tensor, optional): (B, P, D) for ``negatives='batch'``.

        Returns:
            dict: ``loss_gwcl`` and ``loss_reg`` scalars.
        """
        if self.weight_source == 'uniform':
            uniform = torch.full_like(g1, g1.shape[1] ** -0.5)
            g1 = g2 = uniform
        loss = gwcl_loss(z1, z2, g1, g2, temperature=self.temperature,
                         pair_weight=self.pair_weight, negatives=self.negatives,
                         valid=valid, match=match, valid2=valid2,
                         z2_negatives=z2_negatives, weight_norm=self.weight_norm)
        weights = [m.weight for m in self.projector if isinstance(m, nn.Linear)]
        reg = self.proj_reg * sum(w.pow(2).sum() for w in weights)
        return dict(loss_gwcl=loss, loss_reg=reg)
