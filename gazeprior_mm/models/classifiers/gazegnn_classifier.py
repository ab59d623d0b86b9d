"""GazeGNN: a supervised classifier whose backbone reads each image's gaze."""
from typing import List, Optional

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.structures import DataSample

from gazeprior_mm.registry import MODELS


@MODELS.register_module()
class GazeGNNClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` that hands the gaze to its backbone.

    The backbone (:class:`GazeVisionGNN`) takes ``(images, gaze)``; the gaze of a
    sample is its packed ``gaze_weights`` (view 0, ``(M*M,)``), zero where
    ``has_gaze`` is False, in training and at test time (GazeGNN reads the gaze
    recorded while the radiologist reads the image). Everything else (head,
    losses, metrics, predict) is mmpretrain's.
    """

    @staticmethod
    def sample_gaze(data_samples: Optional[List[DataSample]], num: int,
                    device: torch.device) -> Optional[torch.Tensor]:
        """(N, P) gaze weights of the batch, or None without data samples."""
        if not data_samples:
            return None
        rows = []
        for sample in data_samples:
            weights = torch.as_tensor(sample.gaze_weights).float()
            weights = weights.reshape(-1, weights.shape[-1])[0]
            has = bool(torch.as_tensor(sample.get('has_gaze', True)).reshape(-1)[0])
            rows.append(weights * has)
        return torch.stack(rows).to(device)

    def extract_feat(self, inputs: torch.Tensor, stage: str = 'neck',
                     data_samples: Optional[List[DataSample]] = None):
        gaze = self.sample_gaze(data_samples, len(inputs), inputs.device)
        x = self.backbone(inputs, gaze)
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> dict:
        feats = self.extract_feat(inputs, data_samples=data_samples)
        return self.head.loss(feats, data_samples)

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        feats = self.extract_feat(inputs, data_samples=data_samples)
        return self.head.predict(feats, data_samples, **kwargs)
