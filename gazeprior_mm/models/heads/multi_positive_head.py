"""Multi-positive InfoNCE head (McGIP / GzPT positives, normalised per anchor)."""
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS


@MODELS.register_module()
class MultiPositiveContrastiveHead(BaseModule):
    """Contrastive head with several (optionally weighted) positives per anchor.

    With similarities ``s_ia`` of anchor ``i`` to candidates ``a`` (those allowed by
    ``logit_mask``: all but the anchor itself in SimCLR; the key and the queue in
    MoCo) and positive weights ``w_ip >= 0`` (1 for the other view, 1 or the gaze
    similarity for gaze neighbours, 0 otherwise):

    .. math::

        \\ell_{ip} = \\frac{s_{ip}}{\\tau} - \\log \\sum_{a} \\exp(s_{ia} / \\tau),
        \\qquad
        L_i = - \\frac{\\sum_p w_{ip} \\ell_{ip}}{\\sum_p w_{ip}}

    ``normalise='anchor'`` (default) averages ``L_i`` over anchors that have a
    positive, so every anchor counts once whatever its number of gaze neighbours.
    ``normalise='global'`` reproduces the McGIP reference,
    ``L = - \\sum_{ip} w_{ip} \\ell_{ip} / \\sum_{ip} w_{ip}``, where anchors with many
    neighbours dominate. With exactly one positive per anchor both equal the
    cross-entropy of :class:`mmpretrain.models.heads.ContrastiveHead`.

    Args:
        temperature (float): ``tau``. Defaults to 0.1.
        normalise (str): ``'anchor'`` or ``'global'``. Defaults to ``'anchor'``.
        loss_weight (float): multiplier of the loss. Defaults to 1.0.
        init_cfg (dict or list[dict], optional): initialisation config.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 normalise: str = 'anchor',
                 loss_weight: float = 1.0,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if normalise not in ('anchor', 'global'):
            raise ValueError(
                f"normalise must be 'anchor' or 'global', got {normalise!r}")
        self.temperature = temperature
        self.normalise = normalise
        self.loss_weight = loss_weight

    def loss(self,
             similarity: torch.Tensor,
             pos_weight: torch.Tensor,
             logit_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Multi-positive InfoNCE.

        Args:
            similarity (torch.Tensor): (N, M) cosine similarities of N anchors to
                M candidates.
            pos_weight (torch.Tensor): (N, M) bool or float positive weights;
                entries outside ``logit_mask`` must be 0.
            logit_mask (torch.Tensor, optional): (N, M) bool, True where the
                candidate enters the softmax denominator. Defaults to all True.

        Returns:
            torch.Tensor: scalar loss.
        """
        weight = pos_weight.to(similarity.dtype)
        logits = similarity / self.temperature
        if logit_mask is not None:
            if (weight * (~logit_mask)).any():
                raise ValueError('a positive lies outside logit_mask')
            logits = logits.masked_fill(~logit_mask, float('-inf'))
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        # where w = 0 the log-prob may be -inf: zero it rather than 0 * inf = nan
        weighted = torch.where(weight > 0, weight * log_prob,
                               torch.zeros_like(log_prob)).sum(1)
        total = weight.sum(1)
        has_pos = total > 0
        if self.normalise == 'anchor':
            loss = -(weighted[has_pos] / total[has_pos]).mean()
        else:
            loss = -weighted.sum() / total.sum()
        return self.loss_weight * loss
