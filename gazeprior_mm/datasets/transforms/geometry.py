"""Gaze-aware geometric transforms.

Each transform changes the image exactly like its mmpretrain / mmcv parent and
composes the same map into ``results['gaze_geometry']`` (a :class:`ViewGeometry`, set
up by :class:`GazeHeatmap`). The fixations are never moved and the gaze is never
warped as a raster: ``gaze_fixations`` / ``gaze_sigma`` stay in the grid of the
loaded image, and the view's gaze targets are computed exactly from them through the
composed geometry by the packer (or ``GazeViewTargets``); :func:`view_fixations` and
:func:`view_sigma` give them in the view's pixels. A geometric step is then a few
scalar operations per view, whatever the number of fixations.

The map, its crop box and flip follow the one convention of
:mod:`gazeprior_mm.gaze.geometry` (``ViewGeometry``, re-exported here): pixel-centre
coordinates, ``x' = ax x + bx``, ``y' = ay y + by`` from the source (loaded) image
to the view; crops, resizes and horizontal flips only.
"""
from typing import Tuple

import mmcv
import numpy as np
from mmcv.transforms import RandomFlip, Resize
from mmpretrain.datasets.transforms import RandomResizedCrop

from gazeprior_mm.gaze.geometry import (ViewGeometry,  # noqa: F401
                                        crop_resize_step, horizontal_flip_step,
                                        init_geometry)
from gazeprior_mm.registry import TRANSFORMS


def view_fixations(results: dict) -> np.ndarray:
    """The fixations of ``results`` in the current view's pixel-centre coordinates,
    float32 (K, 2) (``gaze_fixations`` itself stays in the source grid)."""
    fix = results.get('gaze_fixations')
    geometry = results.get('gaze_geometry')
    if fix is None or geometry is None or len(fix) == 0:
        return fix
    return geometry.to_view(fix)


def view_sigma(results: dict) -> Tuple[float, float]:
    """``gaze_sigma`` (sx, sy) in the current view's pixels."""
    sigma = tuple(results['gaze_sigma'])
    geometry = results.get('gaze_geometry')
    return sigma if geometry is None else geometry.view_sigma(sigma)


def apply_view_step(results: dict, sx: float, tx: float, sy: float, ty: float,
                    out_shape: Tuple[int, int]) -> dict:
    """Compose the axis-aligned step ``x' = sx x + tx``, ``y' = sy y + ty`` (centre
    coordinates) into ``results['gaze_geometry']`` and drop the stale ``gaze_map``.

    A results dict without ``gaze_geometry`` (no :class:`GazeHeatmap` before) is
    returned unchanged. Scalars only: this runs per view per geometric step.

    Args:
        results (dict): the pipeline results.
        sx, tx, sy, ty (float): the step's coefficients.
        out_shape (tuple[int, int]): (H', W') of the image after this transform.

    Returns:
        dict: ``results``, updated in place.
    """
    geometry = results.get('gaze_geometry')
    if geometry is None:
        return results
    results['gaze_geometry'] = geometry.then(sx, tx, sy, ty,
                                             (int(out_shape[0]), int(out_shape[1])))
    results.pop('gaze_map', None)
    return results


@TRANSFORMS.register_module()
class GazeRandomResizedCrop(RandomResizedCrop):
    """mmpretrain's ``RandomResizedCrop`` that carries the gaze along.

    Same arguments and random crop as the parent. Also composes the crop into
    ``gaze_geometry`` (crop box, affine) and drops ``gaze_map``.

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
        step = crop_resize_step((offset_w, offset_h, target_w, target_h),
                                img.shape[:2])
        return apply_view_step(results, *step, img.shape[:2])


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
        step = crop_resize_step((0, 0, old_shape[1], old_shape[0]), new_shape)
        return apply_view_step(results, *step, new_shape)


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
            apply_view_step(results, *horizontal_flip_step(shape[1]), shape)
        return results
