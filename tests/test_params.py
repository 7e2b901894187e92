"""The typed parameter model: every mistake refused up front, with the key and what is allowed."""

import time

import pytest

from analysis.errors import ConfigError
from analysis.params import defaults, load_params, parse_overrides
from analysis.run.cli import main

MISTAKES = {
    "typo": (["--set", "scoring.weights.methd=entropy"], "scoring.weights.methd: unknown key. Did you mean 'method'?"),
    "weights 1.3": (["--set", "scoring.criteria.revenue_12m.weight=0.6"], "must sum to 1, got 1.3"),
    "negative weight": (["--set", "scoring.criteria.tenure_days.weight=-0.1"], "greater than or equal to 0"),
    "shares 0.85": (["--set", "scoring.tiers.pyramid.shares=[0.01, 0.19, 0.30, 0.35]"], "shares must sum to 1"),
    "section not a mapping": (["--set", "scoring=5"], "scoring: Input should be a valid dictionary"),
    "YAML error": (["--set", "scoring=[1, 2"], "is not valid YAML"),
    "bad choice": (["--set", "language=fr"], "Input should be 'en' or 'zh'"),
    "bad type": (["--set", "survival.horizons=soon"], "survival.horizons"),
    "top tiers": (["--set", "segments.top_tiers=[platinum]"], "not pyramid tiers"),
}


@pytest.mark.parametrize("case", list(MISTAKES), ids=list(MISTAKES))
def test_each_config_mistake_exits_2_within_seconds_and_writes_nothing(case, small_book_dir, tmp_path, capsys):
    args, message = MISTAKES[case]
    out = tmp_path / "reports"
    start = time.perf_counter()
    code = main(["run", "--data", str(small_book_dir), "--out", str(out), *args])
    seconds = time.perf_counter() - start
    assert code == 2 and seconds < 10
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_validate_checks_a_config_file_too(small_book_dir, tmp_path, capsys):
    config = tmp_path / "mine.yaml"
    config.write_text("scoring:\n  weights:\n    methd: entropy\n", encoding="utf-8")
    assert main(["validate", str(small_book_dir), "--config", str(config)]) == 2
    assert "Allowed keys here: ahp, blend_mix, calibration, compare, data_n_boot, method" in capsys.readouterr().err
    config.write_text("scoring:\n  weights:\n    method: entropy\n", encoding="utf-8")
    assert main(["validate", str(small_book_dir), "--config", str(config)]) == 0


def test_every_section_refuses_unknown_keys():
    shipped = defaults().model_dump()
    for name, value in shipped.items():
        if isinstance(value, dict):
            with pytest.raises(ConfigError, match=rf"{name}\.no_such_key: unknown key"):
                load_params(overrides={f"{name}.no_such_key": 1})


def test_borrowed_values_are_resolved_once():
    p = load_params(overrides={"features.subscription_margin": 0.6, "survival.at_risk_window_days": 60})
    assert p.clv.contract_margin == 0.6 and p.report.at_risk_days == 60
    p = load_params(overrides={"clv.contract_margin": 0.5, "report.at_risk_days": 30})
    assert p.clv.contract_margin == 0.5 and p.report.at_risk_days == 30


def test_the_shipped_file_sets_every_value():
    """config/params.yaml is the one place of values: no section field falls back to a code default."""
    from analysis.params import Params

    def required(model):
        for field_name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                assert field.is_required(), f"{model.__name__}.{field_name} has a code default"
                required(annotation)

    required(Params)


def test_updated_validates_and_parse_overrides_nests():
    drivers = defaults().drivers
    assert drivers.updated(alpha=0.01).alpha == 0.01
    with pytest.raises(ConfigError, match="alpha"):
        drivers.updated(alpha=0.9)
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}
