"""Image size from the file header only (no pixel decoding)."""
from PIL import Image, UnidentifiedImageError


def read_image_size(path):
    """``(height, width)`` of an image file, read from its header.

    PIL opens images lazily: only the header is parsed, so this is fast on full-size
    MIMIC-CXR JPGs. Raises FileNotFoundError for a missing file and ValueError (naming
    the file) for a file that is not a readable image.
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f'{path}: not a readable image: {e}') from e
    return int(height), int(width)
