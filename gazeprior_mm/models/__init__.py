from . import (backbones, classifiers, heads, losses, necks,  # noqa: F401
               selfsup, utils)
