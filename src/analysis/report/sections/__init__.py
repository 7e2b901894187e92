"""The sections of the manager report, in the order a manager reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.report.checks import method_checks
from analysis.report.context import Context, Section
from analysis.report.reasons import account_reasons
from analysis.report.sections.at_risk import at_risk_section
from analysis.report.sections.drivers import drivers_section
from analysis.report.sections.grades import grades_section
from analysis.report.sections.headline import headline_section
from analysis.report.sections.health import health_section
from analysis.report.sections.movement import changes_section
from analysis.report.sections.quality import playbook_section, quality_section
from analysis.report.sections.review import review_section
from analysis.report.sections.segments import segments_section
from analysis.report.sections.traits import traits_section
from analysis.report.sections.warnings import warnings_section
from analysis.report.sections.weights import weights_section

ORDER = (
    "headline",
    "grades",
    "at_risk",
    "warnings",
    "health",
    "review",
    "changes",
    "weights",
    "segments",
    "drivers",
    "traits",
    "playbook",
    "quality",
)


def build_sections(
    ctx: Context, figures: Mapping[str, Any]
) -> tuple[dict[str, Section], pd.DataFrame | None, pd.Series]:
    """Every section (``ORDER``), the renewal-driver findings the reasons are drawn from, and the
    reasons per account (``reasons.account_reasons``)."""
    drivers = drivers_section(ctx)
    findings = drivers.data.get("findings") if drivers.available else None
    reasons, why_none, source = account_reasons(ctx, findings)
    built = {
        "headline": headline_section(ctx, figures),
        "grades": grades_section(ctx),
        "at_risk": at_risk_section(ctx, reasons, why_none, source),
        "warnings": warnings_section(ctx),
        "health": health_section(ctx),
        "review": review_section(ctx),
        "changes": changes_section(ctx),
        "weights": weights_section(ctx),
        "segments": segments_section(ctx),
        "drivers": drivers,
        "traits": traits_section(ctx),
        "playbook": playbook_section(ctx),
        "quality": quality_section(ctx, method_checks(ctx)),
    }
    return {key: built[key] for key in ORDER}, findings, reasons
