"""Anomaly detection on frozen embeddings of a pre-trained backbone.

Fits a one-class SVM (or a GMM) on the embeddings of the *normal* ("No Finding")
training images and reports the AUC-ROC of its anomaly score for normal vs abnormal
test images.

Example::

    python tools/analysis/anomaly_detection.py \
        configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py \
        work_dirs/gazeprior/epoch_10.pth --out work_dirs/gazeprior/anomaly.json
"""
import argparse

from gazeprior_mm.evaluation.runs import (add_frozen_eval_args,
                                          frozen_backbone_and_data, report,
                                          run_anomaly)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_frozen_eval_args(parser)
    parser.add_argument('--method', choices=['ocsvm', 'gmm'], default='ocsvm')
    parser.add_argument('--out', help='write the result JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    result = run_anomaly(*frozen_backbone_and_data(
        args.config, args.checkpoint, args.data_config, args.data_root),
        args.method)
    result['method'] = args.method
    return report(result, args.out)


if __name__ == '__main__':
    main()
