# 1 % label fine-tuning of the whole pre-trained ResNet-18 on the synthetic
# benchmark (see vit-tiny-p8_finetune-1pct_synthetic.py for the options).
_base_ = './resnet18_linear_synthetic.py'

model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))

# _delete_: the wrapper takes only these keys, not the base dataset's data_root etc.
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabelFractionDataset',
        fraction=0.01,
        seed=0,
        # fine-tuning trains on random crops again (the probe does not)
        dataset=dict(_base_.train_dataloader.dataset,
                     pipeline=_base_.train_pipeline)))

optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
train_cfg = dict(max_epochs=50, val_interval=10)
