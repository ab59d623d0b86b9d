"""McGIP / GzPT gaze-neighbour mining: gaze similarity, top-k mining, the
sparse neighbour table the McGIP models load, and McGIP's own file formats.

- :mod:`.similarity`: per-image gaze descriptors and pairwise gaze similarity;
- :mod:`.neighbours`: top-k mining at dataset scale (:func:`mine_gaze_neighbours`,
  :func:`load_or_mine`);
- :mod:`.table`: :class:`GazeNeighbours` (the ``.npz`` table) and the batch lookup;
- :mod:`.mcgip_files`: McGIP's per-image gaze JSON and dense relation ``.npy``;
- :mod:`.gaze_neighbour_table`: :func:`prepare_gaze_neighbour_table`, the table a
  config declares, mined before training.

Models never mine: they load a table (``tools/analysis/mine_gaze_pairs.py`` or
``tools/train.py`` make it).
"""
from . import similarity  # noqa: F401
from .table import GazeNeighbours, lookup_neighbour_pairs  # noqa: F401
from .neighbours import (load_or_mine, mine_gaze_neighbours,  # noqa: F401
                         read_annotation_gaze)
from .gaze_neighbour_table import (prepare_gaze_neighbour_table,  # noqa: F401
                                   translate_deprecated_mining)
