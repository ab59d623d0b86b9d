"""Per-view gaze targets and packing of gaze into mmpretrain ``DataSample`` s."""
from typing import Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from gazeprior_mm.gaze.heatmap import (_overlap_matrix, gaze_mass_maps,
                                       weighted_profiles)
from gazeprior_mm.registry import TRANSFORMS

#: keys a view needs for its targets (per view under ``GazeMultiView``)
VIEW_GAZE_KEYS = ('gaze_fixations', 'gaze_fixation_weights', 'gaze_sigma',
                  'gaze_geometry')


def render_views(fixations: np.ndarray, weights: np.ndarray, sigmas: np.ndarray,
                 view_shape, grid, has_gaze: bool, min_view_mass: float,
                 with_map: bool = True) -> dict:
    """Exact gaze targets of V views of one image, rendered from moved fixations.

    The fixation weights sum to 1, so view v's un-normalised map sums to ``m_v``, the
    share of the image's gaze mass inside the view. A view counts as having gaze when
    ``has_gaze and m_v >= min_view_mass`` (and ``m_v > 0``); then
    ``gaze_map_v = mass_v / m_v`` (sum 1) and ``gaze_weights_v = g̃`` (max 1),
    otherwise both are zeros. All views in one batched computation.

    Without ``with_map`` the (h, w) maps are not formed: the patch sums come
    straight from the patch-binned profiles, ``g = (A_y P_y^T) diag(w) (P_x A_x^T)``
    -- the same numbers, at a fraction of the cost (the full map is an
    h x K x w product per view).

    Args:
        fixations (np.ndarray): (V, K, 2) x, y in each view's pixels.
        weights (np.ndarray): (K,) fixation weights summing to 1.
        sigmas (np.ndarray): (V, 2) Gaussian std (sx, sy) in each view's pixels.
        view_shape (tuple[int, int]): (h, w) shared by the views.
        grid (int | tuple[int, int]): patch grid M.
        has_gaze (bool): whether the image has gaze at all.
        min_view_mass (float): least in-view gaze share for a view to count.
        with_map (bool): also return the full-resolution maps.

    Returns:
        dict: ``gaze_map`` float32 (V, h, w) (only ``with_map``), ``gaze_weights``
        float32 (V, M*M), ``view_has_gaze`` bool (V,), ``gaze_view_mass`` float32
        (V,).
    """
    height, width = int(view_shape[0]), int(view_shape[1])
    grid_h, grid_w = (grid, grid) if np.isscalar(grid) else tuple(grid)
    num_views = len(fixations)
    if not has_gaze or fixations.shape[1] == 0:
        targets = dict(
            gaze_weights=np.zeros((num_views, grid_h * grid_w), np.float32),
            view_has_gaze=np.zeros(num_views, bool),
            gaze_view_mass=np.zeros(num_views, np.float32))
        if with_map:
            targets['gaze_map'] = np.zeros((num_views, height, width), np.float32)
        return targets
    a_y, a_x = _overlap_matrix(height, grid_h), _overlap_matrix(width, grid_w)
    if with_map:
        maps = gaze_mass_maps(fixations, (height, width), sigmas, weights)
        mass = maps.sum(axis=(1, 2))
        patch = np.matmul(np.matmul(a_y, maps), a_x.T)
    else:
        prof_y, prof_x = weighted_profiles(fixations, (height, width), sigmas,
                                           weights)
        patch = np.matmul(np.matmul(prof_y, a_y.T).transpose(0, 2, 1),
                          np.matmul(prof_x, a_x.T))
        mass = patch.sum(axis=(1, 2))
    keep = (mass > 0) & (mass >= min_view_mass)
    patch = patch.reshape(num_views, -1)
    peak = patch.max(axis=1)
    patch *= np.divide(1.0, peak, out=np.zeros_like(peak),
                       where=(peak > 0) & keep)[:, None]
    np.clip(patch, 0.0, 1.0, out=patch)
    targets = dict(gaze_weights=patch, view_has_gaze=keep,
                   gaze_view_mass=mass.astype(np.float32))
    if with_map:
        maps *= np.divide(1.0, mass, out=np.zeros_like(mass),
                          where=keep)[:, None, None]
        targets['gaze_map'] = maps
    return targets


def _check_view(results: dict) -> None:
    if 'gaze_geometry' not in results:
        raise KeyError('gaze targets need the keys set by GazeHeatmap '
                       '(put GazeHeatmap right after LoadImageFromFile); '
                       f'image {results.get("img_id", results.get("img_path"))!r}')


def _view_targets(views: list, grid, min_view_mass: float,
                  with_map: bool = True) -> dict:
    """:func:`render_views` of per-view results dicts (same image)."""
    for view in views:
        _check_view(view)
    fixations = np.stack([np.asarray(v['gaze_fixations'], np.float32).reshape(-1, 2)
                          for v in views])
    sigmas = np.array([v['gaze_sigma'] for v in views], np.float64)
    shapes = {v['img'].shape[:2] for v in views}
    if len(shapes) != 1:
        raise ValueError(f'all views must have the same size to stack their '
                         f'gaze maps, got {sorted(shapes)}')
    return render_views(fixations, views[0]['gaze_fixation_weights'], sigmas,
                        shapes.pop(), grid, bool(views[0].get('has_gaze', False)),
                        min_view_mass, with_map)


@TRANSFORMS.register_module()
class GazeViewTargets(BaseTransform):
    """Render the current view's ``gaze_map``, ``gaze_weights`` (g̃),
    ``view_has_gaze`` and ``gaze_view_mass`` (see :func:`render_views`).

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
        targets = _view_targets([results], self.grid, self.min_view_mass)
        results['gaze_map'] = targets['gaze_map'][0]
        results['gaze_weights'] = targets['gaze_weights'][0]
        results['view_has_gaze'] = bool(targets['view_has_gaze'][0])
        results['gaze_view_mass'] = float(targets['gaze_view_mass'][0])
        return results


@TRANSFORMS.register_module()
class PackGazeInputs(PackInputs):
    """mmpretrain's ``PackInputs`` plus each view's gaze (docs/interfaces.md).

    Works for one view and after :class:`GazeMultiView` (then ``img`` and every key in
    ``VIEW_GAZE_KEYS`` are lists over the V views). Each view's gaze map is rendered
    exactly from its transformed fixations (no raster warping). Data fields added to
    the ``DataSample``:

    - ``gaze_map`` float32 (V, h, w), sum 1 or zeros (unless ``with_map=False``)
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
        with_map (bool): pack the full-resolution ``gaze_map``. Defaults to True
            (the contract). A model that only needs the patch weights g̃ may switch
            it off: g̃, ``has_gaze`` and the masses are identical, and the gaze part
            of the pipeline gets several times cheaper (benchmarks/gaze_pipeline.py).
        algorithm_keys (Sequence[str]): extra keys packed as data fields.
        meta_keys (Sequence[str]): keys packed as metainfo. ``flip`` is a data field
            here, so it must not be a meta key.
    """

    def __init__(self,
                 grid: Union[int, Sequence[int]] = 14,
                 min_view_mass: float = 0.1,
                 with_map: bool = True,
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
        self.with_map = with_map

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
        targets = _view_targets(views, self.grid, self.min_view_mass,
                                self.with_map)
        sample = packed['data_samples']
        for key in self.algorithm_keys:  # numpy label masks etc. as tensors
            if isinstance(sample.get(key), np.ndarray):
                sample.set_field(torch.from_numpy(sample.get(key)), key)
        geometry = [v['gaze_geometry'] for v in views]
        fields = dict(
            gaze_weights=torch.from_numpy(targets['gaze_weights']),
            has_gaze=torch.from_numpy(targets['view_has_gaze']),
            gaze_view_mass=torch.from_numpy(targets['gaze_view_mass']),
            crop_box=torch.from_numpy(
                np.array([g['crop_box'] for g in geometry], np.float32)),
            flip=torch.tensor([g['flip'] for g in geometry]))
        if self.with_map:
            fields['gaze_map'] = torch.from_numpy(targets['gaze_map'])
        for name, value in fields.items():
            sample.set_field(value, name)
        sample.set_field(tuple(int(s) for s in views[0]['img'].shape[:2]),
                         'view_shape', field_type='metainfo')
        return packed

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', grid={self.grid}, min_view_mass={self.min_view_mass}, '
                f'with_map={self.with_map})')
