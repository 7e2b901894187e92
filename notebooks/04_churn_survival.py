# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: B2B tiering (project)
#     language: python
#     name: b2b-tiering
# ---

# %% [markdown]
# # 3. Churn and renewal risk
# Who is likely to leave, when, and how much annual value is up for renewal in the next 90 days.
# Churn is a time-to-event question: most customers have not left *yet*, so the analysis uses
# survival models that count them correctly (as "still here so far"), not as stayers.
#
# * **Kaplan-Meier curves**: the share of accounts still customers after each day of tenure, by tier.
# * **Cox model**: which factors raise or lower the risk of leaving at a renewal, each as a hazard
#   ratio with a 95% interval and a plain sentence; its key assumption is tested and, where it fails,
#   a remedy is applied and shown.
# * **Honest check**: the model is refitted with data up to one year ago and judged on what happened since.
# * **Per account**: the probability of leaving before the next renewal and within 90 / 180 / 365 days,
#   and the renewals due in the next 90 days ranked by value at risk.
#
# Settings come from the `survival` section of the configuration.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
top_n = 15

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis import params as config
from analysis.data import features, io
from analysis.errors import AssumptionWarning
from analysis.report import plotting
from analysis.survival import evaluation as se
from analysis.survival.models import (
    ENTRY,
    CoxChurnModel,
    DiscreteHazardModel,
    ParametricChurnModel,
    account_durations,
)

params = config.load_params(config_path)
sv = config.section(params, "survival")
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
numeric, categorical = list(sv["numeric"]), list(sv["categorical"])
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
pd.set_option("display.max_colwidth", 120)
notes = []  # everything that could not be estimated or was adjusted, with the reason, listed at the end
warnings.filterwarnings("ignore", category=AssumptionWarning)  # each one is collected in `notes` instead
print(f"Data: {book.source}\nAs-of date: {as_of_date}   Covariates: {numeric + categorical}")

# %% [markdown]
# ## Who stays: survival by tier
# Each curve is the share of accounts still customers after a given tenure. The steps fall on
# contract anniversaries, because accounts leave by not renewing. The log-rank test asks whether the
# groups' curves differ more than chance allows.

# %%
snapshot = features.snapshot_for_run(book, as_of_date, run_dir, params["features"]["subscription_margin"])
lifetimes = account_durations(features.account_lifetimes(book, as_of_date))
durations, tier_col, tier_note = se.grouping_frame(lifetimes, snapshot, io.read_table(run_dir, "scored_accounts"))
km = se.km_tables(durations, [tier_col, *sv["km_groups"]])
print(tier_note)
fig, ax = plt.subplots(figsize=(8, 4.5))
se.plot_km(km[tier_col], ax=ax)
plt.show()
km[tier_col].table.round(3)

# %%
km_summary = pd.concat({g: r.table for g, r in km.items()}, names=["grouping", "group"])
logrank = pd.DataFrame({g: r.logrank or {} for g, r in km.items()}).T
notes += [f"Kaplan-Meier by {g}: {n}" for g, r in km.items() for n in r.notes]
io.write_table(km_summary.reset_index(), run_dir, "churn_km_by_group")
print("Log-rank tests (do the groups' survival curves differ?)")
logrank

# %% [markdown]
# ## Lifetime beyond the data
# The data cover only a few years, so the Kaplan-Meier curve stops at the longest tenure seen. A
# parametric lifetime model (the best by AIC of Weibull, log-normal and log-logistic) extends it; its
# long-range figures are extrapolations and should be read as such.

# %%
parametric, note = se.attempt(ParametricChurnModel(clip_quantile=None).fit, lifetimes, "duration_days", "event")
if parametric is None:
    notes.append(f"Parametric lifetime model: {note}")
    print(note)
else:
    horizon_days = pd.Index(range(1, 3651, 10), name="tenure_days")
    curve = parametric.predict_survival_function(lifetimes.head(1), horizon_days).iloc[:, 0]
    fig, ax = plt.subplots(figsize=(8, 4))
    se.plot_km(se.km_by_group(lifetimes.assign(all_accounts="all accounts"), "all_accounts"), ax=ax)
    ax.plot(curve.index, curve.to_numpy(), color="black", linestyle="--", label=f"{parametric.best_} (extrapolated)")
    ax.legend()
    plt.show()
    print(
        f"Best model by AIC: {parametric.best_}; median lifetime "
        f"{parametric.predict_median(lifetimes.head(1)).iloc[0] / 365:.1f} years; "
        f"share still customers after 5 years: {curve.loc[:1826].iloc[-1]:.0%}"
    )
    display(parametric.comparison_.round(1))

# %% [markdown]
# ## What drives churn
# One record per renewal decision: the account's situation 90 days before the contract end (the
# same cut-off as the renewal-drivers analysis) and whether it left at that renewal. Effects are per
# standard deviation for numbers, yes-vs-no for flags and against a stated reference for categories.
# p-values are corrected for testing many factors at once (`p_adjusted`).

# %%
data, data_note = se.attempt(se.renewal_data, book, as_of_date, numeric, categorical, sv["lead_days"])
episodes, episode_notes = data if data is not None else (None, [data_note])
notes += [f"Renewal episodes: {n}" for n in episode_notes]
cox, cox_note = (
    se.attempt(CoxChurnModel.from_params(sv).fit, episodes, numeric=numeric, categorical=categorical, entry_col=ENTRY)
    if episodes is not None
    else (None, "no renewal episodes (see above)")
)
if cox is None:
    notes.append(f"Cox model: {cox_note}")
    print(f"The Cox model could not be estimated. {cox_note}")
else:
    print(
        f"{len(episodes)} renewal decisions, {int(episodes['event'].sum())} departures; "
        f"training concordance {cox.concordance_index_:.2f}"
    )
    io.write_table(cox.summary, run_dir, "churn_hazard_ratios")
    display(cox.summary[["hazard_ratio", "hr_lower_95", "hr_upper_95", "p_adjusted", "sentence"]].round(3))

# %%
if cox is not None:
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(cox.summary) + 1))
    se.plot_forest(cox.summary, ax=ax)
    ax.set_title("Hazard ratios of leaving at a renewal (right of 1 = more churn)")
    plt.show()

# %% [markdown]
# ### Checking the model's key assumption
# A Cox model assumes each factor multiplies the risk by the same amount at every renewal
# (proportional hazards). The test below (scaled Schoenfeld residuals against rank of time) checks this
# factor by factor. Where it fails (p below the level in the configuration), the remedy is shown:
# **stratified** (the factor gets its own baseline risk instead of a hazard ratio) or **time split**
# (separate effects for early and late tenure). `p_after` is the test after the remedy.

# %%
if cox is not None:
    notes += [f"Cox model: {n}" for n in cox.notes_ + cox.fit_warnings_]
    display(cox.assumptions_.round(4))

# %% [markdown]
# ### Cross-checks: the exact discrete-time model, and a snapshot instead of renewal-time covariates
# Because customers leave only at renewals, the exact model is a logistic model of leaving at each
# renewal (odds ratios); the Cox model approximates it and gives somewhat smaller effects. The
# snapshot model freezes every covariate at one date a year ago and follows accounts for a year;
# with covariates measured further from the decision, its effects are expected to be weaker.

# %%
discrete_model = DiscreteHazardModel(
    p_adjust=sv["p_adjust"],
    reference_levels=sv["reference_levels"],
    clip_quantile=sv["clip_quantile"],
    log_columns=sv["log_columns"],
)
discrete, note = (
    se.attempt(discrete_model.fit, episodes, numeric=numeric, categorical=categorical)
    if episodes is not None
    else (None, "no renewal episodes")
)
snap_as_of = (pd.Timestamp(as_of_date) - pd.Timedelta(days=sv["backtest_days"])).date()
snap, snap_note = se.attempt(se.snapshot_data, book, snap_as_of, numeric, categorical, sv["backtest_days"])
snap_cox, snap_fit_note = (
    se.attempt(CoxChurnModel.from_params(sv).fit, snap[0], numeric=numeric, categorical=categorical, entry_col=ENTRY)
    if snap is not None
    else (None, snap_note)
)
notes += [f"Discrete-time model: {n}" for n in [note] if n]
notes += [f"Snapshot Cox model: {n}" for n in [snap_fit_note, *(snap[1] if snap is not None else [])] if n]
models = {"Cox (renewal episodes)": cox, "discrete-time logit": discrete, f"Cox (snapshot {snap_as_of})": snap_cox}
comparison = se.compare_effects({k: m.summary for k, m in models.items() if m is not None})
io.write_table(comparison, run_dir, "churn_model_comparison")
comparison.round(3)

# %% [markdown]
# ## Does the model deserve trust? A time-ordered back-test
# The model is refitted with renewals decided up to one year before the as-of date, then asked to
# predict, at that date, who would leave in the following year. **Concordance** (Harrell, and Uno's
# censoring-weighted version) is the chance that of two accounts the one that left first had the
# higher predicted risk (0.5 = coin toss, 1 = perfect). **Time-dependent AUC** does the same for
# "left within 90 / 180 / 365 days". The **integrated Brier score** is the average squared error of
# the predicted survival (lower is better), shown against a model that ignores all factors.

# %%
bt, bt_note = se.attempt(
    se.backtest, book, as_of_date, numeric, categorical, sv, sv["backtest_days"], sv["lead_days"], sv["horizons"]
)
if bt is None:
    notes.append(f"Back-test: {bt_note}")
    print(f"The back-test could not be run. {bt_note}")
else:
    notes += [f"Back-test {n}" for n in bt.notes]
    io.write_table(bt.metrics, run_dir, "churn_model_evaluation")
    io.write_table(bt.calibration, run_dir, "churn_calibration")
    print(
        f"Fitted on {bt.episodes} renewal decisions before {bt.fit_as_of.date()}; judged on the next "
        f"{sv['backtest_days']} days."
    )
    display(bt.metrics.round(3))

# %%
if bt is not None:
    se.plot_calibration(bt.calibration, max(sv["horizons"]))
    plt.show()
    display(bt.calibration.round(3))

# %% [markdown]
# ## Per-account risk and renewals at risk in the next 90 days
# For every active account: the probability of leaving before its next renewal (given the tenure it
# has already reached) and within 90 / 180 / 365 days, with the factors that raise its risk most
# (`x1.45` = this factor alone makes its hazard 45% higher than an average account's).

# %%
if cox is not None:
    active, scoring_notes = se.impute_median(snapshot[snapshot["is_active"]], numeric)
    notes += [f"Scoring at {as_of_date}: {n}" for n in scoring_notes]
    risk = se.churn_risk(cox, active, sv["horizons"], top_n=sv["top_risk_factors"])
    io.write_table(
        risk[["p_churn_90d", "p_churn_180d", "p_churn_365d", "p_churn_before_renewal", "top_risk_factors"]].rename_axis(
            "account_id"
        ),
        run_dir,
        "churn_risk",
    )
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.histplot(risk["p_churn_before_renewal"], bins=40, ax=ax)
    ax.set(xlabel="probability of leaving at the next renewal", ylabel="accounts")
    plt.show()

# %%
if cox is not None:
    scored = io.read_table(run_dir, "scored_accounts")
    health = scored.set_index("account_id")["health_band"] if scored is not None and "health_band" in scored else None
    due = se.at_risk_renewals(risk, book.df("contracts"), as_of_date, sv["at_risk_window_days"], health)
    io.write_table(due, run_dir, "at_risk_renewals")
    print(
        f"{due['account_id'].nunique()} accounts renew in the next {sv['at_risk_window_days']} days: annual value "
        f"{due['annual_value'].sum():,.0f}, of which {due['value_at_risk'].sum():,.0f} expected to be lost."
        + ("" if health is not None else " Health bands appear once the scoring step has run.")
    )
    display(due.head(top_n).round(3))

# %% [markdown]
# ## What could not be estimated, and why

# %%
print("\n".join(f"- {n}" for n in notes) if notes else "Everything above was estimated.")
