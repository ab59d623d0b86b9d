"""Gaze-versus-attention figure: image | gaze | model saliency | overlay."""
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import matplotlib

matplotlib.use('Agg')  # files only; no display on CPU nodes / CI
import matplotlib.patches as mpatches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _resize_to(map_2d: np.ndarray, shape) -> np.ndarray:
    import cv2
    map_2d = np.asarray(map_2d, dtype=np.float32)
    if map_2d.shape == tuple(shape):
        return map_2d
    return cv2.resize(map_2d, (shape[1], shape[0]),
                      interpolation=cv2.INTER_LINEAR)


def _normalise(map_2d: np.ndarray) -> np.ndarray:
    lo, hi = float(map_2d.min()), float(map_2d.max())
    return (map_2d - lo) / (hi - lo) if hi > lo else np.zeros_like(map_2d)


def draw_gaze_attention(image: np.ndarray,
                        gaze_map: Optional[np.ndarray],
                        saliency: np.ndarray,
                        out_file: str,
                        fixations: Optional[np.ndarray] = None,
                        boxes: Optional[np.ndarray] = None,
                        scores: Optional[Dict[str, float]] = None,
                        title: Optional[str] = None,
                        dpi: int = 100) -> str:
    """Write a 4-panel PNG: image, gaze heatmap (+ fixations), saliency, overlay.

    Args:
        image (np.ndarray): (H, W) or (H, W, 3) uint8/float image (RGB).
        gaze_map (np.ndarray, optional): (H', W') gaze heatmap; None = no gaze.
        saliency (np.ndarray): (h, w) model saliency, any resolution (resized).
        out_file (str): PNG path; parent folders are created.
        fixations (np.ndarray, optional): (K, 2) x, y in image pixels.
        boxes (np.ndarray, optional): (K, 4) COCO x, y, w, h lesion boxes.
        scores (dict, optional): numbers for the overlay's title (e.g. ρ, EMD).
        title (str, optional): figure title.
        dpi (int): resolution.

    Returns:
        str: ``out_file``.
    """
    image = np.asarray(image)
    shape = image.shape[:2]
    gray = image.ndim == 2 or image.shape[-1] == 1
    shown = image.reshape(shape) if gray else image
    sal = _normalise(_resize_to(saliency, shape))
    gaze = None if gaze_map is None else _normalise(_resize_to(gaze_map, shape))

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    panels = [('image', None), ('gaze', gaze), ('model saliency', sal),
              ('overlay', None)]
    for ax, (name, heat) in zip(axes, panels):
        ax.imshow(shown, cmap='gray' if gray else None)
        ax.set_axis_off()
        ax.set_title(name)
        if name in ('gaze', 'model saliency') and heat is not None:
            ax.imshow(heat, cmap='jet', alpha=0.5, vmin=0, vmax=1)
        if name == 'gaze' and gaze is None:
            ax.set_title('gaze (none)')
    if fixations is not None and len(fixations):
        fixations = np.asarray(fixations)
        axes[1].scatter(fixations[:, 0], fixations[:, 1], s=8, c='white',
                        edgecolors='black', linewidths=0.5)
    # overlay: saliency in colour, gaze as contours, lesions as boxes
    axes[3].imshow(sal, cmap='jet', alpha=0.45, vmin=0, vmax=1)
    if gaze is not None and gaze.max() > 0:
        axes[3].contour(gaze, levels=[0.25, 0.5, 0.75], colors='white',
                        linewidths=0.8)
    if boxes is not None:
        for x, y, w, h in np.asarray(boxes).reshape(-1, 4):
            axes[3].add_patch(mpatches.Rectangle(
                (x, y), w, h, fill=False, edgecolor='lime', linewidth=1.2))
    if scores:
        axes[3].set_title('  '.join(f'{k}={v:.2f}' for k, v in scores.items()),
                          fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file


def draw_comparison_bars(methods: Dict[str, Dict[str, Dict[str, float]]],
                         metric_names: Sequence[str],
                         out_file: str,
                         dpi: int = 100) -> str:
    """Bar chart, one panel per metric, one bar (mean ± std) per method.

    Args:
        methods (dict): ``{method: {metric: {"mean": m, "std": s}}}`` as in
            ``results.json`` of ``tools/compare.py``.
        metric_names (Sequence[str]): metrics to plot, one panel each.
        out_file (str): PNG path.

    Returns:
        str: ``out_file``.
    """
    names = list(methods)
    fig, axes = plt.subplots(
        1, len(metric_names), figsize=(3.2 * len(metric_names), 3.6),
        squeeze=False)
    colours = plt.cm.tab10(np.arange(len(names)) % 10)
    for ax, metric in zip(axes[0], metric_names):
        means = np.array([methods[m].get(metric, {}).get('mean', np.nan)
                          for m in names], dtype=float)
        stds = np.array([methods[m].get(metric, {}).get('std', 0.) or 0.
                         for m in names], dtype=float)
        ax.bar(np.arange(len(names)), np.nan_to_num(means), yerr=stds,
               color=colours, capsize=3)
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=60, ha='right', fontsize=7)
        ax.set_title(metric)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file
