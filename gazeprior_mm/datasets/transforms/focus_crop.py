"""FocusContrast-style gaze-guided random resized crop."""
import math
import warnings
from typing import Sequence, Tuple, Union

import numpy as np

from gazeprior_mm.gaze.targets import fixations_to_heatmap
from gazeprior_mm.registry import TRANSFORMS

from .geometry import GazeRandomResizedCrop, view_fixations, view_sigma


@TRANSFORMS.register_module()
class GazeFocusCrop(GazeRandomResizedCrop):
    """Random resized crop that keeps a share of the gaze mass (FocusContrast).

    ``num_candidates`` boxes are drawn at once like ``RandomResizedCrop`` (area
    share ``U(crop_ratio_range)``, log-uniform aspect ratio, uniform position,
    boxes that do not fit are discarded). Each box's gaze mass is read from the
    integral image ``S`` of the current ``gaze_map`` ``G`` (sum 1 over the image):

    ``mass(x0, y0, w, h) = S[y0+h, x0+w] - S[y0, x0+w] - S[y0+h, x0] + S[y0, x0]``

    and one box with ``mass >= min_gaze_share`` is chosen uniformly. Counted
    fallbacks (attributes, one warning each the first time):

    * ``num_fallback``: no candidate qualifies -> the highest-mass candidate;
    * ``num_no_gaze``: the image has no gaze (or none inside it) -> an ordinary
      random resized crop (the parent's sampler).

    The image and ``gaze_geometry`` (crop box, affine) are updated
    exactly as :class:`GazeRandomResizedCrop` does; ``crop_params`` records the box
    and ``gaze_crop_mass`` its gaze share. If ``gaze_map`` is absent (``GazeHeatmap``
    with ``render_map=False``) it is rendered from the fixations in the current
    view (:func:`.geometry.view_fixations`).

    Args:
        scale (int | Sequence[int]): output size, as ``RandomResizedCrop``.
        min_gaze_share (float): gaze mass a crop must keep. FocusContrast used
            0.9 with zoom 1-2x (area share 0.25-1). Defaults to 0.9.
        num_candidates (int): boxes drawn per call. Defaults to 200 (FocusContrast's
            number of tries).
        crop_ratio_range (tuple): area share range. Defaults to (0.25, 1.0).
        aspect_ratio_range (tuple): aspect ratio range. Defaults to (3/4, 4/3).
        **kwargs: ``interpolation``, ``backend``, ``max_attempts`` of the parent.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 min_gaze_share: float = 0.9,
                 num_candidates: int = 200,
                 crop_ratio_range: Tuple[float, float] = (0.25, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 **kwargs) -> None:
        super().__init__(scale=scale, crop_ratio_range=crop_ratio_range,
                         aspect_ratio_range=aspect_ratio_range, **kwargs)
        if not 0.0 <= min_gaze_share <= 1.0:
            raise ValueError(f'min_gaze_share must be in [0, 1], got {min_gaze_share}')
        if num_candidates < 1:
            raise ValueError(f'num_candidates must be >= 1, got {num_candidates}')
        self.min_gaze_share = min_gaze_share
        self.num_candidates = num_candidates
        self.num_calls = 0
        self.num_fallback = 0
        self.num_no_gaze = 0

    def _candidates(self, height: int, width: int) -> np.ndarray:
        """(C, 4) int boxes ``offset_h, offset_w, h, w`` that fit the image."""
        num = self.num_candidates
        area = np.random.uniform(*self.crop_ratio_range, num) * height * width
        log_ratio = np.random.uniform(math.log(self.aspect_ratio_range[0]),
                                      math.log(self.aspect_ratio_range[1]), num)
        ratio = np.exp(log_ratio)
        box_w = np.round(np.sqrt(area * ratio)).astype(np.int64)
        box_h = np.round(np.sqrt(area / ratio)).astype(np.int64)
        fits = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)
        box_w, box_h = box_w[fits], box_h[fits]
        off_h = np.floor(np.random.uniform(0, 1, len(box_h)) *
                         (height - box_h + 1)).astype(np.int64)
        off_w = np.floor(np.random.uniform(0, 1, len(box_w)) *
                         (width - box_w + 1)).astype(np.int64)
        return np.stack([off_h, off_w, box_h, box_w], axis=1)

    @staticmethod
    def box_mass(gaze_map: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Gaze mass inside boxes ``(offset_h, offset_w, h, w)`` (C, 4) -> (C,),
        by an integral image (one cumsum, four lookups per box)."""
        integral = np.zeros((gaze_map.shape[0] + 1, gaze_map.shape[1] + 1))
        integral[1:, 1:] = gaze_map.astype(np.float64).cumsum(0).cumsum(1)
        y0, x0 = boxes[:, 0], boxes[:, 1]
        y1, x1 = y0 + boxes[:, 2], x0 + boxes[:, 3]
        return (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] +
                integral[y0, x0])

    def _gaze_map(self, results: dict, shape) -> np.ndarray:
        gaze_map = results.get('gaze_map')
        if gaze_map is not None and gaze_map.shape[:2] == tuple(shape):
            return gaze_map
        fixations = view_fixations(results)
        if fixations is None or len(fixations) == 0:
            return np.zeros(shape, np.float32)
        return fixations_to_heatmap(fixations, shape, view_sigma(results),
                                    results.get('gaze_fixation_weights'))

    def _warn_once(self, counter: str, message: str) -> None:
        if getattr(self, counter) == 1:
            warnings.warn(f'GazeFocusCrop: {message} (counted in .{counter})')

    def transform(self, results: dict) -> dict:
        self.num_calls += 1
        height, width = results['img'].shape[:2]
        gaze_map = self._gaze_map(results, (height, width))
        total = float(gaze_map.sum())
        boxes = self._candidates(height, width)
        if total <= 0 or not results.get('has_gaze', True) or len(boxes) == 0:
            if total <= 0 or not results.get('has_gaze', True):
                self.num_no_gaze += 1
                self._warn_once('num_no_gaze', 'image without gaze: plain '
                                'random resized crop')
            params = self.rand_crop_params(results['img'])
            crop_mass = (float(self.box_mass(gaze_map, np.array([params]))[0]) /
                         total if total > 0 else 0.0)
        else:
            mass = self.box_mass(gaze_map, boxes) / total
            good = np.flatnonzero(mass >= self.min_gaze_share - 1e-9)
            if len(good):
                pick = good[np.random.randint(len(good))]
            else:
                self.num_fallback += 1
                self._warn_once('num_fallback', 'no candidate crop keeps '
                                f'{self.min_gaze_share:.0%} of the gaze: using '
                                'the highest-mass one')
                pick = int(mass.argmax())
            params, crop_mass = tuple(int(v) for v in boxes[pick]), float(mass[pick])
        # the parent crops with rand_crop_params: hand it the chosen box
        self._chosen = params
        try:
            results = super().transform(results)
        finally:
            del self._chosen
        results['gaze_crop_mass'] = crop_mass
        return results

    def rand_crop_params(self, img: np.ndarray) -> Tuple[int, int, int, int]:
        chosen = getattr(self, '_chosen', None)
        return chosen if chosen is not None else super().rand_crop_params(img)

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', min_gaze_share={self.min_gaze_share}, '
                f'num_candidates={self.num_candidates})')
