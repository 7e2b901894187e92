"""The k selection's silhouettes share one distance matrix and equal sklearn's, bit for bit."""

import numpy as np
import pytest
import sklearn
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from analysis.segments.selection import _silhouettes


def _labellings(X, ks):
    return [KMeans(k, n_init=1, random_state=k).fit(X).labels_ for k in ks]


@pytest.mark.parametrize("working_memory", [None, 1])  # 1 MB: many chunks of rows
def test_each_silhouette_equals_silhouette_score_bit_for_bit(working_memory):
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(c, 1.0, size=(300, 6)) for c in (0, 3, 6)])
    labellings = _labellings(X, range(2, 7))
    with sklearn.config_context(working_memory=working_memory or 1024):
        got = _silhouettes(X, labellings)
        expected = [float(silhouette_score(X, labels)) for labels in labellings]
    assert got == expected


def test_the_distances_are_assembled_from_every_chunk():
    from sklearn.metrics import euclidean_distances

    from analysis.segments.selection import _distances

    rng = np.random.default_rng(6)
    X = rng.normal(size=(700, 4))
    with sklearn.config_context(working_memory=1):  # chunks of about 190 rows
        D = _distances(X)
    assert D.shape == (700, 700) and np.allclose(D, euclidean_distances(X)) and (np.diag(D) == 0).all()


def test_a_labelling_with_one_cluster_has_no_silhouette_and_the_others_keep_theirs():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    two = (X[:, 0] > 0).astype(int)
    got = _silhouettes(X, [np.zeros(200, dtype=int), two])
    assert np.isnan(got[0])
    assert got[1] == float(silhouette_score(X, two))
    assert all(np.isnan(_silhouettes(X, [np.zeros(200, dtype=int)])))
