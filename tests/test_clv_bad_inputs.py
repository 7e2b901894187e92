"""Every bad input named in the CLV issue gives a clear, named error (or a stated fallback)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.clv import BetaGeoModel, GammaGammaModel
from analysis.errors import ConfigError, ConvergenceError, DataContractError, InsufficientDataError


def rfm(frequency, recency, T, monetary=None):
    frame = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})
    if monetary is not None:
        frame["monetary_value"] = monetary
    return frame


@pytest.mark.parametrize("monetary", [0.0, -12.5])
def test_zero_or_negative_spend_is_refused_by_the_spend_model(monetary):
    data = rfm([1, 2, 3], [5.0, 6, 7], [10.0, 10, 10], [20.0, monetary, 30.0])
    with pytest.raises(DataContractError, match="positive mean spend.*1 have zero, negative"):
        GammaGammaModel().fit(data)


def test_recency_greater_than_T():
    with pytest.raises(DataContractError, match="recency greater than T"):
        BetaGeoModel().fit(rfm([1, 2], [12.0, 3.0], [10.0, 10.0]), time_unit="weeks")


def test_non_integer_frequency():
    with pytest.raises(DataContractError, match="not a whole number"):
        BetaGeoModel().fit(rfm([1.5, 2], [3.0, 3.0], [10.0, 10.0]), time_unit="weeks")
    with pytest.raises(DataContractError, match="whole number"):
        GammaGammaModel().fit(rfm([1.5, 2], [3.0, 3.0], [10.0, 10.0], [5.0, 6.0]))


def test_negative_missing_and_inconsistent_values_are_listed_together():
    data = rfm([-1, 2, 0, 1], [1.0, float("nan"), 2.0, 1.0], [10.0, 10.0, 10.0, -3.0])
    with pytest.raises(DataContractError) as err:
        BetaGeoModel().fit(data, time_unit="weeks")
    text = str(err.value)
    for phrase in ("not a whole number", "missing", "recency != 0 with frequency 0", "negative T"):
        assert phrase in text


def test_empty_input():
    with pytest.raises(InsufficientDataError, match="empty"):
        BetaGeoModel().fit(rfm([], [], []), time_unit="weeks")
    with pytest.raises(InsufficientDataError, match="No repeat buyers"):
        GammaGammaModel().fit(rfm([], [], [], []))


def test_missing_columns_say_which():
    with pytest.raises(DataContractError, match=r"missing \['T'\]"):
        BetaGeoModel().fit(pd.DataFrame({"frequency": [1], "recency": [1.0]}), time_unit="weeks")


def test_nobody_repeating():
    data = rfm([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0], [0.0, 0.0, 0.0])
    with pytest.raises(InsufficientDataError, match="Nobody made a repeat purchase"):
        BetaGeoModel().fit(data, time_unit="weeks")
    with pytest.raises(InsufficientDataError, match="No repeat buyers"):
        GammaGammaModel().fit(data)


def test_non_convergence_names_what_to_try(cdnow):
    with pytest.raises(ConvergenceError, match="did not converge.*Try: express time in weeks"):
        BetaGeoModel().fit(cdnow, time_unit="weeks", max_iter=1)
    with pytest.raises(ConvergenceError, match="Try: check that monetary_value"):
        GammaGammaModel().fit(cdnow, max_iter=1)


def test_time_unit_must_be_named_and_known():
    data = rfm([1, 0], [3.0, 0.0], [10.0, 10.0])
    with pytest.raises(TypeError):
        BetaGeoModel().fit(data)  # no default unit: every call says which one
    with pytest.raises(ConfigError, match="Unknown time unit 'fortnights'"):
        BetaGeoModel().fit(data, time_unit="fortnights")


def test_predicting_before_fitting():
    with pytest.raises(AttributeError, match="not fitted"):
        BetaGeoModel().predict_p_alive(rfm([1], [3.0], [10.0]), "weeks")
