"""Gaze-aware transforms: GazeHeatmap, geometry, GazeMultiView, PackGazeInputs."""
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import gazeprior_mm  # noqa: F401  (registers the transforms)
from gazeprior_mm.datasets.transforms.geometry import view_fixations, view_sigma
from gazeprior_mm.registry import TRANSFORMS

init_default_scope('mmpretrain')


def make_results(fixations, image_size=(60, 80), img_shape=None, has_gaze=True,
                 bright=None):
    """A loaded-image results dict. ``bright`` = (x, y) of a single bright pixel."""
    img_shape = img_shape or image_size
    img = np.zeros((*img_shape, 3), np.uint8)
    if bright is not None:
        img[bright[1], bright[0]] = 255
    gaze = None if fixations is None else dict(
        image_size=list(image_size),
        readers=[dict(reader='r1', fixations=np.asarray(fixations, np.float32))])
    return dict(img=img, img_shape=img_shape, ori_shape=img_shape, img_id='img-0',
                sample_idx=0, gt_label=[2], has_gaze=has_gaze and gaze is not None,
                gaze=gaze)


def view_pipeline(num_views=2, flip_prob=0.5, view=32, pack=True):
    return Compose([
        dict(type='GazeHeatmap', sigma=1e-3, render_map=False),
        dict(type='GazeMultiView', num_views=num_views,
             view_keys=('gaze_fixations', 'gaze_fixation_weights', 'gaze_sigma',
                        'gaze_geometry', 'img_shape', 'crop_params'),
             transforms=[[
                 dict(type='GazeRandomResizedCrop', scale=view,
                      crop_ratio_range=(0.3, 1.0), interpolation='nearest'),
                 dict(type='GazeRandomFlip', prob=flip_prob)]]),
    ] + ([dict(type='PackGazeInputs', grid=4, min_view_mass=0.5)] if pack else []))


def test_one_pixel_fixation_follows_each_view_crop_and_flip():
    """A one-pixel fixation on a one-pixel bright spot: in every view the gaze map
    peaks exactly where the image's bright pixel went, and crop_box / flip are the
    crop and flip that were applied."""
    np.random.seed(0)
    views = view_pipeline(num_views=4, view=96, pack=False)  # upsampling keeps
    pack = TRANSFORMS.build(dict(type='PackGazeInputs', grid=4,  # the spot
                                 min_view_mass=0.5))
    spot = (50, 20)
    checked = flipped = 0
    for _ in range(12):
        results = views(make_results([[spot[0], spot[1], 0.4]], bright=spot))
        crop_params = results['crop_params']
        out = pack(results)
        sample = out['data_samples']
        assert sample.gaze_map.shape == (4, 96, 96)
        assert sample.gaze_weights.shape == (4, 16)
        assert sample.view_shape == (96, 96)
        for v, img in enumerate(out['inputs']):
            gray = img[0].numpy()
            off_h, off_w, tgt_h, tgt_w = crop_params[v]
            inside = (off_w <= spot[0] < off_w + tgt_w and
                      off_h <= spot[1] < off_h + tgt_h)
            assert inside == (gray.max() == 255)
            if not inside:
                assert not sample.has_gaze[v]
                assert not sample.gaze_map[v].any()
                assert not sample.gaze_weights[v].any()
                continue
            checked += 1
            assert sample.has_gaze[v]
            gaze = sample.gaze_map[v].numpy()
            assert gaze.sum() == pytest.approx(1.0, abs=1e-5)
            assert sample.gaze_weights[v].max() == pytest.approx(1.0)
            # the gaze peak covers the image's bright pixel (nearest resize may
            # duplicate the spot; the Gaussian may split between two pixels)
            bright = np.argwhere(gray == 255)
            peak = np.argwhere(gaze >= gaze.max() * 0.99)
            dist = np.abs(bright[:, None, :] - peak[None, :, :]).max(-1).min()
            assert dist <= 1
            # crop_box / flip are the applied crop, in source box coordinates
            np.testing.assert_allclose(
                sample.crop_box[v].numpy(),
                [off_w, off_h, off_w + tgt_w, off_h + tgt_h], atol=1e-4)
            is_flipped = bool(sample.flip[v])
            flipped += is_flipped
            # the gaze peak mapped back through crop_box / flip lands on the spot
            r, c = np.unravel_index(gaze.argmax(), gaze.shape)
            x0, y0, x1, y1 = sample.crop_box[v].tolist()
            fx = (c + 0.5) / 96
            fx = 1 - fx if is_flipped else fx
            src_x = x0 + fx * (x1 - x0) - 0.5
            src_y = y0 + (r + 0.5) / 96 * (y1 - y0) - 0.5
            assert abs(src_x - spot[0]) <= 0.5
            assert abs(src_y - spot[1]) <= 0.5
    assert checked >= 10 and 0 < flipped < checked
    # the spot's source-pixel block was checked in views of either flip


def test_flip_is_mirrored_gaze():
    results = make_results([[10, 30, 0.4]], bright=(10, 30))
    pipeline = Compose([dict(type='GazeHeatmap', sigma=1.0),
                        dict(type='GazeRandomFlip', prob=1.0),
                        dict(type='PackGazeInputs', grid=4)])
    sample = pipeline(results)['data_samples']
    gaze = sample.gaze_map[0].numpy()
    assert np.unravel_index(gaze.argmax(), gaze.shape) == (30, 80 - 1 - 10)
    assert bool(sample.flip[0])
    np.testing.assert_allclose(sample.crop_box[0].numpy(), [0, 0, 80, 60])


def test_gaze_heatmap_maps_gaze_grid_to_image_and_fuses_readers():
    results = make_results([[10, 5, 0.2]], image_size=(30, 40), img_shape=(60, 80))
    results['gaze']['readers'].append(
        dict(reader='r2', fixations=np.array([[30, 20, 0.5], [np.nan, 1, 1]],
                                             np.float32)))
    with pytest.warns(UserWarning, match="'img-0'.*1 nan"):
        out = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0))(results)
    # x' = (W / W0)(x + 1/2) - 1/2
    np.testing.assert_allclose(out['gaze_fixations'], [[20.5, 10.5], [60.5, 40.5]])
    np.testing.assert_allclose(out['gaze_fixation_weights'], [0.5, 0.5])
    assert out['gaze_sigma'] == (4.0, 4.0)
    assert out['gaze_drop_counts']['nan'] == 1
    assert out['gaze_map'].shape == (60, 80)
    assert out['gaze_map'].sum() == pytest.approx(1.0, abs=1e-5)
    assert out['has_gaze']


def test_resize_scales_fixations_and_sigma():
    results = make_results([[19.5, 9.5, 0.3]], image_size=(40, 40))
    pipeline = Compose([dict(type='GazeHeatmap', sigma=2.0),
                        dict(type='GazeResize', scale=(80, 20)),
                        dict(type='GazeViewTargets', grid=4)])
    out = pipeline(results)
    assert out['img'].shape[:2] == (20, 80)
    # the fixations stay in the source grid; the view sees them through the geometry
    np.testing.assert_allclose(out['gaze_fixations'], [[19.5, 9.5]])
    np.testing.assert_allclose(view_fixations(out), [[39.5, 4.5]])
    assert view_sigma(out) == (4.0, 1.0)
    assert out['gaze_geometry'].view_shape == (20, 80)
    np.testing.assert_allclose(out['gaze_geometry']['crop_box'], [0, 0, 40, 40])
    assert out['gaze_map'].shape == (20, 80) and out['view_has_gaze']
    assert out['gaze_weights'].shape == (16, )


def test_single_view_packing_and_label_fields():
    results = make_results([[40, 30, 0.3]])
    results['gt_label_mask'] = np.array([True, False, True])
    pipeline = Compose([dict(type='GazeHeatmap'),
                        dict(type='GazeResize', scale=(32, 32)),
                        dict(type='PackGazeInputs', grid=4)])
    out = pipeline(results)
    sample = out['data_samples']
    assert out['inputs'].shape == (3, 32, 32)
    assert sample.gaze_map.shape == (1, 32, 32)
    assert sample.gaze_weights.shape == (1, 16)
    assert sample.has_gaze.dtype == torch.bool and sample.has_gaze.tolist() == [True]
    assert sample.crop_box.shape == (1, 4) and sample.flip.tolist() == [False]
    assert isinstance(sample.gt_label_mask, torch.Tensor)
    assert sample.gt_label.tolist() == [2] and sample.img_id == 'img-0'


def test_image_without_gaze_packs_zeros():
    np.random.seed(1)
    out = view_pipeline()(make_results(None))
    sample = out['data_samples']
    assert sample.has_gaze.tolist() == [False, False]
    assert not sample.gaze_map.any() and not sample.gaze_weights.any()
    assert sample.crop_box.shape == (2, 4)


def test_view_that_loses_the_gaze_has_no_gaze():
    """Gaze at the bottom-right, a crop of the top-left: the view keeps (almost)
    none of the gaze mass, so it counts as a view without gaze."""
    crop = TRANSFORMS.build(dict(type='GazeRandomResizedCrop', scale=16))
    results = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0))(
        make_results([[70, 50, 0.3]]))
    with mock.patch.object(crop, 'rand_crop_params', return_value=(0, 0, 20, 20)):
        results = crop(results)
    sample = TRANSFORMS.build(dict(type='PackGazeInputs', grid=4,
                                   min_view_mass=0.1))(results)['data_samples']
    assert sample.has_gaze.tolist() == [False]
    assert sample.gaze_view_mass[0] < 1e-6
    assert not sample.gaze_weights.any()
    np.testing.assert_allclose(sample.crop_box[0].numpy(), [0, 0, 20, 20])


def test_partial_view_mass_threshold():
    # a fixation on the crop's right border keeps half its mass in the view
    crop = TRANSFORMS.build(dict(type='GazeRandomResizedCrop', scale=20))
    results = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0))(
        make_results([[19.5, 10, 0.3]]))
    with mock.patch.object(crop, 'rand_crop_params', return_value=(0, 0, 20, 20)):
        results = crop(results)
    for threshold, expected in ((0.4, True), (0.6, False)):
        sample = TRANSFORMS.build(dict(type='PackGazeInputs', grid=4,
                                       min_view_mass=threshold))(
                                           results)['data_samples']
        assert sample.gaze_view_mass[0] == pytest.approx(0.5, abs=1e-3)
        assert sample.has_gaze.tolist() == [expected]


def test_plain_multiview_is_rejected_with_a_hint():
    pipeline = Compose([
        dict(type='GazeHeatmap'),
        dict(type='MultiView', num_views=2,
             transforms=[[dict(type='GazeRandomResizedCrop', scale=16)]]),
        dict(type='PackGazeInputs', grid=4)])
    with pytest.raises(KeyError, match='GazeMultiView'):
        pipeline(make_results([[10, 10, 0.3]]))


def test_bad_arguments():
    with pytest.raises(ValueError, match='horizontal'):
        TRANSFORMS.build(dict(type='GazeRandomFlip', direction='vertical'))
    with pytest.raises(ValueError, match='flip'):
        TRANSFORMS.build(dict(type='PackGazeInputs', meta_keys=('flip', )))
    with pytest.raises(ValueError, match='fusion'):
        TRANSFORMS.build(dict(type='GazeHeatmap', fusion='max'))
    with pytest.raises(KeyError, match='GazeHeatmap'):
        TRANSFORMS.build(dict(type='PackGazeInputs'))(make_results(None))


def test_packing_without_full_maps_gives_the_same_patch_weights():
    np.random.seed(3)
    results = view_pipeline(num_views=3, pack=False)(
        make_results([[20, 10, 0.3], [60, 45, 0.6], [75, 5, 0.2]]))
    results['gaze_sigma'] = [(3.0, 2.0)] * 3  # wider than the point fixations
    full = TRANSFORMS.build(dict(type='PackGazeInputs', grid=4, min_view_mass=0.2))(
        results)['data_samples']
    light = TRANSFORMS.build(dict(type='PackGazeInputs', grid=4, min_view_mass=0.2,
                                  with_map=False))(results)['data_samples']
    assert 'gaze_map' not in light
    torch.testing.assert_close(light.gaze_weights, full.gaze_weights, atol=1e-5,
                               rtol=1e-4)
    torch.testing.assert_close(light.gaze_view_mass, full.gaze_view_mass, atol=1e-5,
                               rtol=1e-4)
    assert light.has_gaze.tolist() == full.has_gaze.tolist()


def test_fused_gaze_is_memoised_per_image_and_warned_once():
    transform = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0))
    fixations = [[10, 5, 0.2], [np.nan, 3, 0.1], [30, 20, 0.4]]
    with pytest.warns(UserWarning, match="'img-0'.*1 nan"):
        first = transform(make_results(fixations))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a second warning would fail here
        second = transform(make_results(fixations, img_shape=(120, 160)))
    assert second['gaze_drop_counts'] == first['gaze_drop_counts'] == dict(
        nan=1, inf=0, negative_duration=0, outside=0, kept=2)
    # same gaze, twice the image size: x' = 2 (x + 1/2) - 1/2
    np.testing.assert_allclose(second['gaze_fixations'],
                               2 * (first['gaze_fixations'] + 0.5) - 0.5)
    np.testing.assert_allclose(second['gaze_fixation_weights'],
                               first['gaze_fixation_weights'])


def test_memoised_fields_are_looked_up_per_image_and_shape():
    transform = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0,
                                      render_map=False))
    fixations = [[10, 5, 0.2], [30, 20, 0.4]]
    first = transform(make_results(fixations))
    first['gaze_drop_counts']['kept'] = -1  # a consumer's change stays its own
    second = transform(make_results(fixations))
    assert second['gaze_fixations'] is first['gaze_fixations']  # one lookup
    assert second['gaze_geometry'] is first['gaze_geometry']  # immutable
    assert second['gaze_drop_counts']['kept'] == 2
    # another image size of the same image: its own entry, rescaled fixations
    larger = transform(make_results(fixations, img_shape=(120, 160)))
    np.testing.assert_allclose(larger['gaze_fixations'],
                               2 * (first['gaze_fixations'] + 0.5) - 0.5)
    assert larger['gaze_geometry'].view_shape == (120, 160)
    # another row with the same image id but other gaze is not confused with it
    other = transform(make_results(fixations + [[50, 40, 0.3]]))
    assert len(other['gaze_fixations']) == 3
    transform.clear_cache()
    again = transform(make_results(fixations))
    assert again['gaze_fixations'] is not first['gaze_fixations']
    np.testing.assert_array_equal(again['gaze_fixations'], first['gaze_fixations'])


def test_all_fixations_dropped_means_no_gaze_but_counts():
    transform = TRANSFORMS.build(dict(type='GazeHeatmap'))
    fixations = [[500, 5, 0.2], [3, 3, -1.0]]
    with pytest.warns(UserWarning, match='dropped 2 of 2'):
        computed = transform(make_results(fixations))
    cached = transform(make_results(fixations))
    for out in (computed, cached):
        assert not out['has_gaze'] and out['gaze_fixations'].shape == (0, 2)
        assert out['gaze_drop_counts'] == dict(nan=0, inf=0, negative_duration=1,
                                               outside=1, kept=0)
        assert not out['gaze_map'].any()


def test_reader_index_and_spread_between_readers():
    results = make_results([[10, 10, 0.3]])
    results['gaze']['readers'].append(
        dict(reader='r2', fixations=np.array([[60, 40, 0.3], [61, 41, 0.3]],
                                             np.float32)))
    out = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=3.0,
                                with_spread=True))(results)
    assert out['gaze_reader_index'].tolist() == [0, 1, 1]
    np.testing.assert_allclose(out['gaze_reader_weights'], [0.5, 0.5])
    spread = out['gaze_spread']
    assert spread.shape == (60, 80)
    # where one reader looked and the other did not, the spread is the std of
    # {h, 0} with weights 1/2: half of the looking reader's map
    from gazeprior_mm.gaze import fixations_to_heatmap
    first = fixations_to_heatmap([[10, 10]], (60, 80), 3.0)
    assert spread[10, 10] == pytest.approx(0.5 * first[10, 10], rel=1e-3)
    assert spread[0, 79] < 1e-6 * spread.max()
    same = make_results([[20, 20, 0.3]])
    same['gaze']['readers'].append(dict(same['gaze']['readers'][0], reader='r2'))
    out = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=3.0,
                                with_spread=True))(same)
    assert out['gaze_spread'].max() < 1e-7


def test_drop_warnings_capped_per_process_but_always_counted():
    import warnings
    transform = TRANSFORMS.build(dict(type='GazeHeatmap', sigma=2.0,
                                      max_warnings=2))
    fixations = [[10, 5, 0.2], [np.nan, 3, 0.1]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        counts = []
        for i in range(4):
            results = make_results(fixations)
            results['img_id'] = f'img-{i}'
            counts.append(transform(results)['gaze_drop_counts']['nan'])
    messages = [str(w.message) for w in caught]
    assert counts == [1, 1, 1, 1]
    assert sum("'img-0'" in m or "'img-1'" in m for m in messages) == 2
    assert not any("'img-2'" in m or "'img-3'" in m for m in messages)
    assert sum('silenced' in m for m in messages) == 1
