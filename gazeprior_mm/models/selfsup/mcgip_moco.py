"""McGIP for MoCo: gaze neighbours in the key queue are extra positives."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import all_gather
from mmpretrain.models.selfsup.moco import MoCo
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample
from torch import nn

from gazeprior_mm.registry import MODELS
from .mcgip import GazeNeighbourPositives, gaze_positive_config


@MODELS.register_module()
class McGIPMoCo(MoCo):
    """MoCo (v2) with McGIP / GzPT gaze positives from the queue.

    Next to MoCo's ``queue`` (D, K) of keys, a ``queue_rows`` buffer (K,) holds the
    gaze-table row of every queued key, filled from the all-gathered rows of the
    batch in the same order as the keys (``-1`` = empty slot, never a positive).
    Logits of query ``i`` are ``[q_i . k_i | q_i . queue]`` and the positive
    weights ``[1 | W_i]`` with ``W = GazeNeighbourPositives(rows, queue_rows)``;
    the loss is :class:`~gazeprior_mm.models.heads.MultiPositiveContrastiveHead`
    (per-anchor multi-positive InfoNCE). With no gaze neighbours in the queue it
    equals mmpretrain's MoCo loss.

    Args:
        gaze_positives (dict): config of
            :class:`~gazeprior_mm.models.selfsup.mcgip.GazeNeighbourPositives`.
        backbone, neck, head, queue_len, feat_dim, momentum, pretrained,
        data_preprocessor, init_cfg: as :class:`mmpretrain.models.MoCo`;
            ``head`` must be a ``MultiPositiveContrastiveHead``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 gaze_positives: Union[dict, GazeNeighbourPositives],
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            queue_len=queue_len,
            feat_dim=feat_dim,
            momentum=momentum,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.gaze_positives = gaze_positive_config(gaze_positives)
        self.register_buffer('queue_rows',
                             torch.full((queue_len, ), -1, dtype=torch.long))

    @torch.no_grad()
    def _dequeue_and_enqueue(self, keys: torch.Tensor,
                             rows: Optional[torch.Tensor] = None) -> None:
        """Write the all-gathered keys (N, D) and their table rows (N,) at the
        queue pointer; both are gathered rank-major, so slot ``s`` of
        ``queue_rows`` always describes column ``s`` of ``queue``."""
        keys = torch.cat(all_gather(keys), dim=0)
        if rows is None:
            rows = torch.full((keys.size(0), ), -1, dtype=torch.long,
                              device=keys.device)
        else:
            rows = torch.cat(all_gather(rows), dim=0)
        batch_size = keys.shape[0]
        assert rows.shape[0] == batch_size
        ptr = int(self.queue_ptr)
        assert self.queue_len % batch_size == 0  # as MoCo, for simplicity
        self.queue[:, ptr:ptr + batch_size] = keys.transpose(0, 1)
        self.queue_rows[ptr:ptr + batch_size] = rows
        self.queue_ptr[0] = (ptr + batch_size) % self.queue_len

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Multi-positive MoCo loss.

        Args:
            inputs (list[torch.Tensor]): query and key views, each (B, C, H, W).
            data_samples (list[DataSample]): B samples with ``img_id`` or
                ``sample_idx``.

        Returns:
            dict: ``loss`` and ``num_gaze_pos`` (mean gaze positives per query in
            the queue, detached).
        """
        assert isinstance(inputs, list)
        im_q, im_k = inputs[0], inputs[1]
        q = nn.functional.normalize(self.neck(self.backbone(im_q))[0], dim=1)
        with torch.no_grad():
            self.encoder_k.update_parameters(
                nn.Sequential(self.backbone, self.neck))
            im_k, idx_unshuffle = batch_shuffle_ddp(im_k)
            k = nn.functional.normalize(self.encoder_k(im_k)[0], dim=1)
            k = batch_unshuffle_ddp(k, idx_unshuffle)

        rows = self.gaze_positives.rows(data_samples).to(q.device)
        queue = self.queue.clone().detach()
        similarity = torch.cat([(q * k).sum(1, keepdim=True), q @ queue], dim=1)
        gaze = self.gaze_positives(rows, self.queue_rows.clone())
        pos_weight = torch.cat([torch.ones_like(gaze[:, :1]), gaze], dim=1)
        loss = self.head.loss(similarity, pos_weight.to(similarity.dtype))
        self._dequeue_and_enqueue(k, rows)
        num_gaze = (gaze > 0).sum(1).float().mean()
        return dict(loss=loss, num_gaze_pos=num_gaze.detach())
