# GazePrior + an image-level term: InfoNCE (SimCLR's, batch negatives) between the
# two views' gaze-weighted pooled embeddings (GazePooledContrastHead), added to
# the patch GWCL: gaze decides what an image's embedding is made of, and images
# are told apart from each other, which GWCL alone (negatives inside one image)
# never asks for.
_base_ = '../gazeprior/gazeprior_resnet18_synthetic.py'
model = dict(global_head=dict(
    type='GazePooledContrastHead', in_channels=512, hid_channels=512,
    out_channels=128, temperature=0.1, loss_weight=1.0, eps=0.1))
