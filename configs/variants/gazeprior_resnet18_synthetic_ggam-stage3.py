# GazePrior with GGAM inside the backbone, after ResNet stage 3 (layer3, 256
# channels, stride 16): layer4 then mixes the gated features, so the gate is not
# cancelled by the scale-invariant cosine of GWCL (docs/gazeprior.md, diagnosis).
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
model = dict(ggam_insert_after=2, neck=dict(in_channels=256))
