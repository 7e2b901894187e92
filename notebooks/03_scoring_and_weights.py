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
# # 5. Customer score, weights and tiers
# Each customer gets a score from 0 to 100, built from weighted criteria such as annual sales,
# profit contribution, years of cooperation, market influence, growth and payment behaviour.
# The score decides each customer's tier, and the tier decides how much service the customer
# gets. This page shows:
# - how the weights were set, and what they would be under other methods;
# - how each weighting would have done had we used it a year ago (the back-test);
# - the resulting tiers and how stable they are;
# - who moved between tiers since the last snapshot, and why.
#
# Analysts change the criteria and weights in `config/params.yaml` (section `scoring`), or
# the method, the expert weights and the blend in the parameters below. See `docs/scoring.md`.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
weight_method = (
    None  # None: the config's scoring.weights.method; or expert, equal, ahp, entropy, critic, calibrated, blend
)
expert_weights = None  # None: the config's; or YAML text, e.g. "{revenue_12m: 0.4, margin_12m: 0.3, tenure_days: 0.1, market_influence: 0.1, revenue_growth: 0.05, payment_delay_days: 0.05}"
blend_mix = None  # None: the config's; from 0 (all expert) to 1 (all calibrated)
calibration_outcome = None  # None: the config's; or renewal, margin
backtest_as_of = None  # None: one year before the as-of date
previous_as_of = None  # the earlier snapshot for tier migration; None: one year before the as-of date
language = None  # None: the config's; or en, zh

# %%
import datetime as dt
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from analysis import params as config
from analysis.data import features, io
from analysis.report import plotting
from analysis.scoring import backtest, health, tiers, weights
from analysis.scoring import score as scoring

params = config.load_params(config_path)
section, lang = scoring.settings(params, weight_method, calibration_outcome, language, expert_weights, blend_mix)
spec = scoring.parse_spec(section)
pyramid = tiers.scheme(section, "pyramid")
margin_rate = params["features"]["subscription_margin"]
lead_days = params["features"]["renewal_lead_days"]
method = section["weights"]["method"]
outcome = section["weights"]["calibration"]["outcome"]
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
year_before = as_of_date - dt.timedelta(days=365)
bt_date = features.resolve_as_of(book, backtest_as_of or year_before)
prev_date = features.resolve_as_of(book, previous_as_of or year_before)
if not bt_date < as_of_date:
    raise ValueError(f"backtest_as_of ({bt_date}) must be before the as-of date ({as_of_date}).")
window_note = (
    "complete"
    if bt_date + dt.timedelta(days=365) <= book.extract_date + dt.timedelta(days=1)
    else "INCOMPLETE: fewer than 12 months of outcomes, read the back-test with care"
)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
print(
    f"As-of date {as_of_date}; back-test as of {bt_date} (12-month outcome window {window_note}); "
    f"previous snapshot {prev_date}.\nWeights used for tiers: {method}; calibration outcome: {outcome}; "
    f"language: {lang}."
)

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
feats, population_note = scoring.scoring_population(features.snapshot_for_run(book, as_of_date, run_dir, margin_rate))
print(population_note)
cal_rows, cal_outcome = backtest.calibration_set(book, as_of_date, outcome, lead_days, margin_rate)
results, skipped = backtest.weightings(section, feats, cal_rows, cal_outcome, seed)
weight_table = weights.weights_table(results)
io.write_table(weight_table, run_dir, "scoring_weights")
weights.plot_weights(weight_table)
plt.show()
weights.describe(results, skipped)

# %%
weight_table.pivot(index="factor", columns="weighting", values="estimate").round(3)

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

# %%
feats_bt, _ = scoring.scoring_population(features.build_features(book, bt_date, margin_rate))
outcomes_bt = features.build_outcomes(book, bt_date, margin_rate)
bt_rows, bt_outcome = backtest.calibration_set(book, bt_date, outcome, lead_days, margin_rate)
bt_results, bt_skipped = backtest.weightings(section, feats_bt, bt_rows, bt_outcome, seed, strict=False)
bt = backtest.backtest(
    backtest.score_weightings(feats_bt, spec, bt_results),
    outcomes_bt,
    pyramid,
    n_boot=int(section["backtest"]["n_boot"]),
    seed=seed,
    top_share=float(section["backtest"]["top_share"]),
    baseline=section["backtest"]["baseline"],
)
io.write_table(bt.metrics, run_dir, "scoring_backtest")
io.write_table(bt.per_tier, run_dir, "scoring_backtest_tiers")
io.write_table(bt.differences, run_dir, "scoring_backtest_differences")
print("\n".join(bt.notes))
display(pd.Series(bt_skipped, dtype=object, name="skipped in the back-test (why)"))
bt.table()

# %%
bt.differences.round(3)

# %%
sns.catplot(
    data=bt.per_tier,
    x="tier",
    y="renewal_rate",
    hue="weighting",
    kind="point",
    height=3.5,
    aspect=2,
    order=list(pyramid.codes),
).set(title="Renewal rate per tier in the back-test year", ylabel="renewal rate")
plt.show()

# %% [markdown]
# ## Tiers with the chosen weights
# Pyramid by score (default: top 1% key-important, next 19% key-secondary, next 30% ordinary,
# bottom 50% small), A/B/C/D by score cut points, and Pareto ABC by revenue (first 80 / next 15 /
# last 5% of revenue). Flags sit on top of the tiers:
# - **potential**: low value now, high growth (or high CLV, when the CLV notebook ran first);
# - **unprofitable**: negative margin after cost to serve, or chronically late payment.

# %%
chosen = results[method]
scored = scoring.score_accounts(feats, spec, chosen.weights)
clv_table = io.read_table(run_dir, "clv_accounts")
churn_table = io.read_table(run_dir, "churn_risk")
clv = tiers.predictor_from(clv_table, "clv")
print(
    "Potential flag uses "
    + (
        "CLV from this run's clv_accounts table."
        if clv is not None
        else "revenue growth: no CLV table in this run (run 02_clv first to use CLV)."
    )
)
tier_table = tiers.assign_tiers(scored, feats, section, lang, predictor=clv)
print("\n".join(scored.attrs["notes"]))
scoring.missing_report(scored, spec)

# %%
sizes = tiers.tier_summary(tier_table["tier"], feats[["revenue_12m", "margin_12m"]])
sizes.insert(0, "label", sizes.index.map(pyramid.labels(lang)))
io.write_table(sizes, run_dir, "tier_sizes")
shares = sizes.reset_index().melt(
    id_vars="tier", value_vars=["share_accounts", "share_revenue_12m"], var_name="share of", value_name="share"
)
sns.barplot(data=shares, x="tier", y="share", hue="share of").set(title="Tier sizes and revenue shares")
plt.show()
sizes

# %%
pd.concat(
    {
        "A/B/C/D": tiers.tier_summary(tier_table["abcd"], feats[["revenue_12m"]]),
        "Pareto ABC": tiers.tier_summary(tier_table["abc"], feats[["revenue_12m"]]),
    }
)

# %%
tier_table[["flag_potential", "flag_unprofitable"]].sum().rename("accounts flagged").to_frame()

# %% [markdown]
# ## Stability: does moving one weight by 5 points reshuffle the tiers?
# Each weight in turn moves up or down by 5 percentage points; the others absorb the change in
# proportion. If a small change moves many customers, the tiers depend on a judgement call
# more than on the customers themselves.

# %%
stability = backtest.tier_stability(
    scoring.criteria_matrix(feats, spec),
    chosen.weights,
    pyramid,
    delta=float(section["backtest"]["stability_points"]) / 100,
    missing=spec.missing,
    neutral_value=spec.neutral_value,
)
io.write_table(stability, run_dir, "scoring_stability")
stability.round(3)

# %% [markdown]
# ## Health score and early warnings
# Health is scored 0-100 from feature usage, meeting time, support tickets and NPS, then banded:
# 80 or more is healthy, 60-80 is watch, below 60 is at risk. The back-test shows the renewal
# rate per band over the year after the back-test date. The bands earn their place only if
# healthy customers actually renewed more often.

# %%
health_now = health.health_score(feats, section["health"], lang)
alerts = health.early_warnings(feats, section["warnings"], lang)
io.write_table(alerts, run_dir, "early_warnings")
health_bt = health.health_score(feats_bt, section["health"], lang)
band_renewal = backtest.group_rates(
    health_bt["health_band"],
    outcomes_bt["renewed_next"].reindex(health_bt.index),
    n_boot=int(section["backtest"]["n_boot"]),
    seed=seed,
)
io.write_table(band_renewal, run_dir, "health_band_renewal")
display(health_now["health_band"].value_counts().rename("accounts now").to_frame())
display(health.warning_coverage(feats, section["warnings"]))
band_renewal.round(3)

# %% [markdown]
# ## Tier migration since the previous snapshot
# Tiers at the previous snapshot and now, with the same weights. Each snapshot is scored on its
# own scale, so a customer can move because others overtook it. The `moved_by` column lists the
# score components (in points) that pushed each customer up or down.

# %%
feats_prev = (
    feats_bt
    if prev_date == bt_date
    else scoring.scoring_population(features.build_features(book, prev_date, margin_rate))[0]
)
scored_prev = scoring.score_accounts(feats_prev, spec, chosen.weights)
tiers_prev = tiers.assign_tiers(scored_prev, feats_prev, section, lang)
mig = tiers.migration(scored_prev.join(tiers_prev), scored.join(tier_table), pyramid.codes)
io.write_table(mig.counts, run_dir, "tier_migration")
io.write_table(mig.moves, run_dir, "tier_moves")
sns.heatmap(mig.shares, annot=mig.counts, fmt="d", cmap="Blues", cbar=False).set(
    title=f"Tier migration {prev_date} to {as_of_date} (colour: row share, numbers: accounts)"
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
#   to fix them);
# - `tables/scored_accounts`: one row per current customer with score, components, tiers,
#   flags, playbook, health and alerts, plus CLV and churn risk when earlier notebooks wrote them.

# %%
weights.write_weights_yaml(chosen, Path(run_dir) / "scoring_weights.yaml")
scored_accounts = scored.join(
    [
        tier_table,
        health_now,
        health.alerts_per_account(alerts, feats.index),
        feats[["revenue_12m", "margin_12m", "arr", "next_renewal_date"]],
    ]
)
scored_accounts, join_notes = tiers.join_optional(
    scored_accounts, {"clv_accounts": clv_table, "churn_risk": churn_table}
)
io.write_table(scored_accounts, run_dir, "scored_accounts")
print(
    "\n".join(join_notes + [f"scored_accounts: {len(scored_accounts)} accounts, {scored_accounts.shape[1]} columns."])
)
