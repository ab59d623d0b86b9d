# 1 % label fine-tuning of the flagship ViT-B/16 on CheXpert.
_base_ = './vit-base-p16_linear_chexpert.py'

model = dict(backbone=dict(frozen_stages=-1, drop_path_rate=0.1))

# _delete_: the wrapper takes only these keys, not the base dataset's data_root etc.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabelFractionDataset',
        fraction=0.01,
        seed=0,
        dataset={{_base_.train_dataloader.dataset}}))

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
train_cfg = dict(max_epochs=50, val_interval=10)
