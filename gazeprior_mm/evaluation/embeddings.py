"""Frozen backbone embeddings of a dataloader, for anomaly detection and probes."""
from typing import Dict

import numpy as np
import torch
import torch.nn as nn


def pooled_embedding(backbone: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """(N, D) embedding: the last backbone output, globally averaged if a map.

    ViTs with ``out_type='cls_token'`` / ``'avg_featmap'`` already give (N, D);
    CNN feature maps (N, C, h, w) and token maps are averaged over space.
    """
    out = backbone(inputs)
    out = out[-1] if isinstance(out, (tuple, list)) else out
    if out.ndim == 4:
        return out.flatten(2).mean(-1)
    if out.ndim == 3:  # (N, T, D) raw tokens
        return out.mean(1)
    return out


@torch.no_grad()
def extract_embeddings(backbone: nn.Module, data_preprocessor: nn.Module,
                       dataloader) -> Dict[str, np.ndarray]:
    """Embed every sample of ``dataloader`` with a frozen backbone.

    Args:
        backbone (nn.Module): the backbone (put in eval mode here).
        data_preprocessor (nn.Module): e.g. ``ClsDataPreprocessor``; turns a
            collated batch into normalised (N, 3, H, W) inputs.
        dataloader: yields mmengine batches ``dict(inputs, data_samples)``.

    Returns:
        dict: ``embeddings`` (N, D) float32, ``gt_score`` (N, C) int64 multi-hot
        over the dataset's ``classes``, ``img_id`` (N,) str.
    """
    backbone.eval()
    classes = getattr(dataloader.dataset, 'metainfo', {}).get('classes') or ()
    embeddings, labels, img_ids = [], [], []
    for batch in dataloader:
        batch = data_preprocessor(batch, False)
        inputs = batch['inputs']
        inputs = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        embeddings.append(pooled_embedding(backbone, inputs).float().cpu())
        for sample in batch['data_samples']:
            labels.append(_multi_hot(sample, len(classes)))
            img_ids.append(str(sample.get('img_id', sample.get('sample_idx'))))
    return dict(
        embeddings=torch.cat(embeddings).numpy(),
        gt_score=np.stack(labels),
        img_id=np.array(img_ids))


def _multi_hot(sample, num_classes: int) -> np.ndarray:
    if 'gt_score' in sample:
        return sample.gt_score.long().cpu().numpy()
    num_classes = sample.get('num_classes', num_classes)
    if not num_classes:
        raise KeyError(f'sample {sample.get("img_id")} has gt_label but no '
                       '`num_classes` and the dataset has no `classes` '
                       'metainfo to build a multi-hot vector from')
    target = np.zeros(num_classes, dtype=np.int64)
    target[sample.gt_label.long().cpu().numpy()] = 1
    return target
