"""Pure numpy gaze maths (no OpenMMLab imports)."""
from .heatmap import (clean_fixations, fixations_to_heatmap, gaze_mass_map,  # noqa: F401
                      gaze_mass_maps, patch_gaze_mass, patch_gaze_weights,
                      weighted_profiles)
from .heatmap import (fixation_patch_mass,  # noqa: F401
                      fixations_to_patch_weights)
from .fusion import (fuse_fixation_weights, fuse_heatmaps,  # noqa: F401
                     fuse_reader_fixations, per_reader_heatmaps)
from . import neighbours, similarity  # noqa: F401
