from . import heads, losses, necks, selfsup, utils  # noqa: F401
