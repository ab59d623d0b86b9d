"""Per-view gaze targets and packing of gaze into mmpretrain ``DataSample`` s."""
from typing import NamedTuple, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from gazeprior_mm.gaze.heatmap import (_patch_edges, gaze_mass_maps,
                                       source_views_patch_mass, views_patch_mass)
from gazeprior_mm.gaze.view_targets_kernel import (HAS_NUMBA, TARGET_KEYS,
                                                  views_targets)
from gazeprior_mm.registry import TRANSFORMS

_TINY = float(np.finfo(np.float32).tiny)

def _grid_shape(grid) -> Tuple[int, int]:
    """(M_h, M_w) of a patch grid given as M or (M_h, M_w)."""
    return (grid, grid) if isinstance(grid, (int, np.integer)) else tuple(grid)


#: keys a view needs for its targets (per view under ``GazeMultiView``)
VIEW_GAZE_KEYS = ('gaze_fixations', 'gaze_fixation_weights', 'gaze_sigma',
                  'gaze_geometry')


def render_views(fixations: np.ndarray, weights: np.ndarray, sigmas: np.ndarray,
                 view_shape, grid, has_gaze: bool, min_view_mass: float,
                 with_map: bool = True) -> dict:
    """Exact gaze targets of V views of one image, from fixations in each view.

    The patch masses ``g`` are the exact integrals of each view's Gaussian mixture
    over its patches, computed from the fixations without any raster
    (:func:`gazeprior_mm.gaze.heatmap.fixation_patch_mass`). The fixation weights
    sum to 1, so ``m_v = sum_i g_vi`` is the share of the image's gaze mass inside
    view v. A view counts as having gaze when ``has_gaze and m_v >= min_view_mass``
    (and ``m_v > 0``); then ``gaze_weights_v = g_v / max_i g_vi`` (g̃, max 1) and,
    with ``with_map``, ``gaze_map_v`` is the view's raster map
    (:func:`gazeprior_mm.gaze.heatmap.gaze_mass_maps`) normalised to sum 1;
    otherwise both are zeros. g̃, ``view_has_gaze`` and the masses do not depend
    on ``with_map``; the map's patch sums agree with g̃ up to the raster's
    midpoint rule (~1e-3 relative at sigma = 5 px).

    Args:
        fixations (np.ndarray): float32 (V, K, 2) x, y in each view's pixels.
        weights (np.ndarray): float32 (K,) fixation weights summing to 1.
        sigmas (np.ndarray): float32 (V, 2) Gaussian std (sx, sy) in each view's
            pixels.
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
    grid_h, grid_w = _grid_shape(grid)
    num_views = len(fixations)
    if not has_gaze or fixations.shape[1] == 0:
        return _empty_targets(num_views, (height, width), grid_h, grid_w, with_map)
    patch = views_patch_mass(fixations, sigmas, weights,
                             _patch_edges(height, width, grid_h, grid_w), grid_h,
                             grid_w).reshape(num_views, -1)
    targets = _normalised_targets(patch, min_view_mass)
    if with_map:
        targets['gaze_map'] = _normalised_maps(
            gaze_mass_maps(fixations, (height, width), sigmas, weights),
            targets['view_has_gaze'])
    return targets


def _empty_targets(num_views: int, view_shape, grid_h: int, grid_w: int,
                   with_map: bool) -> dict:
    targets = dict(gaze_weights=np.zeros((num_views, grid_h * grid_w), np.float32),
                   view_has_gaze=np.zeros(num_views, bool),
                   gaze_view_mass=np.zeros(num_views, np.float32))
    if with_map:
        targets['gaze_map'] = np.zeros((num_views, *view_shape), np.float32)
    return targets


def _normalised_targets(patch: np.ndarray, min_view_mass: float) -> dict:
    """g̃, ``view_has_gaze`` and the in-view mass from (V, P) patch masses."""
    mass = patch.sum(axis=1)
    # mass > 0 and mass >= min_view_mass, in one comparison
    keep = mass >= max(float(min_view_mass), _TINY)
    # g / max g for kept views (their peak is > 0), zeros for the others
    patch *= (keep / np.maximum(patch.max(axis=1), _TINY))[:, None]
    np.minimum(patch, np.float32(1.0), out=patch)  # >= 0 already
    return dict(gaze_weights=patch, view_has_gaze=keep, gaze_view_mass=mass)


def _normalised_maps(maps: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """(V, h, w) raster maps scaled to sum 1 where ``keep``, zeros elsewhere."""
    map_mass = maps.sum(axis=(1, 2))
    maps *= np.divide(1.0, map_mass, out=np.zeros_like(map_mass),
                      where=keep & (map_mass > 0))[:, None, None]
    return maps


def render_source_views(fixations: np.ndarray, weights: np.ndarray, sigma,
                        geometries: Sequence, grid, has_gaze: bool,
                        min_view_mass: float, with_map: bool = True,
                        use_kernel: bool = True) -> dict:
    """:func:`render_views` of V views given by their geometry, from the fixations
    in the source grid (what the pipeline carries: geometric transforms only
    compose ``gaze_geometry``).

    Each view's patch borders are mapped into the source; the numbers equal
    :func:`render_views` of the fixations moved into each view (with sigma scaled by
    the view's zoom) up to float32 rounding, at the cost of one compiled call
    (:func:`gazeprior_mm.gaze.view_targets_kernel.views_targets`) or a few
    array operations (:func:`gazeprior_mm.gaze.heatmap.source_views_patch_mass`)
    per image instead of moving the fixations in every geometric step.

    Args:
        fixations (np.ndarray): float32 (K, 2) x, y in the source grid.
        weights (np.ndarray): float32 (K,) fixation weights summing to 1.
        sigma (tuple[float, float]): (sx, sy) in source pixels.
        geometries (Sequence[ViewGeometry]): the V views' geometry, one view shape.
        grid (int | tuple[int, int]): patch grid M.
        has_gaze (bool): whether the image has gaze at all.
        min_view_mass (float): least in-view gaze share for a view to count.
        with_map (bool): also return the full-resolution maps.
        use_kernel (bool): compute the targets with the compiled kernel when numba
            is installed (the default path); False: the vectorised numpy path (the
            reference the tests compare the kernel with). They agree to ~3e-5
            (the kernel is float64 inside, the numpy path float32).

    Returns:
        dict: as :func:`render_views`, plus the views' ``crop_box`` float32 (V, 4)
        and ``flip`` bool (V,) (``ViewGeometry.crop_box`` / ``flip``).
    """
    height, width = geometries[0].view_shape
    grid_h, grid_w = _grid_shape(grid)
    num_views = len(geometries)
    with_gaze = has_gaze and len(fixations) > 0
    # per view (a_y, a_x, b_y, b_x): view = a * source + b, per axis
    coef = np.array([g.coefficients for g in geometries])
    if use_kernel and HAS_NUMBA:
        fixations, weights = _kernel_gaze(fixations, weights, has_gaze)
        targets = dict(zip(TARGET_KEYS, views_targets(
            fixations, weights, float(sigma[0]), float(sigma[1]), coef, height,
            width, grid_h, grid_w, float(min_view_mass))))
    else:
        if with_gaze:
            borders = ((_patch_edges(height, width, grid_h, grid_w)[None] -
                        coef[:, 2:, None]) / coef[:, :2, None])  # (V, 2, E)
            patch = source_views_patch_mass(fixations, sigma, weights, borders)
            if patch.shape[1:] != (grid_h, grid_w):  # a non-square grid, padded
                patch = np.ascontiguousarray(patch[:, :grid_h, :grid_w])
            targets = _normalised_targets(patch.reshape(num_views, -1),
                                          min_view_mass)
        else:
            targets = _empty_targets(num_views, (height, width), grid_h, grid_w,
                                     False)
        targets['crop_box'] = np.array([g.crop_box_list() for g in geometries],
                                       np.float32)
        targets['flip'] = np.array([g.flip for g in geometries])
    if with_map and not with_gaze:
        targets['gaze_map'] = np.zeros((num_views, height, width), np.float32)
    elif with_map:
        moved = np.stack([g.to_view(fixations) for g in geometries])
        sigmas = np.array([g.view_sigma(sigma) for g in geometries], np.float32)
        targets['gaze_map'] = _normalised_maps(
            gaze_mass_maps(moved, (height, width), sigmas, weights),
            targets['view_has_gaze'])
    return targets


_NO_FIXATIONS = np.zeros((0, 2), np.float32)
_NO_WEIGHTS = np.zeros(0, np.float32)


def _kernel_gaze(fixations: np.ndarray, weights: np.ndarray, has_gaze: bool):
    """The (fixations, weights) the kernel takes: the image's, or K = 0 ones for
    an image without gaze (its targets are then zeros)."""
    if has_gaze and len(fixations) > 0:
        return fixations, weights
    return _NO_FIXATIONS, _NO_WEIGHTS


def _check_view(results: dict) -> None:
    if 'gaze_geometry' not in results:
        raise KeyError('gaze targets need the keys set by GazeHeatmap '
                       '(put GazeHeatmap right after LoadImageFromFile); '
                       f'image {results.get("img_id", results.get("img_path"))!r}')


def _check_views(results: dict, geometries: list, imgs: list) -> None:
    """All views one size, and each the size its gaze geometry says."""
    view_shape = imgs[0].shape[:2]
    for img, geometry in zip(imgs, geometries):
        if img.shape[:2] != view_shape:
            raise ValueError(f'all views must have the same size to stack their '
                             f'gaze maps, got {sorted({i.shape[:2] for i in imgs})}')
        if geometry.view_shape != view_shape:
            raise ValueError(
                f'image {results.get("img_id", results.get("img_path"))!r}: a view '
                f'is {view_shape} but its gaze geometry says {geometry.view_shape}: '
                'a transform changed the image without carrying the gaze (use the '
                'Gaze* geometric transforms)')


def _source_gaze(results: dict) -> tuple:
    """(fixations, weights, sigma) in the source grid, as ``GazeHeatmap`` set them."""
    fixations = results['gaze_fixations']
    sigma = results['gaze_sigma']
    weights = results['gaze_fixation_weights']
    if isinstance(fixations, list):  # GazeMultiView: the same source gaze per view
        fixations, sigma, weights = fixations[0], sigma[0], weights[0]
    return fixations, weights, sigma


def _view_targets(results: dict, geometries: list, imgs: list, grid,
                  min_view_mass: float, with_map: bool) -> dict:
    """:func:`render_source_views` of the V views of one results dict."""
    _check_views(results, geometries, imgs)
    fixations, weights, sigma = _source_gaze(results)
    return render_source_views(fixations, weights, sigma, geometries, grid,
                               bool(results.get('has_gaze', False)),
                               min_view_mass, with_map)


#: (key of the targets, data field) that :func:`set_gaze_fields` packs
GAZE_FIELDS = (('gaze_weights', 'gaze_weights'), ('view_has_gaze', 'has_gaze'),
               ('gaze_view_mass', 'gaze_view_mass'), ('crop_box', 'crop_box'),
               ('flip', 'flip'), ('gaze_map', 'gaze_map'))


def set_gaze_fields(sample, targets: dict) -> None:
    """Put the targets of :func:`render_source_views` (arrays) or of the batch
    collate (tensors) into ``sample`` as tensors, sharing their memory: the data
    fields ``GAZE_FIELDS`` (``gaze_map`` only when present)."""
    for key, field in GAZE_FIELDS:
        value = targets.get(key)
        if value is not None:
            sample.set_field(value if isinstance(value, torch.Tensor) else
                             torch.from_numpy(value), field)


class PendingGazeTargets(NamedTuple):
    """A sample's source gaze and view geometry, left by
    ``PackGazeInputs(defer_targets=True)`` in its ``gaze_pending`` data field for
    :func:`gazeprior_mm.datasets.collate.gaze_collate` to turn into the gaze
    fields of the batch in one call.

    Fields: ``fixations`` float32 (K, 2) and ``weights`` float32 (K,) in the source
    grid (K = 0 for an image without gaze); ``sigma`` (sx, sy) source pixels;
    ``geometries`` the V views' ``ViewGeometry``; ``grid`` (M_h, M_w);
    ``min_view_mass``.
    """
    fixations: np.ndarray
    weights: np.ndarray
    sigma: Tuple[float, float]
    geometries: tuple
    grid: Tuple[int, int]
    min_view_mass: float


#: the data field ``PackGazeInputs(defer_targets=True)`` leaves for the collate
PENDING_FIELD = 'gaze_pending'


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
        _check_view(results)
        targets = _view_targets(results, [results['gaze_geometry']],
                                [results['img']], self.grid, self.min_view_mass,
                                with_map=True)
        results['gaze_map'] = targets['gaze_map'][0]
        results['gaze_weights'] = targets['gaze_weights'][0]
        results['view_has_gaze'] = bool(targets['view_has_gaze'][0])
        results['gaze_view_mass'] = float(targets['gaze_view_mass'][0])
        return results


@TRANSFORMS.register_module()
class PackGazeInputs(PackInputs):
    """mmpretrain's ``PackInputs`` plus each view's gaze (docs/interfaces.md).

    Works for one view and after :class:`GazeMultiView` (then ``img`` and every key in
    ``VIEW_GAZE_KEYS`` are lists over the V views). Each view's gaze targets are
    computed exactly from the source fixations through the view's geometry
    (:func:`render_source_views`; no raster warping). Data fields added to
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
            (the contract). g̃, ``has_gaze`` and the masses are always computed
            exactly from the fixations (:func:`render_source_views`) and are identical
            either way; pipelines whose consumers only need them (the GazePrior
            pre-training configs) switch the maps off: a full map per view costs
            several times the targets (benchmarks/gaze_pipeline.py:
            ``ratio_with_full_maps``).
        defer_targets (bool): leave the per-view gaze fields (``gaze_weights``,
            ``has_gaze``, ``gaze_view_mass``, ``crop_box``, ``flip``) to the batch
            collate ``collate_fn=dict(type='gaze_collate')``, which computes them
            for the whole batch in one compiled call, equal to the per-sample ones
            (:mod:`gazeprior_mm.datasets.collate`). The sample then carries a
            ``gaze_pending`` data field (:class:`PendingGazeTargets`) instead,
            until the collate replaces it; everything else is packed as usual.
            Needs ``with_map=False``. Defaults to False.
        algorithm_keys (Sequence[str]): extra keys packed as data fields.
        meta_keys (Sequence[str]): keys packed as metainfo. ``flip`` is a data field
            here, so it must not be a meta key.
    """

    def __init__(self,
                 grid: Union[int, Sequence[int]] = 14,
                 min_view_mass: float = 0.1,
                 with_map: bool = True,
                 defer_targets: bool = False,
                 input_key: str = 'img',
                 algorithm_keys: Sequence[str] = ('gt_label_mask', 'gt_label_raw'),
                 meta_keys: Sequence[str] = ('sample_idx', 'img_id', 'img_path',
                                             'ori_shape', 'scale_factor')) -> None:
        if 'flip' in meta_keys:
            raise ValueError("'flip' is a data field of PackGazeInputs, "
                             'remove it from meta_keys')
        if defer_targets and with_map:
            raise ValueError('PackGazeInputs(defer_targets=True) computes no '
                             'full-resolution maps: set with_map=False')
        super().__init__(input_key=input_key, algorithm_keys=algorithm_keys,
                         meta_keys=meta_keys)
        self.grid = grid
        self.min_view_mass = min_view_mass
        self.with_map = with_map
        self.defer_targets = defer_targets

    def _views(self, results: dict):
        """The V view images and their geometries (V = 1 without
        ``GazeMultiView``)."""
        _check_view(results)
        imgs = results[self.input_key]
        if not isinstance(imgs, list):
            return [imgs], [results['gaze_geometry']]
        geometries = results.get('gaze_geometry')
        if not isinstance(geometries, list) or len(geometries) != len(imgs):
            raise KeyError(
                f"'gaze_geometry' is not a per-view list of {len(imgs)}: use "
                'GazeMultiView (not MultiView) with GazeHeatmap before it')
        if None in geometries:
            _check_view({'img_id': results.get('img_id')})  # raises, names image
        return imgs, geometries

    def _labels_to_tensors(self, sample) -> None:
        """The numpy label fields (``gt_label_mask`` ...) as tensors."""
        for key in self.algorithm_keys:
            value = sample.get(key)
            if isinstance(value, np.ndarray):
                sample.set_field(torch.from_numpy(value), key)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        imgs, geometries = self._views(results)
        sample = packed['data_samples']
        self._labels_to_tensors(sample)
        if self.defer_targets:
            sample.set_field(self._pending(results, geometries, imgs),
                             PENDING_FIELD)
        else:
            set_gaze_fields(sample, _view_targets(
                results, geometries, imgs, self.grid, self.min_view_mass,
                self.with_map))
        sample.set_field(geometries[0].view_shape, 'view_shape',
                         field_type='metainfo')
        return packed

    def _pending(self, results: dict, geometries: list,
                 imgs: list) -> PendingGazeTargets:
        """What the collate needs for this sample's gaze fields (checked now, so
        that errors still name the image)."""
        _check_views(results, geometries, imgs)
        fixations, weights, sigma = _source_gaze(results)
        fixations, weights = _kernel_gaze(fixations, weights,
                                          bool(results.get('has_gaze', False)))
        return PendingGazeTargets(
            fixations, weights, (float(sigma[0]), float(sigma[1])),
            tuple(geometries), _grid_shape(self.grid), float(self.min_view_mass))

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', grid={self.grid}, min_view_mass={self.min_view_mass}, '
                f'with_map={self.with_map}, defer_targets={self.defer_targets})')
