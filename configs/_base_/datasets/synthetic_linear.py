# Synthetic chest X-ray + gaze benchmark: single-view data for the linear probe and
# fine-tuning (14-label multi-label classification on train / val / test.json),
# from the named parts of synthetic_linear_parts.py.
_base_ = './synthetic_linear_parts.py'

data_preprocessor = _base_.gaze_cls_data_preprocessor
train_pipeline = _base_.gaze_cls_train_pipeline
test_pipeline = _base_.gaze_cls_test_pipeline
train_dataloader = _base_.gaze_cls_train_dataloader
val_dataloader = _base_.gaze_cls_val_dataloader
test_dataloader = _base_.gaze_cls_test_dataloader
