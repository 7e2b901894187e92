"""CLV on books as companies have them (tests/worlds.py): a subscription-only book without orders,
monthly / 6-month / annual terms valued in their own terms, and churn rising with tenure, which
the sBG cannot represent (detected, and valued with the observed retention per renewal number)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from worlds import rising_churn_silent_leavers, subscription_only

from analysis import clv
from analysis.clv import ShiftedBetaGeometricModel, fit_check, simulate_sbg, subscription_spells, term_class
from analysis.clv.retention import RenewalRateModel
from analysis.data.io import load_book
from analysis.data.sources import BookInputs
from analysis.params import defaults

AS_OF = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def saas(tmp_path_factory):
    world = subscription_only(n_accounts=1200, seed=5)
    assert "orders" not in world.tables
    folder = world.write(tmp_path_factory.mktemp("saas"))
    result = clv.analyse(BookInputs(load_book(folder), AS_OF, defaults()))
    return world, result


@pytest.fixture(scope="module")
def rising(tmp_path_factory):
    world = rising_churn_silent_leavers(n_accounts=1500, seed=4)
    folder = world.write(tmp_path_factory.mktemp("rising"))
    return world, clv.analyse(BookInputs(load_book(folder), AS_OF, defaults()))


def test_term_classes_from_contract_dates():
    months = [0.92, 1.0, 1.02, 3.0, 6.0, 11.97, 12.0, 12.03, 24.0, 36.0]
    assert list(term_class(months)) == [
        "monthly",
        "monthly",
        "monthly",
        "quarterly",
        "semi-annual",
        "annual",
        "annual",
        "annual",
        "multi-year",
        "multi-year",
    ]


def test_subscription_only_book_values_contracts_and_says_why_orders_are_not(saas):
    _, result = saas
    tables = result.tables()
    assert "clv_holdout_check" not in tables
    for name in ("clv_accounts", "clv_retention_segments", "clv_retention_by_renewal", "clv_problems"):
        assert len(tables[name]), name
    problems = tables["clv_problems"].set_index("factor")
    assert "No orders table" in problems.loc["clv_holdout_check", "detail"]
    assert "not estimated, because this book has no orders table" in problems.loc["order stream", "detail"]
    accounts = result.clv_accounts
    assert (accounts["clv_orders"] == 0).all()
    active = accounts["arr"] > 0
    assert (accounts.loc[active, "clv_contracts"] > 0).all() and (accounts.loc[~active, "clv"] == 0).all()


def test_renewal_rate_per_term_recovered_within_its_interval(saas):
    world, result = saas
    table = result.retention_table.set_index(["term_class", "segment"])
    months = {"monthly": 1, "semi-annual": 6, "annual": 12}
    z = stats.norm.ppf(1 - 0.025 / len(months))  # simultaneous 95% intervals over the three classes
    for term, m in months.items():
        row = table.loc[(term, "all")]
        planted = world.truth["renewal_by_term"][m]
        # The table's rate is the book's own share renewed per decision of that term ...
        assert row["renewal_rate_observed"] == pytest.approx(world.truth["observed_renewal_by_term"][m], abs=1e-4)
        assert row["decisions"] == world.truth["decisions_by_term"][m]
        # ... and its interval (clustered by account) covers the planted rate.
        se = (row["renewal_rate_upper_95"] - row["renewal_rate_lower_95"]) / (2 * stats.norm.ppf(0.975))
        assert abs(row["renewal_rate_observed"] - planted) <= z * se, (term, row.to_dict())
        assert row["term_months"] == m
        # The fitted model of the class renews at the planted rate too (homogeneous truth: no misfit).
        assert row["fit_check"] == "fits"
        model = result.accounts.retention.model_for(term, "all")
        assert model.renewal_probability([0, 5]) == pytest.approx([planted, planted], abs=0.03)
    assert set(table.index.get_level_values("term_class")) == set(months)


def _planted_line_value(p: float, months: int, arr: float, params) -> float:
    """Contract CLV of a line renewing with probability p at every end, counted by hand."""
    years = months / 12
    per_term = (1 + params.annual_discount_rate) ** years - 1
    k = np.arange(round(params.horizon_years / years))
    return arr * years * params.contract_margin * (p ** (k + 1) / (1 + per_term) ** k).sum()


def test_monthly_and_annual_lines_are_valued_in_their_own_terms(saas):
    world, result = saas
    params = defaults().clv
    spells = result.accounts.spells
    running = spells[spells["active"]]
    for term, m in (("monthly", 1), ("annual", 12)):
        part = running[running["term_class"] == term]
        planted = np.array([_planted_line_value(world.truth["renewal_by_term"][m], m, a, params) for a in part["arr"]])
        ratio = part["clv_contracts"].sum() / planted.sum()
        assert 0.9 < ratio < 1.1, (term, ratio)  # months read as years would be far off (about 3x here)
    monthly = running[running["term_class"] == "monthly"]
    # Renewing every decision of the next 12 months: about 0.97 ** 12, not 0.97.
    assert monthly["renewal_probability"].mean() == pytest.approx(0.97**12, abs=0.05)


def test_rising_churn_is_detected_as_a_misfit_and_valued_by_renewal_number(rising):
    world, result = rising
    row = result.retention_table.set_index(["term_class", "segment"]).loc[("annual", "all")]
    assert row["fit_check"] == "misfit" and row["trend"] == "falls" and row["model"] == "per-renewal rates"
    problems = result.problems.set_index("problem")
    assert "retention falls with tenure" in problems.loc["sbg_misfit", "detail"]
    # Observed retention per renewal number lands on the planted one (simultaneous 95% intervals).
    by_renewal = result.retention_by_renewal.set_index("renewal")
    shown = by_renewal.iloc[:-1]  # the last row pools every later renewal
    z = stats.norm.ppf(1 - 0.025 / len(shown))
    planted = pd.Series(world.truth["retention_by_renewal"]).reindex(shown.index)
    assert ((shown["rate"] - planted).abs() <= z * shown["std_error"]).all(), shown.assign(planted=planted)
    # The sBG alone would have said one constant rate (about 0.86) at every renewal.
    assert shown["sbg_rate"].max() - shown["sbg_rate"].min() < 0.01
    # The CLV uses the observed rates: a first-term account renews next with about 0.95.
    model = result.accounts.retention.model_for("annual", "small")
    assert isinstance(model, RenewalRateModel)
    assert model.renewal_probability([0])[0] == pytest.approx(0.95, abs=0.02)
    spells = result.accounts.spells
    first = spells[spells["active"] & (spells["renewals_past"] == 0)]
    assert first["renewal_probability"].mean() == pytest.approx(0.95, abs=0.02)


def test_the_fit_check_does_not_flag_books_the_sbg_describes():
    flagged = 0
    for seed in range(20):
        h = simulate_sbg(2000, alpha=0.7, beta=2.5, periods=6, seed=seed)
        h = h[h["periods"] >= 1].assign(account_id=lambda f: f.index.astype(str))
        observed = RenewalRateModel(30, 24).fit(h)
        check = fit_check(ShiftedBetaGeometricModel().fit(h), h, observed.n_groups_, alpha=0.01)
        assert check["trend"] == "rises"  # heterogeneity: the likely leavers go first
        flagged += check["verdict"] == "misfit"
    assert flagged <= 2  # expected 0.2 at alpha = 0.01


def test_renewal_rate_model_projections_chain():
    h = simulate_sbg(3000, alpha=1.0, beta=4.0, periods=5, seed=3).assign(account_id=lambda f: f.index.astype(str))
    model = RenewalRateModel(min_decisions=30, max_renewal_number=24).fit(h)
    r = model.retention_rate(range(1, 9)).to_numpy()
    s = model.survival(range(9)).to_numpy()
    np.testing.assert_allclose(s[1:] / s[:-1], r)
    assert (r[5:] == r[4]).all()  # beyond the data the last rate carries on
    d = 0.1
    by_hand = sum(np.prod(r[1 : 2 + k]) / (1 + d) ** k for k in range(3))
    assert model.derl([1], d, horizon=3)[0] == pytest.approx(by_hand)


def test_a_line_switching_term_starts_a_new_spell():
    contracts = pd.DataFrame(
        {
            "account_id": ["A"] * 4,
            "product_line": ["Core"] * 4,
            "start": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]),
            "end": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31", "2025-03-31"]),
            "annual_value": [1200.0, 1200.0, 1200.0, 1000.0],
            "renewal_outcome": ["renewed", "renewed", "renewed", "open"],
        }
    )
    spells = subscription_spells(contracts, dt.date(2024, 6, 1))
    assert spells["term_class"].tolist() == ["monthly", "annual"]
    monthly, annual = spells.iloc[0], spells.iloc[1]
    # Three monthly renewals, then the line moved to an annual term: censored, not churned.
    assert (monthly["renewals_past"], monthly["churned"], monthly["active"]) == (3, 0, False)
    assert (annual["renewals_past"], annual["arr"], annual["active"]) == (0, 1000.0, True)
