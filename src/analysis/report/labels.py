"""One place for every feature's label in English and Chinese, with its unit, and for category levels.

A manager never reads a column name: ``adoption_90d`` is "feature usage (last 90 days)", shown as a
percentage; ``tenure_days`` is "years of cooperation", shown in years. Each feature has a *kind*
that says how its values are written and what one natural step of it is (the step in which the
report states an effect: "each extra 10 points of feature usage: renewal odds +18%").

The scoring criteria and health components carry their own labels in the config (``label`` /
``label_zh``); ``label()`` prefers those, so a label an analyst edited is used everywhere.
Category levels of the data (size bands, and the synthetic book's industries, regions and product
lines) are translated here; ``report.level_labels`` in the config adds or overrides levels of a
real book. A level the report does not know is shown as it is in the data (it is data, like a name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from analysis.params import ScoringParams


@dataclass(frozen=True)
class Kind:
    """How values of a kind of feature are written, and the natural step of an effect."""

    step: float  # one step of an effect, in the feature's own unit (0.10 of a share = 10 points)
    step_en: str  # "{label}" is replaced; the step phrase of an effect sentence
    step_zh: str


KINDS: dict[str, Kind] = {
    # share 0-1 (feature usage, late-payment share): shown as a percentage, effects per 10 points
    "share": Kind(0.10, "each extra 10 points of {label}", "{label}每提高 10 个百分点"),
    # change of a share (adoption trend): shown in percentage points, effects per 5 points
    "share_change": Kind(0.05, "each 5 points of {label}", "{label}每上升 5 个百分点"),
    # relative change (revenue growth 0.25 = +25%): effects per 10 points
    "growth": Kind(0.10, "each extra 10 points of {label}", "{label}每提高 10 个百分点"),
    "days": Kind(30.0, "each extra 30 days of {label}", "{label}每增加 30 天"),
    "years": Kind(365.0, "each extra year of {label}", "{label}每增加 1 年"),  # stored in days
    "count": Kind(1.0, "each +1 in {label}", "{label}每增加 1"),
    "users": Kind(10.0, "each extra 10 {label}", "{label}每增加 10 个"),
    "minutes": Kind(60.0, "each extra hour of {label}", "{label}每增加 1 小时"),
    "points": Kind(1.0, "each extra point of {label}", "{label}每提高 1 分"),
    "people": Kind(100.0, "each extra 100 {label}", "{label}每增加 100 人"),
    "money": Kind(2.0, "each doubling of {label}", "{label}每翻一番"),  # multiplicative step
    "flag": Kind(1.0, "{label}", "{label}"),
    "category": Kind(1.0, "{label}", "{label}"),
}


@dataclass(frozen=True)
class Feature:
    en: str
    zh: str
    kind: str


FEATURES: dict[str, Feature] = {
    # usage
    "adoption_90d": Feature("feature usage (90 days)", "功能使用率（90天）", "share"),
    "adoption_trend": Feature("change in feature usage", "功能使用率变化", "share_change"),
    "active_users_90d": Feature("active users (90 days)", "活跃用户数（90天）", "users"),
    "logins_90d": Feature("logins (90 days)", "登录次数（90天）", "count"),
    "meeting_minutes_90d": Feature("meeting time (90 days)", "会议时长（90天）", "minutes"),
    "days_since_last_login": Feature("days since the last login", "距上次登录天数", "days"),
    # engagement
    "attended_seminar_12m": Feature("attended a seminar (12 months)", "参加过线下研讨会（12个月）", "flag"),
    "seminars_12m": Feature("seminars attended (12 months)", "参加线下研讨会次数（12个月）", "count"),
    "webinars_12m": Feature("webinars attended (12 months)", "参加线上研讨会次数（12个月）", "count"),
    "qbrs_12m": Feature("business reviews (12 months)", "业务回顾次数（12个月）", "count"),
    "executive_visits_12m": Feature("executive visits (12 months)", "高管拜访次数（12个月）", "count"),
    "trainings_12m": Feature("trainings (12 months)", "培训次数（12个月）", "count"),
    # support and satisfaction
    "tickets_12m": Feature("support tickets (12 months)", "支持工单数（12个月）", "count"),
    "severe_tickets_12m": Feature("severe tickets (12 months)", "严重工单数（12个月）", "count"),
    "open_severe_tickets": Feature("open severe tickets", "未关闭的严重工单", "count"),
    "max_open_severe_days": Feature("days a severe ticket has been open", "严重工单未关闭天数", "days"),
    "nps_latest": Feature("latest NPS (0-10)", "最新净推荐值（0-10）", "points"),
    "nps_previous": Feature("previous NPS (0-10)", "上次净推荐值（0-10）", "points"),
    "nps_change": Feature("change in NPS", "净推荐值变化", "points"),
    # money and payment
    "arr": Feature("annual recurring revenue", "年度经常性收入", "money"),
    "revenue_12m": Feature("revenue (12 months)", "收入（12个月）", "money"),
    "margin_12m": Feature("margin (12 months)", "利润（12个月）", "money"),
    "revenue_prev_12m": Feature("revenue of the year before", "上一年收入", "money"),
    "contract_revenue_12m": Feature("subscription revenue (12 months)", "订阅收入（12个月）", "money"),
    "order_revenue_12m": Feature("order revenue (12 months)", "订单收入（12个月）", "money"),
    "order_margin_12m": Feature("order margin (12 months)", "订单利润（12个月）", "money"),
    "monetary_value": Feature("average order value", "平均订单金额", "money"),
    "revenue_growth": Feature("revenue growth", "收入增长", "growth"),
    "payment_delay_days": Feature("days to pay an invoice", "付款天数", "days"),
    "late_payment_share": Feature("share of invoices paid late", "逾期付款比例", "share"),
    "unpaid_orders": Feature("unpaid orders", "未付订单数", "count"),
    "frequency": Feature("repeat orders", "重复订单数", "count"),
    "recency_days": Feature("days since the last order", "距上次订单天数", "days"),
    "T_days": Feature("days since the first order", "距首次订单天数", "days"),
    # the account
    "tenure_days": Feature("years of cooperation", "合作年限", "years"),
    "product_lines": Feature("product lines", "产品线数量", "count"),
    "renewals_past": Feature("past renewals", "历史续约次数", "count"),
    "employees": Feature("employees", "员工人数", "people"),
    "market_influence": Feature("market influence (1-5)", "市场影响力（1-5）", "points"),
    "strategic_flag": Feature("strategic account", "战略客户", "flag"),
    "days_to_next_renewal": Feature("days to the next renewal", "距下次续约天数", "days"),
    "is_active": Feature("active customer", "活跃客户", "flag"),
    "size_band": Feature("company size", "公司规模", "category"),
    "industry": Feature("industry", "行业", "category"),
    "region": Feature("region", "地区", "category"),
    "credit_rating": Feature("credit rating", "信用评级", "category"),
    "product_line": Feature("product line", "产品线", "category"),
    "noise_1": Feature("analyst field 1", "分析字段1", "points"),
    "noise_2": Feature("analyst field 2", "分析字段2", "points"),
    "first_seen": Feature("customer since", "首次合作日期", "category"),
    "next_renewal_date": Feature("next renewal", "下次续约日期", "category"),
    "parent_account_id": Feature("parent company", "母公司", "category"),
    "owner": Feature("account owner", "负责人", "category"),
    "term_class": Feature("contract term", "合同期限", "category"),
    "term_days": Feature("contract term (days)", "合同期限（天）", "days"),
    "lead_days": Feature("days measured before the contract end", "合同到期前的观察提前天数", "days"),
}

# Levels of the contract's categories and of the synthetic book (the data of a real book may add more).
LEVELS: dict[str, dict[str, tuple[str, str]]] = {
    "size_band": {
        "enterprise": ("enterprise", "大型企业"),
        "mid-market": ("mid-market", "中型企业"),
        "small": ("small business", "小型企业"),
        "other": ("other sizes", "其他规模"),
    },
    "industry": {
        "manufacturing": ("manufacturing", "制造业"),
        "financial services": ("financial services", "金融服务"),
        "technology": ("technology", "科技"),
        "retail": ("retail", "零售"),
        "healthcare": ("healthcare", "医疗健康"),
        "logistics": ("logistics", "物流"),
        "other": ("other industries", "其他行业"),
    },
    "region": {
        "North": ("North", "北区"),
        "East": ("East", "东区"),
        "South": ("South", "南区"),
        "West": ("West", "西区"),
        "Central": ("Central", "中区"),
        "other": ("other regions", "其他地区"),
    },
    "product_line": {
        "Core Platform": ("Core Platform", "核心平台"),
        "Analytics": ("Analytics", "分析模块"),
        "Integrations": ("Integrations", "集成模块"),
        "Premium Support": ("Premium Support", "高级支持"),
    },
    "severity": {
        "low": ("low", "低"),
        "medium": ("medium", "中"),
        "high": ("high", "高"),
        "critical": ("critical", "紧急"),
    },
    "term_class": {
        "monthly": ("monthly", "月付"),
        "quarterly": ("quarterly", "季付"),
        "semi-annual": ("half-yearly", "半年付"),
        "annual": ("annual", "年付"),
        "multi-year": ("multi-year", "多年期"),
        "unknown": ("unknown term", "期限未知"),
    },
    "flag": {"True": ("yes", "是"), "False": ("no", "否"), "1": ("yes", "是"), "0": ("no", "否")},
}

LANGUAGES = ("en", "zh")


def _index(lang: str) -> int:
    return LANGUAGES.index(lang) if lang in LANGUAGES else 0


def split_factor(name: str) -> tuple[str, str | None]:
    """``industry=retail`` (the encoder's dummy name) -> (``industry``, ``retail``); a plain name -> (name, None)."""
    base, sep, level = str(name).partition("=")
    return (base, level) if sep else (base, None)


def kind_of(name: str) -> str:
    base, level = split_factor(name)
    feature = FEATURES.get(base)
    if level is not None:
        return "category"
    return feature.kind if feature else "points"


def label(name: str, lang: str = "en", scoring: ScoringParams | None = None) -> str:
    """A manager's words for a feature (``industry=retail`` -> "industry: retail"); never the column name
    when the feature is known. Scoring criteria and health components use their configured labels."""
    base, level = split_factor(name)
    text = None
    if scoring is not None:
        spec = scoring.criteria.get(base) or scoring.health.components.get(base)
        if spec is not None:
            text = (spec.label_zh if lang == "zh" else spec.label) or None
            if text and lang != "zh" and text[:1].isupper() and not text[:2].isupper():
                text = text[0].lower() + text[1:]  # "Annual sales" reads "annual sales" mid-sentence
    if text is None and base in FEATURES:
        feature = FEATURES[base]
        text = feature.zh if lang == "zh" else feature.en
    text = text or base.replace("_", " ")
    if level is None:
        return text
    return f"{text}：{level_label(base, level, lang)}" if lang == "zh" else f"{text}: {level_label(base, level, lang)}"


def level_label(column: str, level: object, lang: str = "en", extra: Mapping | None = None) -> str:
    """A category level in the report language (size band ``small`` -> "小型企业"); unknown levels as in the data."""
    text = str(level)
    if extra and column in extra and text in extra[column]:
        entry = extra[column][text]  # a TextParams of report.level_labels
        return str(getattr(entry, lang, None) or getattr(entry, "en", None) or text)
    known = LEVELS.get(column, {}).get(text)
    return known[_index(lang)] if known else text


def step_phrase(name: str, lang: str = "en", scoring: ScoringParams | None = None) -> str:
    """ "each extra 10 points of feature usage (90 days)" / "功能使用率（90天）每提高 10 个百分点"."""
    kind = KINDS[kind_of(name)]
    return (kind.step_zh if lang == "zh" else kind.step_en).format(label=label(name, lang, scoring))


def natural_step(name: str) -> float:
    return KINDS[kind_of(name)].step


def capitalised(text: str) -> str:
    """The first letter upper case (a sentence or a table cell that starts with a label)."""
    return text[:1].upper() + text[1:] if text else text
