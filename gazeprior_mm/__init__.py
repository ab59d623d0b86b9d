"""GazePrior-MM: radiologists' gaze as a training signal for mmpretrain.

Importing the package registers every component into mmpretrain's registries and
installs the allow-list that lets mmengine checkpoints load under torch's
``weights_only`` unpickler (see :mod:`gazeprior_mm.utils.checkpoint`).
"""
from .version import __version__
from . import utils  # noqa: F401  (first: checkpoint allow-list)
from . import gaze  # noqa: F401
from . import mining  # noqa: F401
from . import datasets  # noqa: F401
from . import models  # noqa: F401
from . import evaluation  # noqa: F401
from . import visualization  # noqa: F401
from . import engine  # noqa: F401

__all__ = ['__version__']
