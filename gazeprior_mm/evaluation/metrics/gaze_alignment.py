r"""Agreement between where radiologists looked and where a model attends.

Three numbers per image (docs/design.md §6):

* **Spearman ρ** between the patch gaze weights g̃ (M×M grid) and the model's
  saliency pooled to the same grid;
* **EMD**, the exact 2-D Earth Mover's Distance (POT's network-simplex ``ot.emd2``)
  between the gaze heatmap and the saliency map, both pooled to a coarse G×G grid and
  normalised to unit mass, with ground distance in units of the image side
  (so 0 ≤ EMD ≤ √2);
* **NSS** (normalised scanpath saliency) at the patch level: the saliency pooled to
  the gaze grid, standardised per image (mean 0, std 1), averaged with the gaze
  mass as weights, :math:`\sum_i q_i (s_i - \bar s)/\sigma_s` with
  :math:`q = \tilde g / \sum \tilde g`: 0 is chance, higher is better;
* **pointing game**: whether the saliency peak falls inside a lesion box.

Images without gaze (or with an all-zero saliency) have no ρ/EMD and images without
lesions no pointing result; they are counted (``num_*``) and left out of the means.
"""
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import ot
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from scipy.stats import rankdata

from gazeprior_mm.gaze.geometry import source_to_view_fraction
from gazeprior_mm.registry import METRICS


def spearman_per_image(gaze_weights: np.ndarray,
                       attention: np.ndarray) -> np.ndarray:
    r"""Spearman rank correlation per row.

    .. math:: \rho_n = \mathrm{corr}(\mathrm{rank}(g_n), \mathrm{rank}(a_n))

    with average ranks for ties (as :func:`scipy.stats.spearmanr`).

    Args:
        gaze_weights (np.ndarray): (N, P) gaze weight per patch.
        attention (np.ndarray): (N, P) attention per patch, same patch order.

    Returns:
        np.ndarray: (N,) ρ; NaN for a row where either input is constant.
    """
    gaze_weights = np.asarray(gaze_weights, dtype=np.float64)
    attention = np.asarray(attention, dtype=np.float64)
    if gaze_weights.shape != attention.shape or gaze_weights.ndim != 2:
        raise ValueError(f'gaze_weights {gaze_weights.shape} and attention '
                         f'{attention.shape} must both be (N, P)')
    rank_g = rankdata(gaze_weights, axis=1)
    rank_a = rankdata(attention, axis=1)
    rank_g -= rank_g.mean(1, keepdims=True)
    rank_a -= rank_a.mean(1, keepdims=True)
    denom = np.sqrt((rank_g**2).sum(1) * (rank_a**2).sum(1))
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(denom > 0, (rank_g * rank_a).sum(1) / denom, np.nan)


def nss_per_image(gaze_weights: np.ndarray,
                  saliency: np.ndarray) -> np.ndarray:
    r"""Patch-level normalised scanpath saliency per row.

    .. math:: \mathrm{NSS}_n = \sum_i \frac{g_{n,i}}{\sum_j g_{n,j}}
        \frac{s_{n,i} - \bar s_n}{\sigma(s_n)}

    Args:
        gaze_weights (np.ndarray): (N, P) gaze weight (mass) per patch.
        saliency (np.ndarray): (N, P) saliency per patch, same patch order.

    Returns:
        np.ndarray: (N,) NSS; NaN where there is no gaze or the saliency is
        constant.
    """
    gaze_weights = np.asarray(gaze_weights, dtype=np.float64)
    saliency = np.asarray(saliency, dtype=np.float64)
    mass = gaze_weights.sum(1, keepdims=True)
    std = saliency.std(1, keepdims=True)
    with np.errstate(invalid='ignore', divide='ignore'):
        z = (saliency - saliency.mean(1, keepdims=True)) / std
        nss = (gaze_weights / mass * z).sum(1)
    return np.where((mass[:, 0] > 0) & (std[:, 0] > 0), nss, np.nan)


def pool_to_grid(maps: np.ndarray, grid: int) -> np.ndarray:
    """Average-pool (N, H, W) maps to (N, grid, grid) by area.

    Uses adaptive average pooling: exact block means when H and W are multiples of
    ``grid``, overlapping area bins otherwise.
    """
    maps = torch.as_tensor(np.asarray(maps, dtype=np.float64))
    if maps.ndim != 3:
        raise ValueError(f'maps must be (N, H, W), got {tuple(maps.shape)}')
    return F.adaptive_avg_pool2d(maps[:, None], grid)[:, 0].numpy()


def grid_ground_distance(grid: int) -> np.ndarray:
    """(G², G²) Euclidean distance between cell centres, in image-side units."""
    centres = (np.arange(grid) + 0.5) / grid
    yy, xx = np.meshgrid(centres, centres, indexing='ij')
    points = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


def grid_emd(gaze_maps: np.ndarray,
             saliency_maps: np.ndarray,
             grid: int = 8) -> np.ndarray:
    r"""Exact 2-D Earth Mover's Distance between two maps on a coarse grid.

    Both maps are pooled to ``grid``×``grid``, clipped at 0 and normalised to sum
    1; then

    .. math:: \mathrm{EMD}(a, b) = \min_{T \ge 0,\ T1 = a,\ T^\top 1 = b}
              \sum_{ij} T_{ij} \lVert c_i - c_j \rVert_2

    with :math:`c_i` the cell centres in units of the image side, solved exactly by
    ``ot.emd2`` (one linear programme per image).

    Args:
        gaze_maps (np.ndarray): (N, H, W) gaze heatmaps.
        saliency_maps (np.ndarray): (N, H', W') saliency maps (any resolution).
        grid (int): G, the side of the coarse grid. Defaults to 8.

    Returns:
        np.ndarray: (N,) EMD; NaN where either map has no mass.
    """
    gaze = np.clip(pool_to_grid(gaze_maps, grid), 0, None).reshape(
        len(gaze_maps), -1)
    sal = np.clip(pool_to_grid(saliency_maps, grid), 0, None).reshape(
        len(saliency_maps), -1)
    if gaze.shape != sal.shape:
        raise ValueError(f'{len(gaze_maps)} gaze maps but '
                         f'{len(saliency_maps)} saliency maps')
    cost = grid_ground_distance(grid)
    mass_g, mass_s = gaze.sum(1), sal.sum(1)
    emd = np.full(len(gaze), np.nan)
    # ot.emd2 solves one transport problem at a time (no batched exact solver)
    for n in np.flatnonzero((mass_g > 0) & (mass_s > 0)):
        emd[n] = ot.emd2(gaze[n] / mass_g[n], sal[n] / mass_s[n], cost)
    return emd


def pointing_game(saliency_maps: np.ndarray,
                  boxes: Sequence[np.ndarray],
                  tolerance: float = 0.) -> np.ndarray:
    """Whether each map's maximum lies inside one of its image's boxes.

    Args:
        saliency_maps (np.ndarray): (N, H, W) maps in the pixel grid of the boxes.
        boxes (Sequence[np.ndarray]): N arrays (K_n, 4) of COCO ``x, y, w, h``
            boxes (pixel centres at integer coordinates).
        tolerance (float): pixels by which each box is grown. Defaults to 0.

    Returns:
        np.ndarray: (N,) 1.0 hit, 0.0 miss, NaN when the image has no box.
    """
    saliency_maps = np.asarray(saliency_maps)
    n, h, w = saliency_maps.shape
    if len(boxes) != n:
        raise ValueError(f'{n} saliency maps but {len(boxes)} box lists')
    peak = saliency_maps.reshape(n, -1).argmax(1)
    peak_y, peak_x = peak // w, peak % w
    hits = np.full(n, np.nan)
    for i, image_boxes in enumerate(boxes):  # K_n varies per image
        image_boxes = np.asarray(image_boxes, dtype=np.float64).reshape(-1, 4)
        if len(image_boxes) == 0:
            continue
        x0, y0 = image_boxes[:, 0] - tolerance, image_boxes[:, 1] - tolerance
        x1 = image_boxes[:, 0] + image_boxes[:, 2] + tolerance
        y1 = image_boxes[:, 1] + image_boxes[:, 3] + tolerance
        inside = ((peak_x[i] >= x0) & (peak_x[i] <= x1) & (peak_y[i] >= y0) &
                  (peak_y[i] <= y1))
        hits[i] = float(inside.any())
    return hits


def boxes_to_view(boxes: np.ndarray, crop_box: np.ndarray, flip: bool,
                  view_shape: Sequence[int]) -> np.ndarray:
    """Map COCO ``x, y, w, h`` boxes of the source image into a view.

    The view is the source region ``crop_box = (x0, y0, x1, y1)`` resized to
    ``view_shape = (h, w)``, then optionally flipped horizontally (the geometry
    ``PackGazeInputs`` records).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    crop_box = np.asarray(crop_box, dtype=np.float64)
    # the view convention of gazeprior_mm.gaze.geometry, applied to both corners;
    # a flip swaps which corner is on the left
    u0, v0 = source_to_view_fraction(boxes[:, 0], boxes[:, 1], crop_box,
                                     float(flip))
    u1, v1 = source_to_view_fraction(boxes[:, 0] + boxes[:, 2],
                                     boxes[:, 1] + boxes[:, 3], crop_box,
                                     float(flip))
    height, width = view_shape[0], view_shape[1]
    left = np.minimum(u0, u1) * width
    return np.stack([left, v0 * height, np.abs(u1 - u0) * width,
                     (v1 - v0) * height], axis=1)


def alignment_scores(gaze_weights: np.ndarray,
                     gaze_maps: np.ndarray,
                     saliency_maps: np.ndarray,
                     boxes: Optional[Sequence[np.ndarray]] = None,
                     emd_grid: int = 8,
                     tolerance: float = 0.) -> Dict[str, np.ndarray]:
    """All per-image alignment numbers for images that share one view size.

    Args:
        gaze_weights (np.ndarray): (N, M*M) g̃, row-major.
        gaze_maps (np.ndarray): (N, H, W) gaze heatmaps of the view.
        saliency_maps (np.ndarray): (N, H, W) saliency in the view's pixel grid.
        boxes (Sequence[np.ndarray], optional): N (K_n, 4) lesion boxes in the
            view's pixel grid.
        emd_grid (int): grid of the EMD. Defaults to 8.
        tolerance (float): pointing-game tolerance in pixels.

    Returns:
        dict[str, np.ndarray]: ``spearman``, ``nss``, ``emd``, ``pointing``
        each (N,).
    """
    grid = int(round(np.sqrt(gaze_weights.shape[1])))
    if grid * grid != gaze_weights.shape[1]:
        raise ValueError(f'gaze_weights has {gaze_weights.shape[1]} patches, '
                         'not a square grid')
    patch_saliency = pool_to_grid(saliency_maps, grid).reshape(
        len(saliency_maps), -1)
    has_gaze = np.asarray(gaze_weights).max(1) > 0
    spearman = np.where(has_gaze,
                        spearman_per_image(gaze_weights, patch_saliency),
                        np.nan)
    nss = nss_per_image(gaze_weights, patch_saliency)
    emd = grid_emd(gaze_maps, saliency_maps, emd_grid)
    pointing = pointing_game(saliency_maps, boxes, tolerance) \
        if boxes is not None else np.full(len(saliency_maps), np.nan)
    return dict(spearman=spearman, nss=nss, emd=emd, pointing=pointing)


@METRICS.register_module()
class GazeAlignmentMetric(BaseMetric):
    """Spearman ρ, EMD and pointing game between gaze and model saliency.

    Expects data samples from a model that writes ``saliency_map`` (h', w') into
    each sample (e.g. ``GazeAttentionProbe``), packed by ``PackGazeInputs`` with
    ``gaze_weights`` (V, M*M), ``gaze_map`` (V, h, w), ``has_gaze`` (V,), and
    optionally ``lesions`` (list of dicts with COCO ``bbox`` in source-image
    pixels) with ``crop_box`` (V, 4) and ``flip`` (V,) to map them into the view.
    View 0 is used.

    Args:
        emd_grid (int): side of the coarse EMD grid. Defaults to 8.
        tolerance (float): pointing-game tolerance in view pixels. Defaults to 0.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): metric-name prefix. Defaults to ``'gaze'``.

    Returns (from :meth:`compute_metrics`):
        dict: ``spearman``, ``nss``, ``emd`` (means over images with gaze),
        ``pointing`` (hit rate over images with lesions), and ``num_spearman``,
        ``num_nss``, ``num_emd``, ``num_pointing``: how many images each mean
        is over.
    """
    default_prefix = 'gaze'

    def __init__(self,
                 emd_grid: int = 8,
                 tolerance: float = 0.,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.emd_grid = emd_grid
        self.tolerance = tolerance

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'saliency_map' not in sample:
                raise KeyError('GazeAlignmentMetric needs `saliency_map` in the '
                               'data samples: use a model that predicts it, '
                               'e.g. GazeAttentionProbe')
            gaze_map = _numpy(sample['gaze_map'])
            gaze_map = gaze_map[0] if gaze_map.ndim == 3 else gaze_map
            weights = _numpy(sample['gaze_weights'])
            weights = weights[0] if weights.ndim == 2 else weights
            has_gaze = bool(_numpy(sample.get('has_gaze', True)).ravel()[0])
            saliency = torch.as_tensor(_numpy(sample['saliency_map']))
            # saliency comes at the model's native resolution; bring it to the
            # view's pixel grid so the peak and the lesion boxes share one grid
            saliency = F.interpolate(
                saliency[None, None].double(),
                size=gaze_map.shape,
                mode='bilinear',
                align_corners=False)[0, 0].numpy()
            boxes = None
            lesions = sample.get('lesions')
            if lesions is not None:
                boxes = np.array([les['bbox'] for les in lesions],
                                 dtype=np.float64).reshape(-1, 4)
                if 'crop_box' in sample:
                    crop = _numpy(sample['crop_box']).reshape(-1, 4)[0]
                    flip = bool(_numpy(sample.get('flip', False)).ravel()[0])
                    boxes = boxes_to_view(boxes, crop, flip, gaze_map.shape)
            scores = alignment_scores(
                weights[None] * has_gaze,
                gaze_map[None] * has_gaze,
                saliency[None],
                None if boxes is None else [boxes],
                emd_grid=self.emd_grid,
                tolerance=self.tolerance)
            self.results.append({k: float(v[0]) for k, v in scores.items()})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = {}
        for key in ('spearman', 'nss', 'emd', 'pointing'):
            values = np.array([r[key] for r in results], dtype=np.float64)
            finite = ~np.isnan(values)
            metrics[key] = float(values[finite].mean()) if finite.any() \
                else float('nan')
            metrics[f'num_{key}'] = float(finite.sum())
        skipped = len(results) - int(metrics['num_spearman'])
        if skipped:
            warnings.warn(f'GazeAlignmentMetric: {skipped}/{len(results)} '
                          'images without gaze or with a constant saliency '
                          'map were left out of spearman/emd')
        return metrics


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)
