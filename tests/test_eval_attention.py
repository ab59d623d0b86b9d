"""Attention maps of ViTs (recomputed attention, rollout) and Grad-CAM of CNNs."""
import numpy as np
import pytest
import torch
from mmpretrain.models import ResNet, VisionTransformer
from mmpretrain.structures import DataSample

from gazeprior_mm.evaluation.attention import (_attention_probabilities,
                                               attention_rollout,
                                               model_saliency,
                                               record_vit_attention)
from gazeprior_mm.registry import MODELS

TINY_VIT = dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                          feedforward_channels=64),
                img_size=32, patch_size=8)


def test_recomputed_attention_reproduces_layer_output():
    torch.manual_seed(0)
    vit = VisionTransformer(**TINY_VIT)
    vit.eval()
    x = torch.randn(2, 3, 32, 32)
    captured = {}
    layer = vit.layers[0].attn
    handle = layer.register_forward_hook(
        lambda m, i, o: captured.update(inp=i[0], out=o))
    with record_vit_attention(vit) as attentions:
        vit(x)
    handle.remove()
    assert len(attentions) == 2 and attentions[0].shape == (2, 2, 17, 17)
    attn = _attention_probabilities(layer, captured['inp'])
    n, t, _ = captured['inp'].shape
    v = layer.qkv(captured['inp']).reshape(n, t, 3, 2, 16).permute(
        2, 0, 3, 1, 4)[2]
    out = layer.proj((attn @ v).transpose(1, 2).reshape(n, t, 32))
    torch.testing.assert_close(out, captured['out'], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, 2, 17))


def test_rollout_of_identity_attention_is_uniform_over_nothing():
    # attention that only looks at itself: rollout from CLS reaches no patch
    eye = torch.eye(5).expand(1, 2, 5, 5)
    assert attention_rollout([eye, eye]).abs().sum() == 0
    # uniform attention: every patch gets the same relevance
    uniform = torch.full((1, 2, 5, 5), 0.2)
    roll = attention_rollout([uniform])
    torch.testing.assert_close(roll, torch.full((1, 4), 0.1))


@pytest.mark.parametrize('method', ['rollout', 'cls'])
def test_vit_saliency_on_patch_grid(method):
    vit = VisionTransformer(**TINY_VIT)
    sal = model_saliency(vit, torch.randn(3, 3, 32, 32), method)
    assert sal.shape == (3, 4, 4) and (sal >= 0).all() and sal.sum() > 0


def test_gradcam_of_resnet_and_probe_predict():
    torch.manual_seed(0)
    resnet = ResNet(depth=18)
    for p in resnet.parameters():  # frozen, as in evaluation
        p.requires_grad_(False)
    sal = model_saliency(resnet, torch.randn(2, 3, 64, 64))
    assert sal.shape == (2, 64, 64)
    assert sal.min() >= 0 and sal.max() <= 1 + 1e-6 and sal.max() > 0

    probe = MODELS.build(dict(type='GazeAttentionProbe',
                              backbone=dict(type='VisionTransformer',
                                            **TINY_VIT)))
    samples = [DataSample(), DataSample()]
    data = probe.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                     for _ in range(2)], data_samples=samples), False)
    out = probe(**data, mode='predict')
    assert out[0].saliency_map.shape == (4, 4)
    with pytest.raises(RuntimeError, match='loss'):
        probe(**data, mode='loss')
