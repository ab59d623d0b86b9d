"""Gaze-aware geometric transforms.

Each transform changes the image exactly like its mmpretrain / mmcv parent and
composes the same map into ``results['gaze_geometry']`` (set up by
:class:`GazeHeatmap`), moving ``gaze_fixations`` and scaling ``gaze_sigma`` with it.
Gaze is never warped as a raster: the view's ``gaze_map`` is dropped here and
re-rendered exactly from the moved fixations by the packer (or ``GazeViewTargets``).

Conventions (see docs/interfaces.md):

- ``gaze_geometry['affine']`` (2, 3) float64 maps *pixel-centre* coordinates of the
  source image (pixel j's centre at x = j) to pixel-centre coordinates of the view,
  so it applies directly to fixations.
- ``gaze_geometry['crop_box']`` is the view's extent in the source image in *box*
  coordinates, where the source spans ``[0, W] x [0, H]`` (pixel j covers
  ``[j, j + 1)``): ``x_box = x_centre + 0.5``. Always ``x0 < x1``, ``y0 < y1``;
  the mirror is in ``flip``. A view pixel at fraction ``f`` of the view width sits at
  ``x0 + f (x1 - x0)`` in the source (``x0 + (1 - f)(x1 - x0)`` when flipped).
"""
from functools import lru_cache
from typing import Tuple

import mmcv
import numpy as np
from mmcv.transforms import RandomFlip, Resize
from mmpretrain.datasets.transforms import RandomResizedCrop

from gazeprior_mm.registry import TRANSFORMS


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


_IDENTITY_AFFINE = _read_only(np.array([[1., 0., 0.], [0., 1., 0.]]))


@lru_cache(maxsize=256)
def _full_box(height: int, width: int) -> np.ndarray:
    return _read_only(np.array([0., 0., width, height]))


def init_geometry(shape: Tuple[int, int]) -> dict:
    """Identity geometry of an image of ``shape=(H, W)``.

    Its arrays are shared and read-only: geometry is never updated in place
    (:func:`apply_view_affine` writes new arrays), so no copy is needed per sample.
    """
    height, width = int(shape[0]), int(shape[1])
    return dict(affine=_IDENTITY_AFFINE,
                src_shape=(height, width),
                flip=False,
                crop_box=_full_box(height, width))


def crop_resize_affine(box_xywh, out_shape) -> np.ndarray:
    """Affine (centre coords) of cropping ``(x0, y0, w, h)`` pixels and resizing
    the crop to ``out_shape=(H', W')``: ``x' = (W'/w)(x - x0 + 1/2) - 1/2``."""
    x0, y0, w, h = (float(v) for v in box_xywh)
    sx, sy = out_shape[1] / w, out_shape[0] / h
    return np.array([[sx, 0., sx * (0.5 - x0) - 0.5],
                     [0., sy, sy * (0.5 - y0) - 0.5]])


def hflip_affine(width: int) -> np.ndarray:
    """Affine (centre coords) of a horizontal flip: ``x' = W - 1 - x``."""
    return np.array([[-1., 0., width - 1.], [0., 1., 0.]])


def apply_view_affine(results: dict, step: np.ndarray,
                      out_shape: Tuple[int, int]) -> dict:
    """Compose ``step`` (2, 3) into the gaze geometry of ``results``.

    Moves ``gaze_fixations``, scales ``gaze_sigma``, updates ``affine``,
    ``crop_box`` and ``flip`` and drops the stale ``gaze_map``. A results dict without
    ``gaze_geometry`` (no :class:`GazeHeatmap` before) is returned unchanged. The
    maps here are axis-aligned (``x' = a x + b``, ``y' = c y + d``), so the
    composition is done on the four scalars (cheap: this runs per view per step).

    Args:
        results (dict): the pipeline results.
        step (np.ndarray): (2, 3) axis-aligned affine of this transform in centre
            coordinates.
        out_shape (tuple[int, int]): (H', W') of the image after this transform.

    Returns:
        dict: ``results``, updated in place.
    """
    geometry = results.get('gaze_geometry')
    if geometry is None:
        return results
    (sx, _, tx), (_, sy, ty) = step.tolist()
    (ax, _, bx), (_, ay, by) = geometry['affine'].tolist()
    ax, bx, ay, by = sx * ax, sx * bx + tx, sy * ay, sy * by + ty
    fix = results.get('gaze_fixations')
    if fix is not None and len(fix):
        coef = np.array([[sx, sy], [tx, ty]], np.float32)
        fix = fix * coef[0]  # a new array: the input may be shared and read-only
        fix += coef[1]
        results['gaze_fixations'] = fix
    sigma = results.get('gaze_sigma')
    if sigma is not None:
        results['gaze_sigma'] = (sigma[0] * abs(sx), sigma[1] * abs(sy))
    # the view spans [-0.5, W' - 0.5] x [-0.5, H' - 0.5] in its centre coords;
    # back in the source and shifted by +0.5 into box coordinates
    x_a, x_b = (-0.5 - bx) / ax + 0.5, (out_shape[1] - 0.5 - bx) / ax + 0.5
    y_a, y_b = (-0.5 - by) / ay + 0.5, (out_shape[0] - 0.5 - by) / ay + 0.5
    results['gaze_geometry'] = dict(
        affine=np.array([[ax, 0., bx], [0., ay, by]]),
        src_shape=geometry['src_shape'],
        flip=ax < 0,
        crop_box=np.array([min(x_a, x_b), min(y_a, y_b), max(x_a, x_b),
                           max(y_a, y_b)]))
    results.pop('gaze_map', None)
    return results


@TRANSFORMS.register_module()
class GazeRandomResizedCrop(RandomResizedCrop):
    """mmpretrain's ``RandomResizedCrop`` that carries the gaze along.

    Same arguments and random crop as the parent. Also updates ``gaze_fixations``,
    ``gaze_sigma`` and ``gaze_geometry`` (crop box, affine) and drops ``gaze_map``.

    **Added keys**: ``crop_params`` = (offset_h, offset_w, target_h, target_w).
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        offset_h, offset_w, target_h, target_w = self.rand_crop_params(img)
        img = mmcv.imcrop(
            img,
            bboxes=np.array([offset_w, offset_h, offset_w + target_w - 1,
                             offset_h + target_h - 1]))
        img = mmcv.imresize(img, tuple(self.scale[::-1]),
                            interpolation=self.interpolation, backend=self.backend)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['crop_params'] = (offset_h, offset_w, target_h, target_w)
        step = crop_resize_affine((offset_w, offset_h, target_w, target_h),
                                  img.shape[:2])
        return apply_view_affine(results, step, img.shape[:2])


@TRANSFORMS.register_module()
class GazeResize(Resize):
    """mmcv's ``Resize`` (image only) that carries the gaze along.

    The gaze follows the exact size change of the image
    (``x' = (W'/W)(x + 1/2) - 1/2``), whatever ``scale`` / ``keep_ratio`` chose.
    """

    def transform(self, results: dict) -> dict:
        old_shape = results['img'].shape[:2]
        results = super().transform(results)
        new_shape = results['img'].shape[:2]
        step = crop_resize_affine((0, 0, old_shape[1], old_shape[0]), new_shape)
        return apply_view_affine(results, step, new_shape)


@TRANSFORMS.register_module()
class GazeRandomFlip(RandomFlip):
    """mmcv's ``RandomFlip``, horizontal only, that carries the gaze along.

    Args:
        prob (float): flip probability. Defaults to 0.5.
        direction (str): only 'horizontal' (a chest X-ray flipped upside-down is no
            chest X-ray; vertical flips would also break the ``flip`` contract field).
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if direction != 'horizontal':
            raise ValueError(f"GazeRandomFlip supports direction='horizontal' only, "
                             f'got {direction!r}')
        super().__init__(prob=prob, direction=direction)

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if results.get('flip', False):
            shape = results['img'].shape[:2]
            apply_view_affine(results, hflip_affine(shape[1]), shape)
        return results
