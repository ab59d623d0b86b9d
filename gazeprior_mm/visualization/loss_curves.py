"""Loss curves of mmengine runs: ``vis_data/scalars.json`` -> a PNG."""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Curve = Tuple[np.ndarray, np.ndarray]


def read_scalars(path: str, key: str = 'loss') -> Curve:
    """``(steps, values)`` of ``key`` in one mmengine ``scalars.json`` (one JSON
    object per line, as ``LocalVisBackend`` writes it; lines without ``key``, such
    as validation metrics, are skipped)."""
    steps, values = [], []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {lineno}: not JSON ({err})') \
                    from err
            if key in record:
                steps.append(record.get('step', record.get('iter', len(steps))))
                values.append(record[key])
    return np.asarray(steps, dtype=np.float64), np.asarray(values,
                                                           dtype=np.float64)


def find_scalars(work_dir: str, key: str = 'loss') -> Optional[Curve]:
    """The curve of a run's work dir: every ``<timestamp>/vis_data/scalars.json``
    in time order (a resumed run continues in a new one), later steps winning
    where they overlap. None when the run logged nothing."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    merged = {}
    for path in paths:
        for step, value in zip(*read_scalars(path, key)):
            merged[step] = value
    if not merged:
        return None
    steps = np.array(sorted(merged))
    return steps, np.array([merged[s] for s in steps])


def plot_loss_curves(panels: Dict[str, Dict[str, Sequence[Optional[Curve]]]],
                     path: str, title: str = 'loss') -> str:
    """One panel per key of ``panels`` (e.g. ``pretrain``, ``probe``); in each, one
    colour per label and one line per curve (e.g. per seed).

    Args:
        panels (dict): ``{panel: {label: [curve or None, ...]}}``.
        path (str): the PNG to write.
        title (str): y-axis label.

    Returns:
        str: ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5),
                             squeeze=False)
    for ax, (panel, series) in zip(axes[0], panels.items()):
        for i, (label, curves) in enumerate(series.items()):
            drawn: List[Curve] = [c for c in curves if c is not None]
            for j, (steps, values) in enumerate(drawn):
                ax.plot(steps, values, color=f'C{i % 10}', lw=1, alpha=0.8,
                        label=label if j == 0 else None)
        ax.set_title(panel)
        ax.set_xlabel('iteration')
        ax.set_ylabel(title)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def scalar_keys(path: str) -> List[str]:
    """The scalar names logged in one ``scalars.json`` (sorted; ``step``,
    ``epoch``, ``iter`` and ``time``-like bookkeeping left out), so that a tool
    asked for a key no run logged can say which keys exist."""
    keys = set()
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                keys.update(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}, line {lineno}: not JSON ({err})') \
                    from err
    return sorted(keys - {'step', 'epoch', 'iter', 'time', 'data_time'})
