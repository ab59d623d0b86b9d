r"""The one convention for where a view lies in its source image.

Every view the pipeline makes (crops, resizes, horizontal flips) maps the source
image axis-wise. This module is the only place that writes that map down and the
two ways of reading it:

- :class:`ViewGeometry`: ``x' = a_x x + b_x``, ``y' = a_y y + b_y`` in *pixel-centre*
  coordinates (pixel j's centre at x = j) from the source (loaded) image to the
  view; ``a_x < 0`` is a horizontal flip (:func:`is_flipped`).
- the crop box ``(x_0, y_0, x_1, y_1)`` in source *box* coordinates, where the
  source spans :math:`[0, W] \times [0, H]` (pixel j covers ``[j, j + 1)``, so
  ``x_box = x_centre + 1/2``), always ``x_0 < x_1``, ``y_0 < y_1``, plus the flip
  (:func:`view_crop_box`);
- a crop and resize of the image (:func:`crop_resize_step`) and a mirror
  (:func:`horizontal_flip_step`), composed into the map by
  :meth:`ViewGeometry.then`;
- a point at fractions :math:`(u, v) \in [0, 1]^2` of the view's width and height
  sits in the source at

  .. math::

      x = x_0 + \big(f (1 - u) + (1 - f) u\big)(x_1 - x_0), \qquad
      y = y_0 + v (y_1 - y_0)

  with ``f`` the flip (:func:`view_fraction_to_source` and its inverse
  :func:`source_to_view_fraction`).

The gaze targets kernel (:mod:`.view_targets_kernel`) compiles
:func:`view_crop_box` and :func:`is_flipped` as they are, and the patch
correspondence of two views (``models/utils/correspondence.py``) calls the
fraction maps on tensors, so a change here changes all of them.
"""
from typing import Tuple

import numpy as np


def is_flipped(ax: float) -> bool:
    """Whether the view ``x' = ax x + bx`` is mirrored horizontally."""
    return ax < 0.0


def view_crop_box(ax: float, bx: float, ay: float, by: float, height: float,
                  width: float) -> Tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` in source box coordinates of the view ``x' = ax x +
    bx``, ``y' = ay y + by`` of ``height x width`` pixels.

    The view spans ``[-1/2, W' - 1/2] x [-1/2, H' - 1/2]`` in its pixel-centre
    coordinates; mapped back into the source and shifted by +1/2 into box
    coordinates, sorted so that a flip only swaps the ends.

    Scalars only (the kernel compiles this function as it is).
    """
    x_a = (-0.5 - bx) / ax + 0.5
    x_b = (width - 0.5 - bx) / ax + 0.5
    y_a = (-0.5 - by) / ay + 0.5
    y_b = (height - 0.5 - by) / ay + 0.5
    return min(x_a, x_b), min(y_a, y_b), max(x_a, x_b), max(y_a, y_b)


def view_fraction_to_source(u, v, crop_box, flip):
    """Source box coordinates of the points at fractions ``(u, v)`` of a view.

    Arithmetic only, so it serves numpy arrays and torch tensors alike.

    Args:
        u, v (array | Tensor): fractions of the view's width / height, (..., P).
        crop_box (array | Tensor): (..., 4) ``x0, y0, x1, y1``, broadcastable
            against ``u`` once its last axis is taken apart.
        flip (array | Tensor): (...) 1.0 where the view is mirrored, else 0.0
            (float: ``f (1 - u) + (1 - f) u = u + f (1 - 2 u)``).

    Returns:
        tuple: source ``x``, ``y`` of the points, shaped like ``u``.
    """
    x0, y0, x1, y1 = (crop_box[..., i] for i in range(4))
    u = u + flip * (1 - 2 * u)
    return x0 + u * (x1 - x0), y0 + v * (y1 - y0)


def source_to_view_fraction(x, y, crop_box, flip):
    """Inverse of :func:`view_fraction_to_source`: fractions ``(u, v)`` of the
    view at source box coordinates ``(x, y)`` (outside ``[0, 1)``: outside the
    view). Same arguments and shapes."""
    x0, y0, x1, y1 = (crop_box[..., i] for i in range(4))
    u = (x - x0) / (x1 - x0)
    return u + flip * (1 - 2 * u), (y - y0) / (y1 - y0)


def crop_resize_step(box_xywh, out_shape) -> Tuple[float, float, float, float]:
    """``(sx, tx, sy, ty)`` of cropping the pixels ``(x0, y0, w, h)`` and resizing
    the crop to ``out_shape=(H', W')``, in pixel-centre coordinates:
    ``x' = (W'/w)(x - x0 + 1/2) - 1/2`` (the crop's box edge ``x0 - 1/2`` goes to
    the view's ``-1/2``); a plain resize is the crop ``(0, 0, W, H)``."""
    x0, y0, w, h = box_xywh
    sx, sy = out_shape[1] / w, out_shape[0] / h
    return sx, sx * (0.5 - x0) - 0.5, sy, sy * (0.5 - y0) - 0.5


def horizontal_flip_step(width: int) -> Tuple[float, float, float, float]:
    """``(sx, tx, sy, ty)`` of mirroring an image ``width`` pixels wide, in
    pixel-centre coordinates: ``x' = (W - 1) - x`` (its box ``[0, W]`` onto
    itself)."""
    return -1.0, width - 1.0, 1.0, 0.0


class ViewGeometry:
    """Immutable axis-aligned map from the source image to a view.

    ``x' = ax x + bx``, ``y' = ay y + by`` in pixel-centre coordinates; ``ax < 0``
    is a horizontal flip. Also readable as a dict (``geometry['crop_box']``,
    ``'affine'``, ``'flip'``, ``'src_shape'``, ``'view_shape'``), the form the
    pipeline contract names (docs/interfaces.md).

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
        return is_flipped(self.ax)

    @property
    def affine(self) -> np.ndarray:
        """(2, 3) float64 ``[[ax, 0, bx], [0, ay, by]]``."""
        return np.array([[self.ax, 0., self.bx], [0., self.ay, self.by]])

    def crop_box_list(self) -> list:
        """``crop_box`` as a list of 4 floats."""
        return list(view_crop_box(self.ax, self.bx, self.ay, self.by,
                                  float(self.view_shape[0]),
                                  float(self.view_shape[1])))

    @property
    def crop_box(self) -> np.ndarray:
        """(4,) float64 ``x0, y0, x1, y1`` (:func:`view_crop_box`)."""
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
