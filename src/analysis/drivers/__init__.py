"""Renewal drivers: which factors predict renewal, by how much, how sure, and why per account.

Input is a contract-level table (``analysis.data.features.build_contract_features``): one row
per decided contract, features taken ``features.renewal_lead_days`` before its end, outcome
``renewed`` (1/0), ``account_id`` for clustering and ``end`` for time-ordered checks.

1. ``DriverDesign`` (design.py) cleans the metrics as the churn literature does and encodes them
   with the package's one Encoder (dummies ``column=level``); what it could not use is listed in
   ``problems_`` with the reason.
2. ``RenewalDrivers`` (logit.py) fits a statsmodels logit with standard errors clustered by
   account, and falls back to a ridge-penalised fit (and says so) when the data separate the outcome.
3. ``NonlinearCheck`` (nonlinear.py) fits gradient boosting on earlier contracts, scores later
   ones, and measures permutation importance and partial dependence; ``compare_models`` says where
   the two models agree.
   ``holdout.compare_auc`` measures the held-out AUC difference of the two with an interval and a
   verdict code (nonlinear / same / logit better).
4. ``stability`` (stability.py) refits by segment and period and flags sign flips.
5. ``findings_table`` (findings.py) gives each factor its status (confirmed only when the regression
   and the held-out check agree; possible, unconfirmed; depends on segment; no clear effect), its
   role (lever / symptom / trait), a rank comparable across 0/1 and numeric factors and a sentence;
   ``open_account_reasons`` (reasons.py) gives each open account its top confirmed factors pushing
   renewal down or up, as structured columns; ``renewal_rates_by_term`` (terms.py) the renewal rate
   of each term class. ``format_p`` (text.py) prints p-values without rounding across alpha.

``analyse(run)`` (analysis.py) runs all of it for a notebook and returns a ``DriverAnalysis``
whose ``tables()`` are the run tables of ``05_renewal_drivers``. Every model is built from the
typed ``drivers`` section: ``RenewalDrivers.from_params(params.drivers)``,
``NonlinearCheck.from_params(params.drivers, seed=params.seed)``.
"""

from analysis.drivers.analysis import (
    AUC_DIFFERENCE,
    MODEL_CHECK_COLUMNS,
    DriverAnalysis,
    analyse,
    analyse_contracts,
    drivers_table,
    load_contracts,
)
from analysis.drivers.design import DESIGN_OPTIONS, DriverDesign, Factor, separation_problems
from analysis.drivers.findings import DRIVERS_TABLE_COLUMNS, STATUSES, findings_table, reason_factors, role_of
from analysis.drivers.holdout import VERDICTS, AucComparison, auc_verdict, compare_auc, weighted_auc
from analysis.drivers.logit import LogitFit, RenewalDrivers, fit_logit, ridge_logit
from analysis.drivers.nonlinear import AGREEMENT_COLUMNS, NonlinearCheck, compare_models
from analysis.drivers.outcome import (
    ACCOUNT,
    END,
    OUTCOME,
    decided_contracts,
    events_problem,
    label_of,
    outcome_problems,
)
from analysis.drivers.plots import plot_forest, plot_importance, plot_partial_dependence
from analysis.drivers.reasons import REASON_COLUMNS, account_reasons, open_account_reasons
from analysis.drivers.simulate import SIM_BETA, SIM_INDUSTRY, SIM_NOISE, simulate_contracts
from analysis.drivers.stability import (
    FLIP_COLUMNS,
    SIGN_FLIP_RULE,
    STABILITY_COLUMNS,
    sign_flips,
    stability,
    stability_table,
)
from analysis.drivers.terms import RATES_COLUMNS, renewal_rates_by_term
from analysis.drivers.text import format_p

__all__ = [
    "ACCOUNT",
    "AGREEMENT_COLUMNS",
    "AUC_DIFFERENCE",
    "DESIGN_OPTIONS",
    "DRIVERS_TABLE_COLUMNS",
    "END",
    "FLIP_COLUMNS",
    "MODEL_CHECK_COLUMNS",
    "OUTCOME",
    "RATES_COLUMNS",
    "REASON_COLUMNS",
    "SIGN_FLIP_RULE",
    "SIM_BETA",
    "SIM_INDUSTRY",
    "SIM_NOISE",
    "STABILITY_COLUMNS",
    "STATUSES",
    "VERDICTS",
    "AucComparison",
    "DriverAnalysis",
    "DriverDesign",
    "Factor",
    "LogitFit",
    "NonlinearCheck",
    "RenewalDrivers",
    "account_reasons",
    "analyse",
    "analyse_contracts",
    "auc_verdict",
    "compare_auc",
    "compare_models",
    "decided_contracts",
    "drivers_table",
    "events_problem",
    "findings_table",
    "fit_logit",
    "format_p",
    "label_of",
    "load_contracts",
    "open_account_reasons",
    "outcome_problems",
    "plot_forest",
    "plot_importance",
    "plot_partial_dependence",
    "reason_factors",
    "renewal_rates_by_term",
    "ridge_logit",
    "role_of",
    "separation_problems",
    "sign_flips",
    "simulate_contracts",
    "stability",
    "stability_table",
    "weighted_auc",
]
