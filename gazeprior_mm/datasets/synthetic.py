"""The synthetic chest-X-ray + multi-reader gaze benchmark (the embedded default).

``generate_synthetic_cxr(out_dir, num_images)`` writes::

    out_dir/images/000000.png ...            8-bit grayscale, img_size x img_size
    out_dir/annotations/{train,val,test}.json  canonical format (docs/interfaces.md)
    out_dir/annotations/lesions_coco.json    COCO boxes + RLE masks of every finding
    out_dir/annotations/synthetic_summary.json  the returned summary

Images: chest-X-ray-like anatomy (``synthetic_parts.anatomy``) with small, low-contrast
findings (``synthetic_parts.findings``); labels are CheXpert's 14 classes. Gaze:
``num_readers`` simulated radiologists (``synthetic_parts.readers``) per image, except
a ``no_gaze_rate`` share of images whose ``gaze`` is null. Each reader entry also
holds ``attended_lesions`` (indices into the row's ``lesions`` that this reader
dwelt on; ground truth of the simulation, an extra key readers of the canonical
format may ignore).
``gaze_lesion_ncc`` (re-exported here) measures how strongly the gaze points at the
findings, ``psd_slope`` the images' power-spectrum slope (realism checks).

Labels (CheXpert's hierarchy): Nodule/Mass -> Lung Lesion, Consolidation,
Atelectasis, Effusion -> Pleural Effusion, Cardiomegaly, Pneumothorax; Lung Opacity = 1
when any of Lung Lesion / Consolidation / Atelectasis; Enlarged Cardiomediastinum = 1
with Cardiomegaly; No Finding = 1 when no other label is 1 or -1. Edema, Pneumonia,
Pleural Other, Fracture and Support Devices have no synthetic look and are always 0
(``metainfo['active_classes']`` lists the others). In the train split each finding
label is replaced by -1 (uncertain) with probability ``uncertain_rate``; val/test are
0/1 only (like CheXpert's radiologist-labelled valid set).

Determinism: every random stream is ``np.random.default_rng([STREAM, seed, ...])``
with its own leading tag (``stream_rng``): image ``i``'s pixels and findings from
``[IMAGE, seed, i]``, its gaze flag and uncertain labels from ``[META, seed, i]``,
reader ``r``'s fixations on it from ``[READING, seed, i, r]``, reader profiles from
``[READER, seed, r]``, the split permutation from ``[SPLIT, seed]``. So image ``i``
is the same whatever ``num_images`` is, and the preset changes the gaze only, never
the pixels. (Distinct leading tags matter: numpy's SeedSequence treats ``[a, b]``
and ``[a, b, 0]`` as the same seed, which would correlate streams.)
"""
import json
import os
import os.path as osp
import time
import warnings
from typing import Dict, Sequence

import numpy as np

from .chexpert_classes import CHEXPERT_CLASSES
from .synthetic_parts.anatomy import expose, render_anatomy, sample_patient
from .synthetic_parts.findings import (FINDING_NAMES, FINDINGS, render_findings,
                                       sample_finding_names)
from .synthetic_parts.readers import (GAZE_PRESETS, sample_readers,
                                      simulate_reading, stream_rng)
from .synthetic_parts.stats import gaze_lesion_ncc, psd_slope  # noqa: F401

SPLIT_NAMES = ('train', 'val', 'test')

#: Bumped whenever the same (seed, index) would give different pixels, labels or
#: gaze; written to ``metainfo['generator']['version']`` so a cached benchmark made by
#: an older generator can be recognised. 2: NIH-median nodule / mass sizes; 3: patient
#: pose (positioning) and trachea / main bronchi.
GENERATOR_VERSION = 3

#: CheXpert classes that synthetic findings can make positive.
ACTIVE_CLASSES = ('No Finding', 'Enlarged Cardiomediastinum', 'Cardiomegaly',
                  'Lung Opacity', 'Lung Lesion', 'Consolidation', 'Atelectasis',
                  'Pneumothorax', 'Pleural Effusion')
#: Labels that may be written as -1 in the train split.
UNCERTAIN_CANDIDATES = ('Cardiomegaly', 'Lung Lesion', 'Consolidation', 'Atelectasis',
                        'Pneumothorax', 'Pleural Effusion')

_CLASS_INDEX = {name: i for i, name in enumerate(CHEXPERT_CLASSES)}


def _labels(finding_names, uncertain: np.ndarray) -> np.ndarray:
    """CheXpert multi-hot int8 (14,) of the findings, with ``uncertain`` -1s.

    Args:
        uncertain (np.ndarray): bool (len(UNCERTAIN_CANDIDATES),).
    """
    label = np.zeros(len(CHEXPERT_CLASSES), np.int8)
    for name in finding_names:
        label[_CLASS_INDEX[FINDINGS[name]['label']]] = 1
    cand = np.array([_CLASS_INDEX[c] for c in UNCERTAIN_CANDIDATES])
    label[cand[uncertain]] = -1
    opacity = label[[_CLASS_INDEX[c] for c in ('Lung Lesion', 'Consolidation',
                                               'Atelectasis')]]
    label[_CLASS_INDEX['Lung Opacity']] = 1 if (opacity == 1).any() else (
        -1 if (opacity == -1).any() else 0)
    label[_CLASS_INDEX['Enlarged Cardiomediastinum']] = label[
        _CLASS_INDEX['Cardiomegaly']]
    label[_CLASS_INDEX['No Finding']] = int(not label.any())
    return label


def _encode_lesion(les: dict) -> dict:
    """Canonical lesion entry: category, label, COCO bbox, area, RLE (counts str)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(les['mask'].astype(np.uint8)))
    bbox = [float(b) for b in mask_utils.toBbox(rle)]
    return dict(category=les['category'], label=les['label'], bbox=bbox,
                area=int(les['mask'].sum()),
                segmentation=dict(size=[int(s) for s in rle['size']],
                                  counts=rle['counts'].decode('ascii')))


def _reader_lesions(lesions) -> list:
    """Findings as the readers see them: centre and half extent (normalised)."""
    out = []
    for les in lesions:
        mask = les['mask']
        size = mask.shape[0]
        rows, cols = np.nonzero(mask)
        out.append(dict(
            centre=((cols.mean() + 0.5) / size, (rows.mean() + 0.5) / size),
            half=((np.ptp(cols) + 1) / 2 / size, (np.ptp(rows) + 1) / 2 / size),
            conspicuity=FINDINGS[les['category']]['conspicuity']))
    return out


def render_synthetic_image(seed: int, index: int, img_size: int = 128):
    """Draw image ``index`` of dataset ``seed``: pixels, findings, patient.

    Returns:
        tuple: ``img`` uint8 (img_size, img_size), ``finding_names`` (list[str]),
        ``lesions`` (list of dicts with ``category``, ``label``, bool ``mask``),
        ``patient`` (Patient), ``parts`` (anatomy masks).
    """
    rng = stream_rng('image', seed, index)
    names = sample_finding_names(rng)
    patient = sample_patient(rng, cardiomegaly='Cardiomegaly' in names)
    density, parts = render_anatomy(patient, img_size, rng)
    delta, lesions = render_findings(names, patient, parts, img_size, rng)
    img = expose(density + delta, patient, rng)
    return img, names, lesions, patient, parts


def _write_json_atomic(path: str, obj) -> None:
    """``json.dump`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def _split_of(num_images: int, seed: int, split: Sequence[float]) -> np.ndarray:
    """Split index (0 train, 1 val, 2 test) per image, exact fractions."""
    fracs = np.asarray(split, np.float64)
    if fracs.shape != (3,) or (fracs < 0).any() or fracs.sum() <= 0:
        raise ValueError(f'split must be 3 non-negative fractions (train, val, '
                         f'test), got {split!r}')
    fracs = fracs / fracs.sum()
    counts = np.floor(fracs * num_images).astype(int)
    counts[np.argmax(fracs)] += num_images - counts.sum()
    perm = stream_rng('split', seed).permutation(num_images)
    which = np.empty(num_images, int)
    which[perm] = np.repeat(np.arange(3), counts)
    return which


SUMMARY_FILE = osp.join('annotations', 'synthetic_summary.json')


def may_generate_into(out_dir: str) -> bool:
    """Whether the generator may write into ``out_dir``: it is missing, empty, or
    was made by the generator (holds ``annotations/synthetic_summary.json``).

    Anything else is somebody's data, which a missing annotation file must never
    cause to be overwritten.
    """
    if not osp.isdir(out_dir):
        return not osp.exists(out_dir)
    return not os.listdir(out_dir) or osp.isfile(osp.join(out_dir, SUMMARY_FILE))


def generate_synthetic_cxr(out_dir: str,
                           num_images: int,
                           img_size: int = 128,
                           seed: int = 0,
                           preset: str = 'realistic',
                           no_gaze_rate: float = 0.15,
                           num_readers: int = 3,
                           split: Sequence[float] = (0.7, 0.15, 0.15),
                           uncertain_rate: float = 0.03,
                           progress: bool = False) -> Dict:
    """Write the synthetic chest-X-ray + gaze benchmark to ``out_dir``.

    Args:
        out_dir (str): output folder (created; existing files of the same names are
            overwritten).
        num_images (int): number of images (>= 1).
        img_size (int): square image size in pixels (>= 32). Defaults to 128.
        seed (int): dataset seed. Defaults to 0.
        preset (str): gaze preset, ``'realistic'`` (REFLACX-like weak gaze-lesion
            agreement) or ``'strong'`` (gaze clearly on findings).
        no_gaze_rate (float): share of images written with ``gaze: null``.
        num_readers (int): simulated readers per image with gaze (>= 1).
        split (Sequence[float]): train / val / test fractions.
        uncertain_rate (float): probability that a finding label of a train image
            is written as -1.
        progress (bool): show a tqdm progress bar.

    Returns:
        dict: summary (counts per split, label and lesion counts, gaze statistics,
        timing, written files); also written to
        ``annotations/synthetic_summary.json``.
    """
    if preset not in GAZE_PRESETS:
        raise ValueError(f'unknown gaze preset {preset!r}; choose one of '
                         f'{sorted(GAZE_PRESETS)}')
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f'seed must be in [0, 2**32), got {seed}')
    if int(num_images) < 1 or int(img_size) < 32 or int(num_readers) < 1:
        raise ValueError(f'need num_images >= 1, img_size >= 32, num_readers >= 1; got '
                         f'{num_images}, {img_size}, {num_readers}')
    if not 0.0 <= no_gaze_rate <= 1.0 or not 0.0 <= uncertain_rate <= 1.0:
        raise ValueError(f'no_gaze_rate and uncertain_rate must be in [0, 1]; got '
                         f'{no_gaze_rate}, {uncertain_rate}')
    import cv2
    start = time.perf_counter()
    num_images, img_size = int(num_images), int(img_size)
    gaze_preset = GAZE_PRESETS[preset]
    readers = sample_readers(seed, num_readers)
    which_split = _split_of(num_images, seed, split)
    img_dir = osp.join(out_dir, 'images')
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    # annotations of an earlier run would describe images this run overwrites: remove
    # them first, so an interrupted run leaves no annotation file at all
    for name in SPLIT_NAMES + ('lesions_coco', 'synthetic_summary'):
        if osp.exists(osp.join(ann_dir, f'{name}.json')):
            os.remove(osp.join(ann_dir, f'{name}.json'))
    stale = [f for f in os.listdir(img_dir) if f.endswith('.png')
             and f[:-4].isdigit() and int(f[:-4]) >= num_images]
    if stale:  # harmless (no annotation refers to them) but worth knowing
        warnings.warn(f'{img_dir}: {len(stale)} images of an earlier, larger run '
                      f'are left in place (not referenced by the new annotations)')

    rows = {name: [] for name in SPLIT_NAMES}
    coco_images, coco_anns = [], []
    category_ids = {name: k + 1 for k, name in enumerate(FINDING_NAMES)}
    fix_counts, durations, off_image, detections = [], [], 0, []
    mask_fallbacks = 0  # findings too thin for the pixel grid (render_findings)
    attended = {name: [] for name in FINDING_NAMES}  # readers per finding
    indices = range(num_images)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc='synthetic CXR', unit='img')
    for i in indices:  # one image per iteration; everything inside is vectorised
        img, names, lesions, patient, _ = render_synthetic_image(seed, i, img_size)
        mask_fallbacks += sum(les['mask_fallback'] for les in lesions)
        rel_path = f'images/{i:06d}.png'
        if not cv2.imwrite(osp.join(out_dir, rel_path), img):
            raise OSError(f'could not write {osp.join(out_dir, rel_path)}')
        split_name = SPLIT_NAMES[which_split[i]]
        meta_rng = stream_rng('meta', seed, i)
        has_gaze = meta_rng.random() >= no_gaze_rate
        uncertain = meta_rng.random(len(UNCERTAIN_CANDIDATES)) < uncertain_rate
        label = _labels(names, uncertain & (split_name == 'train'))

        gaze = None
        if has_gaze:
            seen = _reader_lesions(lesions)
            readings = []
            for r, reader in enumerate(readers):  # a few readers
                fix, detected = simulate_reading(
                    stream_rng('reading', seed, i, r), reader, patient, seen,
                    img_size, gaze_preset)
                fix_counts.append(len(fix))
                durations.append(fix[:, 2])
                off_image += int(((fix[:, :2] < -0.5)
                                  | (fix[:, :2] > img_size - 0.5)).any(1).sum())
                detections.append(detected)
                readings.append(dict(
                    reader=reader.name,
                    fixations=np.column_stack([np.round(fix[:, :2], 2),
                                               np.round(fix[:, 2], 3)]).tolist(),
                    attended_lesions=np.flatnonzero(detected).tolist()))
            gaze = dict(image_size=[img_size, img_size], readers=readings)
            per_lesion = np.sum(detections[-len(readers):], axis=0)
            for les, count in zip(lesions, per_lesion):
                attended[les['category']].append(int(count))

        encoded = [_encode_lesion(les) for les in lesions]
        rows[split_name].append(dict(
            img_path=rel_path, img_id=f'syn-{i:06d}', gt_label=label.tolist(),
            img_shape=[img_size, img_size], split=split_name, gaze=gaze,
            lesions=encoded))
        coco_images.append(dict(id=i + 1, file_name=rel_path, width=img_size,
                                height=img_size, img_id=f'syn-{i:06d}',
                                split=split_name))
        for les in encoded:
            coco_anns.append(dict(id=len(coco_anns) + 1, image_id=i + 1,
                                  category_id=category_ids[les['category']],
                                  bbox=les['bbox'], area=les['area'],
                                  segmentation=les['segmentation'], iscrowd=0))

    metainfo = dict(
        classes=list(CHEXPERT_CLASSES), dataset_name='synthetic_cxr',
        uncertain_value=-1, active_classes=list(ACTIVE_CLASSES),
        generator=dict(version=GENERATOR_VERSION, seed=seed, preset=preset,
                       img_size=img_size, num_images=num_images,
                       no_gaze_rate=no_gaze_rate, num_readers=num_readers,
                       split=list(split), uncertain_rate=uncertain_rate),
        findings={n: dict(label=f['label'], rate=f['rate']) for n, f in
                  FINDINGS.items()})
    # The COCO file first and train.json last, each written atomically: a run
    # killed while writing never leaves a truncated file, and the file whose absence
    # triggers regeneration (GazeCXRDataset(synthetic=...)) appears only at the end.
    coco_file = osp.join(ann_dir, 'lesions_coco.json')
    _write_json_atomic(coco_file, dict(
        info=dict(description='GazePrior-MM synthetic CXR lesions', seed=seed,
                  img_size=img_size, generator_version=GENERATOR_VERSION),
        images=coco_images, annotations=coco_anns,
        categories=[dict(id=k, name=n, supercategory=FINDINGS[n]['label'])
                    for n, k in category_ids.items()]))
    ann_files = {name: osp.join(ann_dir, f'{name}.json') for name in SPLIT_NAMES}
    for name in reversed(SPLIT_NAMES):
        _write_json_atomic(ann_files[name], dict(
            metainfo=dict(metainfo, split=name), data_list=rows[name]))

    all_rows = [r for name in SPLIT_NAMES for r in rows[name]]
    labels = np.array([r['gt_label'] for r in all_rows], np.int8)
    durations = np.concatenate(durations) if durations else np.zeros(0)
    seconds = time.perf_counter() - start
    detect = np.concatenate(detections) if detections else np.zeros(0, bool)
    summary = dict(
        out_dir=out_dir, num_images=num_images, img_size=img_size, seed=seed,
        preset=preset,
        splits={name: len(rows[name]) for name in SPLIT_NAMES},
        positives={c: int((labels[:, k] == 1).sum())
                   for k, c in enumerate(CHEXPERT_CLASSES)},
        uncertain={c: int((labels[:, k] == -1).sum())
                   for k, c in enumerate(CHEXPERT_CLASSES)},
        lesions={n: sum(a['category_id'] == k for a in coco_anns)
                 for n, k in category_ids.items()},
        lesion_mask_fallbacks=mask_fallbacks,
        images_with_gaze=sum(r['gaze'] is not None for r in all_rows),
        readings=len(fix_counts),
        fixations_per_reading=float(np.mean(fix_counts)) if fix_counts else 0.0,
        fixation_duration_median_s=float(np.median(durations))
        if durations.size else 0.0,
        off_image_fraction=off_image / max(int(np.sum(fix_counts)), 1),
        reader_detection_rate=float(detect.mean()) if detect.size else 0.0,
        readers_attending_given_any={
            n: float(np.mean([c for c in counts if c > 0]))
            for n, counts in attended.items() if any(counts)},
        seconds=seconds, images_per_s=num_images / max(seconds, 1e-9),
        ann_files=ann_files, coco_file=coco_file)
    summary['generator_version'] = GENERATOR_VERSION
    with open(osp.join(ann_dir, 'synthetic_summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary
