"""A model for the test loop that outputs saliency maps instead of predictions."""
from typing import List, Optional

import torch
from mmengine.model import BaseModel

from gazeprior_mm.registry import MODELS
from .attention import model_saliency


@MODELS.register_module()
class GazeAttentionProbe(BaseModel):
    """Frozen backbone whose ``predict`` writes ``saliency_map`` into each sample.

    Lets ``GazeAlignmentMetric`` run in mmengine's test loop
    (``tools/test.py CONFIG CKPT``) on a pre-trained backbone: build it with the
    pre-training config's ``backbone`` and load the checkpoint with
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.

    Args:
        backbone (dict): backbone config (ViT-like or CNN).
        method (str): saliency method of
            :func:`gazeprior_mm.evaluation.attention.model_saliency`:
            ``'auto'``, ``'rollout'``, ``'cls'`` or ``'gradcam'``.
        data_preprocessor (dict, optional): default ``ClsDataPreprocessor`` with
            ImageNet statistics in RGB order.
        init_cfg (dict, optional): e.g. the ``Pretrained`` loader above.
    """

    def __init__(self,
                 backbone: dict,
                 method: str = 'auto',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = data_preprocessor or dict(
            type='ClsDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True)
        if isinstance(data_preprocessor, dict):
            # mmengine's BaseModel would look it up in mmengine's registry
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.method = method

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'predict'):
        """``predict``: (N, 3, H, W) -> samples with ``saliency_map`` (h, w);
        ``tensor``: the (N, h, w) saliency. There is no ``loss`` mode."""
        if mode not in ('predict', 'tensor'):
            raise RuntimeError(f'GazeAttentionProbe has no {mode!r} mode: it '
                               'only evaluates a frozen backbone')
        self.backbone.eval()
        saliency = model_saliency(self.backbone, inputs, self.method)
        if mode == 'tensor':
            return saliency
        for sample, sal in zip(data_samples, saliency.detach().cpu()):
            sample.set_field(sal, 'saliency_map', field_type='data')
        return data_samples
