"""EGD-CXR (PhysioNet ``egd-cxr``) format knowledge: columns and coordinate maths.

See ``research/data_formats.md`` §1.1. Fixations in ``fixations.csv`` come with
``X_ORIGINAL``/``Y_ORIGINAL`` already in the DICOM pixel grid (computed by the official
script from the screen fractions ``FPOGX``/``FPOGY`` and the ``master_sheet.csv``
pads; upstream made odd DICOM sizes even first, a difference below one pixel that
the converters ignore); off-image gaze has small negative values. Pure numpy: file
reading and error counting live in ``gazeprior_mm.datasets.converters.egd_cxr``.
"""
import numpy as np

#: screen the images were shown on, (height, width) pixels (hard-coded upstream)
EGD_SCREEN_SIZE = (1080, 1920)
#: reader id of the single EGD-CXR radiologist
EGD_READER = 'egd'

FIXATION_COLUMNS = ('SESSION_ID', 'DICOM_ID', 'FPOGX', 'FPOGY', 'FPOGD', 'FPOGV',
                    'X_ORIGINAL', 'Y_ORIGINAL')
MASTER_SHEET_COLUMNS = ('dicom_id', 'image_top_pad', 'image_bottom_pad',
                        'image_left_pad', 'image_right_pad')
#: master_sheet.csv pad columns: the released spelling and the older one that the
#: official mapping script reads; both are accepted.
MASTER_SHEET_ALIASES = {'image_top_pad': ('image_top',),
                        'image_bottom_pad': ('image_bottom',),
                        'image_left_pad': ('image_left',),
                        'image_right_pad': ('image_right',)}
#: bounding_boxes.csv: note the x1, x2, y1, y2 column order
BOUNDING_BOX_COLUMNS = ('dicom_id', 'bbox_name', 'x1', 'x2', 'y1', 'y2')


def egd_screen_to_dicom(fpog, pads, dicom_size):
    """The official EGD mapping from screen fractions to DICOM pixels.

    With the screen ``(1080, 1920)``, pads ``(top, bottom, left, right)`` and the DICOM
    ``(H, W)`` (each made even, as upstream pads odd sizes by one):

    .. math::
        e_x = 1920\\,F_x,\\; e_y = 1080\\,F_y, \\qquad
        X = \\Big\\lfloor \\frac{W}{1920 - l - r}(e_x - l) \\Big\\rceil_0, \\qquad
        Y = \\Big\\lfloor \\frac{H}{1080 - t - b}(e_y - t) \\Big\\rceil_0

    (truncation toward zero, ``int``), and ``x = y = -1`` before scaling when the gaze
    is off the displayed image, which yields the small negative values of the file.

    Args:
        fpog (array-like): (K, 2) ``FPOGX, FPOGY`` fractions of the screen.
        pads (Sequence[float]): ``(top, bottom, left, right)`` screen pixels.
        dicom_size (tuple[int, int]): ``(H, W)`` of the DICOM pixel array.

    Returns:
        np.ndarray: (K, 2) int64 ``X_ORIGINAL, Y_ORIGINAL``.
    """
    fpog = np.asarray(fpog, dtype=np.float64).reshape(-1, 2)
    top, bottom, left, right = (float(p) for p in pads)
    sh, sw = EGD_SCREEN_SIZE
    h, w = (int(s) + int(s) % 2 for s in dicom_size)
    ex, ey = fpog[:, 0] * sw, fpog[:, 1] * sh
    on = (ex > left) & (ex < sw - right) & (ey > top) & (ey < sh - bottom)
    x = np.where(on, ex - left, -1.0)
    y = np.where(on, ey - top, -1.0)
    return np.stack([np.trunc(w / (sw - left - right) * x),
                     np.trunc(h / (sh - top - bottom) * y)], axis=1).astype(np.int64)


def egd_fixation_drop_reasons(xy, valid, durations):
    """Why each EGD fixation is dropped, or an empty string to keep it.

    Args:
        xy (array-like): (K, 2) ``X_ORIGINAL, Y_ORIGINAL``.
        valid (array-like): (K,) ``FPOGV`` (1 valid, 0 invalid).
        durations (array-like): (K,) ``FPOGD`` seconds.

    Returns:
        np.ndarray: (K,) str, by priority: ``'invalid_fpogv'``,
        ``'nonfinite_coordinate'`` (NaN / infinite x or y),
        ``'off_image_negative'``, ``'nonfinite_duration'`` (NaN / infinite),
        ``'nonpositive_duration'``, or ``''`` (kept).
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    durations = np.asarray(durations, dtype=np.float64).reshape(-1)
    reasons = np.full(len(xy), '', dtype=object)
    checks = [('nonpositive_duration', durations <= 0),
              ('nonfinite_duration', ~np.isfinite(durations)),
              ('off_image_negative', (xy < 0).any(axis=1)),
              ('nonfinite_coordinate', ~np.isfinite(xy).all(axis=1)),
              ('invalid_fpogv', np.asarray(valid, dtype=np.float64) == 0)]
    for reason, bad in checks:  # a later check overrides: invalid_fpogv first
        reasons[bad] = reason
    return reasons


def egd_boxes_to_xywh(x1, x2, y1, y2):
    """COCO ``[x, y, w, h]`` boxes from bounding_boxes.csv's ``x1, x2, y1, y2`` columns
    (any corner order), as a (K, 4) float64 array."""
    xs = np.stack([np.asarray(x1, float), np.asarray(x2, float)], axis=-1)
    ys = np.stack([np.asarray(y1, float), np.asarray(y2, float)], axis=-1)
    x0, y0 = xs.min(-1), ys.min(-1)
    return np.stack([x0, y0, xs.max(-1) - x0, ys.max(-1) - y0], axis=-1)
