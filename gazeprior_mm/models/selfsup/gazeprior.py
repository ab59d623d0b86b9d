"""GazePrior: gaze-gated, gaze-weighted patch contrast between two views."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from gazeprior_mm.registry import MODELS
from ..necks.ggam import tokens_on_grid
from ..utils.correspondence import patch_correspondence

PAIRINGS = ('geometry', 'same_index')


@MODELS.register_module()
class GazePrior(BaseSelfSupervisor):
    r"""GazePrior self-supervised pre-training.

    Both views go through the backbone in one batch; the last feature map is pooled
    to the M x M gaze grid, gated by :class:`GGAM` (the ``neck``) with each view's
    :math:`\tilde g` (or inside the backbone after layer ``ggam_insert_after``),
    projected per patch by :class:`GWCLHead` and contrasted by its
    :class:`GWCLLoss`. Losses:

    .. math::

        \mathcal L = \mathcal L_{GWCL} + \lambda\|W_{proj}\|^2
        + \beta\,\mathrm{KL}(q \,\|\, \hat q) \;[+ \mathcal L_{global}]

    where the third term (``loss_gaze_pred``, weight ``gaze_pred_weight`` =
    :math:`\beta`) trains GGAM's gaze-prediction branch on views that have gaze,
    and the optional last one (``global_head``, :class:`GazePooledContrastHead`)
    is an image-level InfoNCE between the two views' gaze-weighted pooled tokens,
    with the batch's other images as negatives.

    **Pairing.** ``'geometry'`` (default): view-1 patch i is paired with the view-2
    patch m(i) covering the image point at its centre (from each view's
    ``crop_box`` and ``flip``, see :func:`patch_correspondence`); view-1 patches whose
    point lies outside view 2 (``valid``) and view-2 patches outside view 1
    (``valid2``, the same map in the other direction) get weight 0, but every view-2
    patch stays a negative of the softmax (no patch is duplicated or dropped from it).
    ``'same_index'``: the seed's pairing of equal grid indices, nothing masked.
    With ``pair_weight='product'`` pairing only decides which patches (the overlap)
    carry weight; with ``'matched'`` it also decides the positives.

    **Views without gaze** (image without gaze, or a crop keeping too little of it,
    ``has_gaze`` False) use GGAM's detached gaze prediction as :math:`\tilde g`,
    both for the gate and the loss weights.

    Args:
        backbone (dict): backbone config; must output a feature map (ViT with
            ``out_type='featmap'``, ResNet).
        neck (dict): :class:`GGAM` config; its ``grid`` defaults to the model's.
        head (dict): :class:`GWCLHead` config (its ``loss``: :class:`GWCLLoss`).
        grid (int): M, must equal the packer's ``grid`` (and GGAM's). Defaults
            to 14.
        pairing (str): ``'geometry'`` or ``'same_index'``.
        gaze_pred_weight (float): β. Defaults to 1.0.
        ggam_insert_after (int, optional): gate inside the backbone after ViT block /
            ResNet stage k (index into ``backbone.layers`` or ``res_layers``)
            instead of after the backbone. Defaults to None.
        global_head (dict, optional): :class:`GazePooledContrastHead` config for
            the image-level term on the (gated) output tokens. Defaults to None.
        data_preprocessor (dict, optional), init_cfg (dict, optional): as
            :class:`BaseSelfSupervisor`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 grid: int = 14,
                 pairing: str = 'geometry',
                 gaze_pred_weight: float = 1.0,
                 ggam_insert_after: Optional[int] = None,
                 global_head: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if pairing not in PAIRINGS:
            raise ValueError(f'pairing must be one of {PAIRINGS}, got {pairing!r}')
        # the model owns M: GGAM gets it unless its config says otherwise, and a
        # config that says otherwise is an error here rather than at the first step
        neck = dict(neck)
        if neck.setdefault('grid', grid) != grid:
            raise ValueError(f"GGAM grid {neck['grid']} != GazePrior grid {grid}")
        super().__init__(backbone=backbone, neck=neck, head=head,
                         pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.grid = grid
        self.pairing = pairing
        self.gaze_pred_weight = gaze_pred_weight
        self.ggam_insert_after = ggam_insert_after
        self.global_head = MODELS.build(global_head) if global_head else None
        # the hook reads the gaze of the batch being forwarded; set in
        # _backbone_tokens and cleared right after, never carried across calls
        self._hook_gaze: Optional[Dict[str, torch.Tensor]] = None
        self._hook_out: Optional[Dict[str, torch.Tensor]] = None
        if ggam_insert_after is not None:
            self._inner_layer(ggam_insert_after).register_forward_hook(
                self._gate_inside)

    def _inner_layer(self, index: int) -> torch.nn.Module:
        backbone = self.backbone
        if hasattr(backbone, 'res_layers'):
            return getattr(backbone, backbone.res_layers[index])
        if hasattr(backbone, 'layers'):
            return backbone.layers[index]
        raise TypeError(f'{type(backbone).__name__}: cannot insert GGAM inside '
                        '(no res_layers / layers)')

    def _gate_inside(self, module, args, output):
        if self._hook_gaze is None:  # plain backbone use (e.g. extract_feat)
            return output
        extra = getattr(self.backbone, 'num_extra_tokens', 0) \
            if output.dim() == 3 else 0
        result = self.neck(output, **self._hook_gaze, num_extra_tokens=extra)
        self._hook_out = result
        return result['out']

    def _backbone_tokens(self, images: torch.Tensor,
                         gaze: Optional[torch.Tensor],
                         has_gaze: Optional[torch.Tensor]) -> Dict:
        """Backbone + GGAM: (N, 3, H, W) -> gated (N, P, C) tokens and gaze info."""
        if self.ggam_insert_after is None:
            tokens = tokens_on_grid(self.backbone(images)[-1], self.grid)
            return self.neck(tokens, gaze, has_gaze)
        self._hook_gaze = dict(gaze=gaze, has_gaze=has_gaze)
        try:
            tokens = tokens_on_grid(self.backbone(images)[-1], self.grid)
            result = dict(self._hook_out)
        finally:
            self._hook_gaze, self._hook_out = None, None
        result['out'] = tokens
        return result

    def extract_feat(self, inputs: torch.Tensor, **kwargs) -> tuple:
        """Backbone features, as mmpretrain's algorithms (no gating)."""
        return self.backbone(inputs)

    def predict_gaze(self, inputs: torch.Tensor) -> torch.Tensor:
        """Predicted gaze weights for images without gaze (test time).

        Args:
            inputs (Tensor): (N, 3, H, W) preprocessed images.

        Returns:
            Tensor: (N, P) :math:`\\hat q / \\max \\hat q` in (0, 1].
        """
        result = self._backbone_tokens(inputs, None, None)
        if result['gaze_logits'] is None:
            raise RuntimeError('GGAM was built with predict_gaze=False')
        return result['gaze']

    def _gaze_prediction_loss(self, logits: Optional[torch.Tensor],
                              gaze: torch.Tensor,
                              has_gaze: torch.Tensor) -> torch.Tensor:
        r""":math:`\beta\,\mathrm{KL}(q \| \hat q)` averaged over views with gaze."""
        if logits is None or self.gaze_pred_weight == 0:
            return gaze.new_zeros(())
        target = gaze / gaze.sum(-1, keepdim=True).clamp_min(1e-12)
        kl = F.kl_div(logits.log_softmax(-1), target, reduction='none').sum(-1)
        mask = has_gaze.float()
        return self.gaze_pred_weight * (kl * mask).sum() / mask.sum().clamp_min(1.)

    @staticmethod
    def _stack(data_samples: List[DataSample], key: str) -> torch.Tensor:
        """Stack one per-view field of every sample, (N, V, ...)."""
        values = [sample.get(key) for sample in data_samples]
        missing = [i for i, v in enumerate(values) if v is None]
        if missing and 'gaze_pending' in data_samples[missing[0]]:
            raise KeyError(
                f'data sample {missing[0]} has no {key!r} yet: it was packed with '
                'PackGazeInputs(defer_targets=True), whose gaze fields the batch '
                "collate computes: set the dataloader's collate_fn=dict("
                "_delete_=True, type='gaze_collate')")
        if missing:
            raise KeyError(f'data sample {missing[0]} has no {key!r} (and '
                           f'{len(missing) - 1} more): pack the views with '
                           'PackGazeInputs')
        return torch.stack([torch.as_tensor(v) for v in values])

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        """Two views -> GWCL + projector penalty + gaze-prediction loss.

        Args:
            inputs (list[Tensor]): two (N, 3, H, W) views.
            data_samples (list[DataSample]): per image ``gaze_weights`` (2, P),
                ``has_gaze`` (2,), ``crop_box`` (2, 4), ``flip`` (2,).

        Returns:
            dict: ``loss_gwcl``, ``loss_reg``, ``loss_gaze_pred`` (and
            ``loss_global`` with a ``global_head``).
        """
        if len(inputs) != 2:
            raise ValueError(f'GazePrior needs 2 views, got {len(inputs)}')
        num_images = inputs[0].shape[0]
        device = inputs[0].device
        gaze = self._stack(data_samples, 'gaze_weights').to(device).float()
        has_gaze = self._stack(data_samples, 'has_gaze').to(device).bool()
        if gaze.shape[-1] != self.grid * self.grid:
            raise ValueError(f'gaze_weights have {gaze.shape[-1]} patches, the '
                             f'model a {self.grid}x{self.grid} grid: set '
                             'PackGazeInputs(grid=...) to the model grid')
        # views stacked view-major: rows [0, N) view 1, [N, 2N) view 2
        images = torch.cat(inputs, dim=0)
        view_gaze = gaze.transpose(0, 1).flatten(0, 1)
        view_has_gaze = has_gaze.transpose(0, 1).flatten()
        result = self._backbone_tokens(images, view_gaze, view_has_gaze)

        z = self.head(result['out'])
        g = result['gaze']
        z1, z2 = z[:num_images], z[num_images:]
        g1, g2 = g[:num_images], g[num_images:]
        pairs = dict(valid=None, match=None, valid2=None)
        if self.pairing == 'geometry':
            crop_box = self._stack(data_samples, 'crop_box').to(device)
            flip = self._stack(data_samples, 'flip').to(device)
            pairs['match'], pairs['valid'] = patch_correspondence(
                crop_box[:, 0], flip[:, 0], crop_box[:, 1], flip[:, 1], self.grid)
            _, pairs['valid2'] = patch_correspondence(
                crop_box[:, 1], flip[:, 1], crop_box[:, 0], flip[:, 0], self.grid)
        # negatives='batch' gathers across ranks inside the loss
        losses = self.head.loss(z1, z2, g1, g2, **pairs)
        losses['loss_gaze_pred'] = self._gaze_prediction_loss(
            result['gaze_logits'], view_gaze, view_has_gaze)
        if self.global_head is not None:
            q = self.global_head(result['out'], g)
            losses.update(self.global_head.loss(q[:num_images], q[num_images:]))
        return losses
