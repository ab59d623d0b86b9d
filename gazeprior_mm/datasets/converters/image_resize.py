"""Downscaled copies of large radiographs (resumable, atomic)."""
import os
import os.path as osp
import tempfile

import cv2

from .image_size import read_image_size


def resized_shape(shape, max_side):
    """``(H, W)`` scaled so the long side is at most ``max_side`` (never enlarged)."""
    h, w = shape
    scale = min(1.0, max_side / max(h, w))
    return max(1, int(round(h * scale))), max(1, int(round(w * scale)))


def write_resized_copy(src, dst, max_side, src_shape=None, quality=95):
    """Write ``src`` downscaled to a long side of ``max_side`` px as JPEG ``dst``.

    Area interpolation (the average of the covered source pixels, so the pixel grid
    mapping of :func:`~gazeprior_mm.gaze.formats.grid.map_points_to_grid` holds). The
    image is read as grey (MIMIC-CXR JPGs are 8-bit grey). A ``dst`` that already has
    the expected size is kept (re-runs and interrupted runs resume); a new file is
    written to a temporary name and renamed.

    Args:
        src (str): source image.
        dst (str): target path (folders are created).
        max_side (int): long side of the copy.
        src_shape (tuple | None): ``(H, W)`` of ``src`` if known (saves a header read).
        quality (int): JPEG quality.

    Returns:
        tuple[tuple[int, int], bool]: the copy's ``(H, W)`` and whether it was written
        (False when an up-to-date copy existed). Raises FileNotFoundError / ValueError
        naming the file if ``src`` is missing or unreadable.
    """
    shape = tuple(src_shape) if src_shape else read_image_size(src)
    target = resized_shape(shape, max_side)
    if osp.isfile(dst):
        try:
            if read_image_size(dst) == target:
                return target, False
        except ValueError:
            pass  # a broken earlier copy: rewrite it
    img = cv2.imread(src, cv2.IMREAD_GRAYSCALE)
    if img is None:
        if not osp.isfile(src):
            raise FileNotFoundError(src)
        raise ValueError(f'{src}: not a readable image')
    if img.shape[:2] != target:
        img = cv2.resize(img, (target[1], target[0]), interpolation=cv2.INTER_AREA)
    os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix='.jpg', dir=osp.dirname(dst) or '.')
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
            raise OSError(f'{dst}: could not write the resized copy')
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.unlink(tmp)
    return target, True
