"""How well does a GazePrior model predict where readers look?

GGAM's gaze-prediction branch gives a gaze map for any image (``predict_gaze``).
This scores it on the test split against the recorded gaze, which the model never
saw for these images: Spearman rho and NSS on the gaze grid, EMD between the maps
(:func:`gazeprior_mm.evaluation.runs.run_gaze_prediction`). A model without the
branch reports ``{"available": false}``.

Example::

    python tools/analysis/gaze_prediction.py \\
        configs/gazeprior/gazeprior_resnet18_synthetic.py work_dirs/x/epoch_20.pth \\
        --out work_dirs/x/gaze_prediction.json
"""
import argparse

from gazeprior_mm.evaluation.runs import (add_frozen_eval_args, report,
                                          run_gaze_prediction)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_frozen_eval_args(parser)
    parser.add_argument('--out', help='write the result JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    return report(run_gaze_prediction(args.config, args.checkpoint,
                                      args.data_config, args.data_root),
                  args.out)


if __name__ == '__main__':
    main()
