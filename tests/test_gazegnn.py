"""GazeGNN: gaze-featured patch graph, supervised classifier from its config."""
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.structures import DataSample

import gazeprior_mm  # noqa: F401
from gazeprior_mm.models.backbones.gaze_vision_gnn import knn_indices
from gazeprior_mm.registry import MODELS

init_default_scope('mmpretrain')


def _samples(num, gaze, has_gaze=True):
    out = []
    for i in range(num):
        sample = DataSample().set_gt_label([i % 14])
        sample.set_field(gaze[i:i + 1], 'gaze_weights')
        sample.set_field(torch.tensor([has_gaze]), 'has_gaze')
        out.append(sample)
    return out


def test_knn_graph_neighbours_are_the_nearest_nodes():
    x = torch.tensor([[[0., 1.], [0.1, 1.], [1., 0.], [1., 0.1]]])
    idx = knn_indices(x, 2)
    assert sorted(idx[0, 0].tolist()) == [0, 1]
    assert sorted(idx[0, 2].tolist()) == [2, 3]


def test_gaze_changes_the_features_and_the_classifier_trains():
    cfg = Config.fromfile('configs/gazegnn/gazegnn_synthetic.py')
    cfg.model.backbone.update(depth=2, embed_dims=32)
    cfg.model.head.in_channels = 32
    model = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    model.eval()
    torch.manual_seed(0)
    images = torch.randn(2, 3, 112, 112)
    gaze = torch.rand(2, 196)
    with torch.no_grad():
        with_gaze = model.extract_feat(images,
                                       data_samples=_samples(2, gaze))[0]
        no_gaze = model.extract_feat(images, data_samples=_samples(
            2, gaze, has_gaze=False))[0]
        none = model.extract_feat(images)[0]
    assert with_gaze.shape == (2, 32)
    assert not torch.allclose(with_gaze, no_gaze)  # the gaze is read
    assert torch.allclose(no_gaze, none)  # has_gaze False == no gaze
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = model.loss(images, _samples(2, gaze))['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    model.eval()
    pred = model.predict(images, _samples(2, gaze))
    assert pred[0].pred_score.shape == (14, )


def test_wrong_input_size_is_named():
    import pytest
    backbone = MODELS.build(dict(type='GazeVisionGNN', grid=14, patch_size=8,
                                 embed_dims=32, depth=1))
    with pytest.raises(ValueError, match='not the 14x14 grid'):
        backbone(torch.randn(1, 3, 64, 64))
