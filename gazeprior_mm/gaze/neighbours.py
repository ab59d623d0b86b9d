"""Deprecated: McGIP's neighbour mining moved to :mod:`gazeprior_mm.mining`.

Mining is :mod:`gazeprior_mm.mining.neighbours`, the table and its batch lookup
:mod:`gazeprior_mm.mining.table`. This module forwards both (one warning, on
first import).
"""
import warnings

from gazeprior_mm.mining.neighbours import *  # noqa: F401,F403
from gazeprior_mm.mining.neighbours import load_or_mine  # noqa: F401
from gazeprior_mm.mining.table import *  # noqa: F401,F403
from gazeprior_mm.mining.table import (GazeNeighbours,  # noqa: F401
                                       lookup_neighbour_pairs)

warnings.warn('gazeprior_mm.gaze.neighbours is deprecated: import mining from '
              'gazeprior_mm.mining.neighbours and GazeNeighbours / '
              'lookup_neighbour_pairs from gazeprior_mm.mining.table',
              DeprecationWarning, stacklevel=2)
