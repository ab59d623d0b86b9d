"""Image-level InfoNCE on gaze-weighted pooled patch features."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS
from ..utils.gather import gather_local_first


@MODELS.register_module()
class GazePooledContrastHead(BaseModule):
    r"""Gaze-weighted pooling, a projector, and SimCLR's InfoNCE between images.

    GWCL contrasts patches *within* an image; this term makes gaze decide what
    an image's global embedding is made of and contrasts images *across* the batch:

    .. math::

        u_n = \frac{\sum_i (\tilde g_{n,i} + \epsilon)\, h_{n,i}}
                   {\sum_i (\tilde g_{n,i} + \epsilon)}, \qquad
        q_n = \mathrm{MLP}(u_n) / \|\mathrm{MLP}(u_n)\|

    and, over the 2N views of N images (view :math:`a`'s positive :math:`a^+` is the
    other view of its image, every other view of the batch is a negative):

    .. math::

        \mathcal L = -\frac{w}{2N} \sum_a \log
            \frac{\exp(q_a^\top q_{a^+} / \tau)}
                 {\sum_{b \neq a} \exp(q_a^\top q_b / \tau)}

    :math:`\epsilon` keeps a floor under the weights, so a view whose
    :math:`\tilde g` is all zero is pooled uniformly instead of being undefined.
    With several processes the negatives are gathered from every rank.

    Args:
        in_channels (int): C of the patch features :math:`h`.
        hid_channels (int): projector hidden width.
        out_channels (int): D of :math:`q`.
        temperature (float): :math:`\tau`. Defaults to 0.1.
        loss_weight (float): :math:`w`. Defaults to 1.0.
        eps (float): :math:`\epsilon`. Defaults to 0.1.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int = 512,
                 out_channels: int = 128,
                 temperature: float = 0.1,
                 loss_weight: float = 1.0,
                 eps: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.projector = nn.Sequential(
            nn.Linear(in_channels, hid_channels), nn.ReLU(inplace=True),
            nn.Linear(hid_channels, out_channels))
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, tokens: torch.Tensor, gaze: torch.Tensor) -> torch.Tensor:
        """(M, P, C) patch features, (M, P) :math:`\\tilde g` -> (M, D) unit
        embeddings :math:`q`."""
        weight = gaze + self.eps
        pooled = (weight[..., None] * tokens).sum(1) / weight.sum(1, keepdim=True)
        return F.normalize(self.projector(pooled), dim=-1)

    def loss(self, q1: torch.Tensor, q2: torch.Tensor) -> Dict[str, torch.Tensor]:
        """InfoNCE between (N, D) embeddings of view 1 and view 2.

        Returns:
            dict: ``loss_global``.
        """
        num = q1.shape[0]
        local = torch.cat([q1, q2])  # (2N, D): row a and a +- N are positives
        keys = gather_local_first(local)  # (K, D), this rank's 2N rows first
        logits = local @ keys.t() / self.temperature  # (2N, K)
        rows = torch.arange(2 * num, device=q1.device)
        logits[rows, rows] = float('-inf')  # no self-similarity
        positive = (rows + num) % (2 * num)
        loss = F.cross_entropy(logits, positive)
        return dict(loss_global=self.loss_weight * loss)
