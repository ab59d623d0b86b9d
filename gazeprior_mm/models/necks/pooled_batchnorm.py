"""Global pooling + BatchNorm without affine: the linear-probe neck."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS


@MODELS.register_module()
class PooledBatchNormNeck(BaseModule):
    r"""Average-pool feature maps, then standardise each channel over the batch.

    .. math::

        \hat x_c = \frac{\bar x_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}},
        \qquad \bar x_c = \frac{1}{HW} \sum_{h, w} x_{c, h, w}

    with running statistics at test time and no learnable scale or shift: the
    BatchNorm of mmpretrain's MAE / MoCo v3 linear evaluations
    (``ClsBatchNormNeck``), which makes one learning rate fit the features of any
    pre-training method (their scales differ by orders of magnitude), here also
    for CNN maps, which ``ClsBatchNormNeck`` (1-D inputs) does not take.

    Args:
        in_channels (int): C.
        eps (float): :math:`\epsilon`. Defaults to 1e-6.
        init_cfg (dict, optional): mmengine init config.

    Inputs: a tuple of (N, C, H, W) maps or (N, C) vectors; returns a tuple of
    (N, C) standardised vectors.
    """

    def __init__(self, in_channels: int, eps: float = 1e-6,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=eps)

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        pooled = [x.mean(dim=(2, 3)) if x.dim() == 4 else x for x in inputs]
        return tuple(self.bn(x) for x in pooled)
