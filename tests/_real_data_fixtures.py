"""Tiny, format-faithful copies of MIMIC-CXR-JPG, EGD-CXR, REFLACX and CheXpert
(headers and conventions of research/data_formats.md), written into a tmp folder by the
tests of tests/test_real_data_*.py. Not a test module itself."""
import csv
import os
import os.path as osp

import cv2
import numpy as np

from gazeprior_mm.gaze.formats.egd import egd_screen_to_dicom

SUBJECT, STUDY_A, STUDY_B = '10000032', '50414267', '53189527'
#: DICOM ids: 5 dash-separated groups of 8 hex characters, like MIMIC's
DICOM_FULL = '02aa804e-bde0afdd-112c0b34-7bc16630-4e384014'    # JPG = DICOM grid
DICOM_HALF = '174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962'    # JPG downscaled x0.5
DICOM_LAT = '2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab'     # lateral view
DICOM_BLANK = '68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714'   # blank ViewPosition
DICOM_VAL = 'fffabebf-74fd3a1f-673b6b41-96ec0ac9-2ab69818'     # validate split
#: the DICOM grids (H = Rows, W = Columns) and the stored JPG grids
DICOM_SIZE = {DICOM_FULL: (60, 40), DICOM_HALF: (120, 80), DICOM_LAT: (60, 40),
              DICOM_BLANK: (60, 40), DICOM_VAL: (60, 40)}
JPG_SIZE = {DICOM_FULL: (60, 40), DICOM_HALF: (60, 40), DICOM_LAT: (60, 40),
            DICOM_BLANK: (60, 40), DICOM_VAL: (60, 40)}
#: a bright marker drawn at this DICOM pixel (x, y) of DICOM_HALF; gaze looks at it
MARK_XY = (30, 100)

MIMIC_LABELS = ('Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema',
                'Enlarged Cardiomediastinum', 'Fracture', 'Lung Lesion', 'Lung Opacity',
                'No Finding', 'Pleural Effusion', 'Pleural Other', 'Pneumonia',
                'Pneumothorax', 'Support Devices')
EGD_FIX_HEADER = (
    'SESSION_ID,MEDIA_ID,DICOM_ID,CNT,Time (in secs),TIMETICK(f=10000000),'
    'FPOGX,FPOGY,FPOGS,FPOGD,FPOGID,FPOGV,BPOGX,BPOGY,BPOGV,LPCX,LPCY,LPD,'
    'LPS,LPV,RPCX,RPCY,RPD,RPS,RPV,BKID,BKDUR,BKPMIN,LPMM,LPMMV,RPMM,RPMMV,'
    'SACCADE_MAG,SACCADE_DIR,VID_FRAME,X_ORIGINAL,Y_ORIGINAL').split(',')
EGD_PADS = (0, 0, 600, 600)     # top, bottom, left, right (screen pixels)
REFLACX_FIX_HEADER = (
    'timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,'
    'pupil_area_normalized,angular_resolution_x_pixels_per_degree,'
    'angular_resolution_y_pixels_per_degree,window_width,window_level,'
    'xmin_shown_from_image,ymin_shown_from_image,xmax_shown_from_image,'
    'ymax_shown_from_image,xmin_in_screen_coordinates,ymin_in_screen_coordinates,'
    'xmax_in_screen_coordinates,ymax_in_screen_coordinates').split(',')
REFLACX_PHASE1_LABELS = (
    'Airway wall thickening', 'Atelectasis', 'Consolidation', 'Emphysema',
    'Enlarged cardiac silhouette', 'Fibrosis', 'Fracture', 'Groundglass opacity',
    'Mass', 'Nodule', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
    'Pulmonary edema', 'Quality issue', 'Support devices', 'Wide mediastinum')
CHEXPERT_HEADER = ('Path', 'Sex', 'Age', 'Frontal/Lateral', 'AP/PA', 'No Finding',
                   'Enlarged Cardiomediastinum', 'Cardiomegaly', 'Lung Opacity',
                   'Lung Lesion', 'Edema', 'Consolidation', 'Pneumonia', 'Atelectasis',
                   'Pneumothorax', 'Pleural Effusion', 'Pleural Other', 'Fracture',
                   'Support Devices')


def write_csv(path, header, rows, crlf=False):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f, lineterminator='\r\n' if crlf else '\n')
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jpg(path, size, mark=None):
    """A dark grey JPG of ``size`` (H, W) with an optional bright 2x2-pixel mark at
    ``mark = (x, y)``."""
    img = np.full(size, 40, np.uint8)
    if mark is not None:
        x, y = mark
        img[y:y + 2, x:x + 2] = 255
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 100])
    return path


def jpg_rel(subject, study, dicom_id):
    return f'files/p{subject[:2]}/p{subject}/s{study}/{dicom_id}.jpg'


def make_mimic(root, metadata_extra=(), skip_images=()):
    """MIMIC-CXR-JPG tree + metadata/split/chexpert/negbio csv files."""
    studies = {DICOM_FULL: STUDY_A, DICOM_HALF: STUDY_A, DICOM_LAT: STUDY_A,
               DICOM_BLANK: STUDY_A, DICOM_VAL: STUDY_B}
    views = {DICOM_FULL: 'PA', DICOM_HALF: 'AP', DICOM_LAT: 'LATERAL', DICOM_BLANK: '',
             DICOM_VAL: 'PA'}
    for dicom_id, study in studies.items():
        if dicom_id in skip_images:
            continue
        jpg_size = JPG_SIZE[dicom_id]
        mark = None
        if dicom_id == DICOM_HALF:  # the DICOM mark, downscaled x0.5: one JPG pixel
            mark = (MARK_XY[0] // 2, MARK_XY[1] // 2)
        write_jpg(osp.join(root, jpg_rel(SUBJECT, study, dicom_id)), jpg_size, mark)
    meta_header = ('dicom_id,subject_id,study_id,PerformedProcedureStepDescription,'
                   'ViewPosition,Rows,Columns,StudyDate,StudyTime,'
                   'ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,'
                   'PatientOrientationCodeSequence_CodeMeaning').split(',')
    meta = [[d, SUBJECT, s, 'CHEST (PA AND LAT)', views[d], DICOM_SIZE[d][0],
             DICOM_SIZE[d][1], '21800506', '213014.531', 'CHEST (PA AND LAT)',
             'postero-anterior', 'Erect'] for d, s in studies.items()]
    write_csv(osp.join(root, 'mimic-cxr-2.0.0-metadata.csv'), meta_header,
              meta + list(metadata_extra))
    split = {DICOM_VAL: 'validate'}
    write_csv(osp.join(root, 'mimic-cxr-2.0.0-split.csv'),
              ['dicom_id', 'study_id', 'subject_id', 'split'],
              [[d, s, SUBJECT, split.get(d, 'train')] for d, s in studies.items()])
    # study A: Atelectasis uncertain, Cardiomegaly positive, the rest blank/0
    labels_a = {'Atelectasis': '-1.0', 'Cardiomegaly': '1.0', 'Edema': '0.0'}
    labels_b = {'No Finding': '1.0'}
    for name in ('chexpert', 'negbio'):
        write_csv(osp.join(root, f'mimic-cxr-2.0.0-{name}.csv'),
                  ('subject_id', 'study_id') + MIMIC_LABELS,
                  [[SUBJECT, STUDY_A] + [labels_a.get(c, '') for c in MIMIC_LABELS],
                   [SUBJECT, STUDY_B] + [labels_b.get(c, '') for c in MIMIC_LABELS]])
    return root


def egd_row(session, dicom_id, fpog, xy_original, duration=0.3, valid=1, cnt=1):
    row = {c: '0' for c in EGD_FIX_HEADER}
    row.update({'SESSION_ID': session, 'MEDIA_ID': '0', 'DICOM_ID': dicom_id,
                'CNT': cnt, 'Time (in secs)': 0.5 * cnt, 'FPOGX': f'{fpog[0]:.6f}',
                'FPOGY': f'{fpog[1]:.6f}', 'FPOGD': duration, 'FPOGV': valid,
                'X_ORIGINAL': xy_original[0], 'Y_ORIGINAL': xy_original[1]})
    return [row[c] for c in EGD_FIX_HEADER]


def egd_fpog_for(xy, dicom_size, pads=EGD_PADS):
    """Screen fractions that the official mapping sends to DICOM pixel ``xy``."""
    top, bottom, left, right = pads
    h, w = dicom_size
    ex = left + (xy[0] + 0.5) * (1920 - left - right) / w
    ey = top + (xy[1] + 0.5) * (1080 - top - bottom) / h
    return ex / 1920, ey / 1080


def make_egd(root, extra_fix_rows=(), old_pad_names=False):
    """EGD-CXR master_sheet.csv (with a quoted multi-line field), fixations.csv
    (37 columns; a calibration row, an FPOGV=0 row, an off-image row) and
    bounding_boxes.csv (x1, x2, y1, y2 order) for DICOM_HALF and DICOM_FULL."""
    pad_cols = ['image_top', 'image_bottom', 'image_left', 'image_right'] \
        if old_pad_names else ['image_top_pad', 'image_bottom_pad', 'image_left_pad',
                               'image_right_pad']
    header = ['dicom_id', 'path', 'study_id', 'patient_id', 'stay_id', 'gender',
              'anchor_age'] + pad_cols + ['Normal', 'CHF', 'pneumonia',
                                          'cxr_exam_indication']
    rows = [[d, f'files/p10/p{SUBJECT}/s{STUDY_A}/{d}.dcm', STUDY_A, SUBJECT, '', 'F',
             '20 - 30', *EGD_PADS, 0, 1, 0, '___F with cough.\nEval for CHF, "wet"']
            for d in (DICOM_HALF, DICOM_FULL)]
    write_csv(osp.join(root, 'master_sheet.csv'), header, rows)
    size = DICOM_SIZE[DICOM_HALF]
    fpog = egd_fpog_for(MARK_XY, size)
    xy = egd_screen_to_dicom([fpog], EGD_PADS, size)[0]
    fix = [
        egd_row('1', DICOM_HALF, fpog, xy, 0.4, cnt=10),
        egd_row('1', DICOM_HALF, egd_fpog_for((10, 20), size),
                egd_screen_to_dicom([egd_fpog_for((10, 20), size)], EGD_PADS, size)[0],
                0.2, cnt=20),
        egd_row('1', DICOM_HALF[:-5], (0.5, 0.5), (40, 60), 0.5, cnt=30),  # calibration
        egd_row('1', DICOM_HALF, (0.5, 0.5), (40, 60), 0.3, valid=0, cnt=40),
        egd_row('1', DICOM_HALF, (0.1, 0.5), (-2, -2), 0.3, cnt=50),       # off image
        egd_row('1', DICOM_FULL, egd_fpog_for((5, 6), DICOM_SIZE[DICOM_FULL]),
                (5, 6), 0.25, cnt=60),
    ] + list(extra_fix_rows)
    write_csv(osp.join(root, 'fixations.csv'), EGD_FIX_HEADER, fix)
    write_csv(osp.join(root, 'bounding_boxes.csv'),
              ['dicom_id', 'bbox_name', 'x1', 'x2', 'y1', 'y2'],
              [[DICOM_HALF, 'right lung', 10.0, 38.0, 20.0, 100.0],
               [DICOM_HALF, 'cardiac silhouette', 30.0, 60.0, 50.0, 90.0]])
    return root


def reflacx_fix_row(start, end, x, y, shown=(0, 0, 79, 119)):
    return [start, end, x, y, 0.5, 40.1, 40.2, 0.6, 0.5, *shown, 0, 0, 3840, 2160]


def make_reflacx(root, readings=None, fixations=None, ellipses=True):
    """REFLACX main_data/metadata_phase_1.csv and per-reading files, CRLF endings.

    Default: two readers of DICOM_HALF (DICOM grid 120 x 80), one discarded reading."""
    main = osp.join(root, 'main_data')
    h, w = DICOM_SIZE[DICOM_HALF]
    if readings is None:
        readings = [('P102R000001', 'train', 'False', DICOM_HALF),
                    ('P102R000002', 'train', 'False', DICOM_HALF),
                    ('P102R000003', 'train', 'True', DICOM_HALF)]
    header = ['id', 'split', 'eye_tracking_data_discarded', 'image', 'dicom_id',
              'subject_id', 'image_size_x', 'image_size_y'] + \
        list(REFLACX_PHASE1_LABELS)
    rows = [[rid, split, disc, f'physionet.org/files/mimic-cxr/2.0.0/files/p10/'
             f'p{SUBJECT}/s{STUDY_A}/{d}.dcm', d, SUBJECT, w, h]
            + [0] * len(REFLACX_PHASE1_LABELS) for rid, split, disc, d in readings]
    write_csv(osp.join(main, 'metadata_phase_1.csv'), header, rows, crlf=True)
    if fixations is None:
        fixations = [
            reflacx_fix_row(0.100, 0.350, *MARK_XY),                   # kept
            reflacx_fix_row(0.400, 0.600, 10, 10, (20, 20, 79, 119)),  # not shown
            reflacx_fix_row(0.700, 0.900, 200, 50, (0, 0, 300, 119)),  # off image
            reflacx_fix_row(1.000, 1.000, 40, 40),                     # zero duration
        ]
    for rid, _, disc, _ in readings:
        if disc == 'True':
            continue  # discarded readings have no fixations.csv
        write_csv(osp.join(main, rid, 'fixations.csv'), REFLACX_FIX_HEADER, fixations,
                  crlf=True)
        if ellipses:
            flags = [lab == 'Nodule' for lab in REFLACX_PHASE1_LABELS]
            write_csv(osp.join(main, rid, 'anomaly_location_ellipses.csv'),
                      ['xmin', 'ymin', 'xmax', 'ymax', 'certainty']
                      + list(REFLACX_PHASE1_LABELS),
                      [[20, 80, 40, 120, 4] + flags,
                       [0, 0, 10, 10, 2] + flags], crlf=True)
    return root


def make_chexpert(root, skip_images=()):
    """CheXpert-v1.0-small: train.csv, valid.csv and tiny JPGs."""
    def label_row(path, frontal, appa, values):
        return [path, 'Female', 68, frontal, appa] + [values.get(c, '')
                                                       for c in CHEXPERT_HEADER[5:]]
    train = [
        label_row('CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg',
                  'Frontal', 'AP', {'Atelectasis': '-1.0', 'Edema': '1.0',
                                    'Cardiomegaly': '0.0'}),
        label_row('CheXpert-v1.0-small/train/patient00001/study1/view2_lateral.jpg',
                  'Lateral', '', {'Edema': '1.0'}),
        label_row('CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg',
                  'Frontal', 'PA', {'No Finding': '1.0'}),
    ]
    valid = [label_row(
        'CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg',
        'Frontal', 'AP', {'Edema': '1.0', 'Pleural Effusion': '0.0'})]
    write_csv(osp.join(root, 'train.csv'), CHEXPERT_HEADER, train)
    write_csv(osp.join(root, 'valid.csv'), CHEXPERT_HEADER, valid)
    for row in train + valid:
        rel = row[0].split('/', 1)[1]
        if rel not in skip_images:
            write_jpg(osp.join(root, rel), (48, 40))
    return root
