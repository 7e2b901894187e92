"""Customer lifetime value: BG/NBD purchases, Gamma-Gamma spend, shifted-beta-geometric contracts,
and the account-level CLV table (see docs/clv.md). ``analyse(run)`` is the step of a run."""

from analysis.clv._inputs import DAYS_PER_UNIT, convert_time, group_rfm
from analysis.clv.account import (
    AccountClv,
    account_clv,
    add_value_at_risk,
    clv_by_group,
    clv_concentration,
    clv_tier,
    contract_stream,
    model_summaries,
)
from analysis.clv.analysis import ClvAnalysis, analyse
from analysis.clv.bgnbd import BetaGeoModel, conditional_expected_purchases
from analysis.clv.contracts import TERM_CLASSES, subscription_spells, term_class
from analysis.clv.gamma_gamma import GammaGammaModel
from analysis.clv.orders import holdout_report, order_stream
from analysis.clv.retention import RenewalRateModel, Retention, fit_check, fit_retention, retention_curves
from analysis.clv.rfm import calibration_holdout, holdout_check, holdout_verdicts, plot_holdout_check, rfm_summary
from analysis.clv.sbg import ShiftedBetaGeometricModel, fit_by_segment, survivors_to_histories
from analysis.clv.simulate import simulate_bgnbd, simulate_orders, simulate_sbg
from analysis.clv.value import customer_lifetime_value

__all__ = [
    "DAYS_PER_UNIT",
    "TERM_CLASSES",
    "AccountClv",
    "BetaGeoModel",
    "ClvAnalysis",
    "GammaGammaModel",
    "RenewalRateModel",
    "Retention",
    "ShiftedBetaGeometricModel",
    "account_clv",
    "add_value_at_risk",
    "analyse",
    "calibration_holdout",
    "clv_by_group",
    "clv_concentration",
    "clv_tier",
    "conditional_expected_purchases",
    "contract_stream",
    "convert_time",
    "customer_lifetime_value",
    "fit_by_segment",
    "fit_check",
    "fit_retention",
    "group_rfm",
    "holdout_check",
    "holdout_report",
    "holdout_verdicts",
    "model_summaries",
    "order_stream",
    "plot_holdout_check",
    "retention_curves",
    "rfm_summary",
    "simulate_bgnbd",
    "simulate_orders",
    "simulate_sbg",
    "subscription_spells",
    "survivors_to_histories",
    "term_class",
]
