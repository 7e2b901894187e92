"""Words of the manager report in English and Chinese: headings, labels, notes, tier names.

The language comes from the top-level ``language`` of the config (``en`` | ``zh``). Every key
exists in both languages with the same ``{placeholders}`` (a test checks it), so switching the
language can never break a sentence. Tier, health-band and playbook names are not repeated
here: they come from the ``scoring`` section of the config, where analysts edit them.
"""

from __future__ import annotations

import string
from typing import Any

from analysis.errors import ConfigError
from analysis.params import ScoringParams

LANGUAGES = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        # page
        "report_title": "Customer tiering report",
        "report_subtitle": "Data as of {as_of} · run {run_id}",
        "report_intro": (
            "One page for managers: where revenue and future value sit, who is about to renew or "
            "leave, why customers renew, and what to do per tier. Every number comes from a table "
            "in this run's folder (named under each section)."
        ),
        "contents": "Contents",
        "source": "Source tables: {tables}",
        # notes
        "not_available": "Not available: {why}.",
        "why_table_missing": "this run has no table '{table}' (written by notebook {notebook})",
        "why_columns_missing": "table '{table}' has no column(s) {columns}",
        "why_empty": "table '{table}' has no rows",
        "why_no_previous": "there is no earlier successful run in this output folder to compare with",
        "why_previous_missing": "the previous run ({previous}) has no table '{table}'",
        "why_nothing_estimated": "no factor could be estimated (see notebook 05 for the reasons)",
        "note_names_from_module": "Explanations in the last column are written by the analysis modules in English.",
        # section headings
        "h_headline": "Headline figures",
        "h_pyramid": "The customer pyramid",
        "h_changes": "What changed since the last run",
        "h_drivers": "What predicts renewal",
        "h_at_risk": "Renewals at risk in the next {days} days",
        "h_traits": "What top customers look like, and who could become one",
        "h_playbook": "Recommended service per tier",
        "h_quality": "Data quality and method notes: how far to trust these numbers",
        # headline
        "metric": "Figure",
        "now": "Now",
        "previous_value": "Previous run",
        "change": "Change",
        "m_accounts": "Active accounts",
        "m_accounts_total": "Accounts in the book",
        "m_arr": "Annual recurring revenue (ARR)",
        "m_renewal_rate": "Renewal rate, last 12 months",
        "m_churned_value": "Churned annual value, last 12 months",
        "m_revenue_12m": "Revenue, last 12 months",
        "m_clv_total": "Customer lifetime value (CLV), total",
        "m_value_at_risk_90d": "Annual value at risk, next 90 days",
        "headline_previous": "Changes are against the previous run (data as of {previous_as_of}).",
        "headline_no_previous": "First run in this folder: no changes to show yet.",
        "headline_definitions": (
            "Active = has a contract covering the as-of date. Renewal rate = renewed share of "
            "the contracts whose term ended in the 12 months before the as-of date; churned "
            "value = annual value of those not renewed."
        ),
        # pyramid
        "tier": "Tier",
        "accounts": "Accounts",
        "share_accounts": "Share of accounts",
        "share_revenue": "Share of revenue (12 months)",
        "share_clv": "Share of CLV",
        "renewal_rate": "Renewal rate (12 months)",
        "health_mean": "Average health (0-100)",
        "share_health_risk": "Share in the worst health band",
        "pareto_sentence": "The top 20% of accounts by revenue hold {share} of the last 12 months' revenue.",
        "pareto_strong": "That is the classic 80/20 pyramid: service levels by tier pay off.",
        "pareto_weak": "Revenue is spread more evenly than the 80/20 rule of thumb: tiers matter less.",
        "top_tiers_sentence": "The top tiers ({tiers}: {accounts} of accounts) hold {revenue} of revenue and {clv} of CLV.",
        "pyramid_figure_title": "Share of accounts, revenue and CLV per tier",
        "share": "Share",
        # changes
        "tier_before": "Tier in previous run",
        "tier_after": "Tier now",
        "new_accounts": "(new)",
        "gone_accounts": "(gone)",
        "changes_sentence": (
            "Since the run with data as of {previous_as_of}: {up} accounts moved up a tier, {down} "
            "moved down, {new} are new and {gone} are no longer scored."
        ),
        "migration_title": "Tier migration (accounts)",
        "upgrades": "Largest upgrades",
        "downgrades": "Largest downgrades",
        "new_at_risk": "Newly at risk",
        "new_at_risk_sentence": "{n} accounts are at risk now that were not in the previous run (most valuable tiers listed first).",
        "none": "None.",
        "account": "Account",
        "name": "Name",
        "tier_from": "From",
        "tier_to": "To",
        "score_change": "Score change",
        "moved_by": "Moved by (score points)",
        "at_risk_why": "Why at risk",
        "risk_band": "health band is '{band}'",
        "risk_probability": "churn risk {p}",
        # drivers
        "factor": "Factor",
        "unit": "Per",
        "effect": "Odds ratio",
        "interval": "95% interval",
        "p_adjusted": "Corrected p",
        "direction": "Direction",
        "finding": "Finding",
        "raises renewal": "raises renewal",
        "lowers renewal": "lowers renewal",
        "no clear effect": "no clear effect",
        "drivers_sentence": (
            "{n_clear} of {n} factors have a clear link with renewal (corrected for testing many "
            "factors at once); they come first, strongest first, then the others by strength of "
            "evidence. An odds ratio of 1.5 means 50% higher odds of renewing, 0.7 means 30% lower."
        ),
        "finding_template": "{factor} ({unit}): odds of renewal x{effect} (95% interval {lower}-{upper}).",
        "forest_xlabel": "Odds ratio of renewal (95% interval, log scale)",
        "forest_title": "Factors that predict renewal",
        # at risk
        "renewal_date": "Renewal date",
        "annual_value": "Annual value",
        "churn_probability": "Churn risk before renewal",
        "value_at_risk": "Value at risk",
        "health_band": "Health",
        "top_reasons": "Top reasons",
        "product_line": "Product line",
        "at_risk_sentence": (
            "{n} accounts with contracts worth {value} a year come up for renewal in the next {days} days; the "
            "expected loss (annual value x churn risk) is {at_risk}. Largest first."
        ),
        # traits
        "rule": "Rule",
        "precision": "Top-tier share among matches (held out)",
        "coverage": "Share of top tier covered",
        "segment": "Segment",
        "candidate_reason": "Why a candidate",
        "gaps": "Gap to the top tier",
        "revenue_12m": "Revenue (12 months)",
        "traits_sentence": "{n} accounts outside the top tiers look like top customers; the best {shown} are listed.",
        "segments_title": "Customer segments",
        "rules_title": "Rules describing the top tier",
        "candidates_title": "Upgrade candidates",
        # playbook
        "playbook": "Recommended service",
        # quality and methods
        "check": "Check",
        "value": "Value",
        "meaning": "How to read it",
        "validation_ok": "The data passed every rule of the data contract.",
        "validation_problems": "{n} data-contract problems were found (listed below); read affected numbers with care.",
        "method_model": "Model",
        "method_notes_intro": (
            "Validation figures of the models behind this report. Concordance and AUC: 0.5 is "
            "a coin toss, 1 is perfect; above 0.7 is useful for ranking. Calibration: predicted "
            "against observed rates; close values mean the probabilities can be taken at face "
            "value."
        ),
        "data_tables": "Tables in the extract",
        "rows": "Rows",
        "present": "Present",
        "missing_share": "Share missing",
        "column": "Column",
        "table": "Table",
        "severity": "Severity",
        "problem": "Problem",
        "yes": "yes",
        "no": "no",
        "top_tier_share": "Share in the top tiers",
        "typical": "typical",
        "points": "pts",
        "exports_written": "CRM exports of this run (in the run folder): {files}",
        "model_clv": "Customer lifetime value (BG/NBD + Gamma-Gamma; notebook 02)",
        "model_churn": "Churn risk (Cox model; notebook 04)",
        "model_drivers": "Renewal drivers (logistic regression; notebook 05)",
        "model_scoring": "Customer score and tiers (notebook 03)",
        "model_segments": "Segments and top-tier rules (notebook 06)",
        "chk_missing": "Validation figures",
        "chk_clv_holdout": "Repeat orders per customer in the holdout period: predicted / actual",
        "chk_clv_holdout_meaning": "Close values: the order-stream CLV can be trusted.",
        "chk_churn_c": "Concordance (Harrell C), time-ordered back-test",
        "chk_churn_c_meaning": "0.5 is a coin toss, 1 is perfect; above 0.7 ranks customers usefully.",
        "chk_churn_uno": "Concordance (Uno C, censoring-weighted), back-test",
        "chk_churn_uno_meaning": "As Harrell's C, robust to how long customers were followed.",
        "chk_churn_auc": "Time-dependent AUC, back-test",
        "chk_churn_auc_meaning": "Chance that a customer who left scored a higher risk than one who stayed.",
        "chk_churn_ratio": "Predicted / observed churn, back-test",
        "chk_churn_ratio_meaning": "1 = calibrated; above 1 the model over-predicts churn.",
        "chk_churn_calibration": "Largest gap between predicted and observed churn over the risk deciles",
        "chk_churn_calibration_meaning": "Small gaps: churn probabilities can be read at face value.",
        "chk_drivers_auc_logit": "Held-out AUC of the renewal model (later contracts)",
        "chk_drivers_auc_logit_meaning": "Fitted on earlier contracts, judged on later ones; 0.5 = chance.",
        "chk_drivers_auc_gbm": "Held-out AUC of a gradient-boosting cross-check",
        "chk_drivers_auc_gbm_meaning": "Much higher than the logit's: effects are not linear, read the findings with care.",
        "chk_drivers_contracts": "Renewal decisions analysed",
        "chk_drivers_contracts_meaning": "More decisions, narrower intervals.",
        "chk_drivers_flips": "Factors whose direction flips between segments",
        "chk_drivers_flips_meaning": "0 is best; a flip means the effect depends on the segment (see notebook 05).",
        "chk_drivers_clear": "Factors with a clear effect / factors tested",
        "chk_drivers_clear_meaning": "Corrected for testing many factors; the rest may be noise.",
        "chk_drivers_method": "Estimation",
        "chk_drivers_method_meaning": "A ridge-penalised fit means some factor separated renewals perfectly.",
        "chk_scoring_auc": "Renewal AUC of the score a year ago (95% interval)",
        "chk_scoring_auc_meaning": "Does a higher score mean the customer renewed? 0.5 = no better than chance.",
        "chk_scoring_top20": "Share of next-year margin earned by the top 20% of scores (95% interval)",
        "chk_scoring_top20_meaning": "How well the tiers concentrate future value.",
        "chk_scoring_lift": "Renewal rate of the top tier / overall (95% interval)",
        "chk_scoring_lift_meaning": "Above 1: the top tier renews more often than the book.",
        "chk_rules": "Best top-tier rule: precision / coverage (held out)",
        "chk_rules_meaning": "Precision: share of matches in the top tier; coverage: share of the top tier found.",
    },
    "zh": {
        "report_title": "客户分层报告",
        "report_subtitle": "数据截至 {as_of} · 运行 {run_id}",
        "report_intro": (
            "面向管理者的一页报告：收入和未来价值集中在哪里，哪些客户即将续约或可能流失，客户为何续约，"
            "以及各层级应提供的服务。每个数字都来自本次运行文件夹中的表（各部分下方注明）。"
        ),
        "contents": "目录",
        "source": "数据来源表：{tables}",
        "not_available": "暂无：{why}。",
        "why_table_missing": "本次运行没有表“{table}”（由笔记本 {notebook} 生成）",
        "why_columns_missing": "表“{table}”缺少列 {columns}",
        "why_empty": "表“{table}”没有数据",
        "why_no_previous": "此输出文件夹中没有可比较的上一次成功运行",
        "why_previous_missing": "上一次运行（{previous}）没有表“{table}”",
        "why_nothing_estimated": "没有可估计的因素（原因见笔记本 05）",
        "note_names_from_module": "最后一列的说明由分析模块以英文生成。",
        "h_headline": "核心指标",
        "h_pyramid": "客户金字塔",
        "h_changes": "与上次运行相比的变化",
        "h_drivers": "哪些因素预示续约",
        "h_at_risk": "未来 {days} 天内有风险的续约",
        "h_traits": "顶级客户的特征，以及谁有潜力成为顶级客户",
        "h_playbook": "各层级的推荐服务",
        "h_quality": "数据质量与方法说明：这些数字可信到什么程度",
        "metric": "指标",
        "now": "本次",
        "previous_value": "上次运行",
        "change": "变化",
        "m_accounts": "活跃客户数",
        "m_accounts_total": "客户总数",
        "m_arr": "年度经常性收入（ARR）",
        "m_renewal_rate": "近12个月续约率",
        "m_churned_value": "近12个月流失的年度价值",
        "m_revenue_12m": "近12个月收入",
        "m_clv_total": "客户终身价值（CLV）合计",
        "m_value_at_risk_90d": "未来90天面临风险的年度价值",
        "headline_previous": "变化是与上一次运行（数据截至 {previous_as_of}）相比。",
        "headline_no_previous": "这是此文件夹中的第一次运行：暂无变化可显示。",
        "headline_definitions": (
            "活跃 = 在截至日有有效合同。续约率 = 截至日前12个月内到期的合同中续约的比例；"
            "流失价值 = 其中未续约合同的年度价值。"
        ),
        "tier": "层级",
        "accounts": "客户数",
        "share_accounts": "客户占比",
        "share_revenue": "收入占比（12个月）",
        "share_clv": "CLV 占比",
        "renewal_rate": "续约率（12个月）",
        "health_mean": "平均健康度（0-100）",
        "share_health_risk": "处于最差健康等级的比例",
        "pareto_sentence": "按收入排名前20%的客户贡献了近12个月收入的 {share}。",
        "pareto_strong": "这是典型的二八金字塔：按层级提供服务是值得的。",
        "pareto_weak": "收入分布比二八法则更均匀：层级的作用较小。",
        "top_tiers_sentence": "顶部层级（{tiers}：占客户的 {accounts}）贡献了 {revenue} 的收入和 {clv} 的 CLV。",
        "pyramid_figure_title": "各层级的客户、收入与 CLV 占比",
        "share": "占比",
        "tier_before": "上次层级",
        "tier_after": "本次层级",
        "new_accounts": "（新增）",
        "gone_accounts": "（移出）",
        "changes_sentence": (
            "与数据截至 {previous_as_of} 的运行相比：{up} 个客户升级，{down} 个客户降级，"
            "{new} 个为新增，{gone} 个不再评分。"
        ),
        "migration_title": "层级迁移（客户数）",
        "upgrades": "升级最多的客户",
        "downgrades": "降级最多的客户",
        "new_at_risk": "新出现的风险客户",
        "new_at_risk_sentence": "有 {n} 个客户本次处于风险中，而上次运行时不在风险中（按层级从高到低列出）。",
        "none": "无。",
        "account": "客户编号",
        "name": "名称",
        "tier_from": "原层级",
        "tier_to": "新层级",
        "score_change": "得分变化",
        "moved_by": "变化原因（得分点）",
        "at_risk_why": "风险原因",
        "risk_band": "健康等级为“{band}”",
        "risk_probability": "流失风险 {p}",
        "factor": "因素",
        "unit": "单位",
        "effect": "几率比",
        "interval": "95% 区间",
        "p_adjusted": "校正后 p 值",
        "direction": "方向",
        "finding": "结论",
        "raises renewal": "提高续约",
        "lowers renewal": "降低续约",
        "no clear effect": "无明显影响",
        "drivers_sentence": (
            "{n} 个因素中有 {n_clear} 个与续约有明确关系（已校正多重检验），按影响大小排在前面；"
            "其余因素按证据强弱排列。几率比 1.5 表示续约几率高 50%，0.7 表示低 30%。"
        ),
        "finding_template": "{factor}（{unit}）：续约几率 ×{effect}（95% 区间 {lower}-{upper}）。",
        "forest_xlabel": "续约几率比（95% 区间，对数刻度）",
        "forest_title": "预示续约的因素",
        "renewal_date": "续约日期",
        "annual_value": "年度价值",
        "churn_probability": "续约前流失风险",
        "value_at_risk": "风险价值",
        "health_band": "健康度",
        "top_reasons": "主要原因",
        "product_line": "产品线",
        "at_risk_sentence": (
            "未来 {days} 天内有 {n} 个客户的合同到期续约，年度价值合计 {value}；预期损失（年度价值 × 流失风险）"
            "为 {at_risk}。按风险价值从大到小排列。"
        ),
        "rule": "规则",
        "precision": "符合规则者中顶级客户占比（留出样本）",
        "coverage": "覆盖的顶级客户比例",
        "segment": "细分群体",
        "candidate_reason": "入选原因",
        "gaps": "与顶级客户的差距",
        "revenue_12m": "收入（12个月）",
        "traits_sentence": "顶部层级之外有 {n} 个客户与顶级客户相似；下表列出最接近的 {shown} 个。",
        "segments_title": "客户细分",
        "rules_title": "描述顶级客户的规则",
        "candidates_title": "升级候选客户",
        "playbook": "推荐服务",
        "check": "检查项",
        "value": "数值",
        "meaning": "解读",
        "validation_ok": "数据通过了数据契约的全部规则。",
        "validation_problems": "发现 {n} 个数据契约问题（见下表）；相关数字请谨慎解读。",
        "method_model": "模型",
        "method_notes_intro": (
            "本报告所用模型的验证指标。一致性指数（concordance）与 AUC：0.5 相当于抛硬币，1 为完美；"
            "高于 0.7 即可用于排序。校准：预测概率与实际比例的对比；两者接近说明概率可按字面理解。"
        ),
        "data_tables": "数据中的表",
        "rows": "行数",
        "present": "是否存在",
        "missing_share": "缺失比例",
        "column": "列",
        "table": "表",
        "severity": "严重程度",
        "problem": "问题",
        "yes": "是",
        "no": "否",
        "top_tier_share": "顶部层级占比",
        "typical": "典型值",
        "points": "个百分点",
        "exports_written": "本次运行的 CRM 导出文件（位于运行文件夹中）：{files}",
        "model_clv": "客户终身价值（BG/NBD + Gamma-Gamma；笔记本 02）",
        "model_churn": "流失风险（Cox 模型；笔记本 04）",
        "model_drivers": "续约驱动因素（逻辑回归；笔记本 05）",
        "model_scoring": "客户评分与分层（笔记本 03）",
        "model_segments": "客户细分与顶级客户规则（笔记本 06）",
        "chk_missing": "验证指标",
        "chk_clv_holdout": "留出期内每位客户的重复订单数：预测 / 实际",
        "chk_clv_holdout_meaning": "两者接近：订单部分的 CLV 可信。",
        "chk_churn_c": "一致性指数（Harrell C），按时间顺序回测",
        "chk_churn_c_meaning": "0.5 相当于抛硬币，1 为完美；高于 0.7 即可有效排序。",
        "chk_churn_uno": "一致性指数（Uno C，删失加权），回测",
        "chk_churn_uno_meaning": "与 Harrell C 相同，但不受客户观察时长影响。",
        "chk_churn_auc": "时间依赖 AUC，回测",
        "chk_churn_auc_meaning": "流失客户的预测风险高于留存客户的概率。",
        "chk_churn_ratio": "预测流失 / 实际流失，回测",
        "chk_churn_ratio_meaning": "1 = 校准良好；大于 1 表示模型高估流失。",
        "chk_churn_calibration": "各风险十分位中预测与实际流失率的最大差距",
        "chk_churn_calibration_meaning": "差距小：流失概率可按字面理解。",
        "chk_drivers_auc_logit": "续约模型的留出 AUC（较晚的合同）",
        "chk_drivers_auc_logit_meaning": "用较早的合同拟合、用较晚的合同评估；0.5 = 随机。",
        "chk_drivers_auc_gbm": "梯度提升交叉检验的留出 AUC",
        "chk_drivers_auc_gbm_meaning": "若明显高于逻辑回归：影响并非线性，解读结论时需谨慎。",
        "chk_drivers_contracts": "分析的续约决策数",
        "chk_drivers_contracts_meaning": "决策越多，区间越窄。",
        "chk_drivers_flips": "方向在不同细分群体间相反的因素数",
        "chk_drivers_flips_meaning": "0 最好；方向相反说明影响取决于细分群体（见笔记本 05）。",
        "chk_drivers_clear": "有明确影响的因素 / 检验的因素",
        "chk_drivers_clear_meaning": "已校正多重检验；其余因素可能只是噪声。",
        "chk_drivers_method": "估计方法",
        "chk_drivers_method_meaning": "若使用岭惩罚拟合，说明某个因素完全区分了续约结果。",
        "chk_scoring_auc": "一年前评分的续约 AUC（95% 区间）",
        "chk_scoring_auc_meaning": "评分越高的客户是否越会续约？0.5 = 不比随机好。",
        "chk_scoring_top20": "评分前 20% 客户贡献的次年利润占比（95% 区间）",
        "chk_scoring_top20_meaning": "分层对未来价值的集中程度。",
        "chk_scoring_lift": "顶部层级续约率 / 整体续约率（95% 区间）",
        "chk_scoring_lift_meaning": "大于 1：顶部层级比整体更常续约。",
        "chk_rules": "最佳顶级客户规则：精确率 / 覆盖率（留出样本）",
        "chk_rules_meaning": "精确率：符合规则者中顶级客户的比例；覆盖率：找到的顶级客户比例。",
    },
}

# Feature names as managers read them. Scoring criteria carry their own labels in the config
# (label / label_zh), which take precedence.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "adoption_90d": ("Feature adoption (90 days)", "功能采用率（90天）"),
    "adoption_trend": ("Adoption trend", "采用率趋势"),
    "attended_seminar_12m": ("Attended a seminar (12 months)", "参加线下研讨会（12个月）"),
    "open_severe_tickets": ("Open severe tickets", "未关闭的严重工单"),
    "nps_latest": ("Latest NPS", "最新净推荐值"),
    "nps_change": ("NPS change", "净推荐值变化"),
    "payment_delay_days": ("Payment delay (days)", "付款延迟（天）"),
    "product_lines": ("Product lines", "产品线数量"),
    "noise_1": ("Analyst field 1", "分析字段1"),
    "noise_2": ("Analyst field 2", "分析字段2"),
    "webinars_12m": ("Webinars attended (12 months)", "参加线上研讨会（12个月）"),
    "seminars_12m": ("Seminars attended (12 months)", "参加线下研讨会次数（12个月）"),
    "qbrs_12m": ("Business reviews (12 months)", "业务回顾（12个月）"),
    "executive_visits_12m": ("Executive visits (12 months)", "高管拜访（12个月）"),
    "trainings_12m": ("Trainings (12 months)", "培训（12个月）"),
    "tickets_12m": ("Support tickets (12 months)", "支持工单（12个月）"),
    "severe_tickets_12m": ("Severe tickets (12 months)", "严重工单（12个月）"),
    "max_open_severe_days": ("Days a severe ticket is open", "严重工单未关闭天数"),
    "active_users_90d": ("Active users (90 days)", "活跃用户（90天）"),
    "logins_90d": ("Logins (90 days)", "登录次数（90天）"),
    "meeting_minutes_90d": ("Meeting minutes (90 days)", "会议时长（90天）"),
    "days_since_last_login": ("Days since last login", "距上次登录天数"),
    "late_payment_share": ("Share of late payments", "逾期付款比例"),
    "unpaid_orders": ("Unpaid orders", "未付订单"),
    "employees": ("Employees", "员工人数"),
    "market_influence": ("Market influence", "市场影响力"),
    "strategic_flag": ("Strategic account", "战略客户"),
    "tenure_days": ("Years of cooperation", "合作年限"),
    "arr": ("ARR", "年度经常性收入"),
    "revenue_12m": ("Revenue (12 months)", "收入（12个月）"),
    "margin_12m": ("Margin (12 months)", "利润（12个月）"),
    "revenue_growth": ("Revenue growth", "收入增长"),
    "frequency": ("Repeat orders", "重复订单数"),
    "recency_days": ("Days since last order", "距上次订单天数"),
    "size_band": ("Size band", "规模"),
    "industry": ("Industry", "行业"),
    "region": ("Region", "地区"),
    "credit_rating": ("Credit rating", "信用评级"),
    "renewals_past": ("Past renewals", "历史续约次数"),
}


def t(key: str, lang: str = "en", **values: Any) -> str:
    """The text of ``key`` in ``lang``, with ``values`` filled in."""
    if lang not in TEXT:
        raise ConfigError(f"Unknown report language {lang!r}; use one of {list(LANGUAGES)}.")
    text = TEXT[lang].get(key)
    if text is None:
        raise KeyError(f"No report text {key!r}; add it to analysis.i18n.TEXT in every language.")
    return text.format(**values) if values else text


def placeholders(text: str) -> set[str]:
    """``{names}`` used in a text (to check that every language fills the same ones)."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def feature_label(name: str, lang: str = "en", scoring: ScoringParams | None = None) -> str:
    """A readable name for a feature column; the scoring criteria's labels first, then ``FEATURE_LABELS``.

    Category levels from the drivers table (``industry=retail``) keep their level.
    """
    text = str(name)
    sep = "=" if "=" in text else ": "
    base, _, level = text.partition(sep)
    label = None
    if scoring is not None:
        spec = scoring.criteria.get(base) or scoring.health.components.get(base)
        if spec is not None:
            label = spec.label_zh if lang == "zh" else spec.label
    if not label and base in FEATURE_LABELS:
        label = FEATURE_LABELS[base][LANGUAGES.index(lang)]
    label = label or base
    return f"{label}: {level}" if level else label


def tier_codes(scoring: ScoringParams) -> list[str]:
    """Pyramid tier codes, best first."""
    return list(scoring.tiers.pyramid.codes)


def tier_names(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Tier code -> name in ``lang``."""
    return scoring.tiers.pyramid.labels(lang)


def band_names(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Health-band code -> name in ``lang``, best band first."""
    return {b.code: (b.zh if lang == "zh" else b.en) for b in scoring.health.bands}


def playbooks(scoring: ScoringParams, lang: str = "en") -> dict[str, str]:
    """Tier code -> recommended service text in ``lang``."""
    return {code: entry.get(lang) or entry.get("en", "") for code, entry in scoring.tiers.playbooks.items()}
