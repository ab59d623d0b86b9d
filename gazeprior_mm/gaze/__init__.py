"""Gaze maths, pure numpy plus the numba kernel (no OpenMMLab imports).

- :mod:`.fixations`: checking and cleaning raw fixations;
- :mod:`.geometry`: ``ViewGeometry``, the crop-box / flip convention of a view;
- :mod:`.targets`: raster maps and the one route to per-view patch weights g̃
  (through :mod:`.view_targets_kernel`);
- :mod:`.fusion`: multi-reader fusion; :mod:`.heatmap`: old names, re-exported.

McGIP's mining lives in :mod:`gazeprior_mm.mining` (``gaze.neighbours`` /
``gaze.similarity`` are deprecated forwards, not imported here, so that importing
the gaze maths warns about nothing).
"""
from .fixations import DROP_REASONS, clean_fixations, fixation_array  # noqa: F401
from .geometry import ViewGeometry, init_geometry  # noqa: F401
from .targets import (PendingGazeTargets, batch_view_targets,  # noqa: F401
                      fixations_to_heatmap, fixations_to_patch_weights,
                      gaze_mass_map, gaze_mass_maps, render_source_views,
                      weighted_profiles)
from .heatmap import (fixation_patch_mass, patch_gaze_mass,  # noqa: F401
                      patch_gaze_weights)
from .fusion import (fuse_fixation_weights, fuse_heatmaps,  # noqa: F401
                     fuse_reader_fixations, per_reader_heatmaps)
