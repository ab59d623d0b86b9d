"""Make the gaze-neighbour table a McGIP config declares, before training.

A McGIP / GzPT config declares the table its model loads at the top level::

    gaze_neighbour_table = dict(
        neighbour_file='data/synthetic_cxr/annotations/gaze_neighbours.npz',
        ann_file='data/synthetic_cxr/annotations/train.json',
        mine_cfg=dict(method='heatmap_cosine', k=16))
    model = dict(gaze_positives=dict(
        neighbour_file=gaze_neighbour_table['neighbour_file'], ...))

``tools/train.py`` calls :func:`translate_deprecated_mining` before building the
runner and :func:`prepare_gaze_neighbour_table` once the runner (and so the
process group) exists and the data are there: the first run mines the table,
later runs find it. The model only loads the file.
"""
import os
import os.path as osp
import warnings

from mmengine import dist
from mmengine.logging import print_log

from .neighbours import load_or_mine


def translate_deprecated_mining(cfg) -> bool:
    """Move the deprecated ``model.gaze_positives.ann_file`` / ``mine_cfg`` (the
    model mined its own table) into ``cfg.gaze_neighbour_table``, with a
    DeprecationWarning. Call it before the model is built.

    The table's ``neighbour_file`` becomes the model's; a ``mine_cfg`` the old
    keys do not give is the declared table's.

    Returns:
        bool: whether the config had the old keys.
    """
    positives = (cfg.get('model') or {}).get('gaze_positives')
    if not positives or not ({'ann_file', 'mine_cfg'} & set(positives)):
        return False
    warnings.warn(
        'model.gaze_positives.ann_file / mine_cfg are deprecated (the model no '
        'longer mines): moved to the top-level gaze_neighbour_table=dict('
        'neighbour_file=..., ann_file=..., mine_cfg=...)', DeprecationWarning,
        stacklevel=2)
    declared = dict(cfg.get('gaze_neighbour_table') or {})
    ann_file = positives.pop('ann_file', None) or declared.get('ann_file')
    mine_cfg = positives.pop('mine_cfg', None)
    if mine_cfg is None:
        mine_cfg = declared.get('mine_cfg') or {}
    cfg.gaze_neighbour_table = dict(
        declared, neighbour_file=positives['neighbour_file'], ann_file=ann_file,
        mine_cfg=dict(mine_cfg))
    return True


def prepare_gaze_neighbour_table(cfg) -> bool:
    """Mine ``cfg.gaze_neighbour_table`` into its ``neighbour_file`` if missing.

    Only the table the model reads (``model.gaze_positives.neighbour_file``
    equal to the table's ``neighbour_file``): a model pointed at another file
    loads that one. Rank 0 mines with
    :func:`~gazeprior_mm.mining.neighbours.load_or_mine` (``mine_cfg``,
    including ``gaze_control`` / ``gaze_control_seed`` for the shuffled and
    oracle controls); every rank then meets at one barrier, whatever it saw on
    disk, so none waits for a barrier the others skipped. Call it after the
    process group is initialised and the annotation file exists.

    Args:
        cfg (Config): the run's config; ``gaze_neighbour_table`` (dict,
            optional): ``neighbour_file`` (written), ``ann_file`` (the canonical
            annotation file mined), ``mine_cfg`` (dict, optional).

    Returns:
        bool: whether this process mined the table.
    """
    spec = cfg.get('gaze_neighbour_table')
    positives = (cfg.get('model') or {}).get('gaze_positives') or {}
    if not spec or positives.get('neighbour_file') != spec['neighbour_file']:
        return False
    mined = False
    if dist.get_rank() == 0 and not osp.exists(spec['neighbour_file']):
        mine_cfg = dict(spec.get('mine_cfg') or {})
        print_log(f"{spec['neighbour_file']} not found: mining it from "
                  f"{spec['ann_file']} with {mine_cfg}", logger='current')
        os.makedirs(osp.dirname(osp.abspath(spec['neighbour_file'])),
                    exist_ok=True)
        load_or_mine(spec['neighbour_file'], spec['ann_file'], **mine_cfg)
        mined = True
    # decided by the config, which every rank shares
    dist.barrier()
    return mined
