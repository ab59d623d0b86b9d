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


#: Readable names of the saliency methods of
#: :func:`gazeprior_mm.evaluation.attention.model_saliency`, for figure titles.
SALIENCY_METHOD_NAMES = {
    'rollout': 'attention rollout',
    'cls': 'last-layer CLS attention',
    'gradcam': 'Grad-CAM',
}

#: Gaze contour levels drawn on the overlay (fractions of the gaze maximum).
GAZE_CONTOUR_LEVELS = (0.25, 0.5, 0.75)


def draw_gaze_attention(image: np.ndarray,
                        gaze_map: Optional[np.ndarray],
                        saliency: np.ndarray,
                        out_file: str,
                        fixations: Optional[np.ndarray] = None,
                        boxes: Optional[np.ndarray] = None,
                        scores: Optional[Dict[str, float]] = None,
                        title: Optional[str] = None,
                        dpi: int = 100,
                        method: Optional[str] = None,
                        labels: Optional[Sequence[str]] = None) -> str:
    """Write a 4-panel PNG: image, gaze heatmap (+ fixations), saliency, overlay.

    The figure is meant to be read without the code: the gaze and saliency panels
    carry colour bars (both maps are min-max normalised per image, so the bar says
    what the colours mean), the overlay has a legend for the lesion boxes and the gaze
    contours, the saliency panel names the attention method actually used (``auto``
    is resolved by the caller) and the image panel lists the image's positive labels.

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
        method (str, optional): the saliency method used, a key of
            :data:`SALIENCY_METHOD_NAMES` (shown by its readable name) or any
            text; shown in the saliency panel's title.
        labels (Sequence[str], optional): the image's positive labels (class
            names, e.g. ``['Lung Lesion', 'Lung Opacity']``); an empty list is
            shown as "none positive".

    Returns:
        str: ``out_file``.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    image = np.asarray(image)
    shape = image.shape[:2]
    gray = image.ndim == 2 or image.shape[-1] == 1
    shown = image.reshape(shape) if gray else image
    sal = _normalise(_resize_to(saliency, shape))
    gaze = None if gaze_map is None else _normalise(_resize_to(gaze_map, shape))
    method_name = SALIENCY_METHOD_NAMES.get(method, method) if method else None

    fig, axes = plt.subplots(1, 4, figsize=(14, 4.2))
    sal_title = 'model saliency' + (f'\n({method_name})' if method_name else '')
    panels = [('image', None), ('gaze', gaze), (sal_title, sal),
              ('overlay', None)]
    for ax, (name, heat) in zip(axes, panels):
        ax.imshow(shown, cmap='gray' if gray else None)
        ax.set_axis_off()
        ax.set_title(name, fontsize=9)
        if heat is not None:
            ax.imshow(heat, cmap='jet', alpha=0.5, vmin=0, vmax=1)
    if gaze is None:
        axes[1].set_title('gaze (none recorded)', fontsize=9)
    if labels is not None:
        text = ', '.join(labels) if len(labels) else 'none positive'
        axes[0].set_title('image\nlabels: ' + text, fontsize=8, wrap=True)
    if fixations is not None and len(fixations):
        fixations = np.asarray(fixations)
        axes[1].scatter(fixations[:, 0], fixations[:, 1], s=8, c='white',
                        edgecolors='black', linewidths=0.5)
    # overlay: saliency in colour, gaze as contours, lesions as boxes
    axes[3].imshow(sal, cmap='jet', alpha=0.45, vmin=0, vmax=1)
    handles = []
    if gaze is not None and gaze.max() > 0:
        axes[3].contour(gaze, levels=list(GAZE_CONTOUR_LEVELS),
                        colors='white', linewidths=0.8)
        handles.append(Line2D(
            [], [], color='white', lw=1,
            label='gaze contours (' + '/'.join(
                f'{int(100 * lv)}' for lv in GAZE_CONTOUR_LEVELS)
            + ' % of max)'))
    if boxes is not None and len(np.asarray(boxes).reshape(-1, 4)):
        for x, y, w, h in np.asarray(boxes).reshape(-1, 4):
            axes[3].add_patch(mpatches.Rectangle(
                (x, y), w, h, fill=False, edgecolor='lime', linewidth=1.2))
        handles.append(mpatches.Patch(fill=False, edgecolor='lime',
                                      label='lesion box'))
    handles.append(mpatches.Patch(color=plt.cm.jet(0.9),
                                  label='saliency (colours as its bar)'))
    # below the image, on a dark background so that the white contour reads
    legend = axes[3].legend(handles=handles, loc='upper center',
                            bbox_to_anchor=(0.5, -0.02), fontsize=7,
                            ncol=1, facecolor='0.25', framealpha=1.0)
    for text in legend.get_texts():
        text.set_color('white')
    if scores:
        axes[3].set_title('overlay\n' + '  '.join(
            f'{k}={v:.2f}' for k, v in scores.items()), fontsize=8)
    norm = Normalize(0, 1)
    for ax, what in ((axes[1], 'gaze (0 = min, 1 = max)'),
                     (axes[2], 'saliency (0 = min, 1 = max)')):
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap='jet'), ax=ax,
                           fraction=0.046, pad=0.02)
        bar.set_label(what, fontsize=7)
        bar.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=dpi, bbox_inches='tight')  # keep the legend
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
