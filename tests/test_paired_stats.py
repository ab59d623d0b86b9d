"""Paired differences between compared methods: t interval over seeds, two-level
bootstrap of macro AUC, verdict wording."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from gazeprior_mm.evaluation.paired import (macro_auc, paired_bootstrap_auc,
                                            seed_interval, verdict)


def test_seed_interval_hand_computed():
    # diffs 0.01, 0.03, 0.02: mean 0.02, sd 0.01, se 0.01 / sqrt(3);
    # t(0.975, 2) = 4.302653, so the half width is 0.0248414
    out = seed_interval([0.01, 0.03, 0.02])
    assert out['mean'] == pytest.approx(0.02)
    assert out['ci95'] == pytest.approx([0.02 - 0.0248414, 0.02 + 0.0248414],
                                        abs=1e-6)
    assert out['n'] == 3
    assert seed_interval([0.05, float('nan')]) == dict(mean=0.05, ci95=None,
                                                       n=1, method='t')
    assert seed_interval([])['mean'] is None


def test_macro_auc_matches_sklearn_with_ties_and_undefined_classes():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 4)) < 0.3).astype(int)
    labels[:, 3] = 0  # no positive: undefined, left out of the mean
    scores = np.round(rng.normal(size=(60, 4)) + labels, 1)  # ties
    expected = np.mean([roc_auc_score(labels[:, c], scores[:, c])
                        for c in range(3)])
    assert macro_auc(scores[None], labels[None])[0] == pytest.approx(expected)
    nan_scores = scores.copy()
    nan_scores[:, 0] = np.nan  # a class the probe did not score
    expected = np.mean([roc_auc_score(labels[:, c], scores[:, c])
                        for c in (1, 2)])
    assert macro_auc(nan_scores[None], labels[None])[0] == pytest.approx(expected)


def test_paired_bootstrap():
    rng = np.random.default_rng(1)
    labels = (rng.random((80, 3)) < 0.4).astype(int)
    noise = [rng.normal(size=(80, 3)) for _ in range(3)]
    good = [labels * 1.5 + n for n in noise]
    # A == B: the difference and its interval are exactly 0
    same = paired_bootstrap_auc(good, good, labels, num_boot=200)
    assert same['mean'] == 0 and same['ci95'] == [0.0, 0.0]
    # informative vs pure-noise scores: a clearly positive interval
    bad = [rng.normal(size=(80, 3)) for _ in range(3)]
    out = paired_bootstrap_auc(good, bad, labels, num_boot=300)
    full = np.mean([macro_auc(g[None], labels[None])[0]
                    - macro_auc(b[None], labels[None])[0]
                    for g, b in zip(good, bad)])
    assert out['mean'] == pytest.approx(full)
    assert 0 < out['ci95'][0] < out['mean'] < out['ci95'][1]
    # reversed order: the mirrored interval
    back = paired_bootstrap_auc(bad, good, labels, num_boot=300)
    assert back['mean'] == pytest.approx(-out['mean'])
    assert back['ci95'] == pytest.approx([-out['ci95'][1], -out['ci95'][0]])
    with pytest.raises(ValueError, match='pair up'):
        paired_bootstrap_auc(good, [b[:10] for b in bad], labels)


def test_verdict_words():
    assert verdict(dict(mean=0.031, ci95=[0.012, 0.05])) == \
        'gaze adds +0.031 [+0.012, +0.050]'
    assert verdict(dict(mean=-0.03, ci95=[-0.05, -0.01])).startswith(
        'gaze costs')
    assert verdict(dict(mean=0.004, ci95=[-0.01, 0.018])) == \
        'no detectable gaze effect (+0.004 [-0.010, +0.018])'
    assert 'no interval' in verdict(dict(mean=0.1, ci95=None))
    assert verdict(dict(mean=None)) == 'not measured'
