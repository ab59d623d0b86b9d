"""Draw the loss curves of one or more training runs into a PNG.

mmengine's ``LocalVisBackend`` writes every logged scalar of a run to
``<work_dir>/<timestamp>/vis_data/scalars.json`` (one JSON object per line); this
tool plots them, as mmpretrain users do with ``tools/analysis_tools/analyze_logs.py``
(which reads the same file). A run is a work dir (every ``<timestamp>`` folder of a
resumed run is merged, later steps winning) or one ``scalars.json`` file.

Examples::

    python tools/analysis/plot_loss_curves.py work_dirs/demo_gazeprior \\
        --out work_dirs/demo_gazeprior/loss_curves.png
    # the GWCL term and the gaze-prediction loss of two runs, one panel per key
    python tools/analysis/plot_loss_curves.py work_dirs/a work_dirs/b \\
        --keys loss_gwcl loss_gaze_pred --out curves.png
"""
import argparse
import glob
import os
import os.path as osp

from gazeprior_mm.visualization.loss_curves import (find_scalars,
                                                    plot_loss_curves,
                                                    read_scalars, scalar_keys)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+',
                        help='work dirs (or scalars.json files) of the runs')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--keys', nargs='+', default=['loss'],
                        help='scalars to plot, one panel each (default: loss; '
                        'e.g. loss_gwcl loss_reg loss_gaze_pred lr)')
    parser.add_argument('--labels', nargs='+', default=None,
                        help='legend names of the runs (default: folder names)')
    return parser.parse_args(argv)


def _scalar_files(run: str):
    if osp.isfile(run):
        return [run]
    return sorted(glob.glob(osp.join(run, '*', 'vis_data', 'scalars.json')))


def _label(run: str) -> str:
    path = osp.abspath(run)
    if osp.isfile(path):  # <work_dir>/<timestamp>/vis_data/scalars.json
        path = osp.dirname(osp.dirname(osp.dirname(path)))
    return osp.basename(path.rstrip(os.sep))


def load_curves(runs, keys, labels=None):
    """``{key: {label: [curve or None]}}`` for :func:`plot_loss_curves`.

    Raises:
        FileNotFoundError: a run has no ``scalars.json`` (names the run).
        ValueError: a malformed line (names the file and line), or no run logged
            any of ``keys`` (names the keys the runs did log).
    """
    labels = labels or [_label(r) for r in runs]
    if len(labels) != len(runs):
        raise ValueError(f'{len(labels)} labels for {len(runs)} runs')
    panels = {key: {} for key in keys}
    available = set()
    for run, label in zip(runs, labels):
        files = _scalar_files(run)
        if not files:
            raise FileNotFoundError(
                f'{run}: no <timestamp>/vis_data/scalars.json (is it a work dir '
                'of a run that logged at least one iteration?)')
        for path in files:
            available.update(scalar_keys(path))
        for key in keys:
            curve = read_scalars(run, key) if osp.isfile(run) \
                else find_scalars(run, key)
            if curve is not None and not len(curve[0]):
                curve = None
            panels[key].setdefault(label, []).append(curve)
    missing = [k for k in keys
               if all(c is None for cs in panels[k].values() for c in cs)]
    if missing:
        raise ValueError(f'no run logged {missing}; logged keys: '
                         f'{sorted(available)}')
    return panels


def main(argv=None):
    args = parse_args(argv)
    try:
        panels = load_curves(args.runs, args.keys, args.labels)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'[plot_loss_curves] error: {err}')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    plot_loss_curves(panels, args.out, title='value')
    print(f'[plot_loss_curves] wrote {osp.abspath(args.out)}')
    return args.out


if __name__ == '__main__':
    main()
