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
# # 3. Customer score, weights and tiers
# Each customer gets a score from 0 to 100, built from weighted criteria such as annual sales,
# profit contribution, years of cooperation, market influence, growth and payment behaviour.
# The score decides each customer's tier, and the tier decides how much service the customer
# gets. This page shows:
# - how the weights were set, and what they would be under other methods;
# - how each weighting would have done had we used it a year ago (the back-test);
# - the resulting tiers and how stable they are;
# - who moved between tiers since the last snapshot, and why.
#
# Analysts change the criteria and weights in `config/params.yaml` (section `scoring`). To try
# another setting here, put it in `overrides` below, for example
# `{"scoring.weights.method": "entropy"}`, `{"scoring.weights.blend_mix": 0.25}`,
# `{"scoring.weights.calibration.outcome": "margin"}` or `{"language": "zh"}`. See `docs/scoring.md`.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
backtest_as_of = None  # None: one year before the as-of date
previous_as_of = None  # the earlier snapshot for tier migration; None: one year before the as-of date
overrides = {}  # try a setting here, e.g. {"scoring.weights.method": "entropy"}; a scheduled run uses the config

# %%
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis import scoring
from analysis.core import problems
from analysis.data.asof import parse_optional_date
from analysis.report import plotting
from analysis.run.notebook import NotebookRun
from analysis.scoring import weights

run = NotebookRun.open("03_scoring_and_weights", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
result = scoring.analyse(
    run,
    backtest_as_of=parse_optional_date(backtest_as_of, "backtest_as_of"),
    previous_as_of=parse_optional_date(previous_as_of, "previous_as_of"),
)
for name, table in result.tables().items():
    run.write(table, name)
result.write_weights_yaml(run.run_dir)
print(run.describe())
print(result.describe())

# %% [markdown]
# ## Weights side by side
# Every method gives weights that sum to 1:
# - **expert**: the analysts' weights from the config;
# - **equal**: every criterion the same weight; this is the baseline a method must beat;
# - **AHP**: derived from pairwise judgements; refused when the judgements contradict each
#   other (consistency ratio of 0.10 or more);
# - **entropy** and **CRITIC**: favour criteria that spread customers apart and add
#   information the other criteria do not;
# - **calibrated**: fitted to what actually happened (renewal, or the next 12 months of margin);
# - **blend**: a mix of expert and calibrated weights.
#
# Bars are 95% bootstrap intervals: a wide bar means the data pin that weight down poorly.

# %%
weights.plot_weights(result.weight_table)
plt.show()
result.describe_weightings()

# %%
result.weight_table.pivot(index="factor", columns="weighting", values="estimate").round(3)

# %% [markdown]
# ## Back-test: how each weighting would have done a year ago
# We score customers as of the back-test date, with weights calibrated only on data from
# before that date, then compare with what happened over the following 12 months:
# - **renewal AUC**: the chance that a customer who renewed scored higher than one who did
#   not (0.5 is a coin flip);
# - **Spearman**: rank correlation of the score with next-year margin;
# - **top-tier lift**: the top tier's renewal rate divided by the overall rate;
# - **top-20% margin share**: the share of next-year margin earned by the top 20% of scores.
#
# Each figure has a 95% bootstrap interval. The differences table compares each weighting with
# the baseline on the same resamples, and a difference counts only when its interval excludes 0.
# Each row's verdict is computed from those intervals: *worse than chance* when the whole interval
# lies below what a random order would score (AUC 0.5, correlation 0, lift 1), *worse than the
# baseline* when the paired difference lies below 0. The sentences below say it for the renewal
# AUC of every weighting (the one marked `chosen` cut the tiers).

# %%
print("\n".join(result.backtest.notes))
display(pd.Series(result.backtest_skipped, dtype=object, name="skipped in the back-test (why)"))
auc = result.backtest.metrics[result.backtest.metrics["metric"] == "renewal_auc"]
print("\n".join(auc["sentence"]))
result.backtest.table()

# %%
result.backtest.differences.round(3)

# %%
sns.catplot(
    data=result.backtest.per_tier,
    x="tier",
    y="renewal_rate",
    hue="weighting",
    kind="point",
    height=3.5,
    aspect=2,
    order=list(result.pyramid.codes),
).set(title="Renewal rate per tier in the back-test year", ylabel="renewal rate")
plt.show()

# %% [markdown]
# ## Tiers with the chosen weights
# Pyramid by score (default: top 1% key-important, next 19% key-secondary, next 30% ordinary,
# bottom 50% small), A/B/C/D by score cut points, and Pareto ABC by revenue (first 80 / next 15 /
# last 5% of revenue). Flags sit on top of the tiers:
# - **potential**: low value now, high growth (or high CLV, when the CLV notebook wrote it);
# - **unprofitable**: negative margin after cost to serve, or chronically late payment.
#
# Only current customers get a tier: a contract covers the as-of date (or, with no contract, they
# ordered in the last 12 months). Accounts whose contract lapsed in the last year are listed
# separately below, with the tier they had a year ago; they get no playbook and no early warning.
#
# The table below says, per criterion, how many customers had no value and what the score did
# with them. A criterion missing for more than `scoring.max_missing_share` of the customers (for
# example payment behaviour in a book without orders) is left out of the score and the other
# weights are rescaled in proportion (`dropped`).

# %%
print("\n".join(problems.as_text(result.problems)))
result.missing_report()

# %%
shares = result.tier_sizes.reset_index().melt(
    id_vars="tier", value_vars=["share_accounts", "share_revenue_12m"], var_name="share of", value_name="share"
)
sns.barplot(data=shares, x="tier", y="share", hue="share of").set(title="Tier sizes and revenue shares")
plt.show()
result.tier_sizes

# %%
result.other_tierings()

# %%
result.tiers[["flag_potential", "flag_unprofitable"]].sum().rename("accounts flagged").to_frame()

# %%
print(f"{len(result.lapsed)} lapsed accounts (contract in the last 12 months, none now), largest revenue first:")
result.lapsed.head(15)

# %% [markdown]
# ## Stability: does moving one weight by 5 points reshuffle the tiers?
# Each weight in turn moves up or down by 5 percentage points; the others absorb the change in
# proportion. If a small change moves many customers, the tiers depend on a judgement call
# more than on the customers themselves.

# %%
result.stability.round(3)

# %% [markdown]
# ## Health score and early warnings
# Health is scored 0-100 from feature usage, meeting time, support tickets and NPS, then banded:
# 80 or more is healthy, 60-80 is watch, below 60 is at risk. Each component is scored on a fixed
# range (`scoring.health.ranges: fixed`), so a band means the same thing from run to run; a
# component this book does not measure is left out. When a band holds (nearly) everyone or no one
# the bands cannot tell customers apart here: the status column says so, the distribution shows
# where the book's scores and components actually lie, and `ranges: book_quantiles` takes each
# range from this book's own quantiles instead (bands then rank customers within the book).
# The back-test shows the renewal rate per band over the year after the back-test date. The bands
# earn their place only if healthy customers actually renewed more often.

# %%
display(result.health_bands)
display(result.health_distribution.round(2))
display(result.warning_coverage)
result.health_band_renewal.round(3)

# %% [markdown]
# ## Tier migration since the previous snapshot
# Tiers at the previous snapshot and now, with the same weights. Each snapshot is scored on its
# own scale, so a customer can move because others overtook it. The `moved_by` column lists the
# score components (in points) that pushed each customer up or down.

# %%
mig = result.migration
sns.heatmap(mig.shares, annot=mig.counts, fmt="d", cmap="Blues", cbar=False).set(
    title=f"Tier migration {result.previous_as_of} to {result.as_of} (colour: row share, numbers: accounts)"
)
plt.show()
mig.counts

# %%
mig.upgrades.sort_values("score_change", ascending=False).head(15)[
    ["tier_before", "tier_after", "score_before", "score_after", "moved_by"]
]

# %%
mig.downgrades.sort_values("score_change").head(15)[
    ["tier_before", "tier_after", "score_before", "score_after", "moved_by"]
]

# %% [markdown]
# ## Outputs of this notebook
# - `scoring_weights.yaml`: the chosen weights and how they were obtained (paste into the config
#   to fix them); `tables/scoring_weights_used` holds the same weights, one row per criterion,
#   for the report;
# - `tables/scored_accounts`: one row per current customer with score, components, tiers,
#   flags, playbook, health and alerts, plus CLV when notebook 02 wrote it. Churn risk is not
#   here: the churn notebook (04) runs after this one, and the report and the exports join it.

# %%
print(
    f"scored_accounts: {len(result.scored_accounts)} accounts, {result.scored_accounts.shape[1]} columns; "
    f"weights used for the tiers: {result.method}."
)
result.weights_used()
