# Linear probe of a frozen, pre-trained small ViT on the synthetic benchmark:
# the backbone the checkpoint was pre-trained with (its saved config), the mean
# of its patch tokens (GWCL trains patch tokens, not a CLS token), standardised by
# a BatchNorm without affine before the linear head.
#   --cfg-options model.backbone.checkpoint=work_dirs/.../epoch_N.pth
_base_ = './resnet18_linear_synthetic.py'

embed_dims = 192  # as configs/gazeprior/gazeprior_vit-tiny-p8_synthetic.py
model = dict(neck=dict(in_channels=embed_dims),
             head=dict(in_channels=embed_dims))
