# MIMIC-CXR-JPG + radiologists' gaze (EGD-CXR, REFLACX) for gaze-guided
# self-supervised pre-training, as named parts (gaze_pretrain_*): the synthetic
# section (synthetic_gaze_pretrain_parts.py: fixations -> GazeHeatmap -> two
# gaze-aware views -> PackGazeInputs) with only the data and the view size changed,
# 224-px views on the 14 x 14 patch grid of a ViT-B/16. mimic_gaze_pretrain.py
# assigns the parts to the usual names.
# The annotation files are written by the converters (docs/data_preparation.md):
#   tools/dataset_converters/mimic_cxr_jpg.py  -> annotations/mimic_{split}.json
#   tools/dataset_converters/egd_cxr.py, reflacx.py
#       -> annotations/mimic_gaze_{split}.json
# img_path entries are relative to data_root:
#   files/pXX/pXXXXXXXX/sXXXXXXXX/<dicom_id>.jpg
_base_ = ['./synthetic_gaze_pretrain_parts.py']

gaze_pretrain_data_root = 'data/mimic_cxr'
view_size = 224
patch_grid = 14

# the synthetic views with the crop at view_size (names with __ stay in this file)
__crop, *__augment = _base_.gaze_pretrain_view_pipeline
gaze_pretrain_view_pipeline = [dict(__crop, scale=view_size), *__augment]
__load, __heatmap, __views, __pack = _base_.gaze_pretrain_train_pipeline
__views = dict(__views, transforms=[gaze_pretrain_view_pipeline])
gaze_pretrain_train_pipeline = [__load, __heatmap, __views,
                                dict(__pack, grid=patch_grid)]
gaze_pretrain_nomap_train_pipeline = [
    *gaze_pretrain_train_pipeline[:-1],
    dict(_base_.gaze_pretrain_nomap_train_pipeline[-1], grid=patch_grid)]

# batch_size 32 per GPU: 8 GPUs x 32 = the flagship's 256
synthetic_benchmark = None  # real data: nothing is generated
__mimic = dict(data_root=gaze_pretrain_data_root,
               ann_file='annotations/mimic_gaze_train.json')
gaze_pretrain_train_dataloader = dict(
    num_workers=8, dataset=dict(**__mimic, pipeline=gaze_pretrain_train_pipeline))
gaze_pretrain_nomap_train_dataloader = dict(
    num_workers=8,
    dataset=dict(**__mimic, pipeline=gaze_pretrain_nomap_train_pipeline))
