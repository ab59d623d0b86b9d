# Synthetic chest X-ray + gaze benchmark: two-view self-supervised pre-training data
# (112-px views, 14 x 14 patch grid), from the named parts of
# synthetic_gaze_pretrain_parts.py, under the usual names for the configs that
# inherit it alone (configs/gazeprior/). PackGazeInputs packs each view's
# full-resolution gaze map here (its contract); the methods switch that off.
_base_ = './synthetic_gaze_pretrain_parts.py'

dataset_type = _base_.gaze_pretrain_dataset_type
data_root = _base_.gaze_pretrain_data_root
data_preprocessor = _base_.gaze_pretrain_data_preprocessor
view_pipeline = _base_.gaze_pretrain_view_pipeline
train_pipeline = _base_.gaze_pretrain_train_pipeline
train_dataloader = _base_.gaze_pretrain_train_dataloader
