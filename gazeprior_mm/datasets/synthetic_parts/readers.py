"""Simulated radiologists reading synthetic chest X-rays: fixations [x, y, duration_s].

A reading (research note data_formats.md §3.2) is a mixture of
1. a global glance near the image centre (1-2 fixations, first);
2. a systematic survey of anatomical zones (upper/mid/lower lung fields, hila,
   costophrenic angles, heart, mediastinum, clavicles) with a reader-specific zone
   preference and visiting order;
3. dwelling on findings the reader detects (probability = finding conspicuity x reader
   skill, so each reader has its own miss rate): first hit early (10-20% into the
   reading), cumulative dwell >= ``min_lesion_dwell_s``, scattered over the finding
   with a reader-specific localisation offset;
4. 0-2 decoy dwell regions (false-positive attention);
plus calibration noise (systematic offset + per-fixation jitter, ~0.4 deg with
1 deg = size / 25 px: a 1000-px display seen from 60 cm spans ~25 deg) and 5-10%
off-image fixations (UI / looking away) that the data path must drop and count.
Fixation counts are log-normal (mean ~45, sigma_log 0.4) and durations log-normal
(median ~0.35 s, sigma_log 0.45, right-skewed), as in EGD-CXR.

Every step draws arrays for all fixations at once; the only Python loops are over
readers and findings (a handful each).
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence

import numpy as np

from .anatomy import SIDES, Patient, patient_to_image

#: Gaze presets: ``realistic`` matches REFLACX's weak gaze-lesion agreement
#: (NCC(gaze, lesion) - NCC(centre prior, lesion) ~ +0.05); ``strong`` puts gaze
#: clearly on findings (NCC >= 0.6) for unit tests.
GAZE_PRESETS: Dict[str, dict] = {
    'realistic': dict(detect_scale=1.0, lesion_share=0.04, min_lesion_dwell_s=1.2,
                      lesion_spread=0.6, localisation_jitter=0.5, decoy_rate=0.8,
                      calibration_scale=1.0, max_lesion_share=0.8),
    'strong': dict(detect_scale=10.0, lesion_share=0.85, min_lesion_dwell_s=3.0,
                   lesion_spread=0.45, localisation_jitter=0.1, decoy_rate=0.0,
                   calibration_scale=0.3, max_lesion_share=0.9),
}

#: Leading tags of the generator's random streams (see ``stream_rng``).
STREAMS = dict(image=1, meta=2, reading=3, reader=4, split=5)


def stream_rng(stream: str, seed: int, *index: int) -> np.random.Generator:
    """Generator of one named random stream: ``default_rng([tag, seed, *index])``.

    Each stream has its own leading tag and a fixed number of entries, so no two
    streams share a seed (numpy's SeedSequence pads with zeros: ``[a, b]`` and
    ``[a, b, 0]`` would be the same seed).
    """
    return np.random.default_rng([STREAMS[stream], int(seed), *map(int, index)])


#: Pixels per visual degree, as a fraction of the image size.
DEG_PER_IMAGE = 25.0


@dataclass
class ReaderProfile:
    """One simulated radiologist (fixed per dataset seed and reader index)."""
    name: str
    skill: float
    fixations_mean: float
    duration_median_s: float
    calibration_deg: float
    off_image_rate: float
    zone_weights: np.ndarray
    zone_rank: np.ndarray


NUM_ZONES = 15


def sample_readers(seed: int, num_readers: int) -> List[ReaderProfile]:
    """Reader profiles drawn from ``stream_rng('reader', seed, index)``.

    Skill (multiplies finding conspicuity) in [0.75, 1.0], mean fixation count
    45 x logN(0, 0.15), median duration 0.35 s x logN(0, 0.1), calibration error
    0.3-0.6 deg, off-image rate 5-10%, zone preferences ~ Dirichlet(3).
    """
    readers = []
    for r in range(num_readers):  # a few readers
        rng = stream_rng('reader', seed, r)
        readers.append(ReaderProfile(
            name=f'r{r + 1}',
            skill=float(rng.uniform(0.75, 1.0)),
            fixations_mean=float(45.0 * np.exp(rng.normal(0.0, 0.15))),
            duration_median_s=float(0.35 * np.exp(rng.normal(0.0, 0.1))),
            calibration_deg=float(rng.uniform(0.3, 0.6)),
            off_image_rate=float(rng.uniform(0.05, 0.10)),
            zone_weights=rng.dirichlet(np.full(NUM_ZONES, 3.0)),
            zone_rank=np.argsort(np.argsort(
                np.arange(NUM_ZONES) + rng.normal(0.0, 2.0, NUM_ZONES)))))
    return readers


def survey_zones(patient: Patient) -> np.ndarray:
    """Anatomical survey zones of a patient: float (NUM_ZONES, 4) u, v, su, sv.

    Rows: per lung (image left, right) upper / mid / lower field, hilum,
    costophrenic angle; then heart, upper mediastinum, two clavicles, lower thorax
    midline. Roughly in a top-to-bottom reading order. Returned in image
    coordinates (the patient's pose applied; spreads scaled with the anatomy).
    """
    zones = []
    m = patient.midline
    for i, side in enumerate(SIDES):
        inner, outer = patient.lung_inner[i], patient.lung_outer[i]
        top, cp = patient.lung_top[i], patient.costophrenic[i]
        half, height = 0.5 * (outer - inner), cp - top
        cu = m + side * (inner + half)
        for frac in (0.2, 0.5, 0.78):
            zones.append((cu, top + frac * height, 0.4 * half, 0.1 * height))
        zones.append((m + side * (inner + 0.25 * half), top + 0.45 * height,
                      0.15 * half, 0.06 * height))
        zones.append((m + side * (outer - 0.2 * half), cp - 0.04, 0.12 * half, 0.03))
    zones.append((patient.heart_centre_u, patient.heart_centre_v,
                  0.45 * patient.heart_half_width, 0.4 * patient.heart_half_height))
    zones.append((m, min(patient.lung_top) + 0.12, 0.03, 0.07))
    for side in SIDES:
        zones.append((m + side * 0.17, patient.clavicle_v, 0.06, 0.015))
    zones.append((m, 0.5 * (min(patient.lung_top) + max(patient.costophrenic)) + 0.2,
                  0.15, 0.05))
    zones = np.asarray(zones, np.float64)
    zones[:, :2] = patient_to_image(patient, zones[:, :2])
    zones[:, 2:] *= patient.scale
    return zones


def simulate_reading(rng: np.random.Generator, reader: ReaderProfile,
                     patient: Patient, lesions: Sequence[dict], size: int,
                     preset: dict):
    """One reader's fixations on one image.

    Args:
        rng (np.random.Generator): the (image, reader) generator.
        reader (ReaderProfile): who reads.
        patient (Patient): the anatomy (survey zones).
        lesions (Sequence[dict]): findings with ``centre`` (u, v), ``half`` (su, sv)
            normalised half extents and ``conspicuity``.
        size (int): image size (fixations are in its pixel grid).
        preset (dict): a ``GAZE_PRESETS`` entry.

    Returns:
        tuple: fixations float64 (K, 3) ``x, y, duration_s`` in pixels (x column,
        y row, pixel centres at integers; some off-image by design) in reading
        order, and ``detected`` bool (L,) per finding.
    """
    n = int(np.clip(round(reader.fixations_mean * np.exp(rng.normal(-0.08, 0.4))),
                    8, 200))
    num_les = len(lesions)
    conspicuity = np.array([les['conspicuity'] for les in lesions], np.float64)
    detected = rng.random(num_les) < np.clip(
        conspicuity * reader.skill * preset['detect_scale'], 0.0, 1.0)
    per_lesion = max(int(np.ceil(preset['min_lesion_dwell_s']
                                 / reader.duration_median_s)),
                     int(round(preset['lesion_share'] * n)))
    lesion_counts = np.where(detected, per_lesion, 0)
    cap = preset['max_lesion_share'] * n  # keep some survey even with many findings
    if lesion_counts.sum() > cap:
        lesion_counts = np.floor(lesion_counts * cap / lesion_counts.sum())
    lesion_counts = lesion_counts.astype(int)
    num_decoys = min(int(rng.poisson(preset['decoy_rate'])), 2)
    decoy_counts = rng.integers(2, 4, num_decoys)
    num_glance = 1 + int(rng.random() < 0.5)
    num_survey = max(n - num_glance - lesion_counts.sum() - decoy_counts.sum(), 0)

    zones = survey_zones(patient)
    # decoys: small regions around random survey-zone points
    decoy_zone = rng.integers(len(zones), size=num_decoys)
    decoys = np.column_stack([
        zones[decoy_zone, :2] + rng.normal(0, 1, (num_decoys, 2)) * zones[decoy_zone, 2:],
        np.full((num_decoys, 2), 0.02)])
    if num_les:
        centres = np.array([les['centre'] for les in lesions], np.float64)
        halves = np.array([les['half'] for les in lesions], np.float64)
        offset = rng.normal(0.0, 1.0, (num_les, 2)) * halves \
            * preset['localisation_jitter']
        lesion_rows = np.column_stack([centres + offset,
                                       halves * preset['lesion_spread'] + 0.004])
    else:
        lesion_rows = np.zeros((0, 4))
    targets = np.concatenate([[[0.5, 0.48, 0.04, 0.04]], zones, lesion_rows, decoys])

    first_lesion, first_decoy = 1 + len(zones), 1 + len(zones) + num_les
    survey_idx = 1 + rng.choice(len(zones), num_survey, p=reader.zone_weights)
    lesion_idx = first_lesion + np.repeat(np.arange(num_les), lesion_counts)
    decoy_idx = first_decoy + np.repeat(np.arange(num_decoys), decoy_counts)
    idx = np.concatenate([np.zeros(num_glance, int), survey_idx, lesion_idx,
                          decoy_idx])

    # reading order: glance, then zones in the reader's order; each finding's first
    # fixation early (10-20% in), the rest of its dwell anywhere; decoys anywhere
    first_hit = np.r_[True, np.diff(lesion_idx) != 0] if lesion_idx.size else \
        np.zeros(0, bool)
    keys = np.concatenate([
        rng.uniform(0.0, 0.02, num_glance),
        0.02 + 0.98 * (reader.zone_rank[survey_idx - 1]
                       + rng.random(num_survey)) / len(zones),
        np.where(first_hit, rng.uniform(0.1, 0.2, lesion_idx.size),
                 rng.uniform(0.05, 1.0, lesion_idx.size)),
        rng.uniform(0.05, 1.0, decoy_idx.size)])
    order = np.argsort(keys, kind='stable')
    idx = idx[order]
    on_lesion = (idx >= first_lesion) & (idx < first_decoy)

    uv = targets[idx, :2] + rng.normal(0.0, 1.0, (idx.size, 2)) * targets[idx, 2:]
    px_per_deg = size / DEG_PER_IMAGE
    calib = reader.calibration_deg * preset['calibration_scale'] * px_per_deg
    xy = uv * size - 0.5 + rng.normal(0.0, 0.5 * calib, 2) \
        + rng.normal(0.0, calib, (idx.size, 2))

    durations = reader.duration_median_s * np.exp(rng.normal(0.0, 0.45, idx.size))
    durations = np.clip(np.where(on_lesion, 1.25 * durations, durations), 0.06, 3.0)

    # off-image fixations (UI, looking away): pushed beyond a random image border
    off = rng.random(idx.size) < reader.off_image_rate
    border = rng.integers(4, size=idx.size)
    beyond = rng.uniform(2.0, 0.15 * size, idx.size)
    axis = border % 2
    outside = np.where(border < 2, -beyond, size - 1 + beyond)
    rows = np.flatnonzero(off)
    xy[rows, axis[rows]] = outside[rows]
    return np.column_stack([xy, durations]), detected
