"""Pure numpy gaze maths (no OpenMMLab imports)."""
from .heatmap import (clean_fixations, fixations_to_heatmap, gaze_mass_map,  # noqa: F401
                      patch_gaze_mass, patch_gaze_weights)
from .fusion import (fuse_heatmaps, fuse_reader_fixations,  # noqa: F401
                     per_reader_heatmaps)
from . import neighbours, similarity  # noqa: F401
