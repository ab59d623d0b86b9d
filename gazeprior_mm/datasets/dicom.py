"""A small DICOM reader for single-frame grayscale radiographs (CR / DX).

``read_dicom_image(path)`` returns the image as displayed: modality LUT (rescale
slope / intercept) applied, windowed with the file's VOI window (first
WindowCenter / WindowWidth) when present, else with the 1-99th percentiles, and
MONOCHROME1 inverted so that dense structures (bone, mediastinum) are bright and
lungs dark, as in MONOCHROME2. ``dicom_size(path)`` reads only the header.
"""
from typing import Tuple

import numpy as np

WINDOW_MODES = ('auto', 'voi', 'percentile')


def _dcmread(path: str, **kwargs):
    import pydicom
    from pydicom.errors import InvalidDicomError
    try:
        return pydicom.dcmread(path, **kwargs)
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: DICOM file not found') from None
    except InvalidDicomError as e:
        raise ValueError(f'{path}: not a DICOM file ({e})') from None


def _first(value) -> float:
    """First value of a possibly multi-valued DICOM number."""
    try:
        return float(value[0])
    except TypeError:
        return float(value)


def dicom_size(path: str) -> Tuple[int, int]:
    """(rows, cols) = (H, W) of a DICOM image, from its header only (no pixels).

    Raises:
        ValueError: when the header has no Rows / Columns.
    """
    ds = _dcmread(path, stop_before_pixels=True)
    rows, cols = ds.get('Rows'), ds.get('Columns')
    if rows is None or cols is None:
        raise ValueError(f'{path}: DICOM header has no Rows/Columns (not an image?)')
    return int(rows), int(cols)


def read_dicom_image(path: str, window: str = 'auto',
                     percentiles: Tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """Read a single-frame grayscale DICOM as a display-ready 8-bit image.

    out = round(255 * clip((value - lo) / (hi - lo), 0, 1)), inverted
    (255 - out) for MONOCHROME1, where value is the modality-LUT output and
    [lo, hi] the window: VOI ``[c - w/2, c + w/2]`` (``window='auto'`` when the
    file has WindowCenter/WindowWidth, or ``'voi'``), else the ``percentiles`` of the
    pixel values (``'auto'`` without a VOI window, or ``'percentile'``).

    Args:
        path (str): DICOM file.
        window (str): ``'auto'`` | ``'voi'`` | ``'percentile'``.
        percentiles (tuple[float, float]): low / high percentiles.

    Returns:
        np.ndarray: uint8 (H, W) = (Rows, Columns).

    Raises:
        ValueError: no pixel data, undecodable pixel data (e.g. a compressed
            transfer syntax without its decoder), multi-frame or colour image,
            ``window='voi'`` without a VOI window, or a flat image; the message
            names the file.
    """
    if window not in WINDOW_MODES:
        raise ValueError(f'window must be one of {WINDOW_MODES}, got {window!r}')
    ds = _dcmread(path)
    if 'PixelData' not in ds:
        raise ValueError(f'{path}: DICOM has no pixel data')
    photometric = str(ds.get('PhotometricInterpretation', 'MONOCHROME2')).upper()
    if photometric not in ('MONOCHROME1', 'MONOCHROME2'):
        raise ValueError(f'{path}: PhotometricInterpretation {photometric} is not '
                         f'grayscale (MONOCHROME1/2)')
    if int(ds.get('NumberOfFrames', 1) or 1) != 1:
        raise ValueError(f'{path}: multi-frame DICOM ({ds.NumberOfFrames} frames); '
                         f'only single-frame radiographs are supported')
    try:
        pixels = ds.pixel_array.astype(np.float64)
    except Exception as e:  # pydicom raises several types (no handler, bad stream)
        syntax = getattr(getattr(ds, 'file_meta', None), 'TransferSyntaxUID', None)
        name = getattr(syntax, 'name', syntax)
        raise ValueError(f'{path}: cannot decode the pixel data (transfer syntax '
                         f'{name}): {type(e).__name__}: {e}') from e
    if pixels.ndim != 2:
        raise ValueError(f'{path}: pixel data of shape {pixels.shape} is not a '
                         f'single grayscale frame')
    slope = float(ds.get('RescaleSlope', 1.0) or 1.0)
    intercept = float(ds.get('RescaleIntercept', 0.0) or 0.0)
    values = pixels * slope + intercept

    has_voi = ds.get('WindowCenter') is not None and ds.get('WindowWidth') is not None
    if window == 'voi' and not has_voi:
        raise ValueError(f'{path}: window="voi" but the DICOM has no '
                         f'WindowCenter/WindowWidth')
    if has_voi and window in ('auto', 'voi'):
        centre, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        lo, hi = centre - width / 2.0, centre + width / 2.0
    else:
        lo, hi = np.percentile(values, percentiles)
    if not hi > lo:
        raise ValueError(f'{path}: empty display window [{lo}, {hi}] (flat image?)')
    out = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
    if photometric == 'MONOCHROME1':
        out = 1.0 - out
    return np.round(out * 255.0).astype(np.uint8)
