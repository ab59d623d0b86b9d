"""Realism and gaze-lesion statistics of (synthetic or real) chest X-rays.

- ``psd_slope``: slope of the radially averaged power spectrum in log-log (RG1:
  ~-3.3; target for synthetic images [-3.8, -2.8]).
- ``gaze_lesion_ncc``: REFLACX's gaze-lesion agreement, NCC(gaze heatmap, lesion
  mask) versus NCC(centre prior, lesion mask) (REFLACX: 0.380 vs 0.326).
"""
from typing import Dict, Optional, Sequence

import numpy as np

from gazeprior_mm.gaze.targets import fixations_to_heatmap


def psd_slope(img: np.ndarray, k_min: float = 2.0, k_max_frac: float = 0.25) -> float:
    """Log-log slope of the radially averaged power spectrum of ``img``.

    The image is normalised to zero mean, Hann-windowed, and the power
    |F(k)|^2 is averaged over rings of integer radius k (cycles per image); the
    slope is the least-squares fit of log P(k) on log k for
    ``k_min <= k <= k_max_frac * min(H, W)``.

    Args:
        img (np.ndarray): (H, W) grayscale, any dtype.

    Returns:
        float: the slope (about -3.3 for RG1).
    """
    x = np.asarray(img, np.float64)
    x = x - x.mean()
    h, w = x.shape
    x = x * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fftshift(np.fft.fft2(x)))**2
    ky, kx = np.indices((h, w))
    radius = np.hypot(ky - h // 2, kx - w // 2).round().astype(int)
    ring_power = np.bincount(radius.ravel(), power.ravel())
    ring_count = np.bincount(radius.ravel())
    k = np.arange(ring_power.size)
    keep = (k >= k_min) & (k <= k_max_frac * min(h, w)) & (ring_count > 0)
    mean_power = ring_power[keep] / ring_count[keep]
    slope, _ = np.polyfit(np.log(k[keep]), np.log(mean_power + 1e-30), 1)
    return float(slope)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation (Pearson r over pixels) of two maps; 0 if flat."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denom) if denom > 0 else 0.0


def centre_prior(size: Sequence[int], frac: float = 0.25) -> np.ndarray:
    """Centre-bias baseline map: Gaussian at the image centre, std ``frac`` x size."""
    h, w = size
    return fixations_to_heatmap(np.array([[(w - 1) / 2.0, (h - 1) / 2.0]]), (h, w),
                                sigma=(frac * w, frac * h))


def lesion_union_mask(lesions: Sequence[dict], size: Sequence[int]) -> np.ndarray:
    """Union of the lesions' COCO segmentations (RLE dict or polygons), bool (H, W)."""
    from pycocotools import mask as mask_utils
    h, w = size
    union = np.zeros((h, w), bool)
    for les in lesions:  # a few lesions per image
        seg = les['segmentation']
        if isinstance(seg, dict) and isinstance(seg['counts'], list):
            rle = mask_utils.frPyObjects(seg, h, w)  # uncompressed RLE
        elif isinstance(seg, dict):
            counts = seg['counts']
            rle = dict(size=list(seg['size']),
                       counts=counts.encode() if isinstance(counts, str) else counts)
        else:  # polygons
            rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
        union |= mask_utils.decode(rle).astype(bool)
    return union


def gaze_lesion_ncc(data_list: Sequence[dict], sigma_deg: float = 1.0,
                    deg_per_image: float = 25.0,
                    max_images: Optional[int] = None) -> Dict[str, float]:
    """Mean gaze-lesion NCC over images that have both gaze and lesions.

    Per image: gaze heatmap = all readers' in-image fixations, duration-weighted,
    Gaussian std ``sigma_deg`` degrees (``size / deg_per_image`` px per degree), as
    REFLACX; lesion map = union of the lesion masks; centre prior = ``centre_prior``.

    Args:
        data_list (Sequence[dict]): canonical annotation rows.

    Returns:
        dict: ``ncc_gaze``, ``ncc_centre`` (means), ``delta`` (their difference),
        ``ncc_gaze_std``, ``num_images``.
    """
    gaze_scores, centre_scores = [], []
    for row in data_list:  # one heatmap per image
        gaze, lesions = row.get('gaze'), row.get('lesions')
        if not gaze or not lesions:
            continue
        h, w = gaze['image_size']
        fix = np.concatenate([np.asarray(r['fixations'], np.float64).reshape(-1, 3)
                              for r in gaze['readers']])
        inside = ((fix[:, 0] >= -0.5) & (fix[:, 0] <= w - 0.5)
                  & (fix[:, 1] >= -0.5) & (fix[:, 1] <= h - 0.5))
        fix = fix[inside]
        if not len(fix):
            continue
        sigma = sigma_deg * w / deg_per_image
        heat = fixations_to_heatmap(fix[:, :2], (h, w), sigma=sigma, weights=fix[:, 2])
        lesion = lesion_union_mask(lesions, (h, w))
        gaze_scores.append(ncc(heat, lesion))
        centre_scores.append(ncc(centre_prior((h, w)), lesion))
        if max_images is not None and len(gaze_scores) >= max_images:
            break
    if not gaze_scores:
        raise ValueError('gaze_lesion_ncc: no image has both gaze and lesions')
    g, c = float(np.mean(gaze_scores)), float(np.mean(centre_scores))
    return dict(ncc_gaze=g, ncc_centre=c, delta=g - c,
                ncc_gaze_std=float(np.std(gaze_scores)), num_images=len(gaze_scores))
