"""Speed and calibration of the synthetic chest-X-ray + gaze generator.

Generates ``--num-images`` images (default 2,000 of 128 px, the benchmark's default
size; target: well under a minute on one core) into a temporary folder, then
measures on the result:

- ``images_per_s`` (generation, including PNG and JSON writing);
- gaze-lesion agreement of both presets, ``realistic`` (target
  NCC(gaze, lesion) - NCC(centre, lesion) ~ +0.05, REFLACX) and ``strong``
  (target NCC(gaze, lesion) >= 0.6);
- fixations per reading (target ~45), median duration (~0.35 s), off-image share
  (5-10%), readers attending each finding given any does (VinDr targets, see
  ``synthetic_parts.findings``);
- lung/mediastinum ratio and power-spectrum slope of the first 200 images versus
  the real RG1 radiograph (pydicom-data) resized to the same size.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/synthetic_generation.py
[--num-images 2000] [--img-size 128] [--seed 0]``. The last line printed is JSON.
"""
import argparse
import json
import os.path as osp
import tempfile

import cv2
import numpy as np

from gazeprior_mm.datasets.dicom import read_dicom_image
from gazeprior_mm.datasets.synthetic import SPLIT_NAMES, generate_synthetic_cxr
from gazeprior_mm.datasets.synthetic_parts.stats import gaze_lesion_ncc, psd_slope


def lung_mediastinum_ratio(img: np.ndarray) -> float:
    """Mean of two lung boxes over the mediastinum/spine box (fractions of size)."""
    h, w = img.shape

    def box(y0, y1, x0, x1):
        return img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].mean()
    return 0.5 * (box(.25, .45, .18, .35) + box(.25, .45, .65, .82)) \
        / box(.2, .6, .46, .54)


def load_rows(root):
    rows = []
    for name in SPLIT_NAMES:
        with open(osp.join(root, 'annotations', f'{name}.json')) as f:
            rows += json.load(f)['data_list']
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--img-size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    result = dict(num_images=args.num_images, img_size=args.img_size)
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ('realistic', 'strong'):
            root = osp.join(tmp, preset)
            summary = generate_synthetic_cxr(root, args.num_images, args.img_size,
                                             seed=args.seed, preset=preset)
            ncc = gaze_lesion_ncc(load_rows(root))
            result[f'ncc_{preset}'] = {k: round(v, 4) for k, v in ncc.items()}
            if preset == 'realistic':
                result.update(
                    images_per_s=round(summary['images_per_s'], 1),
                    seconds=round(summary['seconds'], 2),
                    fixations_per_reading=round(summary['fixations_per_reading'], 1),
                    fixation_duration_median_s=round(
                        summary['fixation_duration_median_s'], 3),
                    off_image_fraction=round(summary['off_image_fraction'], 4),
                    readers_attending_given_any={
                        k: round(v, 2) for k, v in
                        summary['readers_attending_given_any'].items()},
                    positives=summary['positives'])
                imgs = [cv2.imread(osp.join(root, f'images/{i:06d}.png'),
                                   cv2.IMREAD_UNCHANGED).astype(np.float64)
                        for i in range(min(200, args.num_images))]
                result['synthetic_lung_mediastinum_ratio'] = round(float(np.mean(
                    [lung_mediastinum_ratio(im) for im in imgs])), 3)
                result['synthetic_psd_slope'] = round(float(np.mean(
                    [psd_slope(im) for im in imgs])), 3)
                result['synthetic_mean'] = round(float(np.mean(imgs)) / 255, 3)
    from pydicom.data import get_testdata_file
    rg1 = read_dicom_image(get_testdata_file('RG1_UNCR.dcm')).astype(np.float64)
    rg1 = cv2.resize(rg1, (args.img_size, args.img_size), interpolation=cv2.INTER_AREA)
    result.update(rg1_lung_mediastinum_ratio=round(lung_mediastinum_ratio(rg1), 3),
                  rg1_psd_slope=round(psd_slope(rg1), 3),
                  rg1_mean=round(float(rg1.mean()) / 255, 3))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
