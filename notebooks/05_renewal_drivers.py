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
# # 5. What makes customers renew
# Every contract that reached its end date is one decision: renewed or not. For each, the account's
# behaviour is measured **before** the end date (90 days by default, or a quarter of the term when that
# is shorter, so a monthly plan is measured about a week before its end), so that the analysis only
# uses what a manager could have seen in time to act. The contract's term (monthly ... multi-year) is
# a factor of the model: a monthly plan decides twelve times a year and renews differently.
#
# * **Main model** (logistic regression): the effect of each factor on the odds of renewal, as an odds
#   ratio per +1 standard deviation (numbers) or per level against a stated reference (categories),
#   with a 95% interval. Accounts with several contracts are counted once for the uncertainty
#   (errors clustered by account); p-values are corrected for testing many factors (Benjamini-Hochberg).
# * **Second opinion** (gradient boosting): trained on earlier contracts, judged on later ones; it
#   can find curved effects the main model misses. A table says where the two agree.
# * **Stability**: the model refitted by size band, industry and year; a factor whose effect points
#   opposite ways in two segments is flagged, and no single effect is stated for it.
# * **Status** of each finding: *confirmed* only when the regression finds it clear after correction
#   **and** the boosting check on later contracts relies on it (importance of at least
#   `drivers.confirm_min_importance`) in the same direction; clear in the regression alone it is
#   *possible, unconfirmed*; a flipping factor *depends on segment*. Findings are ranked by status, then
#   by a strength that compares 0/1 and numeric factors (log-odds per standard deviation, the end of its
#   interval nearest zero).
# * **Role**: a *lever* is something the company does (seminars, QBRs, executive visits), a *symptom* a
#   warning sign (login silence, open tickets), a *trait* who the account is (`drivers.factor_roles`).
# * **Per account**: for each open contract, the confirmed factors pushing its renewal down and up most.
#
# An odds ratio of 1.5 means the odds of renewal (renewals per non-renewal) are 50% higher; with
# renewal rates around 90% it moves the renewal *rate* by a few points. Associations, not proof of
# cause: a factor can stand in for something unmeasured, so even a confirmed lever is not proof that
# doing more of it raises renewal. Settings: the `drivers` section of the config (the lead time is
# `features.renewal_lead_days` and `features.renewal_lead_share_of_term`).

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
top_n = 15
overrides = {}

# %%
import matplotlib.pyplot as plt
import pandas as pd

from analysis import drivers
from analysis.report import plotting
from analysis.run.notebook import NotebookRun

run = NotebookRun.open("05_renewal_drivers", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
pd.set_option("display.max_colwidth", 160)
result = drivers.analyse(run)
for name, table in result.tables().items():
    run.write(table, name)
print(run.describe())
print(result.lead_note)
result.model_check

# %% [markdown]
# ## Renewal rate per contract term
# One rate over all decisions mostly counts the shortest terms, so each term class has its own.
# `left_out` counts decisions whose measurement date fell before the account's first day.

# %%
result.rates_by_term

# %% [markdown]
# ## What could not be estimated, or was estimated differently, and why
# Factors with one value, too few contracts in a class, mostly missing values or no overlap between
# renewers and leavers (separation: an "infinite" odds ratio, fitted instead with a penalty and said so)
# are listed here, and so is a part of the analysis that had to be skipped. An empty table means every
# factor was estimated as configured.

# %%
print(result.status)
result.not_estimable

# %% [markdown]
# ## Findings: confirmed first
# *Effect* is the odds ratio; for 0/1 factors the renewal rates with and without it are shown as
# observed. A category level is named `column=level` (for example `size_band=enterprise`) and compared
# with the reference level. `status_reason` says why a finding is or is not confirmed.

# %%
findings = result.table[
    [
        "factor",
        "status",
        "role",
        "effect",
        "effect_unit",
        "lower_95",
        "upper_95",
        "p_adjusted",
        "strength",
        "gbm_importance",
        "rate_with",
        "rate_without",
        "status_reason",
    ]
]
findings.head(top_n).style.format(
    {
        "effect": "{:.2f}",
        "lower_95": "{:.2f}",
        "upper_95": "{:.2f}",
        "p_adjusted": "{:.2g}",
        "strength": "{:.2f}",
        "gbm_importance": "{:.3f}",
        "rate_with": "{:.0%}",
        "rate_without": "{:.0%}",
    },
    na_rep="",
)

# %%
stated = result.table.loc[result.table["status"] != "no clear effect", "sentence"]
print("\n".join(f"- {s}" for s in stated) or "No factor has a clear effect after correction.")

# %% [markdown]
# ## Forest plot of odds ratios
# Right of the line: more renewals; left: fewer. Green and red have a clear effect; grey may be noise.

# %%
drivers.plot_forest(result.summary, top=top_n)
plt.title("Renewal odds ratio per factor (95% interval)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Second opinion: gradient boosting on later contracts
# Permutation importance is the drop in held-out accuracy (AUC) when a factor's values are shuffled;
# the partial-dependence curves show the boosting model's predicted renewal probability across each
# top factor's range (`drivers.pd_top` factors).

# %%
drivers.plot_importance(result.importance, top=top_n)
plt.title("Permutation importance on held-out (later) contracts")
plt.tight_layout()
plt.show()
drivers.plot_partial_dependence(result.partial_dependence, result.top_factors())
plt.tight_layout()
plt.show()

# %% [markdown]
# Where the two models agree and where not. "Boosting only" can mean a curved effect or an interaction;
# "logit only" usually means a real but small effect, or one shared with a correlated factor.

# %%
result.agreement

# %% [markdown]
# ## Stability across segments and years
# Odds ratio of each clear driver refitted within each segment (the full book's scale, so numbers
# compare); `*` marks a 95% interval that excludes 1.

# %%
print(result.stability_note)
result.stability_wide

# %% [markdown]
# ## Why each open account may or may not renew
# For every account with an open contract: its renewal probability from the main model and the
# confirmed factors pushing it down and up most, measured against the typical account (`typical`: the
# value at which a factor contributes nothing; `renewal_change`: the account's renewal probability minus
# what it would be at the typical value). A factor that may be noise, or whose direction flips between
# segments, gives no reasons; when none is left, the problems table above says so. The model was trained
# on features taken before each end date and is applied here to the features at the as-of date.

# %%
reasons = result.reasons
print(f"{reasons['account_id'].nunique()} open accounts with reasons")
reasons.sort_values(["renewal_probability", "account_id", "side", "rank"]).head(3 * top_n)
