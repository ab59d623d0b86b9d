"""Synthetic findings: typical look, place and size, drawn as vectorised soft masks.

Sizes are NIH ChestX-ray14 ``BBox_List_2017`` medians in 1024-px image units
(research note data_formats.md §3.1: Nodule 70 x 68, Mass 120 x 141, Effusion
208 x 277, Pneumothorax 200 x 206, heart 478 x 382), scaled to the rendered size and
jittered log-normally (sigma 0.25). Nodule / mass diameters are 0.8 x the (loose)
box width, so at 128 px a nodule is ~7 px and a mass ~12 px across. Two deliberate
departures: Consolidation uses 185 x 215 (between NIH's infiltrate 230 x 270 and
its smaller pneumonia boxes) and Atelectasis is drawn as a plate-like band of
171 x 45 (NIH's 171 x 118 box is loose around tilted, band-shaped collapse; the
band's tilt of up to +-0.45 rad brings the drawn box back towards it).
Contrasts (density change on the 0-1 scale, before exposure) are 0.03-0.15 so the
findings are subtle.

Prevalences (``rate``) are chosen for a 2,000-image benchmark whose 15% test split
(300 images) still holds >= ~15 positives of every finding class; they are higher
than CheXpert's for the rare classes (Lung Lesion 4% there) and lower for the common
ones (Pleural Effusion 39%, Lung Opacity 47%). About 48% of images have no finding
(No Finding = 1 on ~41%: train images with a -1 label are not "No Finding").
Measured on 2,000 images (seed 0): Lung Lesion 270, Pleural Effusion 284,
Cardiomegaly 264, Atelectasis 219, Consolidation 202, Pneumothorax 157 positives.
``conspicuity`` is the base probability that a reader fixates the finding (scaled by
the reader's skill, mean 0.875), calibrated so that with 3 readers the mean number
of readers attending a finding, given at least one does, matches VinDr-CXR's
"readers marking it, of 3" (data_formats.md §3.3): Nodule/Mass 1.71, Consolidation
1.43, Atelectasis 1.43, Pleural effusion 2.04, Cardiomegaly 2.35, Pneumothorax
2.07 (the generator's summary reports the simulated values).
"""
import warnings
from typing import Dict, List

import numpy as np

from .anatomy import SIDES, Patient, patient_grid, pink_noise, soft_inside

#: name -> CheXpert class, prevalence, size (w, h) in 1024-px units,
#: density contrast range, reader conspicuity.
FINDINGS: Dict[str, dict] = {
    'Nodule': dict(label='Lung Lesion', rate=0.09, size=(70, 68),
                   contrast=(0.04, 0.12), conspicuity=0.55),
    'Mass': dict(label='Lung Lesion', rate=0.05, size=(120, 141),
                 contrast=(0.05, 0.15), conspicuity=0.7),
    'Consolidation': dict(label='Consolidation', rate=0.10, size=(185, 215),
                          contrast=(0.05, 0.13), conspicuity=0.4),
    'Atelectasis': dict(label='Atelectasis', rate=0.11, size=(171, 45),
                        contrast=(0.04, 0.11), conspicuity=0.4),
    'Effusion': dict(label='Pleural Effusion', rate=0.14, size=(208, 277),
                     contrast=(0.06, 0.15), conspicuity=0.8),
    'Cardiomegaly': dict(label='Cardiomegaly', rate=0.12, size=(478, 382),
                         contrast=(0.0, 0.0), conspicuity=0.9),
    'Pneumothorax': dict(label='Pneumothorax', rate=0.08, size=(200, 206),
                         contrast=(0.04, 0.10), conspicuity=0.75),
}

FINDING_NAMES = tuple(FINDINGS)


def sample_finding_names(rng: np.random.Generator) -> List[str]:
    """Independent Bernoulli draw of every finding at its ``rate`` (multi-label)."""
    rates = np.array([FINDINGS[n]['rate'] for n in FINDING_NAMES])
    present = rng.random(len(rates)) < rates
    return [n for n, p in zip(FINDING_NAMES, present) if p]


def _sample_point(rng: np.random.Generator, candidates: np.ndarray,
                  u: np.ndarray, v: np.ndarray):
    """Patient-frame (u, v) of a random pixel among the True pixels of ``candidates``."""
    flat = np.flatnonzero(candidates)
    if flat.size == 0:  # degenerate anatomy: fall back to the image centre
        return 0.5, 0.5
    idx = flat[rng.integers(flat.size)]
    return float(u.flat[idx]), float(v.flat[idx])


def _extent(rng: np.random.Generator, name: str, size: int):
    """Jittered (w, h) of a finding in normalised units."""
    w, h = FINDINGS[name]['size']
    return np.array([w, h]) / 1024.0 * np.exp(rng.normal(0.0, 0.25))


def render_findings(names: List[str], patient: Patient, parts: Dict[str, np.ndarray],
                    size: int, rng: np.random.Generator):
    """Density change and ground-truth masks of the given findings.

    Args:
        names (list[str]): findings present (``FINDING_NAMES`` entries).
        patient (Patient): the patient (cardiomegaly is already in its CTR).
        parts (dict): ``render_anatomy`` parts (``lungs``, ``air``, ``heart``).
        size (int): image size.
        rng (np.random.Generator): the image's generator.

    Returns:
        tuple: ``delta`` float32 (size, size) to add to the density, and a list of
        dicts ``category`` (finding name), ``label`` (CheXpert class), ``mask`` bool
        (size, size) (non-empty: one per finding, so every positive label has its
        lesion), ``contrast`` float, ``mask_fallback`` bool (True when the finding
        covered no pixel centre and its mask is its strongest pixel, with a
        warning).
    """
    u, v = patient_grid(patient, size)
    delta = np.zeros((size, size), np.float32)
    lungs, air = parts['lungs'], parts['air']
    inside_air = air > 0.8
    top, bottom = min(patient.lung_top), max(patient.costophrenic)
    lesions = []
    for name in names:  # a handful of findings per image, each drawn vectorised
        lo, hi = FINDINGS[name]['contrast']
        contrast = float(rng.uniform(lo, hi))
        w, h = _extent(rng, name, size)
        if name in ('Nodule', 'Mass'):
            cu, cv = _sample_point(rng, inside_air, u, v)
            radius = 0.4 * w
            theta = np.arctan2(v - cv, u - cu)
            if name == 'Mass':  # lobulated outline
                phases = rng.uniform(0, 2 * np.pi, 2)
                radius = radius * (1 + 0.12 * np.cos(3 * theta + phases[0])
                                   + 0.08 * np.cos(5 * theta + phases[1]))
            rr = np.hypot(u - cu, v - cv) / radius
            profile = np.sqrt(np.clip(1.0 - rr**2, 0.0, None))  # projected sphere
            mask = rr <= 1.0
            strength = -rr
        elif name in ('Consolidation', 'Atelectasis'):
            lower = v > (top + (0.45 if name == 'Consolidation' else 0.6)
                         * (bottom - top))
            cu, cv = _sample_point(rng, inside_air & lower, u, v)
            angle = rng.uniform(-0.45, 0.45) if name == 'Atelectasis' else 0.0
            cos, sin = np.cos(angle), np.sin(angle)
            a = ((u - cu) * cos + (v - cv) * sin) / (0.5 * w)
            b = (-(u - cu) * sin + (v - cv) * cos) / (0.5 * h)
            wobble = 0.35 * pink_noise(rng, size, 4.0) if name == 'Consolidation' \
                else 0.0
            lung = lungs[int(cu > patient.midline)]
            profile = soft_inside(1.0 - a**2 - b**2 + wobble, 0.25) * lung
            mask = profile > 0.5
            strength = profile
        elif name == 'Effusion':
            i = int(rng.integers(2))
            side = SIDES[i]
            inner, outer = patient.lung_inner[i], patient.lung_outer[i]
            lateral = np.clip(side * (u - patient.midline) - inner, 0.0, None) \
                / (outer - inner)
            height = 0.75 * h  # the mask (profile > 0.3) spans ~ h
            # meniscus: the fluid climbs higher along the lateral chest wall
            level = patient.costophrenic[i] - height * (0.35 + 0.65 * lateral**1.5)
            depth = np.clip((v - level) / height, 0.0, 1.0)
            profile = soft_inside(v - level, 1.5 / size) * (0.6 + 0.4 * depth) \
                * lungs[i]
            mask = profile > 0.3
            strength = profile
        elif name == 'Cardiomegaly':
            profile = None
            mask = parts['heart'] > 0.5
            strength = parts['heart']
        elif name == 'Pneumothorax':
            i = int(rng.integers(2))
            side = SIDES[i]
            inner, outer = patient.lung_inner[i], patient.lung_outer[i]
            half = 0.5 * (outer - inner)
            # the collapsed lung: an ellipse pulled down and towards the hilum; the
            # pleural space above/lateral to it is lucent and bounded by a thin line
            shrink = np.clip(1.0 - 0.25 * w / (2 * half), 0.75, 0.94)
            cu = patient.midline + side * (inner + half * shrink)
            cv = 0.5 * (patient.lung_top[i] + patient.costophrenic[i]) + 0.05
            e = np.hypot((u - cu) / (half * shrink),
                         (v - cv) / (0.5 * (patient.costophrenic[i]
                                            - patient.lung_top[i]) * shrink))
            pleural = soft_inside(e - 1.0, 1.0 / size / half) * lungs[i]
            space = pleural * soft_inside(patient.lung_top[i] + 1.2 * h - v, 2.0 / size)
            line = np.exp(-((e - 1.0) * half * size / 0.7)**2) * lungs[i]
            delta += contrast * (0.6 * line - space)
            profile = None
            mask = space > 0.5
            strength = space + 1e-3 * pleural  # fallback: the topmost pleural pixel
        else:
            raise ValueError(f'unknown synthetic finding {name!r}')
        if profile is not None:
            delta += contrast * profile.astype(np.float32)
        # a finding thinner than the pixel grid (only at very small image sizes) keeps
        # its label and gets its strongest pixel as mask, flagged and warned about
        fallback = not mask.any()
        if fallback:
            warnings.warn(f'synthetic {name} covers no pixel centre at {size} px; '
                          f'its mask is its strongest pixel')
            mask = np.zeros((size, size), bool)
            mask.flat[np.argmax(strength)] = True
        lesions.append(dict(category=name, label=FINDINGS[name]['label'],
                            mask=np.ascontiguousarray(mask), contrast=contrast,
                            mask_fallback=fallback))
    return delta, lesions
