"""Hand-made run tables for the report's fast tests: eight accounts, every table a section reads.

Names carry HTML payloads; values are chosen so that every number a test asserts can be worked out
by hand (see the comments).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from analysis import report
from analysis.report.context import Context, ReportTables

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
AS_OF = dt.date(2025, 12, 1)
IDS = [f"A{i}" for i in range(1, 9)]
ACCOUNTS = pd.DataFrame(
    {
        "account_id": IDS,
        "name": [
            f"Acme {SCRIPT}",
            f"Globex {IMG}",
            "Initech",
            "Umbrella",
            f"Hooli {SCRIPT}",
            "Stark",
            f"Wayne {IMG}",
            "Tyrell",
        ],
        "industry": ["retail", "retail", "technology", "technology", "logistics", "logistics", "retail", "technology"],
        "region": ["North", "South", "North", "East", "West", "North", "South", "East"],
        "size_band": ["enterprise", "mid-market", "mid-market", "small", "small", "small", "small", "small"],
    }
)
TIERS = ("key_important", "key_secondary", "key_secondary", "ordinary", "ordinary", "ordinary", "small", "small")
BANDS = ("healthy", "healthy", "watch", "watch", "at_risk", "watch", "at_risk", "at_risk")


def scored(tiers=TIERS, bands=BANDS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": IDS,
            "score": [90, 70, 65, 50, 45, 40, 20, 10.0],
            "tier": list(tiers),
            "contrib_revenue_12m": [30, 20, 18, 12, 11, 10, 4, 2.0],
            "contrib_margin_12m": [25, 18, 17, 11, 10, 9, 5, 3.0],
            "health_score": [90, 85, 70, 65, 40, 62, 30, 20.0],
            "health_contrib_adoption_90d": [36, 34, 28, 26, 16, 25, 12, 8.0],
            "health_band": list(bands),
            "next_renewal_date": pd.to_datetime(["2026-01-10"] * 8),
            "abcd": list("AABBCCDD"),
            "abc": list("AABBBCCC"),
            "flag_potential": [False] * 7 + [True],
            "flag_unprofitable": [False] * 4 + [True, False, True, True],
            "alerts": ["", "", "", "", "no_login_30d", "", "no_login_30d;nps_drop", ""],
            "arr": [500, 200, 150, 50, 40, 30, 10, 0.0],
            "revenue_12m": [600, 250, 150, 60, 40, 30, 10, 5.0],
            "margin_12m": [300, 120, 70, 30, 5, 15, 2, -10.0],
        }
    )


def features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": IDS,
            "is_active": [True] * 7 + [False],
            "arr": [500, 200, 150, 50, 40, 30, 10, 0.0],
            "revenue_12m": [600, 250, 150, 60, 40, 30, 10, 5.0],
            "margin_12m": [300, 120, 70, 30, 5, 15, 2, -10.0],
            "industry": ACCOUNTS["industry"],
            "region": ACCOUNTS["region"],
            "size_band": ACCOUNTS["size_band"],
            # A4 onboarding (<180 days); A5, A7 renew within 90 days; A2 grows 20%: expansion; others adoption
            "tenure_days": [900, 800, 700, 100, 600, 650, 500, 400],
            "days_to_next_renewal": [300, 200, 250, 300, 19, 200, 45, 400.0],
            "revenue_growth": [0.0, 0.2, 0.05, 0.0, 0.0, -0.1, 0.0, 0.0],
            "tickets_12m": [2, 0, 1, 0, 2, 0, 1, 0.0],
            "payment_delay_days": [20, 25, 30, 35, 30, 40, 90, 20.0],
            "late_payment_share": [0.0, 0.1, 0.2, 0.1, 0.0, 0.0, 0.9, 0.0],
            "days_since_last_login": [1, 2, 3, 4, 45, 5, 60, 400],
        }
    )


def run_tables(**overrides) -> dict[str, pd.DataFrame]:
    moves = pd.DataFrame(
        {
            "account_id": ["A1", "A6"],
            "tier_before": ["key_secondary", "small"],
            "tier_after": ["key_important", "ordinary"],
            "direction": ["up", "up"],
            "score_before": [80.0, 30.0],
            "score_after": [90.0, 40.0],
            "score_change": [10.0, 10.0],
            "change_revenue_12m": [8.0, 0.01],
            "change_margin_12m": [2.0, 0.02],
            "moved_by": ["revenue_12m +8.0", "none"],
        }
    )
    tables = {
        "features_asof": features(),
        "scored_accounts": scored(),
        "tiers_previous": scored(tiers=("key_secondary",) * 3 + ("ordinary",) * 2 + ("small",) * 3)[
            ["account_id", "score", "tier", "abcd", "health_band"]
        ].assign(as_of=pd.Timestamp("2024-12-01")),
        "tier_migration": pd.DataFrame(
            {
                "tier_before": ["key_important", "key_secondary", "ordinary", "small", "(new)"],
                "key_important": [0, 1, 0, 0, 0],
                "key_secondary": [0, 2, 0, 0, 0],
                "ordinary": [0, 0, 2, 1, 0],
                "small": [0, 0, 0, 2, 0],
                "(gone)": [0, 0, 0, 0, 0],
            }
        ),
        "tier_moves": moves,
        "scoring_weights_used": pd.DataFrame(
            {"weighting": "expert", "criterion": ["revenue_12m", "margin_12m"], "weight": [0.6, 0.4]}
        ),
        "clv_accounts": pd.DataFrame(
            {
                "account_id": IDS,
                "clv": [1000, 400, 300, 100, 80, 60, 20, 5.0],
                "value_at_risk": [10, 8, 6, 5, 20, 3, 9, 1.0],
            }
        ),
        "churn_risk": pd.DataFrame(
            {
                "account_id": IDS,
                "p_churn_before_renewal": [0.05, 0.1, 0.1, 0.2, 0.6, 0.1, 0.7, 0.9],
                "top_risk_factors": ["adoption_90d low (x1.5)"] * 8,
            }
        ),
        "at_risk_renewals": pd.DataFrame(
            {
                "contract_id": ["C1", "C2", "C3", "C4"],
                "account_id": ["A5", "A5", "A7", "A2"],
                "end": pd.to_datetime(["2025-12-20", "2025-12-20", "2026-01-15", "2026-06-01"]),
                "product_line": ["Core Platform", "Analytics", "Core Platform", "Core Platform"],
                "annual_value": [100.0, 50.0, 40.0, 999.0],
                "p_churn_before_renewal": [0.6, 0.6, 0.7, 0.1],
                "value_at_risk": [60.0, 30.0, 28.0, 99.9],
            }
        ),
        "drivers": drivers(),
        "drivers_agreement": pd.DataFrame(
            {
                "factor": ["adoption_90d", "payment_delay_days", "strategic_flag", "noise_1", "industry"],
                "logit_direction": [
                    "raises renewal",
                    "lowers renewal",
                    "no clear effect",
                    "no clear effect",
                    "lowers renewal",
                ],
                "gbm_important": [True, False, False, False, True],
                # payment delay: clear in the regression only -> possible, unconfirmed
                "verdict": ["agree", "logit only", "agree: no clear effect", "agree: no clear effect", "agree"],
            }
        ),
        "renewal_reasons": pd.DataFrame(
            {
                "account_id": ["A5", "A5", "A7", "A7"],
                "side": ["down", "down", "down", "down"],
                "rank": [2, 1, 1, 2],
                "factor": ["payment_delay_days", "adoption_90d", "adoption_90d", "noise_1"],
                "value": [61.0, 0.04, 0.12, 3.0],
                "typical": [40.0, 0.51, 0.51, 1.0],
                "sentence": ["second", "first", f"only {IMG}", "noise"],
            }
        ),
        "upgrade_candidates": pd.DataFrame(
            {
                "account_id": ["A6", "A4"],
                "tier": ["ordinary", "ordinary"],
                "revenue_12m": [30.0, 60.0],
                "cluster": [1, 1],
                "target_cluster": [1, 1],
                "in_high_value_cluster": [True, True],
                "matched_rule": ["R1", None],
                "reason": ["in high-value cluster S1"] * 2,
                "gap_tenure_days": [365.0, 730.0],
                "gap_arr": [100.0, 50.0],
                "gap_size_band": ["small -> mid-market", None],
                "gap_summary": ["arr +100", "arr +50"],
            }
        ),
        "segment_profiles": pd.DataFrame(
            {
                "cluster": [1, 2],
                "n_accounts": [3, 5],
                "share_accounts": [0.375, 0.625],
                "share_value": [0.8, 0.2],
                "renewal_rate": [0.95, 0.85],
                "top_tier_share": [0.67, 0.0],
                "cluster_name": ["S1: active_users_90d high, size_band = mid-market", "S2: x"],
            }
        ),
        "segment_differences": pd.DataFrame(
            {
                "cluster": [1, 1, 2],
                "feature": ["active_users_90d", "size_band = mid-market", "payment_delay_days"],
                "cluster_value": [60.0, 0.7, 80.0],
                "book_value": [25.0, 0.3, 40.0],
                "std_diff": [1.2, 0.9, 2.0],
            }
        ),
        "segment_rules": pd.DataFrame(
            {
                "rule_id": ["R1", "R2"],
                "rule": ["tenure_days >= 1,262 AND active_users_90d > 14.1", "industry in {retail, technology}"],
                "precision_test": [0.8, 0.4],
                "coverage_test": [0.5, 0.2],
                "sentence": ["x", "y"],
            }
        ),
        "early_warnings": pd.DataFrame(
            {
                "account_id": ["A5", "A7", "A7", "A8"],  # A8 is not a customer any more: not counted
                "rule": ["no_login_30d", "no_login_30d", "nps_drop", "no_login_30d"],
                "label": ["No login"] * 4,
                "severity": ["high", "high", "medium", "high"],
                "column": ["days_since_last_login", "days_since_last_login", "nps_change", "days_since_last_login"],
                "value": [45.0, 60.0, -3.0, 400.0],
                "threshold": [">= 30", ">= 30", "<= -2", ">= 30"],
            }
        ),
        "report_warnings_record": pd.DataFrame(
            {
                "rule": ["no_login_30d", "nps_drop", "severe_ticket_open"],
                "flagged": [100, 50, 5],
                "left_flagged": [40, 6, 1],
                "unflagged": [900, 950, 995],
                "left_unflagged": [90, 95, 100],
                "churn_flagged": [0.4, 0.12, 0.2],
                "churn_unflagged": [0.1, 0.1, 0.1005],
                "lift": [4.0, 1.2, 2.0],
                "lower_95": [0.2, -0.05, float("nan")],
                "upper_95": [0.4, 0.1, float("nan")],
                "verdict": ["trusted", "no_signal", "too_few"],
            }
        ),
        "health_band_renewal": pd.DataFrame(
            {
                "health_band": ["healthy", "watch", "at_risk"],
                "accounts": [300, 1200, 2100],
                "rate": [0.99, 0.95, 0.85],
                "lower_95": [0.98, 0.94, 0.84],
                "upper_95": [1.0, 0.96, 0.86],
            }
        ),
        "report_renewals_12m": pd.DataFrame(
            {
                "account_id": ["A1", "A2", "A5", "A7"],
                "decided": [2, 1, 1, 2],
                "renewed": [2, 1, 0, 1],
                "decided_value": [500, 200, 40, 20.0],
                "churned_value": [0, 0, 40, 10.0],
            }
        ),
        "report_year_before": pd.DataFrame(
            {
                "account_id": IDS,
                "industry": ACCOUNTS["industry"],
                "size_band": ACCOUNTS["size_band"],
                "stage": ["adoption"] * 8,
                "abc": list("AABBBCCC"),
                "kept": [True] * 7 + [False],
            }
        ),
        "validation_problems": pd.DataFrame(columns=["table", "column", "check", "count", "message", "examples"]),
        "table_overview": pd.DataFrame(
            {"table": ["accounts", "contracts"], "present": [True, True], "rows": [8, 12], "accounts": [8, 8]}
        ),
    }
    tables.update(overrides)
    return {k: v for k, v in tables.items() if v is not None}


def drivers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "factor": ["adoption_90d", "payment_delay_days", "strategic_flag", "noise_1", "industry=retail"],
            "variable": ["adoption_90d", "payment_delay_days", "strategic_flag", "noise_1", "industry"],
            "kind": ["numeric", "numeric", "binary", "numeric", "category"],
            "effect": [2.5, 0.6, 3.0, 1.02, 0.8],
            "lower_95": [2.0, 0.5, 0.5, 0.9, 0.7],
            "upper_95": [3.1, 0.7, 18.0, 1.15, 0.95],
            "p": [1e-7, 1e-5, 0.6, 0.3, 0.002],
            "p_adjusted": [1e-6, 1e-4, 0.7, 0.5, 0.01],
            # adoption: +1 SD = 0.2 share; 10 points = half an SD: odds x 2.5 ** 0.5 = 1.58 (+58%)
            "effect_unit": ["+1 SD = 0.2", "+1 SD = 12", "yes vs no", "+1 SD = 1", "vs manufacturing"],
            "direction": ["raises renewal", "lowers renewal", "no clear effect", "no clear effect", "lowers renewal"],
            "rate_with": [None, None, 0.96, None, 0.90],
            "rate_without": [None, None, 0.92, None, 0.93],
            "sentence": [f"Adoption {SCRIPT} matters.", "Late payers renew less.", "No.", "No.", "Retail less."],
        }
    )


def ctx_for(params, tables=None, previous=None, previous_headline=None, accounts=ACCOUNTS) -> Context:
    prev = None
    if previous is not None:
        prev = ReportTables(frames={**previous, **({"headline.json": previous_headline} if previous_headline else {})})
    ctx = Context(
        ReportTables(frames=tables if tables is not None else run_tables()),
        prev,
        params,
        AS_OF,
        "run-1",
        accounts.set_index("account_id") if accounts is not None else None,
    )
    return ctx


def all_sections(ctx: Context) -> dict:
    from analysis.report.sections import build_sections

    return build_sections(ctx, report.headline_figures(ctx))[0]
