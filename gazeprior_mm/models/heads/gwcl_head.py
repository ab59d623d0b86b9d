"""GWCLHead: per-patch projection and the gaze-weighted contrastive loss."""
import warnings
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS

# GWCLHead keywords that are GWCLLoss options since the loss became a module
LOSS_OPTIONS = ('temperature', 'pair_weight', 'negatives', 'weight_norm',
                'weight_source')


@MODELS.register_module()
class GWCLHead(BaseModule):
    r"""Per-patch projection MLP, GWCL and a projection-weight penalty.

    .. math::

        z_i = W_2\,\mathrm{ReLU}(W_1 h_i), \qquad
        \mathcal L = \mathcal L_{GWCL}(z^{(1)}, z^{(2)}, \tilde g^{(1)},
        \tilde g^{(2)}) + \lambda \left(\|W_1\|_F^2 + \|W_2\|_F^2\right)

    The contrastive term is the ``loss`` module (:class:`GWCLLoss`, which holds
    the temperature, pairing weights, negatives and weight options).

    Args:
        in_channels (int): D_in of the patch features.
        hid_channels (int): hidden width of the projector.
        out_channels (int): D of the projected patch embeddings.
        loss (dict): config of the contrastive loss. Defaults to
            ``dict(type='GWCLLoss')``.
        proj_reg (float): λ. Defaults to 1e-4.
        init_cfg (dict, optional): mmengine init config.
        **deprecated: ``temperature``, ``pair_weight``, ``negatives``,
            ``weight_norm``, ``weight_source`` given to the head (formerly head
            options): moved into ``loss`` with a DeprecationWarning.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 loss: Optional[dict] = None,
                 proj_reg: float = 1e-4,
                 init_cfg: Optional[dict] = None,
                 **deprecated) -> None:
        super().__init__(init_cfg=init_cfg)
        loss = dict(type='GWCLLoss') if loss is None else dict(loss)
        unknown = sorted(set(deprecated) - set(LOSS_OPTIONS))
        if unknown:
            raise TypeError(f'GWCLHead got unexpected keyword(s) {unknown}')
        if deprecated:
            warnings.warn(
                f'GWCLHead({", ".join(sorted(deprecated))}=...) is deprecated: '
                'these are options of the loss, set head=dict(loss=dict('
                "type='GWCLLoss', ...)) instead", DeprecationWarning, stacklevel=2)
            loss.update(deprecated)
        self.projector = nn.Sequential(
            nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
            nn.Linear(hid_channels, out_channels))
        self.proj_reg = proj_reg
        # no parameters or buffers: checkpoints keep the keys head.projector.*
        self.loss_module = MODELS.build(loss)

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
            z2_negatives (Tensor, optional): (B, P, D) for ``negatives='batch'``
                (default: the loss gathers ``z2`` from every rank).

        Returns:
            dict: ``loss_gwcl`` and ``loss_reg`` scalars.
        """
        loss = self.loss_module(z1, z2, g1, g2, valid=valid, match=match,
                                valid2=valid2, z2_negatives=z2_negatives)
        weights = [m.weight for m in self.projector if isinstance(m, nn.Linear)]
        reg = self.proj_reg * sum(w.pow(2).sum() for w in weights)
        return dict(loss_gwcl=loss, loss_reg=reg)


def _deprecated_loss_option(name: str) -> property:
    """Read-only ``head.<name>`` forwarding to ``head.loss_module.<name>``."""

    def getter(self):
        warnings.warn(f'GWCLHead.{name} is deprecated: read '
                      f'head.loss_module.{name}', DeprecationWarning, stacklevel=2)
        return getattr(self.loss_module, name)

    return property(getter, doc=f'Deprecated: ``loss_module.{name}``.')


for _name in LOSS_OPTIONS:
    setattr(GWCLHead, _name, _deprecated_loss_option(_name))
