"""Geometry-aware patch correspondence between two augmented views."""
from typing import Tuple

import torch

from gazeprior_mm.gaze.geometry import (source_to_view_fraction,
                                        view_fraction_to_source)


def _patch_centres(grid: int, device: torch.device) -> torch.Tensor:
    """(P, 2) centres (u, v) of the patches of an M x M grid in [0, 1], row-major."""
    centres = (torch.arange(grid, device=device, dtype=torch.float32) + 0.5) / grid
    v, u = torch.meshgrid(centres, centres, indexing='ij')
    return torch.stack([u.flatten(), v.flatten()], dim=-1)


def patch_correspondence(crop_box1: torch.Tensor, flip1: torch.Tensor,
                         crop_box2: torch.Tensor, flip2: torch.Tensor,
                         grid: int) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""For each patch of view 1, the patch of view 2 that shows the same image point.

    A view with crop box :math:`(x_0, y_0, x_1, y_1)` (source-image box coordinates,
    the source spans :math:`[0, W] \times [0, H]`) and horizontal flip :math:`f` maps
    its normalised position :math:`(u, v) \in [0, 1]^2` to a source point by the
    convention of :mod:`gazeprior_mm.gaze.geometry`
    (:func:`~gazeprior_mm.gaze.geometry.view_fraction_to_source`).

    The centre of patch :math:`i` of view 1 is mapped to the source and back into
    view 2 (inverse map); the view-2 patch containing it is the match, invalid when
    the point falls outside view 2.

    Args:
        crop_box1 (Tensor): (N, 4) view-1 boxes x0, y0, x1, y1.
        flip1 (Tensor): (N,) bool, view 1 flipped horizontally.
        crop_box2 (Tensor): (N, 4) view-2 boxes.
        flip2 (Tensor): (N,) bool.
        grid (int): M, patches per side (P = M * M).

    Returns:
        tuple[Tensor, Tensor]: ``index`` (N, P) long, the row-major view-2 patch
        matched to each view-1 patch (0 where invalid), and ``valid`` (N, P) bool.
    """
    centres = _patch_centres(grid, crop_box1.device)  # (P, 2)
    # (N, 1, 4) boxes and (N, 1) flips against the (1, P) patch centres
    x, y = view_fraction_to_source(centres[None, :, 0], centres[None, :, 1],
                                   crop_box1.float()[:, None, :],
                                   flip1.float()[:, None])
    u2, v2 = source_to_view_fraction(x, y, crop_box2.float()[:, None, :],
                                     flip2.float()[:, None])
    valid = (u2 >= 0) & (u2 < 1) & (v2 >= 0) & (v2 < 1)
    col = (u2 * grid).floor().clamp(0, grid - 1).long()
    row = (v2 * grid).floor().clamp(0, grid - 1).long()
    index = torch.where(valid, row * grid + col, torch.zeros_like(col))
    return index, valid
