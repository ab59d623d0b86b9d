"""``GazeHeatmap``: raw multi-reader fixations -> gaze in the current image grid."""
import warnings
from typing import Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform

from gazeprior_mm.gaze.fusion import (FUSION_MODES, fuse_fixation_weights,
                                      per_reader_heatmaps)
from gazeprior_mm.gaze.fixations import (DROP_REASONS, as_pair, clean_fixations,
                                         fixation_array)
from gazeprior_mm.gaze.geometry import crop_resize_step, init_geometry
from gazeprior_mm.gaze.targets import fixations_to_heatmap
from gazeprior_mm.registry import TRANSFORMS



@TRANSFORMS.register_module()
class GazeHeatmap(BaseTransform):
    """Turn the readers' fixations of a sample into gaze on the current image grid.

    Per reader the fixations are cleaned (NaN / infinite / negative duration /
    outside the gaze grid rows dropped, counted, warned with the image id), the
    readers are fused
    (:func:`gazeprior_mm.gaze.fusion.fuse_reader_fixations`), and the pooled fixations
    are mapped from the gaze grid ``gaze['image_size'] = (H0, W0)`` to the current
    image ``img_shape = (H, W)``: ``x' = (W / W0)(x + 1/2) - 1/2`` (same for y).
    Place it right after ``LoadImageFromFile``; later geometric ``Gaze*`` transforms
    compose their maps into ``gaze_geometry`` (the fixations stay in this grid; see
    :func:`~gazeprior_mm.datasets.transforms.geometry.view_fixations`).

    **Required keys**: ``img`` (or ``img_shape``), ``gaze`` (dict or None),
    ``has_gaze``; ``img_id`` (for warnings).

    **Added keys**: ``gaze_fixations`` float32 (K, 2), ``gaze_fixation_weights``
    float32 (K,) summing to 1, ``gaze_sigma`` (sx, sy) pixels of the current grid,
    ``gaze_map`` float32 (H, W) (if ``render_map``; sums to 1 or zeros),
    ``gaze_geometry`` (identity, see :mod:`.geometry`), ``gaze_reader_index`` (K,)
    reader of each fixation, ``gaze_reader_weights`` (R,) fusion weights rho,
    ``gaze_drop_counts`` dict, ``gaze_spread`` float32 (H, W): per-pixel spread
    between the readers' maps, ``sqrt(sum_r rho_r (h_r - h)^2)`` (only with
    ``with_spread``; an uncertainty signal). **Modified**: ``has_gaze`` becomes
    False when no fixation survives cleaning. **Removed** (unless ``keep_raw``):
    ``gaze``.

    Args:
        sigma (float | tuple[float, float]): Gaussian std in pixels of the gaze grid
            (the stored image). Defaults to 5.0.
        sigma_rel (float, optional): if given, overrides ``sigma`` with
            ``sigma_rel * max(H0, W0)`` -- a size-independent choice (about one degree
            of visual angle is 2-4 % of a chest X-ray's width).
        fusion (str): reader fusion, 'mean' or 'agreement'. Defaults to 'mean'.
        duration_weighted (bool): weight fixations by duration within each
            reader. A reader whose fixations have no duration column ((K, 2) ``x,
            y``; accepted) weights its fixations equally; the other readers of
            the image keep their duration weights. Defaults to True.
        render_map (bool): render ``gaze_map`` for the current image. Pipelines that
            crop afterwards may switch it off (the packer renders each view).
        with_spread (bool): also compute ``gaze_spread``. Defaults to False.
        warn (bool): warn about dropped fixations. Defaults to True.
        max_warnings (int): per process, name at most this many images in
            drop warnings, then say once that further ones are silenced (real and
            synthetic readings routinely have 5-10 % off-image fixations, so a
            warning per image would bury the training log). The drops are always
            counted in ``results['gaze_drop_counts']``. Defaults to 5.
        keep_raw (bool): keep the raw ``gaze`` dict in the results. Defaults to
            False: it is consumed here, and dropping it saves copying it per view.
        cache_size (int): cleaning and fusion depend only on the image's gaze, so
            their result (in the gaze grid) is memoised per process for up to this
            many images, keyed by ``img_id`` (+ gaze size and fixation counts as a
            guard), and so are the results fields for the image size met (the
            same arrays when it is the gaze grid's): later epochs look them up.
            Dropped fixations are therefore warned about once per image and
            process (the counts are reported every time). About 3 kB per image of
            ~135 fixations. 0 disables the cache (:meth:`clear_cache` empties it).
            Defaults to 20000.
    """

    def __init__(self,
                 sigma: Union[float, Sequence[float]] = 5.0,
                 sigma_rel: Optional[float] = None,
                 fusion: str = 'mean',
                 duration_weighted: bool = True,
                 render_map: bool = True,
                 with_spread: bool = False,
                 warn: bool = True,
                 max_warnings: int = 5,
                 keep_raw: bool = False,
                 cache_size: int = 20000) -> None:
        if fusion not in FUSION_MODES:
            raise ValueError(f'fusion must be one of {FUSION_MODES}, got {fusion!r}')
        self.sigma = as_pair(sigma, 'sigma')
        self.sigma_rel = sigma_rel
        self.fusion = fusion
        self.duration_weighted = duration_weighted
        self.render_map = render_map
        self.with_spread = with_spread
        self.warn = warn
        self.max_warnings = int(max_warnings)
        self._num_warned = 0
        self.keep_raw = keep_raw
        self.cache_size = int(cache_size)
        self._cache = {}  # cleaned + fused gaze per image, in its gaze grid
        self._fields_cache = {}  # results fields per (image, image shape)

    def transform(self, results: dict) -> dict:
        shape = (results['img'].shape[:2]
                 if 'img' in results else tuple(results['img_shape'][:2]))
        gaze = results.get('gaze') if results.get('has_gaze', True) else None
        if not self.keep_raw:
            results.pop('gaze', None)
        fields = self._gaze_fields(gaze, (int(shape[0]), int(shape[1])),
                                   results.get('img_id'))
        results.update(fields)
        # a dict per sample: the memoised one must not be changed downstream
        results['gaze_drop_counts'] = dict(fields['gaze_drop_counts'])
        if self.render_map:
            results['gaze_map'] = fixations_to_heatmap(
                fields['gaze_fixations'], shape, fields['gaze_sigma'],
                fields['gaze_fixation_weights'])
        if self.with_spread:
            # per-reader maps (each sums to 1), spread around their rho-mixture
            rho = fields['gaze_reader_weights'].astype(np.float32)
            maps = per_reader_heatmaps(fields['gaze_fixations'],
                                       fields['gaze_reader_index'], len(rho), shape,
                                       fields['gaze_sigma'],
                                       fields['gaze_fixation_weights'])
            fused = np.tensordot(rho, maps, axes=1)
            results['gaze_spread'] = np.sqrt(np.tensordot(rho, (maps - fused) ** 2,
                                                          axes=1))
        return results

    def clear_cache(self) -> None:
        """Forget every memoised image (the next epoch recomputes them all)."""
        self._cache.clear()
        self._fields_cache.clear()

    def _gaze_fields(self, gaze: Optional[dict], shape, image_id) -> dict:
        """The results fields of a sample's gaze on an image of ``shape``.

        Memoised per (image, shape) like the fusion (see ``cache_size``): in the
        steady state of training this is one dict lookup, which matters because
        it runs for every sample (a few lines of Python here cost several
        microseconds each, right after the image decode).
        """
        readers = gaze.get('readers') if gaze else None
        key = None
        if readers and image_id is not None:
            # row counts as a guard against two rows sharing an image id
            key = (image_id, shape, tuple(gaze['image_size']),
                   tuple([len(reader['fixations']) for reader in readers]))
            fields = self._fields_cache.get(key)
            if fields is not None:
                return fields
        xy, weights, readers, rho, counts, sigma = self._fuse(gaze, shape,
                                                              image_id)
        fields = dict(has_gaze=bool(len(xy)), gaze_fixations=xy,
                      gaze_fixation_weights=weights, gaze_sigma=sigma,
                      gaze_reader_index=readers, gaze_reader_weights=rho,
                      gaze_drop_counts=counts,
                      # immutable, so one object serves every sample of the image
                      gaze_geometry=init_geometry(shape))
        if key is not None and len(self._fields_cache) < self.cache_size:
            self._fields_cache[key] = fields
        return fields

    def _fuse(self, gaze: Optional[dict], shape, image_id):
        """Fused gaze of the sample, mapped from its gaze grid to ``shape``."""
        fused = self._fused_in_gaze_grid(gaze, image_id)
        if fused is None:
            counts = dict.fromkeys(DROP_REASONS, 0)
            counts['kept'] = 0
            num_readers = len((gaze or {}).get('readers') or [])
            return (np.zeros((0, 2), np.float32), np.zeros(0, np.float32),
                    np.zeros(0, np.int64), np.zeros(num_readers), counts, self.sigma)
        xy, weights, readers, rho, counts, sigma, (src_h, src_w) = fused
        if (src_h, src_w) != (shape[0], shape[1]):
            # the image was resized from the gaze grid: x' = (W / W0)(x + 1/2) -
            # 1/2, a fresh (K, 2) array
            resize = init_geometry((src_h, src_w)).then(
                *crop_resize_step((0, 0, src_w, src_h), shape), shape)
            xy = resize.to_view(xy)
            xy.flags.writeable = False  # shared by the views of GazeMultiView
            sigma = resize.view_sigma(sigma)
        # else the cached, read-only arrays as they are: nothing downstream
        # modifies fixations (geometric transforms compose gaze_geometry only)
        return xy, weights, readers, rho, counts, sigma

    def _fused_in_gaze_grid(self, gaze: Optional[dict], image_id):
        """Clean all readers' fixations at once and fuse them (memoised)."""
        readers = (gaze or {}).get('readers') or []
        # the cache key needs only the row counts: converting the raw (JSON list)
        # fixations to arrays costs more than everything else on a cache hit
        lengths = tuple(len(r['fixations']) for r in readers)
        if not gaze or sum(lengths) == 0:
            return None
        src_h, src_w = (int(v) for v in gaze['image_size'])
        key = (image_id, src_h, src_w, lengths)
        if image_id is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        arrays = [fixation_array(r['fixations'], f'image {image_id!r}: fixations '
                                 f'of reader {i}')
                  for i, r in enumerate(readers)]
        sigma = self.sigma if self.sigma_rel is None else \
            (self.sigma_rel * max(src_h, src_w), ) * 2
        # a reader without durations ((K, 2)) gets a duration column of ones:
        # equal weights within that reader, the others keep their durations
        stacked = np.concatenate([
            a if a.shape[1] == 3 else
            np.concatenate([a, np.ones((len(a), 1), np.float32)], axis=1)
            for a in arrays if len(a)])
        warn = self.warn and self._num_warned < self.max_warnings
        kept, counts, keep = clean_fixations(stacked, (src_h, src_w), image_id,
                                             warn=warn, return_mask=True)
        if warn and len(kept) < len(stacked):
            self._num_warned += 1
            if self._num_warned == self.max_warnings:
                warnings.warn(
                    f'GazeHeatmap: fixations were dropped in {self.max_warnings} '
                    'images; further such warnings in this process are silenced '
                    "(drops are still counted in results['gaze_drop_counts'])")
        reader_index = np.repeat(np.arange(len(arrays)), lengths)[keep]
        durations = kept[:, 2] if self.duration_weighted else None
        weights, rho = fuse_fixation_weights(kept[:, :2], reader_index, len(arrays),
                                             durations, (src_h, src_w), sigma,
                                             self.fusion)
        xy = np.ascontiguousarray(kept[:, :2])
        for array in (xy, weights, reader_index, rho):  # shared by later calls
            array.flags.writeable = False
        fused = (xy, weights, reader_index, rho, counts, sigma, (src_h, src_w))
        if image_id is not None and len(self._cache) < self.cache_size:
            self._cache[key] = fused
        return fused

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma={self.sigma}, '
                f'sigma_rel={self.sigma_rel}, fusion={self.fusion!r}, '
                f'duration_weighted={self.duration_weighted}, '
                f'render_map={self.render_map})')
