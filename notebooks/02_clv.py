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
# # 2. Customer lifetime value
# What each account is likely to be worth from here on, in margin, discounted to today.
# Two streams are valued separately and added up:
# * **orders**: how often the account will buy and how much per order (BG/NBD purchase model and
#   Gamma-Gamma spend model, fitted on every account's order history);
# * **contracts**: the renewals still to come on its contracts (shifted-beta-geometric retention
#   model, fitted per term length (monthly, quarterly, semi-annual, annual, multi-year, read from the
#   contract dates) and per size band), times current annual value and margin. A monthly contract
#   renews twelve times a year, so its renewals are counted in months, not in years.
#
# A book without orders (subscription only) is valued from its contracts alone; the order-stream
# sections then say why they are empty.
#
# The assumptions (horizon, discount rate, margins) are listed at the end and come from the `clv`
# section of the configuration.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
top_n = 15
overrides = {}  # try a setting here, e.g. {"clv.horizon_years": 5}; a scheduled run uses the config

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import clv
from analysis.core import problems
from analysis.report import plotting
from analysis.run.notebook import NotebookRun

run = NotebookRun.open("02_clv", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
result = clv.analyse(run)
for name, table in result.tables().items():
    run.write(table, name)
print(run.describe())
print(f"Time unit of the purchase model: {result.params.time_unit}")

# %% [markdown]
# ## Does the purchase model predict what happens next?
# The model is fitted on orders up to a calibration date and asked how many orders each account
# would place in the following weeks, which had already happened. Accounts are grouped by how
# many repeat orders they placed in the calibration period. The verdict below is computed from the
# values: *close* when predicted / actual lies within `clv.holdout_tolerance` of 1, *over* or
# *under* when its whole 95% interval lies beyond that tolerance, *unclear* otherwise (too few
# customers to tell). Seasonal buying, for example, makes a stationary purchase model miss.

# %%
print(result.holdout_note)
if result.holdout is not None:
    print(result.holdout.loc["all", "sentence"])
    clv.plot_holdout_check(result.holdout, time_unit_label=f"{result.params.holdout_weeks}-week holdout")
    plt.show()
result.holdout

# %% [markdown]
# ## Fitted models
# Each parameter with its 95% interval. Purchase rates and dropout are measured in
# weeks; retention is per renewal of each term class. Below the table: what could not be
# estimated and why, or what was estimated differently (for example a size band with too few
# churners uses the pooled fit of its term class).

# %%
print("\n".join(problems.as_text(result.problems)) or "All models were estimated.")
result.model_summary.round(4)

# %% [markdown]
# ## Retention by term length and size band (contracts)
# Share of customers who renew at each renewal, projected over ten years. Retention usually rises
# with tenure because the customers most likely to leave do so early; a flat line means the data
# show no such sorting. The table gives, per term length, the observed share of renewal decisions
# that renewed (with its 95% interval) and whether the retention model fits the observed retention
# renewal by renewal (`fit_check`, at `clv.misfit_alpha`). Where it does not (for example churn
# that rises with tenure, which this model cannot represent), that term length is valued with the
# observed retention per renewal number instead (`model`), plotted below against the model's.

# %%
curves = result.retention_curves
if len(curves):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(data=curves, x="years", y="survival", hue="term_class", style="segment", ax=axes[0])
    axes[0].set(xlabel="years since the spell started", ylabel="share still a customer", title="Projected survival")
    by_renewal = result.retention_by_renewal
    sns.lineplot(data=by_renewal, x="renewal", y="rate", hue="term_class", marker="o", ax=axes[1])
    sns.lineplot(data=by_renewal, x="renewal", y="sbg_rate", hue="term_class", linestyle="--", legend=False, ax=axes[1])
    axes[1].set(
        xlabel="renewal number (last point: later renewals pooled)",
        ylabel="share renewing",
        title="Observed retention (dots) and the sBG (dashed)",
    )
    plt.tight_layout()
    plt.show()
else:
    print("No contract reached a renewal decision: the contract stream is not valued.")
result.retention_table

# %% [markdown]
# ## How CLV is distributed
# CLV is very uneven: a few accounts hold most of the future value.

# %%
if result.concentration is not None:
    print(
        "Share of total CLV held by the top accounts: "
        + ", ".join(f"{k.replace('top_', 'top ')}: {v:.0%}" for k, v in result.concentration.items())
    )
values = result.clv_accounts["clv"]
fig, ax = plt.subplots(figsize=(7, 4))
sns.histplot(np.log10(values[values > 0]), bins=40, ax=ax)
ax.set(xlabel="CLV (log10 of currency units)", ylabel="accounts", title="CLV per account")
plt.show()

# %% [markdown]
# ## CLV by tier and by size band
# The CLV pyramid (top 1%, next 19%, next 30%, bottom half) and the size bands. Value at risk is
# CLV times the probability of losing the account: the chance of not renewing the next contract,
# or for order-only accounts the chance that they have already stopped buying.
#
# CLV by *scored* tier is not shown here: the tiers are cut after CLV in the run (notebook 03,
# which reads `clv_accounts`), and the manager report joins CLV to this run's tiers.

# %%
display(result.by_tier)
result.by_segment

# %% [markdown]
# ## The CLV table
# One row per account, written for the report and the CRM export as `clv_accounts`.

# %%
clv_accounts = result.clv_accounts
print(
    f"{len(clv_accounts)} accounts, total CLV {clv_accounts['clv'].sum():,.0f}, "
    f"value at risk {clv_accounts['value_at_risk'].sum():,.0f}"
)
clv_accounts.sort_values("clv", ascending=False).head(top_n).round(2)

# %% [markdown]
# Largest value at risk: valuable accounts that are likely to be lost.

# %%
clv_accounts.sort_values("value_at_risk", ascending=False).head(top_n).round(2)

# %% [markdown]
# ## Assumptions
# Change them in the `clv` section of the configuration.

# %%
pd.Series(result.assumptions, name="value").to_frame()
