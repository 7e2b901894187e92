"""Cox wrapper fixes (issue 13.8): training concordance after a proportional-hazards remedy, the
Newton step-halving retry, and the baseline guard for tiny risk sets (issue 16.4); the covariates
of a book without some columns (issue 13.1 / 16.3)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from lifelines.utils import concordance_index

from analysis.survival import CoxChurnModel, baseline_cumhaz, select_covariates


def _quiet(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, **kwargs)


def test_rossi_concordance_after_the_remedy_is_the_models_own_52_week_risk():
    rossi = load_rossi()
    plain = _quiet(CoxChurnModel(standardize=False, ph_remedy="none"), rossi, "week", "arrest")
    remedied = _quiet(CoxChurnModel(standardize=False, ph_remedy="auto"), rossi, "week", "arrest")
    assert remedied.strata_ == ["wexp"] and remedied.split_ == ["age"]
    own = remedied.predict_churn_probability(rossi, 52)  # the remedied model's risk of arrest within 52 weeks
    expected = concordance_index(rossi["week"], -own, rossi["arrest"])
    assert remedied.concordance_index_ == pytest.approx(expected, abs=1e-9)
    assert remedied.concordance_index_ == pytest.approx(0.647, abs=0.001)  # issue 13.8: not the early score's 0.606
    assert plain.concordance_index_ == pytest.approx(0.640, abs=0.001)  # unchanged without a remedy (lifelines docs)


def _hard_case():
    """Well-posed (no collinearity) but a full Newton step from zero overshoots: lifelines at its
    default step does not converge, a step of 0.25 reaches the maximum likelihood."""
    rng = np.random.default_rng(0)
    n = 300
    x1, x2 = rng.normal(size=n), rng.exponential(size=n) ** 3
    t = rng.exponential(np.exp(-(2.5 * x1 + np.log1p(x2))))
    c = rng.exponential(1.0, n)
    return pd.DataFrame({"a": x1 * 5, "b": x2 * 5, "T": np.minimum(t, c) + 1e-3, "E": (t <= c).astype(int)})


def test_newton_step_halving_reaches_the_maximum_likelihood():
    frame = _hard_case()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CoxPHFitter().fit(frame, "T", "E")  # the default step fails here
    assert any("failed to converge" in str(w.message) for w in caught)
    reference = CoxPHFitter().fit(frame, "T", "E", fit_options={"step_size": 0.25}).params_
    model = _quiet(CoxChurnModel(standardize=False, ph_remedy="none"), frame, "T", "E", numeric=["a", "b"])
    np.testing.assert_allclose(model.params_.to_numpy(), reference.to_numpy(), rtol=1e-4)
    row = model.problems_[model.problems_["problem"] == "smaller Newton step"]
    assert len(row) == 1 and "step 0.95: did not converge" in row["detail"].iloc[0]


def test_an_isolated_cancellation_alone_in_its_risk_set_does_not_explode_the_baseline():
    # 200 accounts followed to tenure 365, and one account alone beyond them that churns at 900.
    stop = np.concatenate([np.full(200, 365.0), [900.0]])
    event = np.concatenate([np.zeros(180), np.ones(20), [1]]).astype(bool)
    entry = np.concatenate([np.full(200, 270.0), [800.0]])
    lp = np.zeros(201)
    _, kp, _ = baseline_cumhaz(stop, event, entry, lp, "kalbfleisch-prentice", min_at_risk=1)
    _, guarded, _ = baseline_cumhaz(stop, event, entry, lp, "kalbfleisch-prentice", min_at_risk=10)
    _, breslow, _ = baseline_cumhaz(stop, event, entry, lp, "breslow")
    assert np.diff(kp)[-1] > 30  # unguarded: the root is infinite, the bracket's bound stands in
    assert np.diff(guarded)[-1] == pytest.approx(1.0)  # guarded: Breslow's 1 death / 1 at risk
    assert guarded[0] == pytest.approx(kp[0]) and guarded[0] > breslow[0]  # large risk sets keep KP


def test_covariates_not_in_the_book_empty_or_one_valued_are_dropped_with_a_row():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "empty": np.nan, "same": 1.0, "band": ["x", "y", "x"]})
    numeric, categorical, problems = select_covariates(frame, ["a", "empty", "same", "noise_1"], ["band", "region"])
    assert (numeric, categorical) == (["a"], ["band"])
    assert dict(zip(problems["factor"], problems["problem"])) == {
        "empty": "no values",
        "same": "one value",
        "noise_1": "not in this book",
        "region": "not in this book",
    }
    assert (problems["severity"] == "dropped").all()


def test_effect_bands_out_of_order_are_a_config_error():
    from analysis.errors import ConfigError
    from analysis.params import defaults

    with pytest.raises(ConfigError, match="effect_bands must be distinct and increasing"):
        defaults().survival.updated(effect_bands=[0.5, 0.25])


def test_a_clear_category_effect_is_a_reason_naming_the_accounts_level():
    """A category whose level is clear after correction (size_band=large here, as on a 100,000-account
    book) is named with the level the account has; the reasons once looked the dummy up as a column."""
    from analysis.survival import RenewalRiskModel

    rng = np.random.default_rng(4)
    n = 6000
    band = rng.choice(["small", "mid", "large"], n)
    x = rng.normal(size=n)
    logit = -2.2 + 1.6 * (band == "large") + 0.8 * x
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i // 2}" for i in range(n)],
            "not_renewed": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
            "renewal_year": rng.integers(1, 4, n),
            "term_group": "12 months",
            "lead_share": rng.random(n),
            "size_band": band,
            "x": x,
        }
    )
    model = _quiet(
        RenewalRiskModel(reference_levels={"size_band": "small"}), frame, numeric=["x"], categorical=["size_band"]
    )
    clear = model.summary.index[model.summary["clear"]]
    assert any(c.startswith("size_band=large") for c in clear)
    reasons = model.risk_factors(frame, 2)
    named = reasons[reasons["reason_1_factor"] == "size_band"]
    assert len(named) and (named["reason_1_level"] == "large").all() and (named["reason_1_direction"] == "level").all()
    assert (frame.loc[named.index, "size_band"] == "large").all()  # only accounts that have that level
    assert named["top_risk_factors"].str.startswith("size_band=large (x").all()
