"""Composite score: normalisations, directions, contributions, missing-value policies, config errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis import params as config
from analysis.errors import ConfigError, DataContractError
from analysis.params import CriterionParams
from analysis.scoring import score as scoring

IDX = pd.Index(["a1", "a2", "a3"], name="account_id")
POLICY = {"missing": "neutral", "neutral_value": 0.5, "zscore_clip": 3.0, "normalise_weights": False}
CRITERION = {"direction": "benefit", "normalise": "percentile"}  # what a criterion that says nothing else means here


def spec_of(criteria: dict, **policy) -> scoring.ScoringSpec:
    typed = {name: CriterionParams(**{**CRITERION, **c}) for name, c in criteria.items()}
    return scoring.ScoringSpec.from_criteria(typed, **{**POLICY, **policy})


def invalid(**scoring_changes) -> str:
    """The ConfigError of the shipped parameters with some scoring keys replaced (not merged)."""
    raw = config.raw_params()
    raw["scoring"].update(scoring_changes)
    with pytest.raises(ConfigError) as err:
        config.validate_params(raw)
    return str(err.value)


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols, index=IDX)


def test_minmax_benefit_and_cost():
    spec = spec_of(
        {
            "rev": {"normalise": "minmax", "weight": 0.5},
            "delay": {"normalise": "minmax", "direction": "cost", "weight": 0.5},
        }
    )
    m = scoring.criteria_matrix(frame(rev=[0.0, 50.0, 100.0], delay=[10.0, 20.0, 30.0]), spec)
    assert m["rev"].tolist() == [0.0, 0.5, 1.0]
    assert m["delay"].tolist() == [1.0, 0.5, 0.0]


def test_percentile_is_mid_rank_and_cost_reverses_it_exactly():
    spec = spec_of(
        {
            "x": {"normalise": "percentile", "weight": 0.5},
            "y": {"column": "x", "normalise": "percentile", "direction": "cost", "weight": 0.5},
        }
    )
    m = scoring.criteria_matrix(frame(x=[5.0, 1.0, 9.0]), spec)
    np.testing.assert_allclose(m["x"], [0.5, 1 / 6, 5 / 6])
    np.testing.assert_allclose(m["y"], 1 - m["x"])


def test_zscore_is_clipped_and_mapped_to_unit_interval():
    spec = spec_of({"x": {"normalise": "zscore", "weight": 1.0}}, zscore_clip=1.0)
    values = [-100.0] + [0.0] * 98 + [100.0]
    m = scoring.criteria_matrix(pd.DataFrame({"x": values}), spec)
    assert m["x"].iloc[0] == 0.0 and m["x"].iloc[-1] == 1.0 and m["x"].iloc[1] == 0.5


def test_range_bounds_clip_and_signed_log():
    spec = spec_of(
        {
            "nps": {"normalise": "range", "bounds": [0, 10], "weight": 0.5},
            "margin": {"normalise": "minmax", "log": True, "weight": 0.5},
        }
    )
    m = scoring.criteria_matrix(frame(nps=[-3.0, 5.0, 12.0], margin=[-np.expm1(2), 0.0, np.expm1(2)]), spec)
    assert m["nps"].tolist() == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(m["margin"], [0.0, 0.5, 1.0])  # log keeps the sign of a loss


def test_contributions_sum_to_score_and_extremes_are_0_and_100():
    spec = spec_of(
        {
            "rev": {"normalise": "minmax", "weight": 0.7},
            "delay": {"normalise": "minmax", "direction": "cost", "weight": 0.3},
        }
    )
    out = scoring.score_accounts(frame(rev=[0.0, 50.0, 100.0], delay=[30.0, 20.0, 10.0]), spec)
    assert out["score"].tolist() == pytest.approx([0.0, 50.0, 100.0])
    np.testing.assert_allclose(scoring.contributions(out).sum(axis=1), out["score"])
    assert out.loc["a2", "contrib_rev"] == pytest.approx(35.0)
    assert out.index.equals(IDX)


def test_missing_neutral_policy_counts_the_neutral_value():
    spec = spec_of(
        {
            "rev": {"normalise": "minmax", "weight": 0.6},
            "nps": {"normalise": "range", "bounds": [0, 10], "weight": 0.4},
        },
        neutral_value=0.5,
    )
    out = scoring.score_accounts(frame(rev=[0.0, 50.0, 100.0], nps=[10.0, np.nan, 0.0]), spec)
    assert out.loc["a2", "contrib_nps"] == pytest.approx(20.0)
    assert out.loc["a2", "score"] == pytest.approx(30.0 + 20.0)
    assert out["missing_criteria"].tolist() == ["", "nps", ""]
    assert (out["missing_policy"] == "neutral").all()
    report = scoring.missing_report(out, spec).set_index("criterion")
    assert report.loc["nps", "n_missing"] == 1 and "neutral value 0.5" in report.loc["nps", "what_happened"]


def test_missing_renormalise_policy_rescales_remaining_weights():
    spec = spec_of(
        {
            "rev": {"normalise": "minmax", "weight": 0.6},
            "nps": {"normalise": "range", "bounds": [0, 10], "weight": 0.4},
        },
        missing="renormalise",
    )
    out = scoring.score_accounts(frame(rev=[0.0, 50.0, 100.0], nps=[10.0, np.nan, np.nan]), spec)
    assert out.loc["a2", "score"] == pytest.approx(50.0)  # rev alone, weight rescaled to 1
    assert out.loc["a2", "contrib_nps"] == 0.0
    assert out.loc["a1", "score"] == pytest.approx(40.0)
    assert (out["missing_policy"] == "renormalise").all()


def test_all_missing_under_renormalise_gives_no_score_and_says_so():
    spec = spec_of({"x": {"normalise": "range", "bounds": [0, 1], "weight": 1.0}}, missing="renormalise")
    out = scoring.score_accounts(frame(x=[0.5, np.nan, 1.0]), spec)
    assert np.isnan(out.loc["a2", "score"])
    assert any("1 accounts have every weighted criterion missing" in n for n in out.attrs["notes"])


def test_constant_criterion_is_neutral_with_a_note():
    spec = spec_of({"x": {"normalise": "minmax", "weight": 1.0}})
    out = scoring.score_accounts(frame(x=[3.0, 3.0, 3.0]), spec)
    assert out["score"].tolist() == [50.0, 50.0, 50.0]
    assert any("x is constant" in n for n in out.attrs["notes"])


def test_reference_snapshot_sets_the_scale():
    spec = spec_of({"x": {"normalise": "minmax", "weight": 1.0}})
    ref = frame(x=[0.0, 5.0, 10.0])
    later = frame(x=[5.0, 20.0, -1.0])
    assert scoring.score_accounts(later, spec, reference=ref)["score"].tolist() == [50.0, 100.0, 0.0]


def test_weights_passed_in_are_validated():
    spec = spec_of({"a": {"weight": 0.5}, "b": {"weight": 0.5}})
    f = frame(a=[1.0, 2.0, 3.0], b=[3.0, 2.0, 1.0])
    with pytest.raises(ConfigError, match="non-negative"):
        scoring.score_accounts(f, spec, {"a": 1.5, "b": -0.5})
    with pytest.raises(ConfigError, match=r"valid criteria are \['a', 'b'\]"):
        scoring.score_accounts(f, spec, {"a": 0.5, "c": 0.5})
    with pytest.raises(ConfigError, match="sum to 0.9, not 1"):
        scoring.score_accounts(f, spec, {"a": 0.5, "b": 0.4})
    ok = scoring.score_accounts(f, spec_of({"a": {}, "b": {}}, normalise_weights=True), {"a": 2, "b": 2})
    assert ok.attrs["weights"] == {"a": 0.5, "b": 0.5}


def test_config_errors_name_the_problem():
    # The parameter model validates the criteria once (analysis.params); each message names the
    # dotted key and what is allowed there.
    def crit(**c):
        return {"a": {**CRITERION, "weight": 1.0, **c}}

    assert re.search(
        r"scoring\.criteria\.a\.direction: Input should be 'benefit' or 'cost'", invalid(criteria=crit(direction="up"))
    )
    assert re.search(
        r"scoring\.criteria\.a\.normalise: Input should be 'minmax', 'percentile'",
        invalid(criteria=crit(normalise="rank")),
    )
    assert "bounds" in invalid(criteria=crit(normalise="range"))
    assert re.search(
        r"scoring\.criteria\.a\.wieght: unknown key\. Did you mean 'weight'\?", invalid(criteria=crit(wieght=1))
    )
    assert re.search(r"scoring\.missing: Input should be 'neutral' or 'renormalise'", invalid(missing="drop"))
    assert re.search(r"scoring\.criteria: Dictionary should have at least 1 item", invalid(criteria={}))


def test_missing_feature_column_lists_available_columns():
    spec = spec_of({"revenue_12m": {"weight": 1.0}})
    with pytest.raises(DataContractError, match=r"'revenue_12m' is not in the features; available: \['revenue'\]"):
        scoring.score_accounts(frame(revenue=[1.0, 2.0, 3.0]), spec)


def test_default_config_criteria_and_weights():
    section = config.defaults().scoring
    spec = scoring.ScoringSpec.from_params(section)
    assert spec.names == [
        "revenue_12m",
        "margin_12m",
        "tenure_days",
        "market_influence",
        "revenue_growth",
        "payment_delay_days",
    ]
    assert spec.config_weights().sum() == pytest.approx(1.0)
    assert {c.name: c.direction for c in spec.criteria}["payment_delay_days"] == "cost"
    assert spec.criteria[0].label("zh") == "年销售额" and spec.criteria[0].label("en") == "Annual sales"


def test_percentile_matches_average_ranks_with_ties_and_missing_and_any_reference():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"v": np.r_[rng.integers(0, 50, 1000).astype(float), np.nan]})
    spec = spec_of({"v": {"normalise": "percentile", "weight": 1.0}})
    own = scoring.criteria_matrix(x, spec)["v"]
    explicit = scoring.criteria_matrix(x, spec, reference=x.copy())["v"]
    expected = (x["v"].rank(method="average") - 0.5) / x["v"].notna().sum()
    np.testing.assert_allclose(own, expected)
    np.testing.assert_allclose(explicit, expected)
    assert np.isnan(own.iloc[-1])


def test_notebook_overrides_apply_and_validate():
    # The notebook's `overrides` (dotted keys) replace the old settings() helper: the parameter
    # model merges and validates them once.
    params = config.load_params()
    expert = {f"scoring.criteria.{name}.weight": 0.0 for name in params.scoring.criteria}
    expert.update({"scoring.criteria.revenue_12m.weight": 0.5, "scoring.criteria.margin_12m.weight": 0.5})
    changed = config.load_params(
        overrides={
            "scoring.weights.method": "blend",
            "scoring.weights.calibration.outcome": "margin",
            "language": "zh",
            "scoring.weights.blend_mix": 0.25,
            **expert,
        }
    )
    section, lang = changed.scoring, changed.language
    assert lang == "zh" and section.weights.method == "blend" and section.weights.blend_mix == 0.25
    assert section.weights.calibration.outcome == "margin"
    assert section.weights.calibration.n_boot == params.scoring.weights.calibration.n_boot
    weights = scoring.ScoringSpec.from_params(section).config_weights()
    assert weights["revenue_12m"] == 0.5 and weights["tenure_days"] == 0.0
    assert params.scoring.criteria["tenure_days"].weight == 0.10  # the loaded config is not modified
    with pytest.raises(ConfigError, match=r"scoring\.weights\.method: Input should be 'expert', 'equal'"):
        config.load_params(overrides={"scoring.weights.method": "gut feeling"})
    with pytest.raises(ConfigError, match=r"scoring\.criteria\.sales\.direction: missing"):
        config.load_params(overrides={"scoring.criteria.sales.weight": 1.0})
    with pytest.raises(ConfigError, match=r"must sum to 1, got 0\.8"):
        config.load_params(overrides={**expert, "scoring.criteria.margin_12m.weight": 0.3})
    with pytest.raises(ConfigError, match=r"scoring\.criteria\.revenue_12m: Input should be a valid dictionary"):
        config.load_params(overrides={"scoring.criteria.revenue_12m": 0.5})
