# 1 % label fine-tuning of the whole pre-trained ViT on the synthetic benchmark:
# a seeded, class-covering 1 % of the training set (LabelFractionDataset;
# change with --cfg-options train_dataloader.dataset.fraction=0.1
# train_dataloader.dataset.seed=S). Checkpoint as for the linear probe.
_base_ = './vit-tiny-p8_linear_synthetic.py'

model = dict(backbone=dict(frozen_stages=-1, drop_path_rate=0.1))

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

# the whole network trains now: smaller steps, layer-wise nothing fancy
optim_wrapper = dict(optimizer=dict(lr=1e-4, weight_decay=0.05))
train_cfg = dict(max_epochs=50, val_interval=10)
