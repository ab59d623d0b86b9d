"""Packing gaze into mmpretrain ``DataSample`` s: thin adapters over
:mod:`gazeprior_mm.gaze.targets`.

The per-view gaze fields have one route,
:func:`gazeprior_mm.gaze.targets.batch_view_targets` (the compiled kernel):
``PackGazeInputs(defer_targets=True)`` leaves each sample's
:class:`~gazeprior_mm.gaze.targets.PendingGazeTargets` for ``gaze_collate`` to
complete per batch; otherwise the packer completes it at once, as a batch of one
(:func:`~gazeprior_mm.gaze.targets.render_source_views`).
"""
from typing import Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from gazeprior_mm.gaze.targets import (PendingGazeTargets,  # noqa: F401
                                       grid_shape, pending_targets,
                                       render_source_views)
from gazeprior_mm.registry import TRANSFORMS

#: keys a view needs for its targets (per view under ``GazeMultiView``)
VIEW_GAZE_KEYS = ('gaze_fixations', 'gaze_fixation_weights', 'gaze_sigma',
                  'gaze_geometry')


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


#: the data field ``PackGazeInputs(defer_targets=True)`` leaves for the collate
PENDING_FIELD = 'gaze_pending'


@TRANSFORMS.register_module()
class GazeViewTargets(BaseTransform):
    """Render the current view's ``gaze_map``, ``gaze_weights`` (g̃),
    ``view_has_gaze`` and ``gaze_view_mass`` (the fields of
    :func:`~gazeprior_mm.gaze.targets.render_source_views` for one view).

    Optional: :class:`PackGazeInputs` renders the same itself. Useful for tools
    that look at a view without packing it.

    Args:
        grid (int | tuple[int, int]): patch grid M. Defaults to 14.
        min_view_mass (float): least in-view gaze share. Defaults to 0.1.
    """

    def __init__(self, grid: Union[int, Sequence[int]] = 14,
                 min_view_mass: float = 0.1) -> None:
        grid_shape(grid)  # checked now, not at the first sample
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
        grid_shape(grid)  # checked now, not at the first sample
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
        return pending_targets(fixations, weights, sigma, geometries, self.grid,
                               bool(results.get('has_gaze', False)),
                               self.min_view_mass)

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] +
                f', grid={self.grid}, min_view_mass={self.min_view_mass}, '
                f'with_map={self.with_map}, defer_targets={self.defer_targets})')
