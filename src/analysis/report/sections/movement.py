"""Movement between tiers: over the last year (computed from the data by the scoring notebook, so
the first run has it too) and since the last run (the latest run with an earlier as-of date), with
one sentence per account saying which score components moved it, and whether the weights changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report import formatting, plotting
from analysis.report.context import (
    Context,
    NotAvailable,
    Section,
    Table,
    add_listing,
    by_account,
    section,
)
from analysis.scoring.tiers import GONE, NEW, migration

CHANGE = "change_"
MIN_POINTS = 0.05  # a component that moved the score by less than this is not named
TOP_COMPONENTS = 3


def why_moved(ctx: Context, moves: pd.DataFrame) -> list[str]:
    """Per move, the components that pushed the score in the direction of the move, largest first."""
    comps = [c for c in moves.columns if c.startswith(CHANGE) and c[len(CHANGE) :] in ctx.params.scoring.criteria]
    out = []
    for _, row in moves.iterrows():
        sign = 1.0 if row["direction"] == "up" else -1.0
        pushes = sorted(
            ((float(row[c]), c[len(CHANGE) :]) for c in comps if np.isfinite(row[c]) and row[c] * sign >= MIN_POINTS),
            key=lambda p: -abs(p[0]),
        )[:TOP_COMPONENTS]
        if not pushes:
            out.append(ctx.t("moved_relative"))
            continue
        parts = ctx.t("names_sep").join(f"{ctx.component_label(name)} {value:+.1f}" for value, name in pushes)
        out.append(ctx.t("moved_up" if sign > 0 else "moved_down", parts=parts))
    return out


def labelled(ctx: Context, counts: pd.DataFrame, before_key: str) -> pd.DataFrame:
    names = {**ctx.tier_names(), NEW: ctx.t("new_accounts"), GONE: ctx.t("gone_accounts")}
    frame = counts.rename(index=names, columns=names)
    frame.index.name, frame.columns.name = ctx.t(before_key), ctx.t("tier_after")
    return frame


def matrix_table(ctx: Context, name: str, frame: pd.DataFrame, before_key: str, caption: str) -> Table:
    """A labelled migration matrix as a table (rows: the tier before, under the column ``before_key``)."""
    rows = frame.reset_index().rename(columns={ctx.t(before_key): before_key})
    return Table(name, rows, caption, kinds=dict.fromkeys(frame.columns, "int"))


def moves_table(ctx: Context, moves: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    if "score_change" in moves.columns:
        moves = moves.reindex(moves["score_change"].abs().sort_values(ascending=False, kind="stable").index)
    if limit is not None:
        moves = moves.head(limit)
    ids = pd.Series(moves.index, index=moves.index)
    names = ctx.tier_names()
    table = pd.DataFrame(
        {
            "account": moves.index,
            "name": ctx.name_of(ids).to_numpy(),
            "tier_from": moves["tier_before"].map(names).to_numpy(),
            "tier_to": moves["tier_after"].map(names).to_numpy(),
            "direction": [ctx.t(f"direction_{d}") for d in moves["direction"]],
        }
    )
    if "score_change" in moves.columns:
        table["score_change"] = moves["score_change"].to_numpy()
    table["why"] = why_moved(ctx, moves)
    table["region"] = [ctx.level("region", v) for v in ctx.account_column("region", ids)]
    if ctx.has_owner:
        table["owner"] = ctx.account_column("owner", ids).to_numpy()
    return table


def at_risk_flags(
    scored: pd.DataFrame | None, churn: pd.DataFrame | None, worst_band: str | None, threshold: float
) -> pd.Series:
    """Accounts at risk (index account_id -> reason): worst health band, or churn risk >= threshold."""
    reasons: dict[str, str] = {}
    if churn is not None and "p_churn_before_renewal" in churn.columns:
        c = by_account(churn)["p_churn_before_renewal"].astype(float)
        reasons.update({a: f"p:{p:.4f}" for a, p in c[c >= threshold].items()})
    if scored is not None and worst_band and "health_band" in scored.columns:
        s = by_account(scored)["health_band"].astype(object)
        for a in s.index[s == worst_band]:
            reasons[a] = "band" if a not in reasons else reasons[a] + ";band"
    return pd.Series(reasons, dtype=object, name="reason").sort_index()


@section("changes")
def changes_section(ctx: Context) -> Section:
    out = Section("changes", sources=[])
    reasons, failed = [], []
    for name, part in (("year", year_part), ("since", since_last_run_part)):
        try:
            part(ctx, out)
        except NotAvailable as exc:
            reasons.append(exc.why)
            failed.append(name)
    if len(failed) == 2:
        raise NotAvailable(reasons[1] + "; " + reasons[0])
    if "year" in failed:
        out.notes.append(ctx.t("not_available", why=reasons[0]))
    if "since" in failed:
        out.text.append(ctx.t("changes_no_previous", why=reasons[-1]))
    return out


def year_part(ctx: Context, out: Section) -> None:
    counts = ctx.need("tier_migration", ["tier_before"]).set_index("tier_before")
    moves = by_account(ctx.need("tier_moves", ["account_id", "tier_before", "tier_after", "direction"]))
    previous = ctx.optional("tiers_previous", ["as_of"])
    since = formatting.date(previous["as_of"].iloc[0]) if previous is not None else "?"
    codes = ctx.tier_codes()
    counts = counts.reindex(index=codes + [NEW], columns=codes + [GONE]).fillna(0).astype(int)
    frame = labelled(ctx, counts, "tier_year_before")
    out.sources += ["tier_migration", "tier_moves"]
    up, down = int((moves["direction"] == "up").sum()), int((moves["direction"] == "down").sum())
    out.text.append(
        ctx.t(
            "year_sentence",
            since=since,
            up=formatting.count(up),
            down=formatting.count(down),
            new=formatting.count(counts.loc[NEW].sum()),
            gone=formatting.count(counts[GONE].sum()),
        )
    )
    out.add(matrix_table(ctx, "year_migration", frame, "tier_year_before", ctx.t("year_migration_title", since=since)))
    out.figures.append(
        plotting.embed(
            plotting.heatmap(
                frame, ctx.t("year_migration_title", since=since), ctx.t("tier_after"), ctx.t("tier_year_before")
            ),
            ctx.t("year_migration_title", since=since),
        )
    )
    listing = moves_table(ctx, moves)
    caption, filters = ctx.t("year_moves_caption"), ("tier_to", "direction", "region")
    add_listing(ctx, out, "year_moves", listing, caption, "year_moves_all", filters, "rows_cut_moves")


def since_last_run_part(ctx: Context, out: Section) -> None:
    before = by_account(ctx.need("scored_accounts", ["account_id", "tier"], previous=True))
    now = by_account(ctx.need("scored_accounts", ["account_id", "tier"]))
    previous_as_of = (ctx.previous.json("headline") or {}).get("as_of") or ctx.previous.label
    codes = ctx.tier_codes()
    move = migration(before, now, codes)
    out.sources += ["scored_accounts", f"scored_accounts ({ctx.previous.label})"]
    out.data["migration"] = move.counts.copy()
    out.data["previous_as_of"] = previous_as_of
    frame = labelled(ctx, move.counts, "tier_before")
    out.data["migration_labelled"] = frame
    new, gone = int(move.counts.loc[NEW].sum()), int(move.counts[GONE].sum())
    out.text.append(
        ctx.t(
            "changes_sentence",
            previous_as_of=previous_as_of,
            up=len(move.upgrades),
            down=len(move.downgrades),
            new=new,
            gone=gone,
        )
    )
    weights_note = weights_changed(ctx)
    if weights_note:
        out.text.append(weights_note)
    out.add(
        matrix_table(ctx, "migration", frame, "tier_before", ctx.t("migration_title", previous_as_of=previous_as_of))
    )
    limit = int(ctx.settings.n_moves)
    for key, moves in (("upgrades", move.upgrades), ("downgrades", move.downgrades)):
        out.add(Table(key, moves_table(ctx, moves, limit), ctx.t(key)))
    out.data["moves"] = move.moves
    worst = list(ctx.band_names())[-1]
    threshold = float(ctx.settings.at_risk_threshold)
    flags_now = at_risk_flags(now.reset_index(), ctx.optional("churn_risk"), worst, threshold)
    flags_before = at_risk_flags(before.reset_index(), ctx.optional("churn_risk", previous=True), worst, threshold)
    new_risk = flags_now[~flags_now.index.isin(flags_before.index)]
    out.data["new_at_risk"] = new_risk
    out.text.append(ctx.t("new_at_risk_sentence", n=len(new_risk)))
    rank = {c: i for i, c in enumerate(codes)}
    order = pd.DataFrame(
        {
            "tier": now["tier"].astype(object).reindex(new_risk.index).map(rank).fillna(len(codes)),
            "score": -now["score"].reindex(new_risk.index) if "score" in now.columns else 0.0,
        }
    )
    ordered = new_risk.loc[order.sort_values(["tier", "score"], kind="stable").index]
    out.add(Table("new_at_risk", new_risk_table(ctx, ordered.head(limit), now), ctx.t("new_at_risk")))
    out.full["new_at_risk_all"] = new_risk_table(ctx, ordered, now)


def weights_changed(ctx: Context) -> str | None:
    """A sentence when the weighting behind the tiers differs between the two runs (else None)."""
    now = ctx.optional("scoring_weights_used", ["weighting", "criterion", "weight"])
    before = ctx.optional("scoring_weights_used", ["weighting", "criterion", "weight"], previous=True)
    if now is None or before is None:
        return None
    a = now.set_index("criterion")["weight"].astype(float)
    b = before.set_index("criterion")["weight"].astype(float)
    same_method = str(now["weighting"].iloc[0]) == str(before["weighting"].iloc[0])
    same_weights = a.index.equals(b.index) and bool(np.allclose(a.to_numpy(), b.reindex(a.index).to_numpy()))
    if same_method and same_weights:
        return ctx.t("weights_same_as_previous")
    return ctx.t(
        "weights_differ",
        before=ctx.t(f"weighting_{before['weighting'].iloc[0]}"),
        now=ctx.t(f"weighting_{now['weighting'].iloc[0]}"),
    )


def new_risk_table(ctx: Context, flags: pd.Series, now: pd.DataFrame) -> pd.DataFrame:
    bands = ctx.band_names()
    worst = list(bands)[-1]

    def why(reason: str) -> str:  # a handful of reason codes per account, not a computation over data
        parts = []
        for part in reason.split(";"):
            if part == "band":
                parts.append(ctx.t("risk_band", band=bands[worst]))
            elif part.startswith("p:"):
                parts.append(ctx.t("risk_probability", p=formatting.pct(float(part[2:]))))
        return ctx.t("list_sep").join(parts)

    ids = pd.Series(flags.index, index=flags.index)
    return pd.DataFrame(
        {
            "account": flags.index,
            "name": ctx.name_of(ids).to_numpy(),
            "tier": now["tier"].reindex(flags.index).astype(object).map(ctx.tier_names()).to_numpy(),
            "at_risk_why": [why(r) for r in flags],
        }
    )
