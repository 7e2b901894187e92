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
# # 1. Data quality
# What the extract holds, whether it keeps the data contract, and how concentrated revenue is.
# Every later section builds on these tables; a problem shown here limits how far to trust them.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
overrides = {}  # try a setting here, e.g. {"features.subscription_margin": 0.7}; a scheduled run uses the config

# %%
import matplotlib.pyplot as plt

from analysis.data import quality, validate
from analysis.report import plotting
from analysis.run.notebook import NotebookRun

run = NotebookRun.open("01_data_quality", data_dir, as_of, run_dir, config_path, seed, overrides=overrides)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
print(run.describe())

# %% [markdown]
# ## Validation against the data contract
# The pipeline stops before any notebook runs when a rule of the contract is broken (an *error*).
# *Warnings* do not stop it but limit how far to trust some numbers: rows that look exported twice
# under new ids (their money counts twice), contracts marked not renewed and followed by a later
# contract of the same product line (read as a lapse and a return), and analyses the book is too
# small for. Notes about missing optional tables say which analyses are skipped.

# %%
report = validate.report_for_run(run.book, run.run_dir, run.params.validation)
run.write(report.to_frame().astype({"examples": str}), "validation_problems")
print(report.to_text())

# %%
warning_rows = report.to_frame().query("severity == 'warning'")
warning_rows[["table", "column", "check", "count", "message"]]

# %% [markdown]
# ## What the book is large enough for
# Each analysis against the least data it needs (the `validation` section of the parameters). An
# analysis marked unsupported still runs, but its estimates rest on too little data to trust.

# %%
capacity = report.capacity_frame()
run.write(capacity, "data_capacity")
capacity

# %% [markdown]
# ## Tables, sizes and date ranges

# %%
overview = quality.table_overview(run.book)
run.write(overview, "table_overview")
overview

# %% [markdown]
# ## Missing values
# Share of empty cells per column; optional columns may legitimately be empty.

# %%
missing = quality.missingness(run.book)
run.write(missing, "missingness")
missing[missing["missing_share"] > 0].sort_values("missing_share", ascending=False)

# %% [markdown]
# ## Revenue concentration (the 80/20 check)
# Revenue of the last 12 months before the as-of date, orders plus recognised contract revenue.

# %%
snapshot = run.snapshot()  # built once per run here and written as features_asof for the later notebooks
run.write_per_date_tables()  # so are the features and outcomes a year back and the decided contracts'
shares = quality.concentration(snapshot["revenue_12m"])
curve = quality.pareto_curve(snapshot["revenue_12m"])
run.write(shares, "revenue_concentration")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(curve["account_share"] * 100, curve["value_share"] * 100)
ax.plot([0, 100], [0, 100], linestyle="--", color="grey")
ax.set(xlabel="% of accounts (largest first)", ylabel="% of revenue, last 12 months", title="Pareto curve")
plt.show()
shares.style.format({"value_share": "{:.1%}"})

# %% [markdown]
# The table reads: the largest 20% of accounts hold the share shown of trailing revenue. A share
# near 80% is the classic pyramid that justifies tiered service.
