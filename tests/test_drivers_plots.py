"""The drivers notebook's plots never fail on a book too small for the model (an 800-account book
once stopped notebook 05 with KeyError 'unit'): they say the model could not be fitted."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from analysis import drivers


def test_an_unfitted_model_gives_a_note_instead_of_a_forest():
    empty = pd.DataFrame(columns=["odds_ratio", "rank"])  # what DriversResult.summary is without a model
    ax = drivers.plot_forest(empty, top=15)
    assert [t.get_text() for t in ax.texts] == ["The renewal model could not be fitted (see the notes above)"]
    ax = drivers.plot_importance(pd.DataFrame(columns=["importance", "importance_std"]))
    assert "could not run" in ax.texts[0].get_text()
