"""``GazeCXRDataset``: chest X-rays with multi-label findings and optional gaze.

One dataset class for real (MIMIC-CXR + EGD-CXR / REFLACX, converted) and synthetic
data: both are written in the canonical annotation format of docs/interfaces.md.
"""
import json
import logging
import os.path as osp
import warnings
from typing import List, Optional, Sequence, Union

import numpy as np
import yaml
from mmengine.fileio import join_path
from mmengine.logging import print_log
from mmpretrain.datasets import BaseDataset

from gazeprior_mm.gaze.controls import GAZE_CONTROLS, apply_gaze_control
from gazeprior_mm.gaze.fixations import fixation_array
from gazeprior_mm.registry import DATASETS
from .chexpert_classes import CHEXPERT_CLASSES  # noqa: F401  (re-exported)

UNCERTAIN_POLICIES = ('zeros', 'ones', 'ignore')

#: annotation file extensions read (JSON, or YAML with ``yaml.safe_load``); any
#: other (pickle, ...) is refused: loading it could run code from the file
ANNOTATION_EXTENSIONS = ('.json', '.yaml', '.yml')


class AnnotationError(ValueError):
    """A bad annotation file / row; the message names the file and the row."""


def _image_size(path: str) -> Optional[tuple]:
    """(H, W) from the image header (PIL reads no pixels); None if PIL cannot."""
    try:
        from PIL import Image
        with Image.open(path) as img:
            width, height = img.size
        return height, width
    except Exception:  # unknown format: LoadImageFromFile will judge the file
        return None


@DATASETS.register_module()
class GazeCXRDataset(BaseDataset):
    """Chest X-ray dataset with multi-label CheXpert findings and optional gaze.

    Reads the canonical annotation file (mmengine's ``{"metainfo", "data_list"}``
    JSON, see docs/interfaces.md; YAML is read too, with ``yaml.safe_load``). No
    other format is read, whatever mmengine's ``load`` would accept: a pickle (or
    unsafe YAML) file runs code when loaded, so ``.pkl`` and any other extension
    is an :class:`AnnotationError` naming the file. An empty ``data_list`` (what
    the converters write for an empty split) gives an empty dataset (length 0,
    a warning naming the file), not an error. Every data info holds ``img_path``
    (absolute), ``img_id``, ``gt_label`` (positive class indices after the
    uncertainty policy), ``gt_label_raw`` int8 (C,) 1/0/-1, ``gt_label_mask`` bool
    (C,), ``has_gaze``,
    ``gaze`` (dict with ``image_size`` and ``readers``, fixations as float32
    (K, 2|3) arrays; or None), ``lesions``, ``split``, ``img_shape_stored`` (the
    row's ``img_shape`` or None; the pipeline's ``img_shape`` is the loaded one) and
    ``ann_row`` (row index in the file).

    Checks (each error names the annotation file and the row): required keys
    (``img_path``, ``gt_label``), label length / values, duplicate ``img_id``, gaze
    ``image_size`` (two positive ints, equal to ``img_shape`` when both are stored),
    fixations (numeric, shape (K, 2) or (K, 3)), unknown class names, and missing
    image files (``check_files``, one ``stat`` per row at start-up). Fixations
    without a duration column ((K, 2)) are accepted: that reader's fixations are
    weighted equally by ``GazeHeatmap``, the other readers of the image keep
    their duration weights. An image that cannot be decoded (empty, truncated)
    is an error naming the file, row, image path and ``img_id`` when the sample
    is loaded. The image size is checked lazily (``check_image_size=True``): the
    first time a sample is loaded in a process its header (not its pixels) is
    read and compared with the stored ``img_shape`` / gaze ``image_size``;
    ``check_image_size='eager'`` checks every image at start-up, ``False`` never.
    Unusable fixations (NaN, infinite, outside, negative duration) are not
    errors: ``GazeHeatmap`` drops and counts them.

    Args:
        ann_file (str): annotation file, relative to ``data_root``.
        data_root (str): root of images and annotations.
        data_prefix (str | dict): image folder relative to ``data_root``.
        pipeline (Sequence): transforms.
        classes (Sequence[str], optional): classes to use, a subset (any order) of
            the file's ``metainfo.classes`` (CheXpert's 14 when the file has none).
        uncertain_policy (str): what an uncertain (-1) label becomes: 'zeros'
            (negative), 'ones' (positive) or 'ignore' (negative in ``gt_label`` and
            False in ``gt_label_mask``, for masked losses / metrics).
        check_image_size (bool | str): True (lazy), 'eager' or False.
        check_files (bool): check at start-up that every image file exists.
        filter_cfg (dict, optional): ``require_gaze=True`` keeps only images with
            gaze; ``split='train'`` (or a list) keeps rows whose ``split`` matches.
        synthetic (dict, optional): deprecated, ignored apart from a
            DeprecationWarning: the dataset only reads. The synthetic benchmark is
            made by ``tools/dataset_converters/make_synthetic_cxr.py``, or by
            ``tools/train.py`` / ``tools/test.py`` for a config that declares it
            (top-level ``synthetic_benchmark``, see
            :func:`gazeprior_mm.datasets.prepare_synthetic_benchmark`).
        gaze_control (str, optional): cut the image-gaze link for a control run:
            ``'shuffle'`` (each image gets another image's gaze) or ``'oracle'``
            (fixations on the lesion boxes); see :mod:`gazeprior_mm.gaze.controls`.
            Applied to the rows read, never to the file.
        gaze_control_seed (int): the control's seed. Defaults to 0.
        **kwargs: other arguments of mmpretrain's ``BaseDataset``.
    """

    METAINFO = dict()

    def __init__(self,
                 ann_file: str,
                 data_root: str = '',
                 data_prefix: Union[str, dict] = '',
                 pipeline: Sequence = (),
                 classes: Optional[Sequence[str]] = None,
                 uncertain_policy: str = 'zeros',
                 check_image_size: Union[bool, str] = True,
                 check_files: bool = True,
                 synthetic: Optional[dict] = None,
                 gaze_control: Optional[str] = None,
                 gaze_control_seed: int = 0,
                 **kwargs) -> None:
        if uncertain_policy not in UNCERTAIN_POLICIES:
            raise ValueError(f'uncertain_policy must be one of '
                             f'{UNCERTAIN_POLICIES}, got {uncertain_policy!r}')
        if check_image_size not in (True, False, 'eager'):
            raise ValueError("check_image_size must be True, False or 'eager', "
                             f'got {check_image_size!r}')
        self.uncertain_policy = uncertain_policy
        self.check_image_size = check_image_size
        self.check_files = check_files
        if synthetic is not None:
            warnings.warn(
                'GazeCXRDataset(synthetic=...) is deprecated and generates '
                'nothing: the dataset only reads. Declare the benchmark in the '
                'config (synthetic_benchmark=dict(data_root=..., num_images=...), '
                'made by tools/train.py) or run '
                'tools/dataset_converters/make_synthetic_cxr.py',
                DeprecationWarning, stacklevel=2)
        self.synthetic = synthetic
        if gaze_control is not None and gaze_control not in GAZE_CONTROLS:
            raise ValueError(f'gaze_control must be None or one of '
                             f'{GAZE_CONTROLS}, got {gaze_control!r}')
        self.gaze_control = gaze_control
        self.gaze_control_seed = gaze_control_seed
        self._size_checked = set()
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=data_prefix, pipeline=pipeline,
                         classes=classes, **kwargs)

    # ------------------------------------------------------------------ loading
    def full_init(self) -> None:
        if self._fully_initialized:
            return
        if not osp.exists(self.ann_file):
            # the dataset never writes data: say which file and how to make it
            raise FileNotFoundError(
                f'annotation file {self.ann_file} not found. Real data: convert it '
                'with tools/dataset_converters/ (docs/interfaces.md). The '
                'synthetic benchmark: python '
                'tools/dataset_converters/make_synthetic_cxr.py '
                f'{self.data_root or "DATA_ROOT"} (tools/train.py makes it itself '
                'for configs that declare synthetic_benchmark)')
        super().full_init()

    def _error(self, row: Optional[int], message: str) -> AnnotationError:
        where = self.ann_file if row is None else f'{self.ann_file}, row {row}'
        return AnnotationError(f'{where}: {message}')

    def _select_classes(self, file_classes: Sequence[str]) -> np.ndarray:
        """Column of each used class in the file's label vectors."""
        wanted = self._metainfo.get('classes')
        if wanted is None:
            self._metainfo['classes'] = tuple(file_classes)
            return np.arange(len(file_classes))
        unknown = [c for c in wanted if c not in file_classes]
        if unknown:
            raise self._error(None, f'unknown class name(s) {unknown}; the file '
                              f'has classes {list(file_classes)}')
        self._metainfo['classes'] = tuple(wanted)
        return np.array([list(file_classes).index(c) for c in wanted])

    def _read_annotations(self):
        """The annotation file's content, read without running code from it.

        Returns:
            The parsed JSON (or YAML, with ``yaml.safe_load``) document.

        Raises:
            AnnotationError: naming the file, for an extension other than
                :data:`ANNOTATION_EXTENSIONS` (pickle and friends are refused
                unread), text that is not UTF-8, or malformed JSON / YAML
                (with the line and column).
        """
        ext = osp.splitext(self.ann_file)[1].lower()
        if ext not in ANNOTATION_EXTENSIONS:
            raise self._error(None, f'annotation files must be JSON (.json) or YAML '
                              f'(.yaml, .yml), got {ext or "no extension"!r}; other '
                              'formats (e.g. pickle) can run code when loaded and '
                              'are refused')
        try:
            with open(self.ann_file, 'r', encoding='utf-8') as f:
                if ext == '.json':
                    return json.load(f)
                return yaml.safe_load(f)
        except json.JSONDecodeError as err:
            raise self._error(None, f'not valid JSON (truncated?): {err.msg} at '
                              f'line {err.lineno}, column {err.colno}') from err
        except yaml.YAMLError as err:
            raise self._error(None, f'not valid (safe) YAML: {err}') from err
        except UnicodeDecodeError as err:
            raise self._error(None, f'not UTF-8 text: {err}') from err

    def load_data_list(self) -> List[dict]:
        """Read and check the annotation file (see the class docstring).

        Returns:
            list[dict]: one data info per row, in file order.
        """
        if not osp.exists(self.ann_file):
            raise FileNotFoundError(f'annotation file {self.ann_file} not found')
        annotations = self._read_annotations()
        if not isinstance(annotations, dict) or 'data_list' not in annotations:
            raise self._error(None, 'not a canonical annotation file (a dict with '
                              '"metainfo" and "data_list")')
        metainfo = annotations.get('metainfo') or {}
        file_classes = tuple(metainfo.get('classes') or CHEXPERT_CLASSES)
        if len(set(file_classes)) != len(file_classes):
            raise self._error(None, f'duplicate class names in metainfo.classes '
                              f'{list(file_classes)}')
        for key, value in metainfo.items():
            if key != 'classes':
                self._metainfo.setdefault(key, value)
        columns = self._select_classes(file_classes)
        uncertain = int(metainfo.get('uncertain_value', -1))
        seen_ids = {}
        data_list = []
        rows = apply_gaze_control(annotations['data_list'], self.gaze_control,
                                  self.gaze_control_seed)
        for row, raw in enumerate(rows):
            info = self._parse_row(raw, row, len(file_classes), columns, uncertain)
            if info['img_id'] in seen_ids:
                raise self._error(row, f"img_id {info['img_id']!r} already used in "
                                  f'row {seen_ids[info["img_id"]]}')
            seen_ids[info['img_id']] = row
            data_list.append(info)
        if self.check_image_size == 'eager':
            for info in data_list:
                self._check_size(info)
        if not data_list:
            print_log(f'{self.ann_file}: empty data_list, the dataset has no sample',
                      logger='current', level=logging.WARNING)
        return data_list

    def _serialize_data(self):
        """mmengine's serialisation, which cannot concatenate an empty list: an
        empty dataset (empty file, or nothing left by ``filter_cfg``) is
        serialised as empty arrays, so its length is 0.

        Returns:
            tuple[np.ndarray, np.ndarray]: data bytes and their end addresses.
        """
        if not self.data_list:
            return np.zeros(0, np.uint8), np.zeros(0, np.int64)
        return super()._serialize_data()

    def _parse_row(self, raw: dict, row: int, num_file_classes: int,
                   columns: np.ndarray, uncertain: int) -> dict:
        if not isinstance(raw, dict):
            raise self._error(row, f'expected a dict, got {type(raw).__name__}')
        missing = [k for k in ('img_path', 'gt_label') if k not in raw]
        if missing:
            raise self._error(row, f'missing key(s) {missing}')
        img_path = join_path(self.data_prefix.get('img_path', ''), raw['img_path'])
        if self.check_files and not osp.isfile(img_path):
            raise self._error(row, f'image file {img_path} not found')
        try:
            labels = np.asarray(raw['gt_label'], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise self._error(row, f"gt_label is not numeric: {raw['gt_label']!r}")
        if labels.size != num_file_classes:
            raise self._error(row, f'gt_label has {labels.size} entries, the file '
                              f'has {num_file_classes} classes')
        labels[labels == uncertain] = -1
        if not np.all(np.isin(labels, (-1, 0, 1))):
            raise self._error(row, f'gt_label values must be 1, 0 or {uncertain} '
                              f"(uncertain), got {raw['gt_label']!r}")
        raw_labels = labels[columns].astype(np.int8)
        is_uncertain = raw_labels == -1
        positive = raw_labels == 1
        if self.uncertain_policy == 'ones':
            positive = positive | is_uncertain
        mask = ~is_uncertain if self.uncertain_policy == 'ignore' else \
            np.ones_like(is_uncertain)
        img_shape = raw.get('img_shape')
        if img_shape is not None:
            img_shape = self._check_hw(img_shape, row, 'img_shape')
        gaze = self._parse_gaze(raw.get('gaze'), row, img_shape)
        return dict(
            img_path=img_path,
            img_id=str(raw.get('img_id', raw['img_path'])),
            gt_label=np.flatnonzero(positive).tolist(),
            gt_label_raw=raw_labels,
            gt_label_mask=mask.astype(bool),
            has_gaze=gaze is not None and any(
                len(r['fixations']) for r in gaze['readers']),
            gaze=gaze,
            lesions=list(raw.get('lesions') or []),
            split=raw.get('split'),
            img_shape_stored=img_shape,
            ann_row=row)

    def _check_hw(self, value, row: int, name: str) -> tuple:
        try:
            hw = tuple(int(v) for v in value)
            ok = len(hw) == 2 and all(v > 0 for v in hw) and \
                all(float(v) == int(v) for v in value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise self._error(row, f'{name} must be [H, W] with two positive '
                              f'integers, got {value!r}')
        return hw

    def _parse_gaze(self, gaze, row: int, img_shape) -> Optional[dict]:
        if gaze is None:
            return None
        if not isinstance(gaze, dict) or 'image_size' not in gaze:
            raise self._error(row, 'gaze must be null or a dict with "image_size" '
                              'and "readers"')
        size = self._check_hw(gaze['image_size'], row, 'gaze image_size')
        if img_shape is not None and size != img_shape:
            raise self._error(row, f'gaze image_size {list(size)} differs from '
                              f'img_shape {list(img_shape)}')
        readers = gaze.get('readers') or []
        if not isinstance(readers, list):
            raise self._error(row, 'gaze "readers" must be a list')
        parsed = []
        for i, reader in enumerate(readers):
            if not isinstance(reader, dict) or 'fixations' not in reader:
                raise self._error(row, f'gaze reader {i} has no "fixations"')
            try:  # the one fixation-array check (gazeprior_mm/gaze/fixations.py)
                fix = fixation_array(
                    reader['fixations'],
                    f"fixations of reader {i} ({reader.get('reader')!r})")
            except ValueError as err:
                raise self._error(row, str(err)) from None
            parsed.append(dict(reader=str(reader.get('reader', i)), fixations=fix))
        return dict(image_size=list(size), readers=parsed)

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` (``require_gaze``, ``split``)."""
        cfg = dict(self.filter_cfg or {})
        unknown = set(cfg) - {'require_gaze', 'split'}
        if unknown:
            raise ValueError(f'unknown filter_cfg key(s) {sorted(unknown)}; '
                             "supported: 'require_gaze', 'split'")
        data_list = self.data_list
        if cfg.get('require_gaze'):
            data_list = [info for info in data_list if info['has_gaze']]
        if cfg.get('split') is not None:
            splits = {cfg['split']} if isinstance(cfg['split'], str) else \
                set(cfg['split'])
            data_list = [info for info in data_list if info['split'] in splits]
        return data_list

    # ----------------------------------------------------------------- access
    def _check_size(self, info: dict) -> None:
        expected = info.get('img_shape_stored') or (
            tuple(info['gaze']['image_size']) if info.get('gaze') else None)
        if expected is None:
            return
        actual = _image_size(info['img_path'])
        if actual is not None and tuple(actual) != tuple(expected):
            raise self._error(info['ann_row'], f"image {info['img_path']} is "
                              f'{actual[0]}x{actual[1]} (HxW) but the row stores '
                              f'{expected[0]}x{expected[1]}')

    def prepare_data(self, idx: int):
        """Run the pipeline on sample ``idx``.

        A failure before the image is in the results (``LoadImageFromFile`` on an
        empty, truncated or undecodable file: OpenCV's ``!buf.empty()`` or mmcv's
        ``failed to load image``) is re-raised as an :class:`AnnotationError`
        naming the annotation file, row, image path and ``img_id`` (the original
        error chained). Later failures propagate unchanged.

        Returns:
            dict | None: the pipeline's output.
        """
        info = self.get_data_info(idx)
        if self.check_image_size is True and info['ann_row'] not in self._size_checked:
            self._check_size(info)
            self._size_checked.add(info['ann_row'])
        try:
            return self.pipeline(info)
        except Exception as err:
            if 'img' in info:  # the image was loaded: not a load failure
                raise
            kind = type(err).__name__ if type(err).__module__ == 'builtins' else \
                f'{type(err).__module__}.{type(err).__name__}'
            raise self._error(info['ann_row'], f"cannot load image {info['img_path']}"
                              f" (img_id {info['img_id']!r}): "
                              f'{kind}: {str(err).strip()}') from err

    def get_cat_ids(self, idx: int) -> List[int]:
        """Positive class indices of sample ``idx`` (multi-label)."""
        return list(self.get_data_info(idx)['gt_label'])

    def get_gt_labels(self) -> np.ndarray:
        """(N, C) multi-hot labels after the uncertainty policy."""
        onehot = np.zeros((len(self), len(self.CLASSES)), dtype=np.int64)
        for i in range(len(self)):
            onehot[i, self.get_data_info(i)['gt_label']] = 1
        return onehot

    def get_gaze(self, idx: int) -> dict:
        """Gaze of sample ``idx`` without loading its image.

        Returns:
            dict: ``img_id``, ``sample_idx``, ``has_gaze``, ``gaze`` (image_size and
            readers with float32 fixation arrays, or None), ``gt_label_raw``.
        """
        info = self.get_data_info(idx)
        return dict(img_id=info['img_id'], sample_idx=info['sample_idx'],
                    has_gaze=info['has_gaze'], gaze=info['gaze'],
                    gt_label_raw=info['gt_label_raw'])

    def extra_repr(self) -> List[str]:
        with_gaze = sum(self.get_data_info(i)['has_gaze'] for i in range(len(self)))
        return [f'Uncertain policy: \t{self.uncertain_policy}',
                f'Images with gaze: \t{with_gaze}']
