"""Per-view gaze targets and packing of gaze into mmpretrain ``DataSample`` s."""
from typing import Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from gazeprior_mm.gaze.heatmap import gaze_mass_map, patch_gaze_weights
from gazeprior_mm.registry import TRANSFORMS

#: keys a view needs for its targets (per view under ``GazeMultiView``)
VIEW_GAZE_KEYS = ('gaze_fixations', 'gaze_fixation_weights', 'gaze_sigma',
                  'gaze_geometry')


def render_view_targets(fixations: np.ndarray, weights: np.ndarray, sigma,
                        view_shape, grid, has_gaze: bool,
                        min_view_mass: float) -> dict:
    """Exact gaze targets of one view, rendered from its (moved) fixations.

    The fixation weights sum to 1, so the un-normalised map's sum ``m`` is the share
    of the image's gaze mass inside the view. The view counts as having gaze when
    ``has_gaze and m >= min_view_mass``; then ``gaze_map = mass / m`` (sum 1) and
    ``gaze_weights = g̃`` (max 1); otherwise both are zeros.

    Args:
        fixations (np.ndarray): (K, 2) x, y in view pixels.
        weights (np.ndarray): (K,) fixation weights summing to 1.
        sigma (tuple[float, float]): Gaussian std (sx, sy) in view pixels.
        view_shape (tuple[int, int]): (h, w).
        grid (int | tuple[int, int]): patch grid M.
        has_gaze (bool): whether the image has gaze at all.
        min_view_mass (float): least in-view gaze share for the view to count.

    Returns:
        dict: ``gaze_map`` float32 (h, w), ``gaze_weights`` float32 (M*M,),
        ``view_has_gaze`` bool, ``gaze_view_mass`` float.
    """
    height, width = int(view_shape[0]), int(view_shape[1])
    grid_h, grid_w = (grid, grid) if np.isscalar(grid) else tuple(grid)
    mass = 0.0
    gaze_map = None
    if has_gaze and len(fixations):
        gaze_map = gaze_mass_map(fixations, (height, width), sigma, weights)
        mass = float(gaze_map.sum())
    view_has_gaze = bool(has_gaze and mass > 0 and mass >= min_view_mass)
    if not view_has_gaze:
        return dict(gaze_map=np.zeros((height, width), np.float32),
                    gaze_weights=np.zeros(grid_h * grid_w, np.float32),
                    view_has_gaze=False, gaze_view_mass=mass)
    gaze_map = gaze_map / np.float32(mass)
    return dict(gaze_map=gaze_map,
                gaze_weights=patch_gaze_weights(gaze_map, (grid_h, grid_w)),
                view_has_gaze=True, gaze_view_mass=mass)


def _view_targets(results: dict, grid, min_view_mass: float) -> dict:
    if 'gaze_geometry' not in results:
        raise KeyError('gaze targets need the keys set by GazeHeatmap '
                       '(put GazeHeatmap right after LoadImageFromFile); '
                       f'image {results.get("img_id", results.get("img_path"))!r}')
    return render_view_targets(results['gaze_fixations'],
                               results['gaze_fixation_weights'],
                               results['gaze_sigma'], results['img'].shape[:2],
                               grid, bool(results.get('has_gaze', False)),
                               min_view_mass)


@TRANSFORMS.register_module()
class GazeViewTargets(BaseTransform):
    """Render the current view's ``gaze_map``, ``gaze_weights`` (g̃),
    ``view_has_gaze`` and ``gaze_view_mass`` (see :func:`render_view_targets`).

    Optional: :class:`PackGazeInputs` renders the same itself. Useful for tools
    that look at a view without packing it.

    Args:
        grid (int | tuple[int, int]): patch grid M. Defaults to 14.
        min_view_mass (float): least in-view gaze share. Defaults to 0.1.
    """

    def __init__(self, grid: Union[int, Sequence[int]] = 14,
                 min_view_mass: float = 0.1) -> None:
        self.grid = grid
        self.min_view_mass = min_view_mass

    def transform(self, results: dict) -> dict:
        results.update(_view_targets(results, self.grid, self.min_view_mass))
        return results


@TRANSFORMS.register_module()
class PackGazeInputs(PackInputs):
    """mmpretrain's ``PackInputs`` plus each view's gaze (docs/interfaces.md).

    Works for one view and after :class:`GazeMultiView` (then ``img`` and every key in
    ``VIEW_GAZE_KEYS`` are lists over the V views). Each view's gaze map is rendered
    exactly from its transformed fixations (no raster warping). Data fields added to
    the ``DataSample``:

    - ``gaze_map`` float32 (V, h, w), sum 1 or zeros
    - ``gaze_weights`` float32 (V, M*M), g̃ row-major, max 1 or zeros
    - ``has_gaze`` bool (V,): image has gaze and the view keeps >= ``min_view_mass``
    - ``gaze_view_mass`` float32 (V,): share of the gaze mass inside each view
    - ``crop_box`` float32 (V, 4) x0, y0, x1, y1 in source-image box coordinates
    - ``flip`` bool (V,) horizontal flip
    - ``gt_label_mask`` bool (C,) and ``gt_label_raw`` int8 (C,) when present
    and metainfo ``view_shape`` (h, w), ``img_id``, ``sample_idx``, ...

    Args:
        grid (int | tuple[int, int]): patch grid M of the model. Defaults to 14.
        min_view_mass (float): least share of the image's gaze mass a view must keep
            to count as having gaze. Defaults to 0.1.
        algorithm_keys (Sequence[str]): extra keys packed as data fields.
        meta_keys (Sequence[str]): keys packed as metainfo. ``flip`` is a data field
            here, so it must not be a meta key.
    """

    def __init__(self,
                 grid: Union[int, Sequence[int]] = 14,
                 min_view_mass: float = 0.1,
                 input_key: str = 'img',
                 algorithm_keys: Sequence[str] = ('gt_label_mask', 'gt_label_raw'),
                 meta_keys: Sequence[str] = ('sample_idx', 'img_id', 'img_path',
                                             'ori_shape', 'scale_factor')) -> None:
        if 'flip' in meta_keys:
            raise ValueError("'flip' is a data field of PackGazeInputs, "
                             'remove it from meta_keys')
        super().__init__(input_key=input_key, algorithm_keys=algorithm_keys,
                         meta_keys=meta_keys)
        self.grid = grid
        self.min_view_mass = min_view_mass

    def _split_views(self, results: dict) -> list:
        """One dict per view with that view's image and gaze keys."""
        imgs = results[self.input_key]
        if not isinstance(imgs, list):
            return [results]
        views = []
        for i, img in enumerate(imgs):
            view = dict(img=img, has_gaze=results.get('has_gaze', False),
                        img_id=results.get('img_id'))
            for key in VIEW_GAZE_KEYS:
                value = results.get(key)
                if not isinstance(value, list) or len(value) != len(imgs):
                    raise KeyError(
                        f'{key!r} is not a per-view list of {len(imgs)}: use '
                        'GazeMultiView (not MultiView) with GazeHeatmap before it')
                view[key] = value[i]
            views.append(view)
        return views

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        views = self._split_views(results)
        targets = [_view_targets(v, self.grid, self.min_view_mass) for v in views]
        shapes = {v['img'].shape[:2] for v in views}
        if len(shapes) != 1:
            raise ValueError(f'all views must have the same size to stack their '
                             f'gaze maps, got {sorted(shapes)}')
        sample = packed['data_samples']
        for key in self.algorithm_keys:  # numpy label masks etc. as tensors
            if isinstance(sample.get(key), np.ndarray):
                sample.set_field(torch.from_numpy(sample.get(key)), key)
        sample.set_field(torch.from_numpy(np.stack([t['gaze_map'] for t in targets])),
                         'gaze_map')
        sample.set_field(
            torch.from_numpy(np.stack([t['gaze_weights'] for t in targets])),
            'gaze_weights')
        sample.set_field(torch.tensor([t['view_has_gaze'] for t in targets]),
                         'has_gaze')
        sample.set_field(
            torch.tensor([t['gaze_view_mass'] for t in targets], dtype=torch.float32),
            'gaze_view_mass')
        sample.set_field(
            torch.tensor(np.stack([v['gaze_geometry']['crop_box'] for v in views]),
                         dtype=torch.float32), 'crop_box')
        sample.set_field(torch.tensor([v['gaze_geometry']['flip'] for v in views]),
                         'flip')
        sample.set_field(tuple(int(s) for s in shapes.pop()), 'view_shape',
                         field_type='metainfo')
        return packed

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', grid={self.grid}, min_view_mass={self.min_view_mass})')
