"""REFLACX (PhysioNet ``reflacx-xray-localization``) format knowledge.

See ``research/data_formats.md`` §1.2. Fixations are in pixels of the original DICOM
(``image_size_x`` x ``image_size_y`` in the metadata), with the part of the image shown
on screen per fixation (zoom/pan); the anomaly ellipses are their bounding boxes in
DICOM pixels with a certainty 1..5 (>= 3, "Possibly" or higher, means present). Pure
numpy; file reading and error counting live in
``gazeprior_mm.datasets.converters.reflacx``.
"""
import numpy as np

METADATA_COLUMNS = ('id', 'split', 'eye_tracking_data_discarded', 'dicom_id',
                    'image_size_x', 'image_size_y')
FIXATION_COLUMNS = ('timestamp_start_fixation', 'timestamp_end_fixation',
                    'x_position', 'y_position', 'xmin_shown_from_image',
                    'ymin_shown_from_image', 'xmax_shown_from_image',
                    'ymax_shown_from_image')
ELLIPSE_COLUMNS = ('xmin', 'ymin', 'xmax', 'ymax', 'certainty')
#: certainty >= this is "present" (the REFLACX authors' convention)
PRESENT_CERTAINTY = 3
METADATA_FILE = 'metadata_phase_{}.csv'
PHASES = (1, 2, 3)


def reflacx_phase(reading_id):
    """Phase of a reading id (``P102R123456`` -> 1, ``P300R169761`` -> 3)."""
    if len(reading_id) < 2 or reading_id[0] != 'P' or not reading_id[1].isdigit():
        raise ValueError(f'{reading_id!r} is not a REFLACX reading id (P<phase>...)')
    return int(reading_id[1])


def parse_bool(value):
    """REFLACX booleans are written ``True``/``False`` (also accepts 1/0)."""
    key = str(value).strip().lower()
    if key in ('true', '1', '1.0'):
        return True
    if key in ('false', '0', '0.0', ''):
        return False
    raise ValueError(f'{value!r} is not a boolean')


def reflacx_fixation_drop_reasons(table, image_size):
    """Why each REFLACX fixation is dropped, or an empty string to keep it.

    Args:
        table (np.ndarray): (K, 8) float, the :data:`FIXATION_COLUMNS` in order.
        image_size (tuple[int, int]): ``(H, W)`` of the DICOM.

    Returns:
        np.ndarray: (K,) str, by priority: ``'nonfinite_coordinate'`` (NaN /
        infinite x or y), ``'outside_image'`` (beyond the DICOM's pixel grid),
        ``'outside_shown_rect'`` (not on the part of the image shown at that
        moment), ``'nonfinite_duration'`` (a NaN / infinite timestamp or
        duration), ``'nonpositive_duration'`` (end <= start), or ``''`` (kept).
    """
    t = np.asarray(table, dtype=np.float64).reshape(-1, len(FIXATION_COLUMNS))
    x, y = t[:, 2], t[:, 3]
    h, w = image_size
    reasons = np.full(len(t), '', dtype=object)
    with np.errstate(invalid='ignore'):  # inf - inf is NaN: counted below
        duration = t[:, 1] - t[:, 0]
    checks = [('nonpositive_duration', t[:, 1] <= t[:, 0]),
              ('nonfinite_duration', ~np.isfinite(t[:, :2]).all(axis=1)
               | ~np.isfinite(duration)),
              ('outside_shown_rect', (x < t[:, 4]) | (y < t[:, 5])
               | (x > t[:, 6]) | (y > t[:, 7])),
              ('outside_image', (x < 0) | (x > w - 1) | (y < 0) | (y > h - 1)),
              ('nonfinite_coordinate', ~np.isfinite(t[:, 2:4]).all(axis=1))]
    for reason, bad in checks:  # a later check overrides: outside_image first
        reasons[bad] = reason
    return reasons


def ellipse_mask(box, size):
    """Boolean mask (H, W) of the axis-aligned ellipse inscribed in ``box``.

    ``box = (xmin, ymin, xmax, ymax)`` in pixel coordinates of the mask's grid; pixel
    ``(r, c)`` is inside when :math:`((c-c_x)/a)^2 + ((r-c_y)/b)^2 \\le 1` with centre
    ``c = ((xmin+xmax)/2, (ymin+ymax)/2)`` and semi-axes ``a, b`` half the box sides
    (at least half a pixel, so a tiny ellipse still marks its centre pixel).
    """
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    h, w = size
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    a, b = max(abs(xmax - xmin) / 2, 0.5), max(abs(ymax - ymin) / 2, 0.5)
    mask = np.zeros((h, w), dtype=bool)
    # evaluate only the pixels of the box (full-size DICOM grids are ~3000 x 2500)
    c0, c1 = max(int(np.floor(cx - a)), 0), min(int(np.ceil(cx + a)) + 1, w)
    r0, r1 = max(int(np.floor(cy - b)), 0), min(int(np.ceil(cy + b)) + 1, h)
    if c0 >= c1 or r0 >= r1:
        return mask  # entirely outside the image
    cols = (np.arange(c0, c1) - cx) / a
    rows = (np.arange(r0, r1) - cy) / b
    mask[r0:r1, c0:c1] = rows[:, None] ** 2 + cols[None, :] ** 2 <= 1.0
    return mask
