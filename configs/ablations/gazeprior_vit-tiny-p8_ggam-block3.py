# Ablation 8: GGAM inside the ViT after block 3 (of 6) instead of after the
# backbone: the later blocks see gated patch tokens.
_base_ = '../gazeprior/gazeprior_vit-tiny-p8_synthetic.py'
model = dict(ggam_insert_after=2)
