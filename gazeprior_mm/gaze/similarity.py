"""Deprecated: gaze similarity moved to :mod:`gazeprior_mm.mining.similarity`.

This module forwards it (one warning, on first import).
"""
import warnings

from gazeprior_mm.mining.similarity import *  # noqa: F401,F403
from gazeprior_mm.mining.similarity import (  # noqa: F401
    SIMILARITY_METHODS, VECTOR_METHODS)

warnings.warn('gazeprior_mm.gaze.similarity is deprecated: import '
              'gazeprior_mm.mining.similarity', DeprecationWarning, stacklevel=2)
