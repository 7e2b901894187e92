"""Cox wrapper, encoder, pre-fit checks and the vectorised late-entry machinery (analysis.survival).

Published figures: the Rossi recidivism example of the lifelines documentation (Cox coefficients,
concordance, log-likelihood, and the proportional-hazards test statistics of its "Testing the
proportional hazard assumptions" page). Recovery: simulated Weibull proportional hazards with
known effects. Failure paths: every bad input named in issue 5.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import proportional_hazard_test

from analysis.core.problems import PROBLEM_COLUMNS
from analysis.core.summary import SUMMARY_COLUMNS
from analysis.errors import AssumptionWarning, ConfigError, DataContractError, InsufficientDataError, NotFittedError
from analysis.params import defaults
from analysis.survival import (
    ENTRY,
    EVENT,
    STOP,
    CoxChurnModel,
    DiscreteHazardModel,
    ParametricChurnModel,
    RenewalRiskModel,
    baseline_cumhaz,
    cyclic_cumhaz,
    effect_sentence,
    make_encoder,
    renewal_episodes,
    simulate_survival,
    snapshot_frame,
    unit_text,
)

BETA = {"usage": -0.5, "tickets": 0.3, "nps": -0.2, "noise": 0.0}


@pytest.fixture(scope="module")
def rossi():
    return load_rossi()


@pytest.fixture(scope="module")
def rossi_plain(rossi):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        return CoxChurnModel(standardize=False, ph_remedy="none").fit(rossi, "week", "arrest")


@pytest.fixture(scope="module")
def simulated():
    return simulate_survival(4000, BETA, seed=11, max_entry_days=500)


# --- published figures ------------------------------------------------------------------------


def test_rossi_documented_coefficients_concordance_and_log_likelihood(rossi_plain):
    # lifelines docs, "Survival regression": coef fin -0.38 ... prio 0.09; issue 5 quotes 3 decimals.
    documented = {
        "fin": -0.379,
        "age": -0.057,
        "race": 0.314,
        "wexp": -0.150,
        "mar": -0.434,
        "paro": -0.085,
        "prio": 0.091,
    }
    assert rossi_plain.params_.round(3).to_dict() == documented
    assert rossi_plain.summary["std_error"].round(2).to_dict() == {
        "fin": 0.19,
        "age": 0.02,
        "race": 0.31,
        "wexp": 0.21,
        "mar": 0.38,
        "paro": 0.20,
        "prio": 0.03,
    }
    assert round(rossi_plain.concordance_index_, 2) == 0.64
    assert rossi_plain.log_likelihood_ == pytest.approx(-658.75, abs=0.01)


def test_rossi_ph_test_reproduces_lifelines_and_its_docs(rossi, rossi_plain):
    ours = rossi_plain.ph_test_
    theirs = proportional_hazard_test(CoxPHFitter().fit(rossi, "week", "arrest"), rossi, time_transform="rank").summary
    np.testing.assert_allclose(ours["test_statistic"], theirs.loc[ours.index, "test_statistic"], rtol=1e-10)
    # Docs: rank-transformed statistics age 11.45 and wexp 7.31, both flagged at 0.01; the rest pass.
    assert round(ours.loc["age", "test_statistic"], 2) == 11.45
    assert round(ours.loc["wexp", "test_statistic"], 2) == 7.31
    assert ours.index[ours["violated"]].tolist() == ["age", "wexp"]


def test_ph_violations_are_remedied_and_shown(rossi):
    with pytest.warns(AssumptionWarning, match="prio"):  # the heavy-tailed count is named too
        model = CoxChurnModel().fit(rossi, "week", "arrest")
    table = model.assumptions_
    assert table.loc["wexp", "remedy"] == "stratified" and model.strata_ == ["wexp"]
    assert table.loc["age", "remedy"] == "time split" and model.split_ == ["age"]
    assert (table["p_after"].dropna() > model.ph_alpha).all()  # the remedy worked
    assert {"age [tenure <= 28d]", "age [tenure > 28d]"} <= set(model.summary.index)
    assert "wexp" not in model.summary.index  # a stratum has no hazard ratio; the table says why


def test_remaining_violation_warns_instead_of_passing_silently(rossi):
    with pytest.warns(AssumptionWarning, match=r"Proportional hazards still rejected .*'age', 'wexp'"):
        CoxChurnModel(standardize=False, ph_remedy="none").fit(rossi, "week", "arrest")


def test_stratify_remedy_bins_a_number_and_still_predicts(rossi):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        model = CoxChurnModel(ph_remedy="stratify").fit(rossi, "week", "arrest")
    assert set(model.strata_) == {"age", "wexp"} and len(model.strata_edges_["age"]) >= 3
    p = model.predict_churn_probability(rossi, 52)
    assert p.between(0, 1).all() and p.index.equals(rossi.index)


# --- the engine: late entry, baseline, prediction ---------------------------------------------------


def test_vectorised_late_entry_matches_lifelines_and_time_varying_fitter(simulated):
    data = simulated.head(1500)
    cov = list(BETA)
    ours = CoxChurnModel(standardize=False, ph_remedy="none").fit(data, numeric=cov, entry_col=ENTRY)
    lifelines_fit = CoxPHFitter().fit(data, STOP, EVENT, entry_col=ENTRY)  # lifelines' own (slow) late-entry path
    np.testing.assert_allclose(ours.params_[cov], lifelines_fit.params_[cov], atol=1e-8)
    np.testing.assert_allclose(ours.summary["std_error"][cov], lifelines_fit.standard_errors_[cov], atol=1e-8)
    ctv = CoxTimeVaryingFitter().fit(
        data.assign(id=np.arange(len(data))), id_col="id", event_col=EVENT, start_col=ENTRY, stop_col=STOP
    )
    np.testing.assert_allclose(ours.params_[cov], ctv.params_[cov], atol=1e-6)


def test_baselines_breslow_equals_lifelines_and_kp_matches_grouped_truth(rossi, rossi_plain):
    X = rossi.drop(columns=["week", "arrest"]).to_numpy(float)
    lp = (X - X.mean(axis=0)) @ rossi_plain.params_.to_numpy()
    times, cumhaz, _ = baseline_cumhaz(
        rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(bool), None, lp, "breslow"
    )
    lifelines_fit = CoxPHFitter().fit(rossi, "week", "arrest")
    np.testing.assert_allclose(
        cumhaz, lifelines_fit.baseline_cumulative_hazard_.loc[times].to_numpy().ravel(), atol=1e-12
    )
    # Grouped time (everyone decides on one day): the Kalbfleisch-Prentice jump reproduces the true
    # churn probability of high-risk accounts, Breslow's understates it (the reason KP is the default).
    rng = np.random.default_rng(5)
    x = rng.normal(size=20000)
    phi = np.exp(0.8 * x)
    died = rng.random(20000) < -np.expm1(-0.25 * phi)
    for method, ok in (("kalbfleisch-prentice", True), ("breslow", False)):
        _, h, _ = baseline_cumhaz(np.ones(20000), died, None, 0.8 * x, method)
        predicted = -np.expm1(-h[-1] * phi)
        assert bool(abs(predicted.mean() - died.mean()) < 0.005) is ok, method


def test_conditional_probabilities_chain_and_stay_in_range(simulated):
    model = CoxChurnModel(ph_remedy="none").fit(simulated, numeric=list(BETA), entry_col=ENTRY)
    rows = simulated.head(200)
    first = model.predict_churn_probability(rows, 200)
    later = model.predict_churn_probability(rows, 300, tenure=np.full(200, 200.0))
    whole = model.predict_churn_probability(rows, 500)
    np.testing.assert_allclose(
        whole, first + (1 - first) * later, atol=1e-12
    )  # P(T<=500) = P(<=200) + S(200) P(200,500]
    surv = model.predict_survival_function(rows, [100, 400], tenure="entry_days")
    assert surv.shape == (2, 200) and (surv.loc[400] <= surv.loc[100]).all()


def test_cyclic_extension_repeats_the_last_supported_cycle():
    times = np.array([365.0, 730.0, 1095.0, 1460.0])
    events = np.array([50, 40, 30, 2])  # the fourth renewal is barely observed
    cumhaz = np.cumsum([0.10, 0.08, 0.06, 0.05])
    H = cyclic_cumhaz(times, cumhaz, events, [1000, 1094, 1095, 1460, 1825, 2190], cycle=365, min_events=10)
    # T* = 1095 (the last cycle with >= 10 churns); beyond it each cycle adds the 730->1095 step 0.06.
    np.testing.assert_allclose(H, [0.18, 0.18, 0.24, 0.30, 0.36, 0.42])


def test_time_split_prediction_uses_each_side_of_the_cut(rossi):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        model = CoxChurnModel().fit(rossi, "week", "arrest")
    early, late = model._linear_predictors(rossi)
    assert not np.allclose(early, late)  # age acts differently before and after week 28
    assert model.predict_churn_probability(rossi, 52).between(0, 1).all()


# --- recovery on simulated data with known effects ---------------------------------------------------


def test_cox_recovers_planted_hazard_ratios_and_ignores_noise(simulated):
    model = CoxChurnModel(ph_remedy="none").fit(simulated, numeric=list(BETA), entry_col=ENTRY)
    s = model.summary
    sd = simulated[list(BETA)].std()
    truth = pd.Series(BETA) * sd  # per +1 SD of the sample
    assert ((s["lower_95"] <= truth) & (truth <= s["upper_95"])).all(), s[["estimate", "lower_95", "upper_95"]]
    assert s.loc["noise", "p_adjusted"] > 0.05
    assert (s.loc[["usage", "tickets", "nps"], "p_adjusted"] < 1e-6).all()
    assert list(s.columns[:6]) == SUMMARY_COLUMNS and s.index.name == "factor"


def test_discrete_hazard_model_recovers_planted_logit_effects():
    rng = np.random.default_rng(3)
    n = 6000
    x = pd.DataFrame({"usage": rng.normal(size=n), "seminar": rng.integers(0, 2, n), "noise": rng.normal(size=n)})
    renewal = rng.integers(1, 4, n)
    eta = -2.0 + 0.3 * (renewal == 2) - 0.8 * x["usage"] - 0.6 * x["seminar"]
    frame = x.assign(
        **{STOP: renewal * 365, ENTRY: renewal * 365 - 91, EVENT: (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)},
        account_id=np.arange(n),
    )
    s = DiscreteHazardModel(standardize=False).fit(frame, numeric=["usage", "seminar", "noise"]).summary
    for name, beta in {"usage": -0.8, "seminar": -0.6, "noise": 0.0}.items():
        assert s.loc[name, "lower_95"] <= beta <= s.loc[name, "upper_95"], name
    assert "odds of leaving at a renewal" in s.loc["usage", "sentence"]


def test_parametric_model_picks_weibull_and_recovers_time_ratios(simulated):
    model = ParametricChurnModel().fit(simulated, numeric=["usage", "tickets"], entry_col=ENTRY)
    assert model.best_ == "weibull"
    s = model.summary
    # Weibull PH with shape 1.2: the AFT coefficient is -beta / shape (per SD of the sample).
    for name in ("usage", "tickets"):
        truth = -BETA[name] * simulated[name].std() / 1.2
        assert s.loc[f"lambda_: {name}", "lower_95"] <= truth <= s.loc[f"lambda_: {name}", "upper_95"]
    p = model.predict_churn_probability(simulated.head(5), 365, tenure="entry_days")
    assert p.between(0, 1).all() and len(model.predict_median(simulated.head(5))) == 5


# --- encoder ---------------------------------------------------------------------------------


def test_encoder_saves_reference_levels_and_handles_missing_and_unseen_levels():
    # The package's one Encoder (analysis.core.encoding), as the survival models build it.
    train = pd.DataFrame({"band": ["small", "mid", "ent", "small"], "x": [1.0, 2.0, 3.0, 4.0], "flag": [0, 1, 0, 1]})
    enc = make_encoder(["x", "flag"], ["band"], True, None, reference_levels={"band": "small"}).fit(train)
    assert enc.levels_["band"][0] == "small" and enc.columns_ == ["x", "flag", "band=ent", "band=mid"]
    assert unit_text(enc, "flag") == "flag yes vs no" and unit_text(enc, "band=mid") == "band mid vs small"
    only_small = enc.transform(pd.DataFrame({"band": ["small"], "x": [2.5], "flag": [1]}))
    assert only_small.columns.tolist() == enc.columns_ and only_small[["band=ent", "band=mid"]].sum().sum() == 0
    restored = pickle.loads(pickle.dumps(enc))  # everything needed to encode new data the same way
    pd.testing.assert_frame_equal(restored.transform(train), enc.transform(train))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        model = CoxChurnModel(ph_remedy="none").fit(_frame(), numeric=["a"], categorical=["tier"])
    with pytest.warns(AssumptionWarning, match="unseen in training"):
        model.predict_churn_probability(pd.DataFrame({"a": [1.0], "tier": ["huge"]}), 90)
    with pytest.warns(AssumptionWarning, match="missing values scored at the training mean"):
        p = model.predict_churn_probability(pd.DataFrame({"a": [np.nan], "tier": ["gold"]}), 90)
    assert p.notna().all()
    assert {"unseen level", "missing values"} <= set(model.problems_["problem"])  # every warning is a row
    with pytest.raises(ConfigError, match="Reference level 'giant'"):
        make_encoder(["x"], ["band"], True, None, reference_levels={"band": "giant"}).fit(train)


def test_sentence_reads_like_the_style_guide():
    assert (
        effect_sentence("+1 SD in weekly logins", 0.77, 0.70, 0.85)
        == "+1 SD in weekly logins: 23% lower churn hazard (95% CI 15-30%)"
    )
    assert "no clear effect" in effect_sentence("x", 1.1, 0.9, 1.3)


# --- data shaping ------------------------------------------------------------------------------


def test_snapshot_and_renewal_episode_shapes():
    features = pd.DataFrame(
        {"tenure_days": [100, 400, 50], "x": [1.0, 2.0, 3.0]}, index=pd.Index(["a", "b", "c"], name="account_id")
    )
    outcomes = pd.DataFrame({"duration_days": [30, 500, 365], "churned": [True, True, False]}, index=features.index[:3])
    snap = snapshot_frame(features, outcomes, ["x"], follow_up_days=365)
    assert snap[ENTRY].tolist() == [100, 400, 50] and snap[STOP].tolist() == [130, 765, 415]
    assert snap[EVENT].tolist() == [1, 0, 0]  # b churned after the follow-up: censored
    contracts = pd.DataFrame(
        {
            "account_id": ["a", "a", "b"],
            "end": pd.to_datetime(["2024-01-31"] * 2 + ["2024-05-31"]),
            "renewed": [0, 1, 0],
            "annual_value": [10.0, 5.0, 7.0],
            "tenure_days": [275, 275, 640],
            "x": [1.0, 1.0, 2.0],
        },
        index=pd.Index(["k1", "k2", "k3"], name="contract_id"),
    )
    ep = renewal_episodes(contracts, ["x"], lead_days=90)
    assert ep[EVENT].tolist() == [0, 1]  # a renewed one of its two co-terminous contracts: it stays
    assert (
        ep[ENTRY].tolist() == [275, 640]
        and ep[STOP].tolist() == [366, 731]
        and ep["annual_value"].tolist() == [15.0, 7.0]
    )
    with pytest.raises(KeyError):
        renewal_episodes(contracts.drop(columns=["tenure_days"]), ["x"], lead_days=90)


# --- bad inputs ------------------------------------------------------------------------------


def _frame(n=400, seed=0):
    data = simulate_survival(n, {"a": 0.5, "b": -0.3}, seed=seed)
    data["tier"] = np.where(data["a"] > 0, "gold", "silver")
    return data


def test_no_churn_events_is_named():
    with pytest.raises(InsufficientDataError, match="No churn events among 400 rows"):
        CoxChurnModel().fit(_frame().assign(event=0), numeric=["a", "b"])


def test_a_single_tier_or_a_one_valued_covariate_is_named():
    with pytest.raises(InsufficientDataError, match="'tier' has one value"):
        CoxChurnModel().fit(_frame().assign(tier="gold"), numeric=["a"], categorical=["tier"])
    with pytest.raises(InsufficientDataError, match="'b' has one value"):
        CoxChurnModel().fit(_frame().assign(b=3.0), numeric=["a", "b"])


@pytest.mark.parametrize("bad", [0, -5])
def test_zero_or_negative_durations_are_named(bad):
    frame = _frame()
    frame.loc[frame.index[:3], STOP] = bad
    with pytest.raises(DataContractError, match="3 rows have missing, zero or negative stop_days"):
        CoxChurnModel().fit(frame, numeric=["a", "b"])


def test_extreme_outliers_warn_and_clipping_bounds_them():
    frame = _frame()
    frame.loc[frame.index[0], "a"] = 1e6
    with pytest.warns(AssumptionWarning, match="'a' has 1 extreme values .* log-transform it"):
        raw = CoxChurnModel().fit(frame, numeric=["a", "b"])
    with pytest.warns(AssumptionWarning, match="quantiles are clipped"):
        clipped = CoxChurnModel(clip_quantile=0.01).fit(frame, numeric=["a", "b"])
    assert clipped.encoder_.bounds_["a"][1] < 10
    assert clipped.summary.loc["a", "z"] > 5 > raw.summary.loc["a", "z"]  # clipping restores the effect


def test_missing_values_collinearity_separation_and_events_per_covariate_are_named():
    frame = _frame()
    with pytest.raises(DataContractError, match=r"missing values: \{'a': 2\}"):
        CoxChurnModel().fit(frame.assign(a=frame["a"].mask(frame.index < 2)), numeric=["a", "b"])
    with pytest.raises(InsufficientDataError, match="collinear"):
        CoxChurnModel().fit(frame.assign(c=2 * frame["a"] - frame["b"]), numeric=["a", "b", "c"])
    with pytest.raises(InsufficientDataError, match="'sep' separates churners"):
        CoxChurnModel().fit(frame.assign(sep=frame[EVENT]), numeric=["a", "sep"])
    with pytest.raises(InsufficientDataError, match=r"churn events for 2 covariate columns"):
        CoxChurnModel(min_events_per_covariate=1000).fit(frame, numeric=["a", "b"])
    with pytest.raises(InsufficientDataError, match="level 'none' of 'tier' has 3 rows and no churn"):
        frame.loc[frame.index[:3], ["tier", EVENT]] = ["none", 0]
        CoxChurnModel().fit(frame, numeric=["a"], categorical=["tier"])


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="ph_remedy"):
        CoxChurnModel(ph_remedy="ignore")
    with pytest.raises(ConfigError, match="Unknown parametric"):
        ParametricChurnModel(candidates=["gompertz"])


def test_risk_factors_name_what_raises_the_hazard():
    frame = _frame(2000, seed=4)
    model = CoxChurnModel(ph_remedy="none").fit(frame, numeric=["a", "b"], categorical=["tier"])
    risky = pd.DataFrame({"a": [3.0], "b": [-3.0], "tier": ["gold"]})
    text = model.risk_factors(risky, 3).iloc[0]
    assert text.startswith("a high (x") and "b low (x" in text
    assert model.risk_factors(pd.DataFrame({"a": [-3.0], "b": [3.0], "tier": ["silver"]}), 3).iloc[0] == ""


def test_time_split_falls_back_to_bins_when_one_side_has_no_churn():
    # Churn only at two renewals, most of it at the later one: the median event time is the last
    # one, so a split there leaves no churn after it. The effect of x reverses between renewals.
    rng = np.random.default_rng(9)
    n = 6000
    x = rng.normal(size=n)
    first = rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 1.0 * x)))
    second = ~first & (rng.random(n) < 1 / (1 + np.exp(-(-1.2 - 1.0 * x))))
    frame = pd.DataFrame(
        {"x": x, "z": rng.normal(size=n), STOP: np.where(first, 365, 730), EVENT: (first | second).astype(int)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AssumptionWarning)
        model = CoxChurnModel().fit(frame, numeric=["x", "z"])
        with pytest.raises(InsufficientDataError, match="No covariate is left"):
            CoxChurnModel().fit(frame, numeric=["x"])
    assert model.assumptions_.loc["x", "p_before"] < 0.01
    assert (
        model.assumptions_.loc["x", "remedy"].startswith("stratified in")
        and "no churn on one side" in model.assumptions_.loc["x", "remedy"]
    )
    assert model.split_ == [] and model.strata_ == ["x"]
    assert model.predict_churn_probability(frame.head(3), 800).between(0, 1).all()


# --- construction: typed parameters, one NotFittedError, one problems_ frame -----------------------


def test_from_params_uses_every_setting_of_the_survival_section():
    section = defaults().survival
    changed = section.updated(
        standardize=False,
        penalizer=0.1,
        ph_alpha=0.05,
        ph_remedy="stratify",
        min_events_per_covariate=5,
        clip_quantile=0.01,
        reference_levels={"size_band": "mid-market"},
        strata_bins=3,
        alpha=0.1,
        p_adjust="fdr_bh",
        cycle_days=180,
        min_events_per_cycle=4,
        baseline="breslow",
        log_columns=["tickets_12m"],
        min_at_risk=3,
    )
    cox = CoxChurnModel.from_params(changed, seed=7)
    assert {k: getattr(cox, k) for k in COX_SETTINGS} == {k: getattr(changed, k) for k in COX_SETTINGS}
    assert cox.seed == 7
    discrete = DiscreteHazardModel.from_params(changed)
    assert (discrete.period_days, discrete.min_events_per_period) == (180, 4)
    assert {k: getattr(discrete, k) for k in DISCRETE_SETTINGS} == {k: getattr(changed, k) for k in DISCRETE_SETTINGS}
    parametric = ParametricChurnModel.from_params(changed)
    assert (parametric.standardize, parametric.penalizer, parametric.clip_quantile) == (False, 0.1, 0.01)
    # Every key of the section is read by a model or by the analyse() facade: none is silently dropped.
    facade = {"numeric", "categorical", "horizons", "at_risk_window_days", "backtest_days", "km_groups"}
    facade |= {"top_risk_factors", "landmarks_per_term", "max_landmark_rows"}  # the landmark rows
    renewal = RenewalRiskModel.from_params(changed.updated(lead_bins=6, effect_bands=[0.3]), seed=7)
    assert (renewal.lead_bins, renewal.effect_bands, renewal.min_events_per_group) == (6, [0.3], 4)
    assert {k: getattr(renewal, k) for k in RENEWAL_SETTINGS} == {k: getattr(changed, k) for k in RENEWAL_SETTINGS}
    used = set(COX_SETTINGS) | set(DISCRETE_SETTINGS) | {"cycle_days", "min_events_per_cycle"} | facade
    used |= {"lead_bins", "effect_bands"}
    assert used == set(type(section).model_fields)
    with pytest.raises(ConfigError, match="cycle_days"):
        DiscreteHazardModel.from_params(section.updated(cycle_days=None))


COX_SETTINGS = (
    "standardize",
    "penalizer",
    "ph_alpha",
    "ph_remedy",
    "min_events_per_covariate",
    "clip_quantile",
    "reference_levels",
    "strata_bins",
    "alpha",
    "p_adjust",
    "cycle_days",
    "min_events_per_cycle",
    "baseline",
    "log_columns",
    "min_at_risk",
)
RENEWAL_SETTINGS = ("standardize", "min_events_per_covariate", "clip_quantile", "reference_levels", "alpha", "p_adjust")
DISCRETE_SETTINGS = ("standardize", "min_events_per_covariate", "clip_quantile", "reference_levels", "p_adjust")


@pytest.mark.parametrize("model", [CoxChurnModel(), DiscreteHazardModel(), ParametricChurnModel()])
def test_unfitted_models_raise_not_fitted_error(model):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        _ = model.summary
    with pytest.raises(NotFittedError):
        model.predict_churn_probability(_frame().head(2), 90)


def test_every_warning_of_a_fit_is_a_problems_row(rossi):
    with pytest.warns(AssumptionWarning) as caught:
        model = CoxChurnModel().fit(rossi, "week", "arrest")
    problems = model.problems_
    assert list(problems.columns) == PROBLEM_COLUMNS
    for w in caught:  # the outlier warning is a row; a remaining violation is one row per factor
        message = str(w.message)
        if message.startswith("Proportional hazards still rejected"):
            assert problems["detail"].str.contains("still rejected").any()
        else:
            assert message in set(problems["detail"])
    remedied = problems[problems["problem"] == "proportional hazards"]
    assert set(remedied["factor"]) == {"age", "wexp"} and (remedied["severity"] == "adjusted").all()
    plain = DiscreteHazardModel(standardize=False).fit(
        simulate_survival(2000, {"a": 0.5}, seed=1).assign(account_id=np.arange(2000)), numeric=["a"]
    )
    assert list(plain.problems_.columns) == PROBLEM_COLUMNS
