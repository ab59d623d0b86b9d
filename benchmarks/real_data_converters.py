"""Throughput and peak memory of the real-data converters on generated, full-format
MIMIC-CXR-JPG metadata (+ split, CheXpert labels) and EGD-CXR files.

Generates ``--num-images`` MIMIC rows (frontal and lateral), their labels and splits,
an EGD-CXR ``master_sheet.csv`` and a 37-column ``fixations.csv`` with
``--fixations-per-image`` rows per image (plus calibration and invalid rows), then
times ``convert_mimic_cxr_jpg`` (``check_images=False``: no JPGs are written) and
``convert_egd_cxr``. Peak memory is the Python heap peak (``tracemalloc``) during each
conversion: streaming keeps it proportional to the output (annotation items, grouped
fixations), far below the csv text size times Python's per-field overhead.

Last line printed: JSON ``{"mimic_rows_per_s", "egd_fixation_rows_per_s",
"mimic_peak_mib", "egd_peak_mib", "fixations_csv_mib", ...}``.

Usage: ``python benchmarks/real_data_converters.py [--num-images 5000]
[--fixations-per-image 45]``
"""
import argparse
import csv
import json
import os
import os.path as osp
import tempfile
import time
import tracemalloc

import numpy as np

from gazeprior_mm.datasets.converters import (CHEXPERT_CLASSES, convert_egd_cxr,
                                              convert_mimic_cxr_jpg)

EGD_HEADER = (
    'SESSION_ID,MEDIA_ID,DICOM_ID,CNT,Time (in secs),TIMETICK(f=10000000),'
    'FPOGX,FPOGY,FPOGS,FPOGD,FPOGID,FPOGV,BPOGX,BPOGY,BPOGV,LPCX,LPCY,LPD,'
    'LPS,LPV,RPCX,RPCY,RPD,RPS,RPV,BKID,BKDUR,BKPMIN,LPMM,LPMMV,RPMM,RPMMV,'
    'SACCADE_MAG,SACCADE_DIR,VID_FRAME,X_ORIGINAL,Y_ORIGINAL').split(',')


def generate(root, num_images, fix_per_image, seed=0):
    rng = np.random.default_rng(seed)
    mimic, egd = osp.join(root, 'mimic'), osp.join(root, 'egd')
    os.makedirs(mimic), os.makedirs(egd)
    ids = [f'{i:08x}-00000000-11111111-22222222-{rng.integers(1 << 31):08x}'
           for i in range(num_images)]
    subjects = [f'1{i // 3:07d}' for i in range(num_images)]
    studies = [f'5{i // 2:07d}' for i in range(num_images)]
    with open(osp.join(mimic, 'mimic-cxr-2.0.0-metadata.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dicom_id', 'subject_id', 'study_id', 'ViewPosition', 'Rows',
                    'Columns'])
        for i, d in enumerate(ids):
            w.writerow([d, subjects[i], studies[i], ('PA', 'AP', 'LATERAL')[i % 3],
                        3056, 2544])
    with open(osp.join(mimic, 'mimic-cxr-2.0.0-split.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dicom_id', 'study_id', 'subject_id', 'split'])
        for i, d in enumerate(ids):
            w.writerow([d, studies[i], subjects[i], 'train'])
    with open(osp.join(mimic, 'mimic-cxr-2.0.0-chexpert.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['subject_id', 'study_id'] + sorted(CHEXPERT_CLASSES))
        for key in sorted(set(zip(subjects, studies))):
            w.writerow(list(key) + list(rng.choice(['1.0', '0.0', '-1.0', ''], 14)))
    gaze_ids = ids[::3]   # the frontal PA images
    with open(osp.join(egd, 'master_sheet.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dicom_id', 'image_top_pad', 'image_bottom_pad', 'image_left_pad',
                    'image_right_pad'])
        for d in gaze_ids:
            w.writerow([d, 0, 0, 534, 534])
    zeros = ['0'] * len(EGD_HEADER)
    col = {c: i for i, c in enumerate(EGD_HEADER)}
    with open(osp.join(egd, 'fixations.csv'), 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(EGD_HEADER)
        for j, d in enumerate(gaze_ids):
            xy = rng.integers(-3, 2544, size=(fix_per_image, 2))
            for k in range(fix_per_image):
                row = list(zeros)
                row[col['SESSION_ID']] = str(1 + j // 30)
                row[col['DICOM_ID']] = d if k % 20 else d[:-5]   # some calibration
                row[col['FPOGD']] = '0.35'
                row[col['FPOGV']] = '1'
                row[col['X_ORIGINAL']], row[col['Y_ORIGINAL']] = xy[k]
                w.writerow(row)
    return mimic, egd


def timed(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, dt, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--num-images', type=int, default=5000)
    parser.add_argument('--fixations-per-image', type=int, default=45)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        mimic, egd = generate(root, args.num_images, args.fixations_per_image)
        ann = osp.join(mimic, 'annotations')
        rep_m, t_m, peak_m = timed(lambda: convert_mimic_cxr_jpg(
            mimic, ann, check_images=False, splits=('train',), progress=False))
        pairs = [(osp.join(ann, 'mimic_train.json'),
                  osp.join(ann, 'mimic_gaze_train.json'))]
        rep_e, t_e, peak_e = timed(lambda: convert_egd_cxr(egd, pairs, progress=False))
        fix_rows = len(range(0, args.num_images, 3)) * args.fixations_per_image
        result = dict(
            num_images=args.num_images, fixation_rows=fix_rows,
            mimic_seconds=round(t_m, 3), egd_seconds=round(t_e, 3),
            mimic_rows_per_s=round(args.num_images / t_m, 1),
            egd_fixation_rows_per_s=round(fix_rows / t_e, 1),
            mimic_peak_mib=round(peak_m, 2), egd_peak_mib=round(peak_e, 2),
            fixations_csv_mib=round(osp.getsize(osp.join(egd, 'fixations.csv'))
                                    / 2**20, 2),
            images_written=rep_m.counts['written'].get('images_train', 0),
            gaze_sets_attached=rep_e.counts['written'].get('gaze_sets_attached', 0),
            fixations_dropped=rep_e.total('dropped'))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
