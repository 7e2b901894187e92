# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: B2B tiering (project)
#     language: python
#     name: b2b-tiering
# ---

# %% [markdown]
# # 4. Churn and renewal risk
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
# Settings come from the `survival` section of the configuration (the renewal lead time from
# `features.renewal_lead_days`); the tiers and health bands come from this run's scoring notebook.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
top_n = 15  # rows of the at-risk renewals shown here (the table holds all of them)
overrides = {}  # try a setting here, e.g. {"survival.ph_remedy": "stratify"}; a scheduled run uses the config

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis import survival
from analysis.report import plotting
from analysis.run.notebook import NotebookRun

run = NotebookRun.open("04_churn_survival", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
pd.set_option("display.max_colwidth", 120)
result = survival.analyse(run)
for name, table in result.tables().items():
    run.write(table, name)
sv = result.settings
print(run.describe())
print(f"Covariates in this book: {result.numeric + result.categorical} (the others are listed in the last section)")

# %% [markdown]
# ## Who stays: survival by tier
# Each curve is the share of accounts still customers after a given tenure. The steps fall on
# contract anniversaries, because accounts leave by not renewing. The log-rank test asks whether the
# groups' curves differ more than chance allows. The tier curves group accounts by the tier they had
# at the previous snapshot (a year before the as-of date) and follow them from then: today's tiers
# would only describe accounts that have already survived.

# %%
print(result.tier_note)
fig, ax = plt.subplots(figsize=(8, 4.5))
survival.plot_km(result.km[result.tier_column], ax=ax)
plt.show()
result.km[result.tier_column].table.round(3)

# %%
print("Log-rank tests (do the groups' survival curves differ?)")
result.logrank

# %% [markdown]
# ## Lifetime beyond the data
# The data cover only a few years, so the Kaplan-Meier curve stops at the longest tenure seen. A
# parametric lifetime model (the best by AIC of Weibull, log-normal and log-logistic) extends it; its
# long-range figures are extrapolations and should be read as such.

# %%
if result.parametric is None:
    print("The parametric lifetime model could not be estimated (see the last section).")
else:
    curve = result.lifetime_curve
    fig, ax = plt.subplots(figsize=(8, 4))
    survival.plot_km(result.km_all, ax=ax)
    ax.plot(
        curve.index, curve.to_numpy(), color="black", linestyle="--", label=f"{result.parametric.best_} (extrapolated)"
    )
    ax.legend()
    plt.show()
    print(
        f"Best model by AIC: {result.parametric.best_}; median lifetime {result.median_lifetime_days / 365:.1f} "
        f"years; share still customers after 5 years: {curve.loc[:1826].iloc[-1]:.0%}"
    )
    display(result.parametric.comparison_.round(1))

# %% [markdown]
# ## What drives churn
# One record per renewal decision: the account's situation 90 days before the contract end (the
# same cut-off as the renewal-drivers analysis) and whether it left at that renewal. Effects are per
# standard deviation for numbers, yes-vs-no for flags and against a stated reference for categories.
# p-values are corrected for testing many factors at once (`p_adjusted`).

# %%
cox = result.cox
if cox is None:
    print("The Cox model could not be estimated (see the last section).")
else:
    print(
        f"{len(result.episodes)} renewal decisions, {int(result.episodes['event'].sum())} departures; "
        f"training concordance {cox.concordance_index_:.2f}"
    )
    display(cox.summary[["hazard_ratio", "hr_lower_95", "hr_upper_95", "p_adjusted", "sentence"]].round(3))

# %%
if cox is not None:
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(cox.summary) + 1))
    survival.plot_forest(cox.summary, ax=ax)
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
    display(cox.assumptions_.round(4))

# %% [markdown]
# ### Cross-checks: the exact discrete-time model, and a snapshot instead of renewal-time covariates
# Because customers leave only at renewals, the exact model is a logistic model of leaving at each
# renewal (odds ratios); the Cox model approximates it and gives somewhat smaller effects. The
# snapshot model freezes every covariate at one date a year ago and follows accounts for a year;
# with covariates measured further from the decision, its effects are expected to be weaker.

# %%
result.comparison.round(3)

# %% [markdown]
# ## Does the per-account risk deserve trust? A time-ordered back-test
# The risk printed per account comes from a model on the renewal clock: the chance that a renewal is
# lost, given the account's situation some days before it (recent logins and usage included, so an
# account that has gone quiet is seen), its renewal year and its contract term. It is refitted with
# renewals decided up to one year before the as-of date, asked at that date, and compared with what
# happened. **Predicted / observed** near 1 means the printed probabilities are right on average
# (overall, per contract term and for the value at risk); **Harrell C** and **time-dependent AUC**
# say how well it ranks accounts (0.5 = coin toss, 1 = perfect).

# %%
bt = result.backtest
if bt is None:
    print("The back-test could not be run (see the last section).")
else:
    print(f"Fitted on {bt.landmarks} landmark rows before {bt.fit_as_of}; judged on the next {sv.backtest_days} days.")
    display(bt.metrics.round(3))

# %%
if result.risk_model is not None:
    print("Effects used for the per-account risk (odds of losing a renewal; clear = after correction):")
    display(result.risk_model.summary[["odds_ratio", "or_lower_95", "or_upper_95", "p_adjusted", "clear"]].round(3))

# %%
if bt is not None:
    survival.plot_calibration(bt.calibration)
    plt.show()
    display(bt.calibration.round(3))

# %% [markdown]
# ## Per-account risk and renewals at risk in the next 90 days
# For every active account: the probability of losing what is up at its next renewal and of leaving
# within 90 / 180 / 365 days, with the factors that raise its risk most (`x1.45` = this factor alone
# makes its odds of losing the renewal 45% higher than an average account's). Only effects that are
# clear after correcting for testing many factors are named; when there are none, `risk_factors_note`
# says so. The health band next to each renewal is the one this run's scoring notebook gave the account.

# %%
if result.risk is not None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    sns.histplot(result.risk["p_churn_before_renewal"], bins=40, ax=ax)
    ax.set(xlabel="probability of leaving at the next renewal", ylabel="accounts")
    plt.show()

# %%
due = result.at_risk
if due is not None:
    print(
        f"{due['account_id'].nunique()} accounts renew in the next {sv.at_risk_window_days} days: annual value "
        f"{due['annual_value'].sum():,.0f}, of which {due['value_at_risk'].sum():,.0f} expected to be lost."
        + ("" if result.health_known else " Health bands appear once the scoring notebook has run.")
    )
    display(due.head(top_n).round(3))

# %% [markdown]
# ## What could not be estimated, and why

# %%
notes = result.notes()
print("\n".join(f"- {n}" for n in notes) if notes else "Everything above was estimated.")
