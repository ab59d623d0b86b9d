# Ablation 4: CNN (ResNet-18, GGAM on the 7 x 7 last-stage map) vs ViT: the
# ResNet-18 GazePrior config with the ViT config's schedule.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
max_epochs = 2
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, by_epoch=True,
         begin=1, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
