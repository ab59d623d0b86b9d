"""Multi-label AUC-ROC, operating-point sensitivity/specificity and macro-F1.

The chest-X-ray evaluation protocol (docs/design.md §6): per-class and macro AUC-ROC,
sensitivity and specificity at a stated score threshold and at a fixed specificity,
and macro-F1, over multi-hot labels in which some entries may be *ignored*
(``gt_label_mask`` False, e.g. CheXpert's "uncertain" under the ``ignore`` policy).
"""
import math
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from scipy.stats import rankdata

from gazeprior_mm.registry import METRICS


def _class_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    r"""AUC-ROC of one class by the Mann-Whitney rank statistic.

    .. math::
        \mathrm{AUC} = \frac{\sum_{i \in pos} r_i - n_+(n_+ + 1)/2}{n_+ n_-}

    with :math:`r_i` the average (tie-corrected) rank of sample :math:`i`'s score;
    equal to the area under the ROC curve with ties counted as 1/2.

    Args:
        scores (np.ndarray): (K,) scores of the valid samples.
        targets (np.ndarray): (K,) 0/1 labels.

    Returns:
        float: the AUC, NaN when the class has no positive or no negative.
    """
    n_pos = int(targets.sum())
    n_neg = targets.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float('nan')
    ranks = rankdata(scores)
    return float((ranks[targets == 1].sum() - n_pos * (n_pos + 1) / 2) /
                 (n_pos * n_neg))


def _sensitivity_at_specificity(scores: np.ndarray, targets: np.ndarray,
                                specificity: float) -> float:
    """Best sensitivity among thresholds whose specificity is >= ``specificity``.

    A sample is called positive when ``score >= t``. At least
    ``k = ceil(specificity * n_neg)`` negatives must score below ``t``, so the
    lowest admissible threshold lies just above the k-th smallest negative score
    ``v``, and the sensitivity there is the fraction of positives scoring ``> v``.

    Returns:
        float: the sensitivity, NaN when the class has no positive or no negative.
    """
    pos, neg = scores[targets == 1], np.sort(scores[targets == 0])
    if pos.size == 0 or neg.size == 0:
        return float('nan')
    # the 1e-9 guards against 0.9 * 10 = 9.000000000000002 -> 10
    k = math.ceil(specificity * neg.size - 1e-9)
    if k <= 0:
        return 1.0
    return float((pos > neg[k - 1]).mean())


def multilabel_metrics(scores: np.ndarray,
                       targets: np.ndarray,
                       mask: Optional[np.ndarray] = None,
                       thr: float = 0.5,
                       specificity: float = 0.9) -> Dict[str, np.ndarray]:
    r"""Per-class classification metrics over multi-hot labels with ignored entries.

    For class :math:`c` only the samples with ``mask[:, c]`` True are used. With
    :math:`\hat y = [s \ge thr]`: sensitivity :math:`TP/(TP+FN)`, specificity
    :math:`TN/(TN+FP)`, :math:`F1 = 2TP/(2TP+FP+FN)` (0 when the denominator is 0,
    like scikit-learn's ``zero_division=0``). AUC and sensitivity at fixed
    specificity are NaN for a class lacking positives or negatives.

    Args:
        scores (np.ndarray): (N, C) predicted scores (probabilities or logits; the
            threshold ``thr`` must be on the same scale).
        targets (np.ndarray): (N, C) labels; 1 positive, 0 negative; any other
            value (e.g. -1 uncertain) is treated as ignored.
        mask (np.ndarray, optional): (N, C) bool, False = ignored. Default all True.
        thr (float): score threshold of the "at a threshold" operating point.
        specificity (float): the fixed specificity of ``sens_at_spec``.

    Returns:
        dict[str, np.ndarray]: each (C,) float: ``auc``, ``sensitivity``,
        ``specificity``, ``f1``, ``sens_at_spec``, ``num_pos``, ``num_neg``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets)
    if scores.ndim != 2 or scores.shape != targets.shape:
        raise ValueError(f'scores {scores.shape} and targets {targets.shape} '
                         'must both be (N, C)')
    valid = np.isin(targets, (0, 1))
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != targets.shape:
            raise ValueError(f'mask {mask.shape} must match targets '
                             f'{targets.shape}')
        valid &= mask
    positive, negative = valid & (targets == 1), valid & (targets == 0)
    called = scores >= thr
    tp = (called & positive).sum(0)
    fn = (~called & positive).sum(0)
    tn = (~called & negative).sum(0)
    fp = (called & negative).sum(0)
    with np.errstate(invalid='ignore', divide='ignore'):
        sensitivity = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        spec = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.)
    # ranks differ per class because each class has its own valid rows: one
    # rank computation per class (C is small, ~14); no loop over samples
    auc = np.array([
        _class_auc(scores[valid[:, c], c], targets[valid[:, c], c])
        for c in range(scores.shape[1])
    ])
    sens_at_spec = np.array([
        _sensitivity_at_specificity(scores[valid[:, c], c],
                                    targets[valid[:, c], c], specificity)
        for c in range(scores.shape[1])
    ])
    return dict(
        auc=auc,
        sensitivity=sensitivity.astype(np.float64),
        specificity=spec.astype(np.float64),
        f1=f1.astype(np.float64),
        sens_at_spec=sens_at_spec,
        num_pos=positive.sum(0).astype(np.float64),
        num_neg=negative.sum(0).astype(np.float64))


@METRICS.register_module()
class MultiLabelAUC(BaseMetric):
    """Per-class and macro AUC-ROC, sensitivity/specificity and macro-F1.

    Reads ``pred_score`` (C,) and ``gt_score`` (C,) or ``gt_label`` (indices) from
    each data sample, plus ``gt_label_mask`` (C,) bool (False = ignored label) and
    ``gt_label_raw`` (C,) with -1 for uncertain when the packer provides them.
    Macro averages are over the classes where the metric is defined (both a
    positive and a negative); undefined classes are counted in ``num_undefined``
    and a warning names them, never silently averaged as 0.

    Args:
        thr (float): score threshold for sensitivity, specificity and F1.
            Defaults to 0.5 (``pred_score`` of mmpretrain's multi-label heads is a
            sigmoid probability).
        specificity (float): fixed specificity for ``sens@spec``. Defaults to 0.9.
        per_class (bool): also report ``auc/<class name>``. Defaults to True.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str): metric-name prefix. Defaults to ``'multi-label'``.

    Returns (from :meth:`compute_metrics`):
        dict: ``auc_macro``, ``sensitivity``, ``specificity``, ``sens@spec{S}``,
        ``f1_macro`` (macro means in [0, 1], not percent), ``num_undefined``
        and ``auc/<class>`` per class.
    """
    default_prefix = 'multi-label'

    def __init__(self,
                 thr: float = 0.5,
                 specificity: float = 0.9,
                 per_class: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0. < specificity < 1.:
            raise ValueError(f'specificity must be in (0, 1), got {specificity}')
        self.thr = thr
        self.specificity = specificity
        self.per_class = per_class

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store score, target and mask of each sample (all (C,) numpy)."""
        for sample in data_samples:
            score = torch.as_tensor(sample['pred_score']).detach().cpu()
            num_classes = score.numel()
            if 'gt_score' in sample:
                target = torch.as_tensor(sample['gt_score']).cpu().long()
            else:
                target = torch.zeros(num_classes, dtype=torch.long)
                target[torch.as_tensor(sample['gt_label']).long()] = 1
            mask = torch.ones(num_classes, dtype=torch.bool)
            if sample.get('gt_label_mask') is not None:
                mask &= torch.as_tensor(sample['gt_label_mask']).bool().cpu()
            if sample.get('gt_label_raw') is not None:
                # uncertain labels are never scored, whatever the policy
                mask &= torch.as_tensor(sample['gt_label_raw']).cpu() >= 0
            self.results.append(
                dict(
                    score=score.float().numpy(),
                    target=target.numpy(),
                    mask=mask.numpy()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        scores = np.stack([r['score'] for r in results])
        targets = np.stack([r['target'] for r in results])
        masks = np.stack([r['mask'] for r in results])
        per_class = multilabel_metrics(scores, targets, masks, self.thr,
                                       self.specificity)
        classes = (self.dataset_meta or {}).get('classes') or [
            str(c) for c in range(scores.shape[1])
        ]
        undefined = [
            c for c, a in zip(classes, per_class['auc']) if np.isnan(a)
        ]
        if undefined:
            warnings.warn(f'MultiLabelAUC: AUC undefined (no positive or no '
                          f'negative among {len(results)} samples) for '
                          f'{len(undefined)} classes, left out of the macro '
                          f'mean: {undefined}')
        spec_tag = f'{round(self.specificity * 100):d}'
        metrics = {
            'auc_macro': _nanmean(per_class['auc']),
            'sensitivity': _nanmean(per_class['sensitivity']),
            'specificity': _nanmean(per_class['specificity']),
            f'sens@spec{spec_tag}': _nanmean(per_class['sens_at_spec']),
            'f1_macro': float(per_class['f1'][per_class['num_pos'] +
                                              per_class['num_neg'] > 0].mean())
            if (per_class['num_pos'] + per_class['num_neg']).any() else
            float('nan'),
            'num_undefined': float(len(undefined)),
        }
        if self.per_class:
            for name, value in zip(classes, per_class['auc']):
                metrics[f'auc/{name}'] = float(value)
        return metrics


def _nanmean(values: np.ndarray) -> float:
    """Mean over the defined (non-NaN) entries; NaN when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    return float(values[finite].mean()) if finite.any() else float('nan')
