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
language = None  # None: the config's top-level `language`; or en, zh

# %%
# Manager report. Every visible word comes from analysis.i18n in the configured language
# (language: en | zh), so this notebook has no markdown cells: the HTML page shows outputs only.
# Sections are built by analysis.report from this run's tables (and the previous run's, for
# "what changed"); a missing table gives a "Not available: ..." note instead of an error.
# CRM exports go to <run>/exports/. Guide: docs/report.md.
import warnings

import matplotlib.pyplot as plt

from analysis import params as config
from analysis.data import features, io
from analysis.report import build as report
from analysis.report import exports, plotting
from analysis.report import i18n as i18n

# Warnings are for analysts and shown in notebooks 01-06; this page is for managers.
warnings.simplefilter("ignore")
params = config.load_params(config_path, {"language": language} if language else None)
lang = i18n.language(params)
plotting.set_theme()
book = io.load_book(data_dir)
as_of_date = features.resolve_as_of(book, as_of)
accounts = book.df("accounts", ["account_id", "name"])
renewals = report.renewal_history(
    book.df("contracts", ["account_id", "end", "annual_value", "renewal_outcome"]), as_of_date
)
io.write_table(renewals, run_dir, "report_renewals_12m")
ctx = report.Context.for_run(run_dir, previous_run_dir, params, as_of_date.isoformat(), run_id, accounts)
figures = report.headline_figures(ctx)
report.write_headline(figures, run_dir)
headline = report.headline_section(ctx, figures)
pyramid = report.pyramid_section(ctx)
changes = report.changes_section(ctx)
drivers = report.drivers_section(ctx)
at_risk = report.at_risk_section(ctx)
traits = report.traits_section(ctx)
playbook = report.playbook_section(ctx)
quality = report.quality_section(ctx, report.method_checks(ctx))
sections = [headline, pyramid, changes, drivers, at_risk, traits, playbook, quality]
report.write_tables(sections, run_dir)
written, export_notes = exports.write_exports(
    run_dir, {name: ctx.tables.get(name) for name in exports.INPUTS}, params, ctx.names
)
report.show_html(report.header_html(ctx, sections))

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
report.show(at_risk, lang, with_tables=True)

# %%
report.show(traits, lang, with_tables=True)

# %%
report.show(playbook, lang, with_tables=True)

# %%
report.show(quality, lang, with_tables=True)
report.show_notes(export_notes, written, run_dir, lang)
