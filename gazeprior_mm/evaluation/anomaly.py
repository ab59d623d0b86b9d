"""Anomaly detection on frozen embeddings: fit on normal images, score all.

A detector sees only the embeddings of *normal* training images ("No Finding") and
scores how unlike them each test image is; AUC-ROC of that score against
normal-vs-abnormal measures how well the frozen representation separates disease
without any label-supervised training.
"""
from typing import Dict

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM


def anomaly_scores(train_normal: np.ndarray,
                   test: np.ndarray,
                   method: str = 'ocsvm',
                   nu: float = 0.1,
                   n_components: int = 1,
                   seed: int = 0) -> np.ndarray:
    """Anomaly score (higher = more abnormal) of each test embedding.

    Embeddings are L2-normalised (contrastive features live on the sphere) and
    standardised with statistics of the normal training set.

    * ``'ocsvm'``: RBF one-class SVM (``gamma='scale'``, ``nu``); score =
      ``-decision_function``.
    * ``'gmm'``: Gaussian mixture with ``n_components`` full-covariance components
      (``reg_covar`` 1e-3 for small sets); score = ``-log p(x)``.

    Args:
        train_normal (np.ndarray): (N_train, D) embeddings of normal images.
        test (np.ndarray): (N_test, D) embeddings to score.
        method (str): ``'ocsvm'`` or ``'gmm'``.
        nu (float): one-class SVM's bound on the training outlier fraction.
        n_components (int): GMM components.
        seed (int): GMM initialisation seed.

    Returns:
        np.ndarray: (N_test,) anomaly scores.
    """
    train_normal = _l2_normalise(train_normal)
    test = _l2_normalise(test)
    if len(train_normal) < 2:
        raise ValueError(f'need >= 2 normal training embeddings, got '
                         f'{len(train_normal)}')
    scaler = StandardScaler().fit(train_normal)
    train_normal, test = scaler.transform(train_normal), scaler.transform(test)
    if method == 'ocsvm':
        detector = OneClassSVM(kernel='rbf', gamma='scale', nu=nu)
        return -detector.fit(train_normal).decision_function(test)
    if method == 'gmm':
        detector = GaussianMixture(
            n_components=n_components, reg_covar=1e-3, random_state=seed)
        return -detector.fit(train_normal).score_samples(test)
    raise ValueError(f"method must be 'ocsvm' or 'gmm', got {method!r}")


def anomaly_auc(train_normal: np.ndarray,
                test: np.ndarray,
                test_is_abnormal: np.ndarray,
                method: str = 'ocsvm',
                **kwargs) -> Dict[str, float]:
    """AUC-ROC of :func:`anomaly_scores` for normal (0) vs abnormal (1).

    Returns:
        dict: ``anomaly_auc``, ``num_normal``, ``num_abnormal``.
    """
    test_is_abnormal = np.asarray(test_is_abnormal).astype(bool)
    num_abnormal = int(test_is_abnormal.sum())
    if num_abnormal == 0 or num_abnormal == len(test_is_abnormal):
        raise ValueError('the test set needs both normal and abnormal images, '
                         f'got {num_abnormal} abnormal of '
                         f'{len(test_is_abnormal)}')
    scores = anomaly_scores(train_normal, test, method, **kwargs)
    return dict(
        anomaly_auc=float(roc_auc_score(test_is_abnormal, scores)),
        num_normal=float(len(test_is_abnormal) - num_abnormal),
        num_abnormal=float(num_abnormal))


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f'embeddings must be (N, D), got {x.shape}')
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
