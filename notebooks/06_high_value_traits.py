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

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from analysis import params as config
from analysis.data import features, io
from analysis.errors import ConfigError, InsufficientDataError
from analysis.report import plotting
from analysis.segments import clusters as sg
from analysis.segments import traits as tr

params = config.load_params(config_path)
section = config.section(params, "segments")
settings = sg.SegmentSettings.from_params(section, seed=int(seed))
top_tiers = list(section.get("top_tiers", tr.DEFAULT_TOP_TIERS))
model_dir = Path(run_dir) / "models" / "segments"
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
snapshot = features.snapshot_for_run(book, as_of_date, run_dir, params["features"]["subscription_margin"])
population = sg.clustering_population(snapshot, bool(section.get("active_only", True)))
value = population[settings.value_column]
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
print(
    f"As-of date: {as_of_date}. Clustering {len(population):,} of {len(snapshot):,} accounts "
    f"({'active customers only' if section.get('active_only', True) else 'all accounts'})."
)

# %% [markdown]
# ## Clusters
# When an earlier run's model folder is given (`previous_model_dir`), customers are assigned to its
# clusters without refitting, so cluster numbers mean the same thing from run to run.

# %%
if previous_model_dir:
    model = sg.SegmentModel.load(previous_model_dir)
    print(f"Assigned to the saved clusters of {previous_model_dir} (no refit).")
else:
    model = sg.SegmentModel(settings).fit(population)
    print(f"Fitted {model.settings.algorithm} with k = {model.k_} on {model.n_fit_:,} accounts.")
if model.dropped_features_:
    print(f"Features dropped because every account has the same value: {model.dropped_features_}")
model.save(model_dir)
labels = model.predict(population)
print(f"Model, centroids and cluster means saved in {model_dir}.")

# %% [markdown]
# ## How many clusters?
# Left: the K-means silhouette (how clearly each customer belongs to its own cluster rather than the
# next; higher is better; the dashed line marks the k used). Right: a Gaussian mixture's BIC (fit
# penalised for complexity; lower is better). The silhouette tends to favour a coarse split (big versus small
# customers); when a finer split is more useful, set `segments.k` after reading this plot.

# %%
selection = model.selection_
if selection is None:
    print(f"k was fixed at {model.k_} (segments.k or a saved model); no selection was run.")
else:
    io.write_table(selection, run_dir, "segment_k_selection")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    sns.lineplot(x=selection.index, y=selection["kmeans_silhouette"], marker="o", ax=axes[0])
    axes[0].axvline(model.k_, color="grey", linestyle="--")
    axes[0].set(xlabel="number of clusters k", ylabel="silhouette", title="K-means silhouette (higher is better)")
    sns.lineplot(x=selection.index, y=selection["gmm_bic"], marker="o", ax=axes[1])
    axes[1].set(xlabel="number of clusters k", ylabel="BIC", title="Gaussian mixture BIC (lower is better)")
    plt.tight_layout()
    plt.show()
    display(selection.round(3))

# %% [markdown]
# ## Cluster profiles
# Each cell: how far the cluster's average sits from the whole book, in standard deviations
# (money and counts on a log scale; for a category, its share). Red: above the book, blue: below.

# %%
differences = sg.cluster_differences(model, population, labels)
names = sg.cluster_names(differences)
io.write_table(sg.top_differences(differences, 8), run_dir, "segment_differences")
ax = sg.plot_profile_heatmap(differences, n_per_cluster=6)
ax.set_yticklabels([names[int(t.get_text())] for t in ax.get_yticklabels()], rotation=0)
plt.show()

# %% [markdown]
# ## Size, value and renewal per cluster
# Tiers come from the scoring step when this run has them; otherwise from a fallback pyramid on
# trailing revenue (the note below says which). CLV comes from the CLV step when present. The
# renewal rate looks forward from a year ago: today's customers have renewed every past contract
# (those who did not are gone), so it pools the contracts decided since then by the customers each
# cluster held a year ago.

# %%
scored = io.read_table(run_dir, "scored_accounts")
shares, codes = tr.pyramid_cut(params)
tiers, tier_note = tr.resolve_tiers(scored, value, shares, codes)
print(tier_note)
clv_table = io.read_table(run_dir, "clv_accounts")
clv = clv_table.set_index("account_id")["clv"] if clv_table is not None and "clv" in clv_table else None
print(
    "CLV share: from this run's clv_accounts table."
    if clv is not None
    else "CLV share: not shown, this run has no clv_accounts table (notebook 02)."
)
renewal_labels, renewals, renewal_note = sg.trailing_renewals(
    book, model, as_of_date, bool(section.get("active_only", True))
)
print(renewal_note)
profile = sg.profile_clusters(labels, value, clv, renewals, tiers, top_tiers, renewal_labels=renewal_labels).join(names)
io.write_table(profile, run_dir, "segment_profiles")
profile.round(3)

# %% [markdown]
# ## What the top tier looks like
# Rules from a shallow decision tree on firmographics and behaviour (money columns are left out:
# tiers are cut on value, so a rule on revenue would only repeat the definition). *Precision*: of the
# held-out customers matching the rule, the share in a top tier. *Coverage*: of the held-out top-tier
# customers, the share the rule finds. The interval is a 95% Wilson interval for the precision.

# %%
rule_columns, absent_columns = tr.present_columns(population, section.get("rule_features", []))
if absent_columns:
    print(f"Rule features not in this data (left out): {absent_columns}")
try:
    top = tr.top_flag(tiers, top_tiers)
    rules = tr.TraitRules.from_params(section, seed=int(seed)).fit(population, top, rule_columns)
except (InsufficientDataError, ConfigError) as exc:
    top, rules = None, None
    print(f"Top-tier rules could not be built: {exc}")
if rules is not None:
    rule_table = rules.rules_.merge(rules.summary[["lower_95", "upper_95"]], left_on="rule_id", right_index=True)
    io.write_table(rule_table, run_dir, "segment_rules")
    overall = rules.overall_
    print(
        f"Together the rules find {overall['coverage_test']:.0%} of the held-out top tier with precision "
        f"{overall['precision_test']:.0%} (top-tier share of the book: {overall['base_rate_test']:.0%})."
    )
    display(
        rule_table[
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
if top is None:
    candidates = None
    print("No upgrade candidates: the top tier could not be described (see above).")
else:
    high_value = tr.high_value_clusters(labels, top, float(section.get("high_value_min_top_share", 0.5)))
    candidates = tr.upgrade_candidates(
        population,
        tiers,
        top,
        model,
        rules,
        high_value,
        n=int(section.get("n_candidates", 100)),
        n_traits=int(section.get("n_gap_traits", 5)),
    )
    candidates = candidates.join(names, on="cluster")
    io.write_table(candidates, run_dir, "upgrade_candidates")
    print(
        f"High-value clusters: {[names[c] for c in high_value]}. {len(candidates)} candidates written "
        f"as upgrade_candidates."
    )
    display(candidates.head(int(top_n)).round(2))

# %% [markdown]
# ## The segments table
# One row per clustered customer (`account_id, cluster, cluster_name`), written as `segments` for the
# report and the CRM export.

# %%
segments_table = labels.to_frame().join(names, on="cluster")
io.write_table(segments_table, run_dir, "segments")
segments_table["cluster_name"].value_counts().rename("accounts").to_frame()
