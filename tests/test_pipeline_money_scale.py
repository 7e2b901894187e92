"""A book in VND-sized amounts (every money column times 1e9: contracts worth about 1e13) runs the
whole pipeline, and nothing but the money changes: the tiers and grades are the same as on the
unscaled book, scores and churn risks agree to rounding (money enters them through log1p, whose +1
is one unit of currency), and the money figures are exactly 1e9 times larger."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import worlds

from analysis.run.cli import main

SCALE = 1e9


def _run(book, folder, capsys):
    out = folder / "reports"
    assert main(["run", "--data", str(book.write(folder / "book")), "--out", str(out)]) == 0, capsys.readouterr().err[
        -3000:
    ]
    (run,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    return run / "tables"


@pytest.mark.slow
def test_a_book_in_dong_runs_and_only_the_money_scales(tmp_path, capsys):
    book = worlds.calendar_terms(n_accounts=400, seed=31)
    plain = _run(book, tmp_path / "plain", capsys)
    dong = _run(worlds.with_money_scale(book, SCALE), tmp_path / "dong", capsys)

    a, b = (pd.read_parquet(t / "scored_accounts.parquet").set_index("account_id") for t in (plain, dong))
    assert a.index.equals(b.index)
    for column in ("tier", "abcd", "abc", "health_band"):
        assert a[column].astype(str).equals(b[column].astype(str)), column
    # Not bit-equal: money criteria are log1p-transformed, and the +1 is one unit of currency, so
    # the transform is scale-invariant only up to about 1e-4 of a point on this book.
    np.testing.assert_allclose(b["score"], a["score"], atol=0.01)

    churn_a, churn_b = (pd.read_parquet(t / "churn_risk.parquet").set_index("account_id") for t in (plain, dong))
    numeric = churn_a.select_dtypes("number").columns.intersection(churn_b.columns)
    risk = [c for c in numeric if c.startswith("p_churn")]
    assert risk, list(churn_a.columns)
    np.testing.assert_allclose(churn_b[risk], churn_a[risk], atol=1e-3)  # log1p money covariates, as above

    head_a, head_b = (json.loads((t / "headline.json").read_text()) for t in (plain, dong))
    assert head_b["arr"] == pytest.approx(head_a["arr"] * SCALE, rel=1e-12)
    assert head_b["arr"] > 1e12  # the sizes the issue saw fail (DECIMAL(18, 6) overflowed)
    assert head_b["renewal_rate"] == pytest.approx(head_a["renewal_rate"], abs=1e-12)
