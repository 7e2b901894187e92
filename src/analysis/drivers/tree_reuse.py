"""Predictions of a fitted gradient-boosting classifier on copies of one matrix in which a few
columns changed, reusing the trees that never split on those columns.

Permutation importance shuffles one column at a time and partial dependence sets one column to
each grid value, so nearly every prediction they ask for differs from a reference matrix in one
column. A tree that never splits on that column gives every row the same value as on the
reference, so only the trees that do (about 44% of them on the sample book) are run again. The
sums are added up tree by tree in the model's own order, so the predictions are equal bit for
bit to the model's (tests/test_drivers_tree_reuse.py), and scikit-learn's own
``permutation_importance`` and ``partial_dependence`` do the rest. Written here because neither
scikit-learn nor another library reuses per-tree predictions; on the sample book it cut the
boosting check of notebook 05 from 8.5 s to 5.5 s.

It reads scikit-learn's fitted trees (``_predictors``, ``_baseline_prediction``, ``_bin_mapper``,
``_preprocess_X`` and each tree's ``predict``), which are not public: when the attributes it checks
are missing or the model is not a binary classifier, every call goes to the model itself; other
changes in another scikit-learn make it raise, and the tests compare it with the model bit for bit.
The trees and the reference are taken when it is made: refit the model, make a new one.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

_INTERNALS = ("_predictors", "_baseline_prediction", "_bin_mapper", "_preprocess_X", "_raw_predict", "_loss")


class TreeReuse(ClassifierMixin, BaseEstimator):
    """``model`` (a fitted ``HistGradientBoostingClassifier``) that answers ``decision_function``
    and ``predict_proba`` for matrices shaped like ``reference`` by re-running only the trees that
    split on a column that differs from it."""

    def __init__(self, model, reference: np.ndarray) -> None:
        self.model = model
        self.reference = reference
        self.classes_ = model.classes_
        self.reusable_ = all(hasattr(model, name) for name in _INTERNALS) and model.n_trees_per_iteration_ == 1
        if not self.reusable_:
            return
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        known_categories, feature_map = model._bin_mapper.make_known_categories_bitsets()
        self._predict = {
            "known_cat_bitsets": known_categories,
            "f_idx_map": feature_map,
            "n_threads": _openmp_effective_n_threads(),
        }
        # A copy: without categories the model's check returns the caller's own array, which
        # the caller may change later (the cached values would then be stale).
        self._reference = np.array(model._preprocess_X(reference, reset=False), copy=True)
        self._trees = [iteration[0] for iteration in model._predictors]
        self._splits_on = [_split_features(tree.nodes) for tree in self._trees]
        self._cached = [tree.predict(self._reference, **self._predict) for tree in self._trees]

    def fit(self, X, y):  # scikit-learn's checks ask for it; the model is fitted already
        raise TypeError("TreeReuse wraps a fitted model; fit the model itself.")

    def _raw(self, X) -> np.ndarray:
        model = self.model
        if np.shape(X) != np.shape(self.reference):
            return model._raw_predict(X)
        X = model._preprocess_X(X, reset=False)  # the model's own checks and category encoding
        same = (self._reference == X) | (np.isnan(X) & np.isnan(self._reference))
        changed = set(np.flatnonzero(~same.all(axis=0)).tolist())
        # As the model's _raw_predict: zeros + baseline, then each tree's values added in order.
        raw = np.zeros((X.shape[0], 1), dtype=model._baseline_prediction.dtype, order="F")
        raw += model._baseline_prediction
        for tree, splits_on, cached in zip(self._trees, self._splits_on, self._cached, strict=True):
            raw[:, 0] += tree.predict(X, **self._predict) if splits_on & changed else cached
        return raw

    def decision_function(self, X) -> np.ndarray:
        if not self.reusable_:
            return self.model.decision_function(X)
        return self._raw(X).ravel()

    def predict_proba(self, X) -> np.ndarray:
        if not self.reusable_:
            return self.model.predict_proba(X)
        return self.model._loss.predict_proba(self._raw(X))


def _split_features(nodes: np.ndarray) -> set[int]:
    """The columns a fitted tree splits on (its non-leaf nodes' features)."""
    return set(np.unique(nodes["feature_idx"][~nodes["is_leaf"].astype(bool)]).tolist())
