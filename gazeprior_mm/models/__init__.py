from . import backbones, heads, losses, necks, selfsup, utils  # noqa: F401
