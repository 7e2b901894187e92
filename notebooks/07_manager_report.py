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

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
run_id = ""
previous_run_dir = None
overrides = {}  # e.g. {"language": "zh"}; a scheduled run uses the config's values

# %% [markdown]
# # Manager report
#
# This notebook writes the managers' page, `html/07_manager_report.html` of the run (linked from
# `reports/index.html`): every section is built by `analysis.report` from this run's tables (and the
# previous run's, for "since the last run") and rendered from the package's Jinja2 templates in the
# configured language. A section whose analysis is missing shows "Not available: ..." instead of an
# error. The CRM exports go to `exports/` of the run. Guide: `docs/report.md`.

# %%
import warnings

from analysis import report
from analysis.run.notebook import NotebookRun

# Warnings are for analysts and shown in notebooks 01-06; the page is for managers.
warnings.simplefilter("ignore")
run = NotebookRun.open(
    "07_manager_report", data_dir, as_of, run_dir, config_path, seed, previous_run_dir, overrides=overrides
)
page = report.compose(run, run_id)
path = page.write()
print(f"Manager report: {path}")

# %% [markdown]
# Which sections the page shows, and why a section is empty when it is (its note names the missing
# table and the notebook that writes it):

# %%
page.summary()

# %% [markdown]
# What the CRM exports leave empty, and why:

# %%
page.export_notes
