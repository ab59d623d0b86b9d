# MIMIC-CXR-JPG + radiologists' gaze (EGD-CXR, REFLACX) for gaze-guided
# self-supervised pre-training (224-px views, 14 x 14 patch grid), from the named
# parts of mimic_gaze_pretrain_parts.py (data layout and converters described
# there), under the usual names, as synthetic_gaze_pretrain.py does.
_base_ = './mimic_gaze_pretrain_parts.py'

dataset_type = _base_.gaze_pretrain_dataset_type
data_root = _base_.gaze_pretrain_data_root
data_preprocessor = _base_.gaze_pretrain_data_preprocessor
view_pipeline = _base_.gaze_pretrain_view_pipeline
train_pipeline = _base_.gaze_pretrain_train_pipeline
train_dataloader = _base_.gaze_pretrain_train_dataloader
