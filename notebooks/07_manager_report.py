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

# %% tags=["parameters"]
data_dir = "../data/sample"
as_of = None
run_dir = "../reports/dev"
config_path = None
seed = 42
run_id = ""
previous_run_dir = None
overrides = {}  # e.g. {"language": "zh"}; a scheduled run uses the config's values

# %%
# Manager report. Every visible word comes from analysis.report.i18n in the configured language
# (language: en | zh), so this notebook has no markdown cells: the HTML page shows outputs only.
# Sections are built by analysis.report from this run's tables (and the previous run's, for
# "what changed"); a missing table gives a "Not available: ..." note instead of an error.
# CRM exports go to <run>/exports/. Guide: docs/report.md.
import warnings

import matplotlib.pyplot as plt

from analysis import report
from analysis.report import i18n, plotting
from analysis.run.notebook import NotebookRun

# Warnings are for analysts and shown in notebooks 01-06; this page is for managers.
warnings.simplefilter("ignore")
run = NotebookRun.open(
    "07_manager_report", data_dir, as_of, run_dir, config_path, seed, previous_run_dir, overrides=overrides
)
plotting.set_theme()
page = report.compose(run, run_id)
lang = page.lang
headline, pyramid, changes, drivers = page["headline"], page["pyramid"], page["changes"], page["drivers"]
report.show_html(report.header_html(page.ctx, list(page.sections.values())))

# %%
report.show(headline, lang, with_tables=True)

# %%
report.show(pyramid, lang)
if pyramid.available:
    plotting.plot_pyramid(
        pyramid.data["figure"],
        pyramid.data["figure_labels"],
        i18n.t("pyramid_figure_title", lang),
        i18n.t("share", lang) + " (%)",
    )
    plt.show()
report.show_tables(pyramid, lang)

# %%
report.show(changes, lang)
if changes.available:
    plotting.plot_migration(
        changes.data["migration_labelled"],
        i18n.t("migration_title", lang),
        i18n.t("tier_after", lang),
        i18n.t("tier_before", lang),
    )
    plt.show()
report.show_tables(changes, lang)

# %%
report.show(drivers, lang)
if drivers.available:
    plotting.plot_forest(drivers.data["forest"], i18n.t("forest_title", lang), i18n.t("forest_xlabel", lang))
    plt.show()
report.show_tables(drivers, lang)

# %%
report.show(page["at_risk"], lang, with_tables=True)

# %%
report.show(page["traits"], lang, with_tables=True)

# %%
report.show(page["playbook"], lang, with_tables=True)

# %%
report.show(page["quality"], lang, with_tables=True)
report.show_notes(page.export_notes, page.exports, run_dir, lang)
