"""``TreeReuse``: a boosting model's predictions on a matrix with a few changed columns, reusing
the trees that do not split on them, equal the model's own bit for bit."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import partial_dependence, permutation_importance

from analysis.drivers.tree_reuse import TreeReuse


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(11)
    n = 1500
    X = np.column_stack(
        [
            rng.normal(size=n),
            rng.integers(0, 4, size=n).astype(float),  # a category (codes)
            rng.exponential(size=n),
            rng.normal(size=n),
            rng.normal(size=n),  # noise: few trees split on it
        ]
    )
    X[rng.uniform(size=n) < 0.1, 2] = np.nan
    logit = 1.2 * X[:, 0] - 0.8 * (X[:, 1] == 2) + 0.5 * np.nan_to_num(X[:, 2]) + 0.3 * X[:, 3] ** 2
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    is_cat = np.array([False, True, False, False, False])
    model = HistGradientBoostingClassifier(
        max_iter=60, max_leaf_nodes=7, random_state=0, categorical_features=is_cat
    ).fit(X, y)
    return model, X[:400].copy(), y[:400], is_cat


def _variants(X):
    rng = np.random.default_rng(5)
    shuffled = X.copy()
    shuffled[:, 0] = shuffled[rng.permutation(len(X)), 0]
    constant = X.copy()
    constant[:, 2] = 0.7
    category = X.copy()
    category[:, 1] = 3.0
    two = shuffled.copy()
    two[:, 4] = np.nan
    return {"same": X.copy(), "shuffled": shuffled, "constant": constant, "category": category, "two": two}


def test_every_variant_equals_the_model_bit_for_bit(fitted):
    model, X, _, _ = fitted
    reuse = TreeReuse(model, X)
    assert reuse.reusable_
    for name, variant in _variants(X).items():
        assert np.array_equal(reuse.decision_function(variant), model.decision_function(variant)), name
        assert np.array_equal(reuse.predict_proba(variant), model.predict_proba(variant)), name


def test_some_trees_are_reused_when_one_column_changes(fitted):
    model, X, _, _ = fitted
    reuse = TreeReuse(model, X)
    assert 0 < sum(4 not in s for s in reuse._splits_on) <= len(reuse._trees)
    assert any(4 not in s for s in reuse._splits_on)  # the noise column: most trees never split on it


def test_another_shape_goes_to_the_model_and_another_memory_layout_is_reused(fitted):
    model, X, _, _ = fitted
    reuse = TreeReuse(model, X)
    assert np.array_equal(reuse.decision_function(X[:50]), model.decision_function(X[:50]))
    fortran = np.asfortranarray(_variants(X)["shuffled"])
    assert np.array_equal(reuse.predict_proba(fortran), model.predict_proba(fortran))


def test_scikit_learns_permutation_importance_and_partial_dependence_are_unchanged(fitted):
    model, X, y, is_cat = fitted
    reuse = TreeReuse(model, X)
    got = permutation_importance(reuse, X, y, scoring="roc_auc", n_repeats=3, random_state=1)
    expected = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=3, random_state=1)
    assert np.array_equal(got.importances, expected.importances)
    for j in range(X.shape[1]):
        kwargs = {"categorical_features": is_cat, "kind": "average", "grid_resolution": 8, "method": "brute"}
        a = partial_dependence(reuse, X, [j], response_method="predict_proba", **kwargs)
        b = partial_dependence(model, X, [j], response_method="predict_proba", **kwargs)
        assert np.array_equal(a["average"], b["average"]), j


def test_a_multiclass_model_is_asked_directly():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, size=300)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    reuse = TreeReuse(model, X)
    assert not reuse.reusable_
    assert np.array_equal(reuse.predict_proba(X), model.predict_proba(X))


def test_it_refuses_to_be_fitted(fitted):
    model, X, y, _ = fitted
    with pytest.raises(TypeError, match="fit the model itself"):
        TreeReuse(model, X).fit(X, y)


def test_only_the_trees_that_split_on_a_changed_column_run_again(fitted, monkeypatch):
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    model, X, _, _ = fitted
    reuse = TreeReuse(model, X)
    calls = []
    original = TreePredictor.predict
    monkeypatch.setattr(TreePredictor, "predict", lambda self, *a, **k: calls.append(self) or original(self, *a, **k))
    noise = _variants(X)["two"].copy()
    noise[:, :4] = X[:, :4]  # only the noise column differs
    assert np.array_equal(reuse.decision_function(noise), model.decision_function(noise))
    rerun = len(calls) - len(reuse._trees)  # the model's own call runs every tree
    assert rerun == sum(4 in s for s in reuse._splits_on) < len(reuse._trees)


def test_a_reference_changed_in_place_afterwards_does_not_change_the_cache():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 3))
    y = (X[:, 0] + rng.normal(size=500) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)  # no categories
    reuse = TreeReuse(model, X)
    X[:, 1] = 0.0  # the caller edits its own array
    assert np.array_equal(reuse.decision_function(X), model.decision_function(X))


def test_early_stopping_keeps_the_predictions_equal():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(3000, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=3000) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=0).fit(X, y)
    assert model.n_iter_ < 200
    reuse = TreeReuse(model, X[:500].copy())
    shuffled = X[:500].copy()
    shuffled[:, 2] = shuffled[::-1, 2]
    assert np.array_equal(reuse.predict_proba(shuffled), model.predict_proba(shuffled))
