"""As-of features: no leakage, same answer from every storage format, same definitions as the truth."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.data import features
from analysis.data.io import export_duckdb, load_book, write_book
from analysis.errors import InsufficientDataError, MissingTableError
from analysis.params import defaults

AS_OF = dt.date(2024, 7, 1)
MARGIN = defaults().features.subscription_margin


def _mask_after(folder, out, as_of):
    """Copy a book keeping only what was known before ``as_of``: rows dated on or after it are
    deleted, and later facts on earlier rows (closing dates, payments, renewal outcomes) blanked."""
    cut = pd.Timestamp(as_of)
    book = load_book(folder)
    tables = {name: book.df(name) for name in book.tables}
    acc = tables["accounts"]
    tables["accounts"] = acc[acc["first_seen"] < cut]
    k = tables["contracts"]
    k = k[k["start"] < cut].copy()
    k.loc[k["end"] >= cut, "renewal_outcome"] = "open"
    tables["contracts"] = k
    o = tables["orders"]
    o = o[o["date"] < cut].copy()
    o.loc[o["paid_date"] >= cut, "paid_date"] = pd.NaT
    tables["orders"] = o
    t = tables["tickets"]
    t = t[t["opened"] < cut].copy()
    t.loc[t["closed"] >= cut, "closed"] = pd.NaT
    tables["tickets"] = t
    for name in ("usage", "surveys", "engagements"):
        tables[name] = tables[name][tables[name]["date"] < cut]
    write_book(tables, out)
    shutil.copy(folder / "extract.json", out / "extract.json")
    return out


def test_deleting_every_row_after_as_of_leaves_features_identical(small_book_dir, small_book, tmp_path):
    full = features.build_features(small_book, AS_OF, MARGIN)
    masked = features.build_features(load_book(_mask_after(small_book_dir, tmp_path / "masked", AS_OF)), AS_OF, MARGIN)
    pd.testing.assert_frame_equal(full, masked, check_dtype=False)


def test_the_leakage_test_can_fail(small_book_dir, small_book, tmp_path):
    """Guard on the guard: a feature that peeks past as-of is caught by the comparison above."""
    masked_book = load_book(_mask_after(small_book_dir, tmp_path / "masked", AS_OF))
    peek = "SELECT account_id, count(*) AS n FROM orders GROUP BY account_id ORDER BY account_id"
    assert not small_book.sql(peek).equals(masked_book.sql(peek))


def test_csv_parquet_and_duckdb_give_identical_features(small_book_dir, small_book, tmp_path):
    tables = {name: small_book.df(name) for name in small_book.tables}
    write_book(tables, tmp_path / "csv", fmt="csv")
    shutil.copy(small_book_dir / "extract.json", tmp_path / "csv" / "extract.json")
    db = export_duckdb(small_book, tmp_path / "book.duckdb")
    shutil.copy(small_book_dir / "extract.json", tmp_path / "extract.json")
    reference = features.build_features(small_book, AS_OF, MARGIN)
    for source in (tmp_path / "csv", db):
        other = features.build_features(load_book(source), AS_OF, MARGIN)
        pd.testing.assert_frame_equal(reference, other, check_dtype=False, check_exact=False, rtol=1e-9)


def test_contract_features_match_the_generators_truth(small_book_dir, small_book):
    """The renewal drivers as the generator planted them equal the features the analyses see."""
    table = features.build_contract_features(small_book, 90, MARGIN)
    truth = pd.read_csv(small_book_dir / "ground_truth_decisions.csv", parse_dates=["end", "cutoff"])
    merged = table.reset_index().merge(truth, on=["account_id", "end"], suffixes=("", "_true"))
    assert merged[["account_id", "end"]].drop_duplicates().shape[0] == len(truth)
    for column in (
        "attended_seminar_12m",
        "webinars_12m",
        "adoption_90d",
        "adoption_trend",
        "open_severe_tickets",
        "nps_latest",
        "payment_delay_days",
        "product_lines",
        "renewed",
    ):
        np.testing.assert_allclose(
            merged[column].astype(float), merged[f"{column}_true"].astype(float), atol=1e-9, err_msg=column
        )


def test_contract_features_respect_decided_before(small_book):
    table = features.build_contract_features(small_book, 90, MARGIN, decided_before=AS_OF)
    assert (table["end"] < pd.Timestamp(AS_OF)).all()
    assert (table["cutoff"] == table["end"] - pd.Timedelta(days=90)).all()


def test_feature_values_on_a_hand_checked_account(small_book):
    feats = features.build_features(small_book, AS_OF, MARGIN)
    account = feats[feats["frequency"] >= 2].index[0]
    orders = small_book.df("orders").query("account_id == @account and date < @AS_OF")
    days = orders.groupby("date")["amount"].sum().sort_index()
    row = feats.loc[account]
    assert row["frequency"] == len(days) - 1
    assert row["recency_days"] == (days.index[-1] - days.index[0]).days
    assert row["T_days"] == (pd.Timestamp(AS_OF) - days.index[0]).days - 1
    assert row["monetary_value"] == pytest.approx(days.iloc[1:].mean())


def test_outcomes_come_from_after_as_of(small_book):
    out = features.build_outcomes(small_book, AS_OF, MARGIN)
    assert (out["next_renewal_date"] >= pd.Timestamp(AS_OF)).all()
    churned = out[out["churned"]]
    assert (churned["churn_date"] > pd.Timestamp(AS_OF)).all()
    assert (out["duration_days"] > 0).all()
    assert set(out["renewed_next"].dropna().unique()) <= {0.0, 1.0}
    assert out["window_complete"].all()
    # Every account active at as-of has an outcome row; churned accounts are not in it.
    feats = features.build_features(small_book, AS_OF, MARGIN)
    assert set(out.index) == set(feats.index[feats["is_active"]])


def test_lifetimes_known_at_as_of(small_book):
    life = features.account_lifetimes(small_book, AS_OF)
    assert (life.loc[life["event"] == 1, "end_or_censor"] <= pd.Timestamp(AS_OF)).all()
    assert (life["duration_days"] > 0).all()


def test_default_as_of_is_the_day_after_the_latest_date(small_book):
    from analysis.data.io import default_as_of

    assert default_as_of(small_book) == dt.date(2026, 1, 1)


def test_missing_optional_table_gives_empty_columns_not_a_crash(small_book_dir, tmp_path):
    folder = tmp_path / "no_usage"
    shutil.copytree(small_book_dir, folder, ignore=shutil.ignore_patterns("usage"))
    feats = features.build_features(load_book(folder), AS_OF, MARGIN)
    assert feats["adoption_90d"].isna().all() and feats["nps_latest"].notna().any()
    with pytest.raises(MissingTableError, match="usage"):
        load_book(folder).require("usage")


def test_as_of_before_any_account(small_book):
    with pytest.raises(InsufficientDataError, match="later --as-of"):
        features.build_features(small_book, dt.date.fromisoformat("1990-01-01"), MARGIN)


def test_excel_exports_load_like_csv(tmp_path):
    """Excel workbooks (one per table) are read too, with the same features as CSV."""
    from analysis.data.synth import generate_book

    generate_book(tmp_path / "csv", n_accounts=8, seed=11, fmt="csv")
    (tmp_path / "xlsx").mkdir()
    for path in (tmp_path / "csv").glob("*.csv"):
        pd.read_csv(path, dtype=str, keep_default_na=False).to_excel(
            tmp_path / "xlsx" / f"{path.stem}.xlsx", index=False
        )
    shutil.copy(tmp_path / "csv" / "extract.json", tmp_path / "xlsx" / "extract.json")
    from_csv = features.build_features(load_book(tmp_path / "csv"), dt.date.fromisoformat("2025-06-01"), MARGIN)
    from_excel = features.build_features(load_book(tmp_path / "xlsx"), dt.date.fromisoformat("2025-06-01"), MARGIN)
    pd.testing.assert_frame_equal(from_csv, from_excel, check_dtype=False)


def test_features_are_bit_identical_across_parallel_runs(small_book_dir):
    """Same data, same tables: sums are fixed-point, so DuckDB's thread timing cannot change a bit."""
    book = load_book(small_book_dir, threads=4)
    first = features.build_features(book, AS_OF, MARGIN)
    for _ in range(3):
        assert features.build_features(book, AS_OF, MARGIN).equals(first)
    assert features.build_outcomes(book, AS_OF, MARGIN).equals(features.build_outcomes(book, AS_OF, MARGIN))


def test_snapshot_is_built_once_per_run_and_read_back_exactly(small_book, tmp_path):
    from analysis.catalog import RunTables
    from analysis.run.notebook import NotebookRun

    def notebook(name, as_of):
        return NotebookRun(name, defaults(), as_of, small_book, RunTables(tmp_path, name))

    built = notebook("01_data_quality", AS_OF).snapshot()
    assert (tmp_path / "tables" / "features_asof.parquet").exists()
    again = notebook("04_churn_survival", AS_OF).snapshot()
    pd.testing.assert_frame_equal(built, again)
    pd.testing.assert_frame_equal(built, features.build_features(small_book, AS_OF, MARGIN))
    other = notebook("04_churn_survival", dt.date(2024, 1, 1)).snapshot()  # another date is never served stale
    assert (other["as_of"] == pd.Timestamp("2024-01-01")).all()
    kept = notebook("04_churn_survival", AS_OF).snapshot()  # ... nor does it replace the run's snapshot
    pd.testing.assert_frame_equal(built, kept)


def test_functions_take_a_date_never_a_string(small_book):
    with pytest.raises(TypeError, match="datetime.date"):
        features.build_features(small_book, "2024-07-01", MARGIN)


# --- books as companies have them (tiny books from tests/worlds.py) ----------------------------------


def test_money_up_to_1e15_sums_exactly_and_bit_identically(tmp_path):
    """A VND-sized book: every amount x 1e9 and one contract of exactly 1e15 (DECIMAL(18, 6) overflowed
    at 1e12; the features now sum DECIMAL(38, 6))."""
    import worlds
    from bad_inputs import world, write

    base = world()
    scaled = worlds.with_money_scale(base, 1e9)
    big = scaled.tables["contracts"].index[scaled.tables["contracts"]["end"] >= pd.Timestamp(AS_OF)][0]
    scaled.tables["contracts"].loc[big, "annual_value"] = 1e15
    base.tables["contracts"].loc[big, "annual_value"] = 1e6
    book = load_book(write(tmp_path / "vnd", scaled), threads=4)
    first = features.build_features(book, AS_OF, MARGIN)
    for _ in range(3):
        assert features.build_features(book, AS_OF, MARGIN).equals(first)
    reference = features.build_features(load_book(write(tmp_path / "usd", base)), AS_OF, MARGIN)
    for column in ("arr", "revenue_12m", "margin_12m", "monetary_value", "order_revenue_12m"):
        np.testing.assert_allclose(first[column], reference[column] * 1e9, rtol=1e-12, err_msg=column)
    owner = scaled.tables["contracts"].loc[big, "account_id"]
    lines = scaled.tables["contracts"].query("account_id == @owner and start < @AS_OF and end >= @AS_OF")
    assert first.loc[owner, "arr"] == lines["annual_value"].sum()  # exact, not merely close
    outcomes = features.build_outcomes(book, AS_OF, MARGIN)
    np.testing.assert_allclose(
        outcomes["revenue_next_12m"],
        features.build_outcomes(load_book(write(tmp_path / "usd2", base)), AS_OF, MARGIN)["revenue_next_12m"] * 1e9,
        rtol=1e-12,
    )


def test_a_book_without_orders_has_every_feature(tmp_path):
    """Subscription-only books (no orders table): order money is zero, order behaviour unknown."""
    import worlds
    from bad_inputs import write

    book = load_book(write(tmp_path / "book", worlds.subscription_only(n_accounts=60, seed=5)))
    assert not book.has("orders")
    snapshot = features.build_features(book, AS_OF, MARGIN)
    assert set(features.OPTIONAL_FEATURES["orders"]) - {"order_revenue_prev_12m"} <= set(snapshot.columns)
    assert (snapshot["order_revenue_12m"] == 0).all() and (snapshot["unpaid_orders"] == 0).all()
    assert snapshot["frequency"].isna().all() and snapshot["payment_delay_days"].isna().all()
    pd.testing.assert_series_equal(snapshot["revenue_12m"], snapshot["contract_revenue_12m"], check_names=False)
    assert snapshot["revenue_12m"].gt(0).any()
    outcomes = features.build_outcomes(book, dt.date(2024, 7, 1), MARGIN)
    assert (outcomes["orders_next_12m"] == 0).all() and outcomes["revenue_next_12m"].gt(0).all()
    decisions = features.build_contract_features(book, 90, MARGIN)
    assert len(decisions) > 100 and decisions["frequency"].isna().all()


def test_contradictory_history_follows_one_rule(tmp_path):
    """not_renewed, then a later contract of the same account and line (docs/data_contract.md,
    "Contradictory histories"): a non-renewal at the first end, then a return; churn follows the
    latest contract."""
    import worlds
    from bad_inputs import write

    book_world = worlds.with_contradictory_history(worlds.calendar_terms(n_accounts=200, seed=11), n=1, gap_days=120)
    (case,) = book_world.truth["contradictions"]
    contracts = book_world.tables["contracts"].set_index("contract_id")
    lost_end = contracts.loc[case["not_renewed_contract"], "end"].date()
    back = dt.date.fromisoformat(case["later_start"])
    book = load_book(write(tmp_path / "book", book_world))
    account = case["account_id"]
    before, gap, after = lost_end - dt.timedelta(days=30), lost_end + dt.timedelta(days=30), back + dt.timedelta(days=1)
    # the not_renewed term is a non-renewal at its end ...
    decided = features.build_contract_features(book, 90, MARGIN)
    assert decided.loc[case["not_renewed_contract"], "renewed"] == 0
    outcome = features.build_outcomes(book, before, MARGIN).loc[account]
    assert outcome["renewed_next"] == 0
    # ... the account is gone in the gap and active again from the later start ...
    assert not features.build_features(book, gap, MARGIN).loc[account, "is_active"]
    returned = features.build_features(book, after, MARGIN).loc[account]
    assert returned["is_active"] and returned["arr"] == contracts.loc[case["later_contract"], "annual_value"]
    # ... and its churn follows its latest contract: churned in the gap, not once it came back.
    assert features.account_lifetimes(book, gap).loc[account, "event"] == 1
    assert features.account_lifetimes(book, after).loc[account, "event"] == 0
    later_outcome = contracts.loc[case["later_contract"], "renewal_outcome"]
    assert bool(outcome["churned"]) == (later_outcome == "not_renewed")
