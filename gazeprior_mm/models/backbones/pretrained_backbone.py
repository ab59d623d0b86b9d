"""The backbone a checkpoint was pre-trained with, frozen, for probes."""
import copy
from typing import Optional

import torch.nn as nn
from mmengine.config import Config

from gazeprior_mm.registry import MODELS
from gazeprior_mm.utils.checkpoint import load_checkpoint_safely


def pretraining_config(checkpoint: str) -> Config:
    """The config a run saved into its checkpoint (``meta['cfg']``, as mmengine's
    runner writes it)."""
    meta = load_checkpoint_safely(checkpoint).get('meta') or {}
    text = meta.get('cfg')
    if not text:
        raise ValueError(
            f'{checkpoint}: the checkpoint carries no config (meta["cfg"]), so '
            'the backbone it was trained with is unknown; give the probe an '
            'explicit backbone config instead of PretrainedBackbone')
    return Config.fromstring(text, '.py')


def check_backbone_weights(backbone: nn.Module, state: dict,
                           checkpoint: str, prefix: str) -> None:
    """Raise unless ``state`` fits ``backbone`` exactly (same keys and shapes).

    mmengine's ``Pretrained`` init only warns on missing or unexpected keys, and a
    probe that silently keeps random weights reads as a bad method, not a bug.
    """
    own = backbone.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state)
                      if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or reshaped:
        def head(keys):
            return f'{keys[:5]}{" ..." if len(keys) > 5 else ""} ({len(keys)})'
        raise ValueError(
            f'{checkpoint}: the {prefix!r} weights do not fit the probe backbone: '
            f'missing {head(missing)}, unexpected {head(unexpected)}, other '
            f'shape {head(reshaped)}')


@MODELS.register_module()
def PretrainedBackbone(checkpoint: str,
                       prefix: str = 'backbone.',
                       pretrain_config: Optional[str] = None,
                       **overrides) -> nn.Module:
    """Build the backbone of a pre-training run, frozen, with its weights.

    The architecture (depth, strides, widths, patch size, ...) is read from the
    pre-training config, so the probe evaluates the network that was trained: a
    ResNet-18 pre-trained with strides (1, 2, 2, 1) is probed with those strides,
    not with mmpretrain's (1, 2, 2, 2). All stages are frozen (BatchNorm in eval
    mode), ViTs give the mean of their patch tokens
    (:func:`gazeprior_mm.evaluation.runs.probe_backbone_cfg`). The weights must
    fit exactly: missing, unexpected or reshaped keys are an error naming the
    checkpoint. They are loaded by ``init_weights`` through mmengine's
    ``Pretrained`` initialiser, as in mmpretrain's own linear-probe configs.

    Use it as the backbone of an mmpretrain ``ImageClassifier``::

        backbone=dict(type='PretrainedBackbone', checkpoint='epoch_20.pth')

    Args:
        checkpoint (str): the pre-training checkpoint.
        prefix (str): key prefix of the backbone in its state dict.
        pretrain_config (str, optional): the pre-training config file; by default
            the config saved in the checkpoint (``meta['cfg']``).
        **overrides: backbone arguments to change (e.g. ``out_indices``).

    Returns:
        nn.Module: the backbone (an mmpretrain ``ResNet``, ``VisionTransformer``,
        ...), weights checked against ``checkpoint``.
    """
    from gazeprior_mm.evaluation.runs import probe_backbone_cfg
    if not checkpoint:
        raise ValueError('PretrainedBackbone needs a checkpoint (set '
                         'model.backbone.checkpoint)')
    cfg = (Config.fromfile(pretrain_config) if pretrain_config
           else pretraining_config(checkpoint))
    ckpt = load_checkpoint_safely(checkpoint)
    state = ckpt.get('state_dict', ckpt)
    # checked against the network as it was trained; the probe's output type
    # may add parameter-free or fresh layers (a ViT's avg_featmap norm)
    trained = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    check_backbone_weights(
        trained, {k[len(prefix):]: v for k, v in state.items()
                  if k.startswith(prefix)}, checkpoint, prefix)
    backbone_cfg = probe_backbone_cfg(cfg)
    backbone_cfg.update(copy.deepcopy(overrides))
    backbone = MODELS.build(dict(backbone_cfg, init_cfg=None))
    # ResNet / ViT skip their own (random, zero-init-residual) initialisation
    # when their init_cfg is 'Pretrained'
    backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                             prefix=prefix)
    return backbone
