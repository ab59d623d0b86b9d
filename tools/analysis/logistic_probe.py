"""Converged linear probe of a pre-trained backbone on frozen embeddings.

Per class, an L2 logistic regression fitted to convergence (scikit-learn, L-BFGS) on
the standardised pooled embeddings of the training split; AUC-ROC on the test split,
macro over the classes with both labels in both splits
(:mod:`gazeprior_mm.evaluation.logistic_probe`). The score depends on the features
only, not on a probe training budget.

Example::

    python tools/analysis/logistic_probe.py \
        configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py \
        work_dirs/gazeprior/epoch_2.pth --out work_dirs/gazeprior/logistic.json
"""
import argparse

from gazeprior_mm.evaluation.runs import (add_frozen_eval_args,
                                          frozen_backbone_and_data, report,
                                          run_logistic_probe)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_frozen_eval_args(parser)
    parser.add_argument('--out', help='write the result JSON here')
    parser.add_argument('--scores-out',
                        help='save the per-image test scores (.npz) here')
    parser.add_argument('--gated', action='store_true',
                        help='GazePrior only: probe the GGAM-gated tokens '
                        '(gated with the predicted gaze) instead of the plain '
                        'backbone features')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    backbone, preprocessor, train, test = frozen_backbone_and_data(
        args.config, args.checkpoint, args.data_config, args.data_root)
    if args.gated:
        from gazeprior_mm.evaluation.runs import gated_features
        backbone = gated_features(args.config, args.checkpoint)
    result = run_logistic_probe(backbone, preprocessor, train, test,
                                scores_out=args.scores_out)
    result['features'] = 'gated' if args.gated else 'backbone'
    return report(result, args.out)


if __name__ == '__main__':
    main()
