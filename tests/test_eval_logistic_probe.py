"""Converged logistic probe on frozen embeddings."""
import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from gazeprior_mm.evaluation.logistic_probe import logistic_probe_auc


def _data(seed=0, n=200, d=16):
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 3), int)
    y[:, 0] = rng.random(n) < 0.4
    y[:, 1] = rng.random(n) < 0.3
    # class 2: no positive anywhere (undefined)
    x = rng.normal(size=(n, d))
    x[:, 0] += 4.0 * y[:, 0]  # class 0 linearly separable along dim 0
    return x, y


def test_separable_class_scores_one_noise_class_near_chance_and_undefined_counted():
    x, y = _data()
    out = logistic_probe_auc(x[:120], y[:120], x[120:], y[120:],
                             ['sep', 'noise', 'never'])
    assert out['auc/sep'] > 0.98
    assert 0.3 < out['auc/noise'] < 0.7
    assert math.isnan(out['auc/never']) and out['num_undefined'] == 1
    assert out['auc_macro'] == pytest.approx((out['auc/sep'] + out['auc/noise']) / 2)


def test_matches_a_plain_scikit_learn_fit():
    x, y = _data(seed=1)
    out = logistic_probe_auc(x[:150], y[:150], x[150:], y[150:], ['a', 'b', 'c'],
                             inverse_reg=0.5)
    scaler = StandardScaler().fit(x[:150])
    model = LogisticRegression(C=0.5, max_iter=2000).fit(scaler.transform(x[:150]),
                                                         y[:150, 1])
    want = roc_auc_score(y[150:, 1], model.decision_function(scaler.transform(x[150:])))
    assert out['auc/b'] == pytest.approx(want, abs=1e-9)
    with pytest.raises(ValueError, match='dims'):
        logistic_probe_auc(x[:10], y[:10], x[10:, :3], y[10:], ['a', 'b', 'c'])
