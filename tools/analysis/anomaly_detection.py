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
import json
import os
import os.path as osp

from mmengine.config import Config

from gazeprior_mm.evaluation.runs import (DEFAULT_DATA_CONFIG,
                                          build_eval_dataloader,
                                          build_frozen_backbone,
                                          probe_backbone_cfg,
                                          probe_preprocessor_cfg, run_anomaly)
from gazeprior_mm.registry import MODELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the pre-training config')
    parser.add_argument('checkpoint', help='its checkpoint (backbone.* keys)')
    parser.add_argument('--data-config', default=DEFAULT_DATA_CONFIG,
                        help='config with single-view train/test dataloaders')
    parser.add_argument('--data-root', help='override the datasets\' data_root')
    parser.add_argument('--method', choices=['ocsvm', 'gmm'], default='ocsvm')
    parser.add_argument('--out', help='write the result JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import gazeprior_mm  # noqa: F401  (registers everything)
    cfg = Config.fromfile(args.config)
    data_cfg = Config.fromfile(args.data_config)
    backbone = build_frozen_backbone(probe_backbone_cfg(cfg), args.checkpoint)
    preprocessor = MODELS.build(probe_preprocessor_cfg(cfg))
    result = run_anomaly(
        backbone, preprocessor,
        build_eval_dataloader(data_cfg, 'train', args.data_root),
        build_eval_dataloader(data_cfg, 'test', args.data_root), args.method)
    result['method'] = args.method
    print(json.dumps(result))
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == '__main__':
    main()
