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
# # 6. High-value customer traits
# What do our best customers look like, and which ordinary customers look like them already?
#
# 1. **Clusters**: current customers grouped by firmographics and behaviour (K-means; the number of
#    clusters chosen by the silhouette and checked against a Gaussian mixture's BIC). Cluster 1 is
#    always the one with the highest mean revenue, and the fitted clusters are saved with the run, so
#    the next run can place customers in the same clusters.
# 2. **Profiles**: each cluster's size, share of revenue and CLV, renewal rate, and where it differs
#    most from the whole book.
# 3. **Traits of the top tier**: short rules a manager can read, each with how often it is right
#    (precision) and how much of the top tier it finds (coverage), measured on accounts held out
#    from building the rule.
# 4. **Upgrade candidates**: customers outside the top tiers that sit in or near a high-value
#    cluster or match a rule, with the gap in each trait.
#
# Settings come from the `segments` section of the configuration (guide: `docs/segments.md`).

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
previous_model_dir = None
top_n = 20
overrides = {}  # try a setting here, e.g. {"segments.k": 4}; a scheduled run uses the config

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from analysis import segments
from analysis.core import problems
from analysis.report import plotting
from analysis.run.notebook import NotebookRun

run = NotebookRun.open("06_high_value_traits", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
result = segments.analyse(run, previous_model_dir)
for name, table in result.tables().items():
    run.write(table, name)
model_dir = Path(run.run_dir) / "models" / "segments"
result.model.save(model_dir)
print(run.describe())
print(
    f"Clustering {len(result.population):,} of {result.n_snapshot:,} accounts "
    f"({'active customers only' if result.params.active_only else 'all accounts'})."
)
print("\n".join(problems.as_text(result.problems)) or "Everything was estimated.")

# %% [markdown]
# ## Clusters
# When an earlier run's model folder is given (`previous_model_dir`), customers are assigned to its
# clusters without refitting, so cluster numbers mean the same thing from run to run.

# %%
print(result.model_note)
if result.model.dropped_features_:
    print(f"Features dropped because every account has the same value: {result.model.dropped_features_}")
print(f"Model, centroids and cluster means saved in {model_dir}.")

# %% [markdown]
# ## How many clusters?
# Left: the K-means silhouette (how clearly each customer belongs to its own cluster rather than the
# next; higher is better; the dashed line marks the k used). Right: a Gaussian mixture's BIC (fit
# penalised for complexity; lower is better). The silhouette tends to favour a coarse split (big versus small
# customers); when a finer split is more useful, set `segments.k` after reading this plot.
#
# How firm is the choice? The clustering is refitted on bootstrap resamples of the customers, and
# `bootstrap_share` is the share of resamples in which each k has the best silhouette. The choice
# is *close* when the runner-up's silhouette is within `segments.k_close_margin` of the chosen k's, or
# the chosen k wins fewer than `segments.k_stable_share` of the resamples; the runner-up's clusters
# are then shown below the plot (set `segments.k` to use them).

# %%
selection = result.selection
if selection is None:
    print(f"k was fixed at {result.model.k_} (segments.k or a saved model); no selection was run.")
else:
    print(problems.as_text(result.problems[result.problems["factor"] == "number of clusters"])[0])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    sns.lineplot(x=selection.index, y=selection["kmeans_silhouette"], marker="o", ax=axes[0])
    axes[0].axvline(result.model.k_, color="grey", linestyle="--")
    axes[0].set(xlabel="number of clusters k", ylabel="silhouette", title="K-means silhouette (higher is better)")
    sns.lineplot(x=selection.index, y=selection["gmm_bic"], marker="o", ax=axes[1])
    axes[1].set(xlabel="number of clusters k", ylabel="BIC", title="Gaussian mixture BIC (lower is better)")
    plt.tight_layout()
    plt.show()
    display(selection.round(3))
if result.runner_up is not None:
    display(result.runner_up.round(3))

# %% [markdown]
# ## Cluster profiles
# Each cell: how far the cluster's average sits from the whole book, in standard deviations
# (money and counts on a log scale; for a category, its share). Red: above the book, blue: below.

# %%
names = result.names
ax = segments.plot_profile_heatmap(result.differences, n_per_cluster=6)
ax.set_yticklabels([names[int(t.get_text())] for t in ax.get_yticklabels()], rotation=0)
plt.show()

# %% [markdown]
# ## Size, value and renewal per cluster
# Tiers come from this run's scoring step (notebook 03, `scored_accounts`); an analyst's session
# without them uses a fallback pyramid on trailing revenue cut with the scoring pyramid's shares
# (the note below says which). CLV comes from the CLV step (notebook 02). The renewal rate looks
# forward from a year ago: today's customers have renewed every past contract (those who did not
# are gone), so it pools the contracts decided since then by the customers each cluster held a
# year (365 days) ago.

# %%
print(result.tier_note)
print(result.clv_note)
print(result.renewal_note)
result.profile.round(3)

# %% [markdown]
# ## What the top tier looks like
# Rules from a shallow decision tree on firmographics and behaviour (money columns are left out:
# tiers are cut on value, so a rule on revenue would only repeat the definition). *Precision*: of the
# held-out customers matching the rule, the share in a top tier. *Coverage*: of the held-out top-tier
# customers, the share the rule finds. The interval is a 95% Wilson interval for the precision.

# %%
rules = result.rules
if rules is None:
    print("Top-tier rules could not be built (see the problems listed at the top).")
else:
    overall = rules.overall_
    print(
        f"Together the rules find {overall['coverage_test']:.0%} of the held-out top tier with precision "
        f"{overall['precision_test']:.0%} (top-tier share of the book: {overall['base_rate_test']:.0%})."
    )
    display(
        result.rule_table[
            ["rule_id", "rule", "precision_test", "lower_95", "upper_95", "coverage_test", "n_test", "lift_test"]
        ].round(3)
    )
    print("\n".join(rules.rules_["sentence"]))

# %% [markdown]
# ## Upgrade candidates
# Customers outside the top tiers that are in a high-value cluster (at least half of its customers
# are top-tier) or match a rule come first, then the nearest to a high-value cluster. The `gap_`
# columns compare each customer with the typical top-tier customer of that cluster (positive: the
# customer has less).

# %%
candidates = result.candidates
if candidates is None:
    print("No upgrade candidates: the top tier could not be described (see above).")
else:
    print(
        f"High-value clusters: {[names[c] for c in result.high_value]}. {len(candidates)} candidates written "
        f"as upgrade_candidates."
    )
    display(candidates.head(int(top_n)).round(2))

# %% [markdown]
# ## The segments table
# One row per clustered customer (`account_id, cluster, cluster_name`), written as `segments` for the
# report and the CRM export.

# %%
result.segments["cluster_name"].value_counts().rename("accounts").to_frame()
