"""Anomaly detection on frozen embeddings and the 1 % label split."""
import numpy as np
import pytest

from gazeprior_mm.evaluation.anomaly import anomaly_auc, anomaly_scores
from gazeprior_mm.evaluation.label_fraction import label_fraction_indices


@pytest.mark.parametrize('method', ['ocsvm', 'gmm'])
def test_separable_toy_gives_auc_1(method):
    rng = np.random.default_rng(0)
    normal_dir = np.zeros(8)
    normal_dir[0] = 1
    abnormal_dir = np.zeros(8)
    abnormal_dir[1] = 1
    train = normal_dir + 0.05 * rng.standard_normal((40, 8))
    test = np.concatenate([normal_dir + 0.05 * rng.standard_normal((10, 8)),
                           abnormal_dir + 0.05 * rng.standard_normal((10, 8))])
    labels = np.r_[np.zeros(10), np.ones(10)]
    out = anomaly_auc(train, test, labels, method=method)
    assert out['anomaly_auc'] == 1.0
    assert out['num_normal'] == 10 and out['num_abnormal'] == 10
    # a random embedding carries no signal: AUC well below 1
    noise = rng.standard_normal((20, 8))
    assert anomaly_auc(rng.standard_normal((40, 8)), noise, labels,
                       method=method)['anomaly_auc'] < 0.9


def test_anomaly_errors():
    with pytest.raises(ValueError, match='both normal and abnormal'):
        anomaly_auc(np.ones((4, 2)), np.ones((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match='method'):
        anomaly_scores(np.random.rand(4, 2), np.random.rand(3, 2), 'knn')


def test_label_fraction_is_deterministic_and_covers_classes():
    rng = np.random.default_rng(0)
    labels = (rng.random((500, 6)) < 0.1).astype(int)
    labels[:, 5] = 0
    labels[123, 5] = 1  # a class with a single positive
    idx = label_fraction_indices(labels, 0.01, seed=4)
    np.testing.assert_array_equal(idx, label_fraction_indices(labels, 0.01, 4))
    assert not np.array_equal(idx, label_fraction_indices(labels, 0.01, 5))
    assert len(idx) == max(5, len(np.unique(idx)))
    assert 123 in idx
    assert labels[idx].any(0)[labels.any(0)].all()
    assert len(label_fraction_indices(labels, 0.2, 0)) == 100
    with pytest.raises(ValueError):
        label_fraction_indices(labels, 0.0)
