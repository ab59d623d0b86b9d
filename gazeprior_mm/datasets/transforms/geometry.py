"""Gaze-aware geometric transforms.

Each transform changes the image exactly like its mmpretrain / mmcv parent and
composes the same map into ``results['gaze_geometry']`` (a :class:`ViewGeometry`, set
up by :class:`GazeHeatmap`). The fixations are never moved and the gaze is never
warped as a raster: ``gaze_fixations`` / ``gaze_sigma`` stay in the grid of the
loaded image, and the view's gaze targets are computed exactly from them through the
composed geometry by the packer (or ``GazeViewTargets``); :func:`view_fixations` and
:func:`view_sigma` give them in the view's pixels. A geometric step is then a few
scalar operations per view, whatever the number of fixations.

Conventions (see docs/interfaces.md):

- ``gaze_geometry.affine`` (2, 3) float64 maps *pixel-centre* coordinates of the
  source (loaded) image (pixel j's centre at x = j) to pixel-centre coordinates of
  the view: ``x' = ax x + bx``, ``y' = ay y + by`` (axis-aligned: crops, resizes and
  horizontal flips only).
- ``gaze_geometry.crop_box`` is the view's extent in the source image in *box*
  coordinates, where the source spans ``[0, W] x [0, H]`` (pixel j covers
  ``[j, j + 1)``): ``x_box = x_centre + 0.5``. Always ``x0 < x1``, ``y0 < y1``;
  the mirror is in ``flip``. A view pixel at fraction ``f`` of the view width sits at
  ``x0 + f (x1 - x0)`` in the source (``x0 + (1 - f)(x1 - x0)`` when flipped).
"""
from typing import Tuple

import mmcv
import numpy as np
from mmcv.transforms import RandomFlip, Resize
from mmpretrain.datasets.transforms import RandomResizedCrop

from gazeprior_mm.gaze.view_targets_kernel import view_crop_box
from gazeprior_mm.registry import TRANSFORMS


class ViewGeometry:
    """Immutable axis-aligned map from the source image to a view.

    ``x' = ax x + bx``, ``y' = ay y + by`` in pixel-centre coordinates; ``ax < 0``
    is a horizontal flip. Also readable as a dict (``geometry['crop_box']``,
    ``'affine'``, ``'flip'``, ``'src_shape'``, ``'view_shape'``), the form the
    pipeline contract names.

    Args:
        src_shape (tuple[int, int]): (H0, W0) of the source image.
        view_shape (tuple[int, int]): (H', W') of the view.
        ax, bx, ay, by (float): the map's coefficients.
    """
    __slots__ = ('src_shape', 'view_shape', 'ax', 'bx', 'ay', 'by')
    KEYS = ('affine', 'src_shape', 'view_shape', 'flip', 'crop_box')

    def __init__(self, src_shape, view_shape, ax=1.0, bx=0.0, ay=1.0, by=0.0):
        self.src_shape = src_shape
        self.view_shape = view_shape
        self.ax, self.bx, self.ay, self.by = ax, bx, ay, by

    def then(self, sx: float, tx: float, sy: float, ty: float,
             out_shape: Tuple[int, int]) -> 'ViewGeometry':
        """This map followed by ``x'' = sx x' + tx``, ``y'' = sy y' + ty``."""
        return ViewGeometry(self.src_shape, out_shape, sx * self.ax,
                            sx * self.bx + tx, sy * self.ay, sy * self.by + ty)

    def to_view(self, points: np.ndarray) -> np.ndarray:
        """(K, >=2) source x, y -> float32 (K, 2) in the view's pixel-centre
        coordinates."""
        return points[:, :2] * np.array([self.ax, self.ay], np.float32) + \
            np.array([self.bx, self.by], np.float32)

    @property
    def coefficients(self) -> Tuple[float, float, float, float]:
        """``(ay, ax, by, bx)``, the order the gaze kernel takes them in."""
        return self.ay, self.ax, self.by, self.bx

    def view_sigma(self, sigma) -> Tuple[float, float]:
        """A Gaussian std (sx, sy) of the source in the view's pixels."""
        return sigma[0] * abs(self.ax), sigma[1] * abs(self.ay)

    @property
    def flip(self) -> bool:
        return self.ax < 0

    @property
    def affine(self) -> np.ndarray:
        return np.array([[self.ax, 0., self.bx], [0., self.ay, self.by]])

    def crop_box_list(self) -> list:
        """``crop_box`` as a list of 4 floats."""
        return list(view_crop_box(self.ax, self.bx, self.ay, self.by,
                                  float(self.view_shape[0]),
                                  float(self.view_shape[1])))

    @property
    def crop_box(self) -> np.ndarray:
        return np.array(self.crop_box_list())

    def __getitem__(self, key: str):
        if key not in self.KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key) if key in self.KEYS else default

    def keys(self):
        return self.KEYS

    def __contains__(self, key) -> bool:
        return key in self.KEYS

    def __deepcopy__(self, memo):
        return self  # immutable: GazeMultiView's per-view copies may share it

    def __reduce__(self):
        return (ViewGeometry, (self.src_shape, self.view_shape, self.ax, self.bx,
                               self.ay, self.by))

    def __repr__(self) -> str:
        return (f'ViewGeometry(src_shape={self.src_shape}, '
                f'view_shape={self.view_shape}, ax={self.ax:.4g}, '
                f'bx={self.bx:.4g}, ay={self.ay:.4g}, by={self.by:.4g})')


def init_geometry(shape: Tuple[int, int]) -> ViewGeometry:
    """Identity geometry of an image of ``shape=(H, W)``."""
    shape = (int(shape[0]), int(shape[1]))
    return ViewGeometry(shape, shape)


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


def crop_resize_step(box_xywh, out_shape) -> Tuple[float, float, float, float]:
    """``(sx, tx, sy, ty)`` of cropping ``(x0, y0, w, h)`` pixels and resizing the
    crop to ``out_shape=(H', W')``: ``x' = (W'/w)(x - x0 + 1/2) - 1/2``."""
    x0, y0, w, h = box_xywh
    sx, sy = out_shape[1] / w, out_shape[0] / h
    return sx, sx * (0.5 - x0) - 0.5, sy, sy * (0.5 - y0) - 0.5


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
            apply_view_step(results, -1.0, shape[1] - 1.0, 1.0, 0.0, shape)
        return results
