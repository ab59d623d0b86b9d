"""Gaze-Guided Attention Module (GGAM)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from gazeprior_mm.registry import MODELS

GAZE_SOURCES = ('gaze', 'predicted', 'none')


def tokens_on_grid(x: torch.Tensor, grid: int) -> torch.Tensor:
    """Patch tokens on the M x M gaze grid.

    Args:
        x (Tensor): (N, P, C) tokens already on the grid, or an (N, C, H, W) feature
            map, average-pooled to (M, M) by area.
        grid (int): M.

    Returns:
        Tensor: (N, M*M, C), row-major.
    """
    if x.dim() == 3:
        if x.shape[1] != grid * grid:
            raise ValueError(f'{x.shape[1]} tokens do not form a {grid}x{grid} grid')
        return x
    return F.adaptive_avg_pool2d(x, grid).flatten(2).transpose(1, 2)


@MODELS.register_module()
class GGAM(BaseModule):
    r"""Gaze-Guided Attention Module: gaze gates the patch embeddings.

    .. math::

        \alpha_i = \sigma(w_g \tilde g_i + b_g), \qquad z_i' = \alpha_i z_i

    with learnable scalars :math:`w_g` (initialised to 1) and :math:`b_g`
    (initialised to 0, so a patch without gaze starts at :math:`\alpha = 0.5` and the
    most-looked-at patch at :math:`\sigma(1) \approx 0.73`).

    **Images without gaze** (test time; the share of a pre-training set nobody read)
    get :math:`\tilde g` from a light *gaze-prediction branch*: LayerNorm + a linear
    layer on the incoming patch features gives one logit per patch,
    :math:`\hat q = \mathrm{softmax}_i(\ell_i)`; it is trained (by ``GazePrior``,
    ``loss_gaze_pred``) with :math:`\mathrm{KL}(q \,\|\, \hat q)` against the recorded
    gaze distribution :math:`q_i = g_i / \sum_j g_j` on images that have gaze, and its
    max-normalised, detached prediction :math:`\hat q_i / \max_j \hat q_j` replaces
    :math:`\tilde g` where gaze is missing. The same branch yields a gaze-like
    attention map at test time. With ``predict_gaze=False`` (ablation) images
    without gaze get :math:`\tilde g = 0`, i.e. a constant gate
    :math:`\sigma(b_g)`.

    Args:
        in_channels (int): C, channels of the gated features.
        grid (int): M, the gaze grid (P = M * M). Defaults to 14.
        gaze_source (str): ``'gaze'`` recorded gaze, predicted where missing;
            ``'predicted'`` always the prediction; ``'none'`` no gating
            (:math:`\alpha = 1`, the "no GGAM" ablation). Defaults to ``'gaze'``.
        predict_gaze (bool): build the gaze-prediction branch. Defaults to True.
        w_init (float): initial :math:`w_g`. Defaults to 1.
        b_init (float): initial :math:`b_g`. Defaults to 0.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 grid: int = 14,
                 gaze_source: str = 'gaze',
                 predict_gaze: bool = True,
                 w_init: float = 1.0,
                 b_init: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if gaze_source not in GAZE_SOURCES:
            raise ValueError(f'gaze_source must be one of {GAZE_SOURCES}, '
                             f'got {gaze_source!r}')
        if gaze_source == 'predicted' and not predict_gaze:
            raise ValueError("gaze_source='predicted' needs predict_gaze=True")
        self.in_channels = in_channels
        self.grid = grid
        self.gaze_source = gaze_source
        self.w_g = nn.Parameter(torch.tensor(float(w_init)))
        self.b_g = nn.Parameter(torch.tensor(float(b_init)))
        self.gaze_predictor = nn.Sequential(
            nn.LayerNorm(in_channels), nn.Linear(in_channels, 1)) if predict_gaze \
            else None

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    def predict_logits(self, tokens: torch.Tensor) -> Optional[torch.Tensor]:
        """(N, P, C) tokens -> (N, P) gaze logits, or None without the branch."""
        if self.gaze_predictor is None:
            return None
        return self.gaze_predictor(tokens).squeeze(-1)

    @staticmethod
    def predicted_weights(logits: torch.Tensor) -> torch.Tensor:
        """(N, P) logits -> (N, P) max-normalised weights in (0, 1], no gradient."""
        prob = logits.detach().softmax(dim=-1)
        return prob / prob.amax(dim=-1, keepdim=True)

    def resolve_gaze(self, gaze: Optional[torch.Tensor],
                     has_gaze: Optional[torch.Tensor],
                     logits: Optional[torch.Tensor],
                     num_images: int, device: torch.device) -> torch.Tensor:
        """The :math:`\\tilde g` used per image: recorded, predicted or zeros.

        Returns:
            Tensor: (N, P) in [0, 1].
        """
        zeros = torch.zeros(num_images, self.num_patches, device=device)
        predicted = self.predicted_weights(logits) if logits is not None else zeros
        if self.gaze_source == 'predicted' or gaze is None:
            return predicted
        if has_gaze is None:
            return gaze
        return torch.where(has_gaze.bool()[:, None], gaze, predicted)

    def gate(self, x: torch.Tensor, gaze: torch.Tensor,
             num_extra_tokens: int = 0) -> torch.Tensor:
        """Multiply features by :math:`\\alpha`.

        Args:
            x (Tensor): (N, L, C) tokens whose last P are the patches (the first
                ``num_extra_tokens``, e.g. a class token, pass unchanged), or an
                (N, C, H, W) map, gated by :math:`\\alpha` upsampled (nearest) from
                the M x M grid.
            gaze (Tensor): (N, P) :math:`\\tilde g`.

        Returns:
            Tensor: gated features, same shape as ``x``.
        """
        if self.gaze_source == 'none':
            return x
        alpha = self.alpha(gaze)
        if x.dim() == 3:
            extra, patches = x[:, :num_extra_tokens], x[:, num_extra_tokens:]
            return torch.cat([extra, patches * alpha[..., None]], dim=1)
        alpha_map = alpha.view(-1, 1, self.grid, self.grid)
        if alpha_map.shape[-2:] != x.shape[-2:]:
            alpha_map = F.interpolate(alpha_map, size=x.shape[-2:], mode='nearest')
        return x * alpha_map

    def alpha(self, gaze: torch.Tensor) -> torch.Tensor:
        """(N, P) gaze -> (N, P) gate values in (0, 1) (ones for ``'none'``)."""
        if self.gaze_source == 'none':
            return torch.ones_like(gaze)
        return torch.sigmoid(self.w_g * gaze + self.b_g)

    def forward(self,
                x: torch.Tensor,
                gaze: Optional[torch.Tensor] = None,
                has_gaze: Optional[torch.Tensor] = None,
                num_extra_tokens: int = 0) -> Dict[str, torch.Tensor]:
        """Gate features by gaze.

        Args:
            x (Tensor): (N, P, C) patch tokens, (N, extra + P, C) with
                ``num_extra_tokens``, or an (N, C, H, W) feature map.
            gaze (Tensor, optional): (N, P) recorded :math:`\\tilde g`; None at test
                time (prediction used).
            has_gaze (Tensor, optional): (N,) bool, which rows of ``gaze`` are real.

        Returns:
            dict: ``out`` gated ``x``; ``gaze`` (N, P) the :math:`\\tilde g` used;
            ``gaze_logits`` (N, P) or None; ``alpha`` (N, P).
        """
        patches = x[:, num_extra_tokens:] if x.dim() == 3 else x
        tokens = tokens_on_grid(patches, self.grid)
        if tokens.shape[-1] != self.in_channels:
            raise ValueError(
                f'GGAM(in_channels={self.in_channels}) got {tokens.shape[-1]}-channel '
                'features: set in_channels to the channels where GGAM sits (the '
                'backbone output, or the stage given by ggam_insert_after)')
        logits = self.predict_logits(tokens)
        used = self.resolve_gaze(gaze, has_gaze, logits, x.shape[0], x.device)
        return dict(out=self.gate(x, used, num_extra_tokens), gaze=used,
                    gaze_logits=logits, alpha=self.alpha(used))
