"""How far to trust these numbers: the data-contract validation (with probable duplicates), the
tables of the extract, and each model's validation figures with a computed verdict; and the
recommended service per tier (from the config)."""

from __future__ import annotations

import pandas as pd

from analysis.report import formatting, i18n
from analysis.report.absent import table_name
from analysis.report.context import Context, NotAvailable, Section, Table, missing_why, section


def duplicate_rows(problems: pd.DataFrame) -> pd.DataFrame:
    """Validation rows about probable duplicates (e.g. orders re-exported under new ids)."""
    if problems.empty or "check" not in problems.columns:
        return problems.iloc[0:0]
    return problems[problems["check"].astype(str).str.contains("duplicate", case=False)]


@section("quality")
def quality_section(ctx: Context, methods: pd.DataFrame | None = None) -> Section:
    out = Section("quality")
    problems = ctx.tables.get("validation_problems")
    overview = ctx.tables.get("table_overview")
    found = methods is not None and (methods.get("_key", pd.Series(dtype=str)) != "chk_missing").any()
    if problems is None and overview is None and not found:
        raise NotAvailable(missing_why(ctx, "validation_problems"))
    if problems is not None:
        out.sources.append("validation_problems")
        duplicates = duplicate_rows(problems)
        others = problems.drop(duplicates.index)
        out.text.append(ctx.t("validation_ok") if others.empty else ctx.t("validation_problems", n=len(others)))
        for row in duplicates.itertuples():
            out.text.append(
                ctx.t("duplicates_found", n=formatting.count(row.count), table=table_name(row.table, ctx.lang))
            )
        if duplicates.empty:
            out.text.append(ctx.t("duplicates_none"))
        if not others.empty:
            shown = pd.DataFrame(
                {
                    "table": [table_name(t, ctx.lang) for t in others["table"]],
                    "column": [ctx.label(c) if isinstance(c, str) and c else "" for c in others.get("column", "")],
                    "count": others.get("count", pd.Series(0, index=others.index)).to_numpy(),
                    "problem": others["message"].astype(str).to_numpy()
                    if ctx.lang == "en"
                    else [ctx.t("problem_see_validation")] * len(others),
                }
            )
            out.add(Table("problems", shown, ctx.t("problems_caption"), kinds={"count": "int"}))
    if overview is not None:
        o = overview.reset_index() if "table" not in overview.columns else overview
        shown = pd.DataFrame({"table": [table_name(t, ctx.lang) for t in o["table"]]})
        if "present" in o.columns:
            shown["present"] = o["present"].map({True: ctx.t("yes"), False: ctx.t("no")}).to_numpy()
        for col in ("rows", "accounts"):
            if col in o.columns:
                shown[col] = o[col].to_numpy()
        out.add(Table("overview", shown, ctx.t("data_tables")))
        out.sources.append("table_overview")
    if methods is not None and not methods.empty:
        out.text.append(ctx.t("method_notes_intro"))
        out.add(Table("methods", methods, ctx.t("methods_caption")))
        shown = methods[methods["_key"] != "chk_missing"] if "_key" in methods.columns else methods
        out.sources.extend(dict.fromkeys(shown.get("_source", pd.Series(dtype=str)).dropna()))
    return out


@section("playbook")
def playbook_section(ctx: Context) -> Section:
    books = i18n.playbooks(ctx.params.scoring, ctx.lang)
    if not books:
        raise NotAvailable(ctx.t("why_no_playbooks"))
    codes = ctx.tier_codes() or list(books)
    names = ctx.tier_names()
    table = pd.DataFrame({"tier": [names.get(c, c) for c in codes], "playbook": [books.get(c, "") for c in codes]})
    scored = ctx.optional("scored_accounts", ["tier"])
    out = Section("playbook", sources=["config/params.yaml: scoring.tiers.playbooks"])
    if scored is not None:
        counts = scored["tier"].astype(object).value_counts().reindex(codes).fillna(0).astype(int)
        table.insert(1, "accounts", counts.to_numpy())
        out.sources.append("scored_accounts")
    out.add(Table("playbook", table))
    return out
