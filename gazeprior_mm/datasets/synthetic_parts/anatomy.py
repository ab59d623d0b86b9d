"""Synthetic patients and their normal PA chest radiograph.

Everything is drawn on precomputed normalised coordinate grids with soft masks
(``tanh`` edges over about one pixel) and closed-form distance fields, so rendering
an image is a few dozen whole-array numpy operations and no Python loop over pixels.

Coordinates: ``u`` = (x + 0.5) / W, ``v`` = (y + 0.5) / H in [0, 1]; image left is the
patient's right (PA view). Anatomy is described in a normalised *patient frame* and
drawn on ``patient_grid`` (the image grid mapped into that frame through the
patient's pose: scale, rotation, shift), so patients differ in positioning as well
as in anatomy and exposure; ``patient_to_image`` maps patient-frame points back. Intensities are on a 0-1 "MONOCHROME2" scale (bright =
dense), calibrated on the inverted pydicom-data RG1 radiograph (research note
data_formats.md §3.1): lung fields ~0.55-0.61, mediastinum/spine ~0.91, lateral soft
tissue ~0.86, radially averaged power-spectrum slope ~-3.3.
"""
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, Tuple

import numpy as np

#: Image sides of the two lungs: -1 = image left (patient right), +1 = image right.
SIDES = (-1, 1)


@lru_cache(maxsize=8)
def unit_grid(size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates of a square ``size`` image.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``u`` (columns) and ``v`` (rows), float32
        (size, size), read-only (shared by every image of that size).
    """
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    v, u = np.meshgrid(centres, centres, indexing='ij')
    u.setflags(write=False)
    v.setflags(write=False)
    return u, v


@lru_cache(maxsize=8)
def radial_frequency(size: int) -> np.ndarray:
    """|k| in cycles per image on the ``rfft2`` grid, float32 (size, size//2+1), k>=1."""
    ky = np.fft.fftfreq(size) * size
    kx = np.fft.rfftfreq(size) * size
    k = np.sqrt(ky[:, None]**2 + kx[None, :]**2).astype(np.float32)
    k = np.maximum(k, 1.0)
    k.setflags(write=False)
    return k


def patient_grid(patient: 'Patient', size: int) -> Tuple[np.ndarray, np.ndarray]:
    """The image's pixel centres in the patient frame (pose applied).

    p = 0.5 + R(angle) (x - 0.5 - shift) / scale, with x the ``unit_grid`` point and
    R(a) = [[cos a, sin a], [-sin a, cos a]]; ``scale > 1`` magnifies the anatomy.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``u``, ``v`` float32 (size, size).
    """
    u, v = unit_grid(size)
    cos, sin = np.cos(patient.angle), np.sin(patient.angle)
    du = (u - np.float32(0.5 + patient.shift[0])) / np.float32(patient.scale)
    dv = (v - np.float32(0.5 + patient.shift[1])) / np.float32(patient.scale)
    return (np.float32(0.5) + np.float32(cos) * du + np.float32(sin) * dv,
            np.float32(0.5) - np.float32(sin) * du + np.float32(cos) * dv)


def patient_to_image(patient: 'Patient', points: np.ndarray) -> np.ndarray:
    """Inverse of ``patient_grid``'s map: patient-frame (u, v) -> image (u, v).

    x = 0.5 + shift + scale R(angle)^T (p - 0.5).

    Args:
        points (np.ndarray): (..., 2) patient-frame points.

    Returns:
        np.ndarray: float64 (..., 2) normalised image coordinates.
    """
    cos, sin = np.cos(patient.angle), np.sin(patient.angle)
    rot_t = np.array([[cos, -sin], [sin, cos]])
    centred = np.asarray(points, np.float64) - 0.5
    return 0.5 + np.asarray(patient.shift) + patient.scale * centred @ rot_t.T


def soft_inside(signed: np.ndarray, width: float) -> np.ndarray:
    """Soft indicator of ``signed > 0``: 0.5 (1 + tanh(signed / width)), in [0, 1]."""
    return 0.5 * (1.0 + np.tanh(signed / width))


def segment_distance(u: np.ndarray, v: np.ndarray, p0, p1) -> np.ndarray:
    """Distance of every grid point to the segment p0-p1 (normalised units)."""
    p0 = np.asarray(p0, np.float32)
    d = np.asarray(p1, np.float32) - p0
    t = ((u - p0[0]) * d[0] + (v - p0[1]) * d[1]) / float(d @ d)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(u - p0[0] - t * d[0], v - p0[1] - t * d[1])


def pink_noise(rng: np.random.Generator, size: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std 2-D noise with power spectrum ~ 1 / |k|^beta.

    Returns:
        np.ndarray: float32 (size, size).
    """
    spectrum = np.fft.rfft2(rng.standard_normal((size, size)).astype(np.float32))
    spectrum *= radial_frequency(size)**(-beta / 2.0)
    spectrum[0, 0] = 0.0
    field_ = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    return field_ / (field_.std() + 1e-8)


@dataclass
class Patient:
    """Anatomy and acquisition parameters of one synthetic patient (normalised units).

    Lungs are described per image side (``SIDES``): lateral / medial edge distances
    from the midline, apex row, costophrenic-angle row and diaphragm dome height.
    ``ctr`` is the cardiothoracic ratio (heart width / thorax width; > 0.55 means
    cardiomegaly). ``scale``, ``angle`` (radians) and ``shift`` (u, v) are the pose
    (positioning) of the patient frame in the image (``patient_grid``).
    """
    midline: float
    body_half_width: float
    lung_outer: Tuple[float, float]
    lung_inner: Tuple[float, float]
    lung_top: Tuple[float, float]
    costophrenic: Tuple[float, float]
    dome_height: Tuple[float, float]
    ctr: float
    heart_centre_v: float
    heart_half_height: float
    tissue: float
    air_depth: float
    rib_spacing: float
    rib_phase: float
    rib_amplitude: float
    clavicle_v: float
    texture_beta: float
    texture_amplitude: float
    blur_px: float
    gamma: float
    contrast: float
    offset: float
    noise_sigma: float
    carina_v: float = 0.36
    trachea_depth: float = 0.07
    scale: float = 1.0
    angle: float = 0.0
    shift: Tuple[float, float] = (0.0, 0.0)
    extras: Dict = field(default_factory=dict)

    @property
    def thorax_half_width(self) -> float:
        return float(max(self.lung_outer))

    @property
    def heart_half_width(self) -> float:
        return self.ctr * self.thorax_half_width

    @property
    def heart_centre_u(self) -> float:
        # the heart sits mostly in the patient's left (image right) hemithorax
        return self.midline + 0.3 * self.heart_half_width


def sample_patient(rng: np.random.Generator, cardiomegaly: bool = False) -> Patient:
    """Draw one patient: body habitus, lung and heart geometry, exposure.

    Args:
        rng (np.random.Generator): the image's generator.
        cardiomegaly (bool): draw CTR in [0.56, 0.66] instead of the normal
            [0.40, 0.48].

    Returns:
        Patient
    """
    u01 = rng.uniform
    outer = u01(0.35, 0.41)
    right_low = u01(0.02, 0.045)  # the right hemidiaphragm sits higher
    cp = u01(0.78, 0.85)
    ctr = u01(0.56, 0.66) if cardiomegaly else u01(0.40, 0.48)
    return Patient(
        midline=0.5 + rng.normal(0.0, 0.012),
        body_half_width=u01(0.45, 0.52),
        lung_outer=(outer + rng.normal(0, 0.008), outer + rng.normal(0, 0.008)),
        lung_inner=(u01(0.045, 0.065), u01(0.05, 0.07)),
        lung_top=(u01(0.09, 0.14), u01(0.09, 0.14)),
        costophrenic=(cp - right_low, cp),
        dome_height=(u01(0.08, 0.13), u01(0.07, 0.12)),
        ctr=ctr,
        heart_centre_v=u01(0.63, 0.68),
        heart_half_height=u01(0.13, 0.16),
        tissue=u01(0.83, 0.88),
        air_depth=u01(0.28, 0.33),
        rib_spacing=u01(0.060, 0.072),
        rib_phase=u01(0.0, 1.0),
        rib_amplitude=u01(0.035, 0.065),
        clavicle_v=u01(0.11, 0.15),
        texture_beta=u01(2.6, 3.0),
        texture_amplitude=u01(0.018, 0.03),
        blur_px=u01(0.25, 0.5),
        gamma=u01(0.9, 1.12),
        contrast=u01(0.92, 1.05),
        offset=rng.normal(0.0, 0.015),
        noise_sigma=u01(0.004, 0.012),
        carina_v=u01(0.33, 0.39),
        trachea_depth=u01(0.05, 0.09),
        scale=u01(0.93, 1.05),
        angle=float(np.clip(rng.normal(0.0, 0.03), -0.07, 0.07)),
        shift=tuple(np.clip(rng.normal(0.0, 0.01, 2), -0.025, 0.025).tolist()))


def lung_masks(patient: Patient, size: int) -> np.ndarray:
    """Soft masks of the two lung fields (before the heart covers them).

    Each lung: lateral edge curving outwards towards the base, parabolic apex, and a
    diaphragm dome below (costophrenic angle laterally).

    Returns:
        np.ndarray: float32 (2, size, size) in [0, 1], index 0 = image left.
    """
    u, v = patient_grid(patient, size)
    edge = 1.2 / size
    masks = np.empty((2, size, size), np.float32)
    for i, side in enumerate(SIDES):  # two lungs, not pixels
        inner, outer = patient.lung_inner[i], patient.lung_outer[i]
        top, cp = patient.lung_top[i], patient.costophrenic[i]
        medial_u = patient.midline + side * inner
        half = 0.5 * (outer - inner)
        # lateral widening from 60% of the half width at the apex to 100% low down
        grow = np.clip((v - top) / (0.6 * (cp - top)), 0.0, 1.0)
        half_v = half * (0.6 + 0.4 * np.sqrt(grow))
        centre_v = medial_u + side * half_v
        across = (u - centre_v) / half_v  # -1..1 across the lung
        apex_u = medial_u + side * 0.5 * half
        apex = top + 0.1 * ((u - apex_u) / half)**2
        dome_u = medial_u + side * 0.9 * half
        dome = cp - patient.dome_height[i] * np.clip(
            1.0 - ((u - dome_u) / (1.1 * half))**2, 0.0, 1.0)
        masks[i] = (soft_inside(1.0 - np.abs(across)**3, edge / half)
                    * soft_inside(v - apex, edge) * soft_inside(dome - v, edge))
    return masks


def heart_mask(patient: Patient, size: int) -> np.ndarray:
    """Soft elliptic cardiac silhouette, float32 (size, size) in [0, 1]."""
    u, v = patient_grid(patient, size)
    r2 = (((u - patient.heart_centre_u) / patient.heart_half_width)**2
          + ((v - patient.heart_centre_v) / patient.heart_half_height)**2)
    return soft_inside(1.0 - r2, 2.5 / size / patient.heart_half_height)


def render_anatomy(patient: Patient, size: int,
                   rng: np.random.Generator) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """Density image of a normal chest (before findings, blur, exposure, noise).

    density = soft tissue (brighter at the midline and below the diaphragm)
    - air x lung fields not covered by the heart
    + ribs + clavicles - trachea and main bronchi + spine + 1/f^beta texture
    (vascular markings, stronger in the lungs). Drawn on ``patient_grid``.

    Returns:
        tuple: density float32 (size, size) on the 0-1 scale, and parts
        ``lungs`` (2, size, size) soft, ``air`` (size, size) soft lung air,
        ``heart`` (size, size) soft, ``mediastinum`` (size, size) bool band.
    """
    u, v = patient_grid(patient, size)
    m = patient.midline
    du = np.abs(u - m)
    lungs = lung_masks(patient, size)
    heart = heart_mask(patient, size)
    air = np.clip(lungs.sum(0), 0.0, 1.0) * (1.0 - heart)

    body = soft_inside(patient.body_half_width - du, 1.5 / size)
    shoulder = 0.03 + 0.5 * np.clip(du - 0.3, 0.0, None)
    body *= soft_inside(v - shoulder, 1.5 / size)
    below = soft_inside(v - (max(patient.costophrenic) + 0.02), 0.03)
    tissue = (patient.tissue + 0.06 * np.exp(-(du / 0.09)**2) + 0.03 * below)
    density = 0.06 + (tissue - 0.06) * body

    # lungs are least dark mid-zone; apex (soft tissue) and base (breasts) less
    top = min(patient.lung_top)
    bottom = max(patient.costophrenic)
    mid = 0.5 * (top + bottom)
    height = 0.5 * (bottom - top)
    density -= patient.air_depth * (1.0 - 0.25 * ((v - mid) / height)**2) * air

    # posterior ribs: periodic bands along curves rising from the spine, falling
    # laterally; only over the thorax
    d = np.minimum(du, 0.5)
    rib_v = v + 0.45 * d - 2.0 * d**2
    phase = rib_v / patient.rib_spacing + patient.rib_phase
    ribs = np.clip(np.cos(2.0 * np.pi * phase) + 0.2, 0.0, 1.0)**0.7
    thorax = soft_inside(patient.thorax_half_width + 0.02 - du, 2.0 / size) \
        * soft_inside(v - top + 0.03, 2.0 / size) * soft_inside(bottom - v, 2.0 / size)
    density += patient.rib_amplitude * ribs * thorax * (0.5 + 0.5 * air)

    # clavicles: thick segments from near the manubrium up and out
    cv = patient.clavicle_v
    for side in SIDES:  # two clavicles
        dist = segment_distance(u, v, (m + side * 0.04, cv + 0.03),
                                (m + side * 0.30, cv - 0.04))
        density += 0.07 * soft_inside(0.014 - dist, 1.0 / size)

    # trachea (an air column through the upper mediastinum) down to the carina,
    # then the two main bronchi diverging towards the hila
    airway = soft_inside(0.017 - segment_distance(u, v, (m, 0.0), (m, patient.carina_v)),
                         1.0 / size)
    for side in SIDES:  # two main bronchi
        bronchus = segment_distance(u, v, (m, patient.carina_v),
                                    (m + side * 0.07, patient.carina_v + 0.06))
        airway = np.maximum(airway, soft_inside(0.011 - bronchus, 1.0 / size))
    density -= patient.trachea_depth * airway * body

    # spine with vertebral bodies; only visible through the mediastinum
    vert = 0.5 + 0.5 * np.cos(2.0 * np.pi * v / 0.045)
    density += (0.025 + 0.015 * vert) * soft_inside(0.03 - du, 1.0 / size) * body

    texture = pink_noise(rng, size, patient.texture_beta)
    density += patient.texture_amplitude * texture * (0.5 + 1.5 * air) * body

    mediastinum = (du < 0.04) & (v > top + 0.05) & (v < patient.heart_centre_v)
    return density.astype(np.float32), dict(lungs=lungs, air=air, heart=heart,
                                            mediastinum=mediastinum)


def expose(density: np.ndarray, patient: Patient,
           rng: np.random.Generator) -> np.ndarray:
    """Detector blur, per-patient exposure (gamma, contrast, offset) and noise.

    Returns:
        np.ndarray: uint8 (H, W) image.
    """
    import cv2
    img = cv2.GaussianBlur(density, (0, 0), patient.blur_px * density.shape[0] / 128)
    img = np.clip(img, 0.0, 1.0)**patient.gamma
    img = (img - 0.5) * patient.contrast + 0.5 + patient.offset
    img += patient.noise_sigma * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
