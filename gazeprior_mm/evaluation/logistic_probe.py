"""Converged linear probe on frozen embeddings: per-class logistic regression.

mmpretrain's linear probe (``configs/benchmarks/``) trains a linear head by SGD/AdamW
for a fixed number of epochs, which is the protocol of the literature but, at a small
CPU budget, can stop long before the head has converged (then every backbone scores
near chance, the random one included). This probe fits the same linear model to
convergence, so the score depends on the frozen features only:

.. math::

    \\hat w_c = \\arg\\min_w \\sum_n \\log(1 + e^{-y_{nc} w^\\top \\hat x_n})
        + \\frac{1}{2C} \\|w\\|^2, \\qquad \\hat x = \\text{standardised } x

per class c (scikit-learn's L-BFGS ``LogisticRegression``), then the AUC-ROC of
``w_c^T x`` on the test split, macro-averaged over the classes that have both
labels in the training and in the test split (the others are reported as NaN and
counted).
"""
from typing import Dict, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def logistic_probe_auc(train_x: np.ndarray, train_y: np.ndarray,
                       test_x: np.ndarray, test_y: np.ndarray,
                       classes: Sequence[str], inverse_reg: float = 1.0,
                       max_iter: int = 2000,
                       return_scores: bool = False) -> Dict[str, float]:
    """Per-class AUC of converged logistic regressions on frozen embeddings.

    Args:
        train_x (np.ndarray): (N_train, D) embeddings.
        train_y (np.ndarray): (N_train, C) multi-hot labels (1 positive).
        test_x (np.ndarray): (N_test, D) embeddings.
        test_y (np.ndarray): (N_test, C) multi-hot labels.
        classes (Sequence[str]): the C class names.
        inverse_reg (float): C of scikit-learn (inverse L2 strength).
        max_iter (int): L-BFGS iterations (convergence is checked; a class that
            does not converge raises).
        return_scores (bool): also return ``scores``, the (N_test, C) decision
            values (NaN columns for undefined classes), for paired statistics.

    Returns:
        dict: ``auc_macro``, ``auc/<class>`` (NaN where undefined) and
        ``num_undefined``; with ``return_scores`` also ``scores``.
    """
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f'train embeddings have {train_x.shape[1]} dims, test '
                         f'{test_x.shape[1]}')
    scaler = StandardScaler().fit(train_x)
    train_x, test_x = scaler.transform(train_x), scaler.transform(test_x)
    train_y, test_y = np.asarray(train_y) == 1, np.asarray(test_y) == 1
    out, aucs = {}, []
    scores = np.full(test_y.shape, np.nan)
    for c, name in enumerate(classes):  # one small convex fit per class
        defined = (0 < train_y[:, c].sum() < len(train_y)
                   and 0 < test_y[:, c].sum() < len(test_y))
        if not defined:
            out[f'auc/{name}'] = float('nan')
            continue
        model = LogisticRegression(C=inverse_reg, max_iter=max_iter)
        model.fit(train_x, train_y[:, c])
        if model.n_iter_[0] >= max_iter:
            raise RuntimeError(f'logistic probe for {name!r} did not converge in '
                               f'{max_iter} iterations')
        scores[:, c] = model.decision_function(test_x)
        auc = float(roc_auc_score(test_y[:, c], scores[:, c]))
        out[f'auc/{name}'] = auc
        aucs.append(auc)
    out['auc_macro'] = float(np.mean(aucs)) if aucs else float('nan')
    out['num_undefined'] = float(len(classes) - len(aucs))
    if return_scores:
        out['scores'] = scores
    return out
