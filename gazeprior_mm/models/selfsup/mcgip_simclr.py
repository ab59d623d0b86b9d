"""McGIP for SimCLR: gaze neighbours in the batch are extra positives."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import all_gather
from mmpretrain.models.selfsup.simclr import GatherLayer, SimCLR
from mmpretrain.structures import DataSample

from gazeprior_mm.registry import MODELS
from .mcgip import GazeNeighbourPositives, gaze_positive_config


def simclr_positive_weights(image_rows: torch.Tensor,
                            gaze_weights: torch.Tensor) -> torch.Tensor:
    """Positive weights of the interleaved SimCLR batch.

    mmpretrain's SimCLR stacks the two views per image and gathers ranks in
    order, so row ``r`` of the (2N, 2N) similarity is view ``r % 2`` of image
    ``r // 2`` (rank-major). Positives of ``r``: the other view of the same image
    (weight 1) and both views of every gaze neighbour ``j`` of its image (weight
    ``gaze_weights[r // 2, j]``); never ``r`` itself.

    Args:
        image_rows (torch.Tensor): long (N,) any per-image key (only the count
            and device are used; kept for clarity of the call site).
        gaze_weights (torch.Tensor): float (N, N) image-level gaze positive
            weights, diagonal ignored.

    Returns:
        torch.Tensor: float (2N, 2N).
    """
    num = len(image_rows)
    eye = torch.eye(num, dtype=torch.bool, device=gaze_weights.device)
    image_level = torch.where(eye, torch.ones_like(gaze_weights), gaze_weights)
    views = image_level.repeat_interleave(2, 0).repeat_interleave(2, 1)
    return views.fill_diagonal_(0)


@MODELS.register_module()
class McGIPSimCLR(SimCLR):
    """SimCLR with McGIP / GzPT gaze positives.

    The loss is :class:`~gazeprior_mm.models.heads.MultiPositiveContrastiveHead`
    over the (2N, 2N) cosine similarities of the gathered, interleaved views,
    self-similarity excluded from the softmax, with the positive weights of
    :func:`simclr_positive_weights`. Table rows of the samples are all-gathered in
    the same rank order as ``GatherLayer`` gathers the features. With no gaze
    neighbours in the batch it equals mmpretrain's SimCLR loss.

    Args:
        gaze_positives (dict): config of
            :class:`~gazeprior_mm.models.selfsup.mcgip.GazeNeighbourPositives`
            (``neighbour_file``, ``threshold``, ``drop_prob`` ...).
        backbone, neck, head, pretrained, data_preprocessor, init_cfg: as
            :class:`mmpretrain.models.SimCLR`; ``head`` must be a
            ``MultiPositiveContrastiveHead``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 gaze_positives: Union[dict, GazeNeighbourPositives],
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.gaze_positives = gaze_positive_config(gaze_positives)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Multi-positive SimCLR loss.

        Args:
            inputs (list[torch.Tensor]): two views, each (B, C, H, W).
            data_samples (list[DataSample]): B samples with ``img_id`` or
                ``sample_idx``.

        Returns:
            dict: ``loss`` and ``num_gaze_pos`` (mean gaze positives per anchor,
            detached, for logging).
        """
        assert isinstance(inputs, list) and len(inputs) == 2
        views = torch.stack(inputs, 1).flatten(0, 1)  # (2B, C, H, W), interleaved
        z = self.neck(self.backbone(views))[0]
        z = z / (torch.norm(z, p=2, dim=1, keepdim=True) + 1e-10)
        z = torch.cat(GatherLayer.apply(z), dim=0)  # (2N, D), rank-major
        rows = self.gaze_positives.rows(data_samples).to(z.device)
        rows = torch.cat(all_gather(rows))  # same rank order as GatherLayer
        assert z.size(0) == 2 * rows.size(0)

        similarity = z @ z.T
        not_self = ~torch.eye(len(z), dtype=torch.bool, device=z.device)
        gaze = self.gaze_positives(rows, rows, sync_drop=True)
        pos_weight = simclr_positive_weights(rows, gaze.to(z.dtype))
        loss = self.head.loss(similarity, pos_weight, not_self)
        num_gaze = (pos_weight > 0).sum(1).float().mean() - 1
        return dict(loss=loss, num_gaze_pos=num_gaze.detach())
