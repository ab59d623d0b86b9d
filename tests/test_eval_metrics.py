"""MultiLabelAUC and its maths against scikit-learn."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score, roc_curve

from gazeprior_mm.evaluation.metrics.multilabel_auc import (MultiLabelAUC,
                                                            multilabel_metrics)


def _fixed_inputs(n=60, c=5, seed=3):
    rng = np.random.default_rng(seed)
    targets = (rng.random((n, c)) < 0.35).astype(int)
    # informative but noisy scores, rounded to 1 decimal to create ties
    scores = np.round(np.clip(0.3 * targets + rng.random((n, c)) * 0.8, 0, 1),
                      1)
    return scores, targets


def _sklearn_sens_at_spec(y, s, spec):
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return tpr[(1 - fpr) >= spec - 1e-12].max()


def test_against_sklearn_unmasked():
    scores, targets = _fixed_inputs()
    out = multilabel_metrics(scores, targets, thr=0.5, specificity=0.8)
    for c in range(scores.shape[1]):
        assert out['auc'][c] == pytest.approx(
            roc_auc_score(targets[:, c], scores[:, c]))
        tn, fp, fn, tp = confusion_matrix(
            targets[:, c], scores[:, c] >= 0.5, labels=[0, 1]).ravel()
        assert out['sensitivity'][c] == pytest.approx(tp / (tp + fn))
        assert out['specificity'][c] == pytest.approx(tn / (tn + fp))
        assert out['sens_at_spec'][c] == pytest.approx(
            _sklearn_sens_at_spec(targets[:, c], scores[:, c], 0.8))
    assert out['f1'].mean() == pytest.approx(
        f1_score(targets, scores >= 0.5, average='macro', zero_division=0))


def test_mask_and_uncertain_are_ignored():
    scores, targets = _fixed_inputs()
    mask = np.random.default_rng(0).random(targets.shape) > 0.3
    targets_u = targets.copy()
    targets_u[5, 1] = -1  # uncertain: ignored whatever the mask says
    out = multilabel_metrics(scores, targets_u, mask)
    for c in range(scores.shape[1]):
        keep = mask[:, c] & (targets_u[:, c] >= 0)
        assert out['auc'][c] == pytest.approx(
            roc_auc_score(targets[keep, c], scores[keep, c]))
        assert out['f1'][c] == pytest.approx(
            f1_score(targets[keep, c], scores[keep, c] >= 0.5,
                     zero_division=0))


def test_undefined_class_is_nan_and_counted():
    scores, targets = _fixed_inputs(c=3)
    targets[:, 2] = 0
    out = multilabel_metrics(scores, targets)
    assert np.isnan(out['auc'][2]) and np.isfinite(out['auc'][:2]).all()

    metric = MultiLabelAUC(specificity=0.9)
    metric.dataset_meta = dict(classes=['a', 'b', 'c'])
    samples = []
    for s, t in zip(scores, targets):
        ds = DataSample().set_pred_score(torch.tensor(s, dtype=torch.float32))
        ds.set_gt_label(torch.tensor(np.flatnonzero(t)))
        samples.append(ds.to_dict())
    metric.process(None, samples)
    with pytest.warns(UserWarning, match="'c'"):
        res = metric.evaluate(len(samples))
    assert res['multi-label/num_undefined'] == 1
    expected = np.mean([roc_auc_score(targets[:, c], scores[:, c])
                        for c in range(2)])
    assert res['multi-label/auc_macro'] == pytest.approx(expected, abs=1e-6)
    assert res['multi-label/auc/a'] == pytest.approx(
        roc_auc_score(targets[:, 0], scores[:, 0]), abs=1e-6)
    assert 'multi-label/sens@spec90' in res


def test_metric_reads_gt_label_mask():
    scores, targets = _fixed_inputs(c=2)
    mask = np.ones_like(targets, dtype=bool)
    mask[:20, 0] = False
    metric = MultiLabelAUC(per_class=True)
    metric.dataset_meta = dict(classes=['a', 'b'])
    samples = [
        dict(pred_score=torch.tensor(s), gt_score=torch.tensor(t),
             gt_label_mask=torch.tensor(m))
        for s, t, m in zip(scores, targets, mask)
    ]
    metric.process(None, samples)
    res = metric.evaluate(len(samples))
    assert res['multi-label/auc/a'] == pytest.approx(
        roc_auc_score(targets[20:, 0], scores[20:, 0]), abs=1e-6)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match='must both be'):
        multilabel_metrics(np.zeros((3, 2)), np.zeros((3, 3)))
