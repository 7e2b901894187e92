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
# # 2. Customer lifetime value
# What each account is likely to be worth from here on, in margin, discounted to today.
# Two streams are valued separately and added up:
# * **orders**: how often the account will buy and how much per order (BG/NBD purchase model and
#   Gamma-Gamma spend model, fitted on every account's order history);
# * **contracts**: the renewals still to come on its annual contracts (shifted-beta-geometric
#   retention model, fitted per size band), times current annual value and margin.
#
# The assumptions (horizon, discount rate, margins) are listed at the end and come from the `clv`
# section of the configuration.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
previous_run_dir = None
top_n = 15

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis import clv
from analysis import params as config
from analysis.data import features, io
from analysis.report import plotting

params = config.load_params(config_path)
settings = clv.ClvSettings.from_params(params)
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
print(f"Data: {book.source}   As-of date: {as_of_date}   Time unit of the purchase model: {settings.time_unit}")

# %% [markdown]
# ## Does the purchase model predict what happens next?
# The model is fitted on orders up to a calibration date and asked how many orders each account
# would place in the following weeks, which had already happened. Accounts are grouped by how
# many repeat orders they placed in the calibration period; the closer the two lines, the more
# the order-stream CLV can be trusted.

# %%
holdout, calibration_model, holdout_note = clv.holdout_report(
    book.df("orders") if book.has("orders") else None, as_of_date, settings
)
print(holdout_note)
if holdout is not None:
    io.write_table(holdout, run_dir, "clv_holdout_check")
    clv.plot_holdout_check(holdout, time_unit_label=f"{settings.holdout_weeks}-week holdout")
    plt.show()
holdout

# %% [markdown]
# ## Fitted models
# Each parameter with its 95% interval. Purchase rates and dropout are measured in
# weeks; retention is per annual renewal.

# %%
result = clv.account_clv(book, as_of_date, params)
summaries = clv.model_summaries(result)
io.write_table(summaries, run_dir, "clv_model_summary")
print("\n".join(result.notes) or "All models were estimated.")
summaries.round(4)

# %% [markdown]
# ## Retention by size band (contracts)
# Share of customers who renew at each anniversary. Retention rises with tenure because the
# customers most likely to leave do so early; a flat line means the data show no such sorting.

# %%
curves = clv.retention_curves(result.retention, range(1, 11))
if len(curves):
    io.write_table(result.retention_table, run_dir, "clv_retention_segments")
    io.write_table(curves, run_dir, "clv_retention_curves")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    sns.lineplot(data=curves, x="period", y="retention_rate", hue="segment", marker="o", ax=axes[0])
    axes[0].set(xlabel="renewal number", ylabel="probability of renewing", title="Projected renewal rate")
    sns.lineplot(data=curves, x="period", y="survival", hue="segment", marker="o", ax=axes[1])
    axes[1].set(xlabel="years since first contract", ylabel="share still a customer", title="Projected survival")
    plt.show()
else:
    print("No contract histories: the contract stream is not valued.")
result.retention_table

# %% [markdown]
# ## How CLV is distributed
# CLV is very uneven: a few accounts hold most of the future value.

# %%
table = result.table.assign(clv_tier=clv.clv_tier(result.table["clv"]))
shares = clv.clv_concentration(table["clv"])
io.write_table(shares.rename_axis("accounts").to_frame(), run_dir, "clv_concentration")
print(
    "Share of total CLV held by the top accounts: "
    + ", ".join(f"{k.replace('top_', 'top ')}: {v:.0%}" for k, v in shares.items())
)
fig, ax = plt.subplots(figsize=(7, 4))
sns.histplot(np.log10(table.loc[table["clv"] > 0, "clv"]), bins=40, ax=ax)
ax.set(xlabel="CLV (log10 of currency units)", ylabel="accounts", title="CLV per account")
plt.show()

# %% [markdown]
# ## CLV by tier and by size band
# The CLV pyramid (top 1%, next 19%, next 30%, bottom half) and the size bands. Value at risk is
# CLV times the probability of losing the account: the chance of not renewing the next contract,
# or for order-only accounts the chance that they have already stopped buying.

# %%
by_tier = clv.clv_by_group(table, "clv_tier")
by_band = clv.clv_by_group(table, settings.segment) if settings.segment in table else None
io.write_table(by_tier, run_dir, "clv_by_tier")
previous = io.read_table(previous_run_dir, "scored_accounts")
if previous is not None and "tier" in previous:
    by_scored_tier = clv.clv_by_group(table.join(previous.set_index("account_id")["tier"]), "tier")
    display(by_scored_tier)
else:
    print("Scored tiers are made later in the run (notebook 05); the report joins CLV to them.")
display(by_tier)
by_band

# %% [markdown]
# ## The CLV table
# One row per account, written for the report and the CRM export as `clv_accounts`.

# %%
columns = [
    "clv",
    "clv_orders",
    "clv_contracts",
    "p_alive",
    "churn_probability",
    "value_at_risk",
    "risk_source",
    "expected_purchases",
    "expected_spend",
    "renewal_probability",
    "derl",
    "arr",
    "clv_tier",
]
clv_accounts = table[[c for c in [settings.segment, *columns] if c in table]]
io.write_table(clv_accounts, run_dir, "clv_accounts")
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
