"""Mapping coordinates between pixel grids of the same image (DICOM -> stored JPG)."""
import numpy as np


def map_points_to_grid(points, src_size, dst_size):
    """Map ``x, y`` pixel coordinates from one grid of an image to another.

    Pixel centres sit at integer coordinates (docs/interfaces.md), so the mapping
    aligns pixel *edges*: with ``s_x = W_dst / W_src`` and ``s_y = H_dst / H_src``,

    .. math::  x' = (x + 0.5)\\,s_x - 0.5, \\qquad y' = (y + 0.5)\\,s_y - 0.5.

    Axes scale independently (a stored copy may not keep the exact aspect ratio).
    The identity when both sizes are equal.

    Args:
        points (array-like): (K, 2+) ``x, y`` first; extra columns (e.g.
            durations) are passed through unchanged.
        src_size (tuple[int, int]): ``(H, W)`` of the grid the points are in.
        dst_size (tuple[int, int]): ``(H, W)`` of the target grid.

    Returns:
        np.ndarray: float64, same shape as ``points``.
    """
    pts = np.array(points, dtype=np.float64, ndmin=2)  # a copy
    scale = np.array([dst_size[1] / src_size[1], dst_size[0] / src_size[0]])
    pts[:, :2] = (pts[:, :2] + 0.5) * scale - 0.5
    return pts


def inside_image(points, size):
    """Bool mask (K,): ``0 <= x <= W - 1`` and ``0 <= y <= H - 1`` (pixel centres)."""
    pts = np.array(points, dtype=np.float64, ndmin=2)
    h, w = size
    return ((pts[:, 0] >= 0) & (pts[:, 0] <= w - 1)
            & (pts[:, 1] >= 0) & (pts[:, 1] <= h - 1))
