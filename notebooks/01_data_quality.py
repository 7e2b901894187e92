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
# # 1. Data quality
# What the extract holds, whether it keeps the data contract, and how concentrated revenue is.
# Every later section builds on these tables; a problem shown here limits how far to trust them.

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42

# %%
import matplotlib.pyplot as plt

from analysis import params as config
from analysis.data import features, io, quality, validate
from analysis.report import plotting

params = config.load_params(config_path)
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
plotting.set_theme()  # seaborn theme + the CJK font for Chinese labels
print(f"Data: {book.source}\nExtract date: {book.extract_date}   As-of date: {as_of_date}")

# %% [markdown]
# ## Validation against the data contract
# The pipeline stops before any notebook runs when a required rule is broken; notes about missing
# optional tables say which analyses are skipped.

# %%
report = validate.report_for_run(book, run_dir)
io.write_table(report.to_frame().astype({"examples": str}), run_dir, "validation_problems")
print(report.to_text())

# %% [markdown]
# ## Tables, sizes and date ranges

# %%
overview = quality.table_overview(book)
io.write_table(overview, run_dir, "table_overview")
overview

# %% [markdown]
# ## Missing values
# Share of empty cells per column; optional columns may legitimately be empty.

# %%
missing = quality.missingness(book)
io.write_table(missing, run_dir, "missingness")
missing[missing["missing_share"] > 0].sort_values("missing_share", ascending=False)

# %% [markdown]
# ## Revenue concentration (the 80/20 check)
# Revenue of the last 12 months before the as-of date, orders plus recognised contract revenue.

# %%
snapshot = features.build_features(book, as_of_date, params["features"]["subscription_margin"])
shares = quality.concentration(snapshot["revenue_12m"])
curve = quality.pareto_curve(snapshot["revenue_12m"])
io.write_table(shares, run_dir, "revenue_concentration")
io.write_table(snapshot, run_dir, "features_asof")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(curve["account_share"] * 100, curve["value_share"] * 100)
ax.plot([0, 100], [0, 100], linestyle="--", color="grey")
ax.set(xlabel="% of accounts (largest first)", ylabel="% of revenue, last 12 months", title="Pareto curve")
plt.show()
shares.style.format({"value_share": "{:.1%}"})

# %% [markdown]
# The table reads: the largest 20% of accounts hold the share shown of trailing revenue. A share
# near 80% is the classic pyramid that justifies tiered service.
