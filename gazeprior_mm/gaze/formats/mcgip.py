"""Deprecated: McGIP's file formats moved to :mod:`gazeprior_mm.mining.mcgip_files`.

This module forwards it (one warning, on first import).
"""
import warnings

from gazeprior_mm.mining.mcgip_files import *  # noqa: F401,F403

warnings.warn('gazeprior_mm.gaze.formats.mcgip is deprecated: import '
              'gazeprior_mm.mining.mcgip_files', DeprecationWarning, stacklevel=2)
