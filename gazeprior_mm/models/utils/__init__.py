from .correspondence import patch_correspondence  # noqa: F401
