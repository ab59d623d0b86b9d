"""Where a backbone looks: attention rollout, CLS attention and Grad-CAM.

* **ViTs** (any backbone containing mmpretrain ``MultiheadAttention`` layers, e.g.
  ``VisionTransformer`` or a GGAM-wrapped one): the attention probabilities are not
  returned by mmpretrain (it calls fused ``scaled_dot_product_attention``), so a
  forward hook on each attention layer recomputes
  ``softmax(q kᵀ / sqrt(d_head))`` from the layer's input with the layer's own
  ``qkv`` weights. From them: *attention rollout* (Abnar & Zuidema, 2020) or the
  last layer's CLS-to-patch attention.
* **CNNs**: Grad-CAM through ``pytorch_grad_cam`` (as mmpretrain's
  ``tools/visualization/vis_cam.py``); a self-supervised backbone has no class
  logits, so the target is the L2 norm of the globally pooled embedding.

All maps come back at the model's native resolution as ``(N, h, w)`` float tensors,
non-negative; callers resize them to the view (see ``GazeAlignmentMetric``).
"""
from contextlib import contextmanager
from functools import partial
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.utils.attention import MultiheadAttention


def _attention_layers(backbone: nn.Module) -> List[MultiheadAttention]:
    return [m for m in backbone.modules() if isinstance(m, MultiheadAttention)]


def is_vit(backbone: nn.Module) -> bool:
    """True when the backbone contains mmpretrain multi-head attention layers."""
    return len(_attention_layers(backbone)) > 0


def _attention_probabilities(layer: MultiheadAttention,
                             x: torch.Tensor) -> torch.Tensor:
    """Recompute (N, heads, T, T) attention of ``layer`` from its input x (N, T, D).

    mmpretrain builds the layer with a ``partial(..., scale=s)`` when ``qk_scale``
    is set, and its pure-python kernel *divides* by ``s``; mirror that exactly.
    """
    n, t, _ = x.shape
    qkv = layer.qkv(x).reshape(n, t, 3, layer.num_heads,
                               layer.head_dims).permute(2, 0, 3, 1, 4)
    q, k = qkv[0], qkv[1]
    sdpa = layer.scaled_dot_product_attention
    divisor = sdpa.keywords['scale'] if isinstance(sdpa, partial) \
        else layer.head_dims**0.5
    return (q @ k.transpose(-2, -1) / divisor).softmax(dim=-1)


@contextmanager
def record_vit_attention(backbone: nn.Module):
    """Context manager collecting each attention layer's probabilities.

    Yields a list that, after a forward pass, holds one (N, heads, T, T) tensor per
    attention layer in forward order.
    """
    recorded: List[torch.Tensor] = []
    handles = [
        layer.register_forward_hook(lambda m, inp, out: recorded.append(
            _attention_probabilities(m, inp[0])))
        for layer in _attention_layers(backbone)
    ]
    try:
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


def attention_rollout(attentions: List[torch.Tensor],
                      num_extra_tokens: int = 1,
                      residual: float = 0.5) -> torch.Tensor:
    r"""Attention rollout: attention flow from the output back to the patches.

    Per layer, heads are averaged and the residual connection is modelled as
    :math:`\hat A_l = (1-r) \bar A_l + r I`, rows renormalised; the rollout is
    :math:`R = \hat A_L \cdots \hat A_1`. With a CLS token the patch relevance is
    :math:`R_{0, j}`; without one it is the mean over output tokens
    :math:`\frac{1}{T}\sum_i R_{i, j}`.

    Args:
        attentions (list[Tensor]): L tensors (N, heads, T, T).
        num_extra_tokens (int): leading non-patch tokens (CLS, ...). Defaults to 1.
        residual (float): weight r of the identity. Defaults to 0.5.

    Returns:
        Tensor: (N, P) relevance of each patch, P = T - num_extra_tokens.
    """
    rollout = None
    for attn in attentions:
        mean_attn = attn.mean(dim=1)
        eye = torch.eye(mean_attn.shape[-1], dtype=mean_attn.dtype,
                        device=mean_attn.device)
        layer = (1 - residual) * mean_attn + residual * eye
        layer = layer / layer.sum(dim=-1, keepdim=True)
        rollout = layer if rollout is None else layer @ rollout
    if num_extra_tokens > 0:
        return rollout[:, 0, num_extra_tokens:]
    return rollout.mean(dim=1)


def cls_attention(attention: torch.Tensor,
                  num_extra_tokens: int = 1) -> torch.Tensor:
    """Head-averaged attention of the CLS token (or mean query) to each patch.

    Args:
        attention (Tensor): (N, heads, T, T) one layer's attention.
        num_extra_tokens (int): leading non-patch tokens. Defaults to 1.

    Returns:
        Tensor: (N, P).
    """
    mean_attn = attention.mean(dim=1)
    if num_extra_tokens > 0:
        return mean_attn[:, 0, num_extra_tokens:]
    return mean_attn.mean(dim=1)


def _patch_grid(backbone: nn.Module, inputs: torch.Tensor, num_patches: int):
    """(h, w) patch grid of ``inputs``: from the patch stride, else square."""
    projection = getattr(getattr(backbone, 'patch_embed', None), 'projection',
                         None)
    if projection is not None and hasattr(projection, 'stride'):
        h = inputs.shape[-2] // projection.stride[0]
        w = inputs.shape[-1] // projection.stride[1]
        if h * w == num_patches:
            return h, w
    side = int(round(num_patches**0.5))
    if side * side != num_patches:
        raise ValueError(f'cannot lay {num_patches} patches on a grid')
    return side, side


@torch.no_grad()
def vit_saliency(backbone: nn.Module,
                 inputs: torch.Tensor,
                 method: str = 'rollout') -> torch.Tensor:
    """Patch-level saliency of a ViT backbone.

    Args:
        backbone (nn.Module): a module containing mmpretrain attention layers.
        inputs (Tensor): (N, 3, H, W) normalised images.
        method (str): ``'rollout'`` or ``'cls'`` (last-layer CLS attention).

    Returns:
        Tensor: (N, h, w) saliency on the patch grid.
    """
    num_extra = getattr(backbone, 'num_extra_tokens', 1)
    with record_vit_attention(backbone) as attentions:
        backbone(inputs)
    if not attentions:
        raise ValueError(f'{type(backbone).__name__} has no mmpretrain '
                         'MultiheadAttention layer to read attention from')
    if method == 'rollout':
        patch = attention_rollout(attentions, num_extra)
    elif method == 'cls':
        patch = cls_attention(attentions[-1], num_extra)
    else:
        raise ValueError(f"ViT saliency method must be 'rollout' or 'cls', "
                         f'got {method!r}')
    return patch.reshape(len(inputs), *_patch_grid(backbone, inputs,
                                                    patch.shape[1]))


class _PooledEmbedding(nn.Module):
    """Backbone -> (N, C) globally pooled last output, the Grad-CAM 'model'."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        out = self.backbone(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        return out.flatten(2).mean(-1) if out.ndim == 4 else out


def _default_cam_layer(backbone: nn.Module) -> nn.Module:
    """mmpretrain ResNet: the last block of the last stage; else the last conv."""
    res_layers = getattr(backbone, 'res_layers', None)
    if res_layers:
        return getattr(backbone, res_layers[-1])[-1]
    convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f'{type(backbone).__name__} has no Conv2d for Grad-CAM')
    return convs[-1]


def gradcam_saliency(backbone: nn.Module,
                     inputs: torch.Tensor,
                     target_layer: Optional[nn.Module] = None) -> torch.Tensor:
    """Grad-CAM of a CNN backbone w.r.t. the norm of its pooled embedding.

    Args:
        backbone (nn.Module): CNN backbone (e.g. mmpretrain ``ResNet``).
        inputs (Tensor): (N, 3, H, W) normalised images.
        target_layer (nn.Module, optional): layer whose activations are weighted;
            default the last residual block.

    Returns:
        Tensor: (N, H, W) CAM in [0, 1] per image (pytorch_grad_cam's scaling).
    """
    from pytorch_grad_cam import GradCAM

    target_layer = target_layer or _default_cam_layer(backbone)
    was_training = backbone.training
    # frozen weights still need a graph down to the activations: grad on input
    inputs = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        cam = GradCAM(model=_PooledEmbedding(backbone),
                      target_layers=[target_layer])
        try:
            maps = cam(input_tensor=inputs,
                       targets=[lambda emb: emb.norm()] * len(inputs))
        finally:
            cam.activations_and_grads.release()
    backbone.train(was_training)
    return torch.as_tensor(maps, dtype=torch.float32)


def model_saliency(backbone: nn.Module,
                   inputs: torch.Tensor,
                   method: str = 'auto') -> torch.Tensor:
    """Saliency of any supported backbone.

    Args:
        backbone (nn.Module): ViT-like or CNN backbone.
        inputs (Tensor): (N, 3, H, W) normalised images.
        method (str): ``'auto'`` (rollout for ViTs, Grad-CAM for CNNs),
            ``'rollout'``, ``'cls'`` or ``'gradcam'``.

    Returns:
        Tensor: (N, h, w) non-negative saliency at the method's native grid.
    """
    if method == 'auto':
        method = 'rollout' if is_vit(backbone) else 'gradcam'
    if method == 'gradcam':
        return gradcam_saliency(backbone, inputs).clamp_min(0)
    return vit_saliency(backbone, inputs, method).clamp_min(0)


def upsample_saliency(saliency: torch.Tensor, size) -> torch.Tensor:
    """Bilinearly resize (N, h, w) maps to ``size = (H, W)``."""
    return F.interpolate(
        saliency[:, None].float(), size=tuple(size), mode='bilinear',
        align_corners=False)[:, 0]
