"""K-means fits are remembered by their inputs (the final model and the runner-up reuse the k
selection's fits): the same inputs give the very fit a fresh K-means gives, other inputs a new one."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from analysis.segments import selection


def test_a_remembered_fit_is_the_fit_a_fresh_kmeans_gives_and_other_inputs_refit():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(c, 0.3, size=(200, 4)) for c in (0, 2, 4)])
    first = selection._kmeans(3, 2, 11, X)
    assert selection._kmeans(3, 2, 11, X.copy()) is first  # equal data, not only the same array
    fresh = KMeans(n_clusters=3, n_init=2, random_state=11).fit(X)
    np.testing.assert_array_equal(first.cluster_centers_, fresh.cluster_centers_)
    np.testing.assert_array_equal(first.labels_, fresh.labels_)
    changed = X.copy()
    changed[0, 0] += 1e-9
    for other in (selection._kmeans(4, 2, 11, X), selection._kmeans(3, 2, 12, X), selection._kmeans(3, 2, 11, changed)):
        assert other is not first
    for k in range(2, 2 + 2 * selection._KMEANS_KEPT):  # never more than a few are kept
        selection._kmeans(k, 1, 0, X[:50])
    assert len(selection._KMEANS_FITS) <= selection._KMEANS_KEPT
