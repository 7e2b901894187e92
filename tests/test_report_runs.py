"""The report's run-side pieces on hand-made run folders: "the last run" is the latest run with an
earlier as-of date, the index speaks the runs' language, and ``analysis report`` refuses what it cannot
do with a clear message."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from analysis.run import cli, runs


def fake_run(out, name, as_of, started, outcome="ok", language="en"):
    folder = out / name
    (folder / "html").mkdir(parents=True)
    (folder / "html" / runs.MAIN_REPORT).write_text("<h1>x</h1>", encoding="utf-8")
    manifest = {
        "run_id": name,
        "outcome": outcome,
        "as_of": as_of,
        "started_at": started,
        "parameters": {"language": language},
        "notebooks": [],
    }
    (folder / runs.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_the_last_run_is_the_latest_with_an_earlier_as_of_date(tmp_path):
    nov = fake_run(tmp_path, "r-nov", "2025-11-01", "2025-12-02T08:00:00")
    dec = fake_run(tmp_path, "r-dec", "2025-12-01", "2025-12-02T09:00:00")
    backtest = fake_run(tmp_path, "r-backtest", "2025-06-01", "2025-12-02T10:00:00")  # filed last
    fake_run(tmp_path, "r-failed", "2025-11-15", "2025-12-02T11:00:00", outcome="failed")
    assert runs.latest_successful_run(tmp_path) == backtest  # without a date: the newest filed, as before
    # a report as of 2025-12-15 compares with the latest earlier as-of date (December), not with the
    # back-test filed after it, nor with the failed run
    assert runs.latest_successful_run(tmp_path, before="2025-12-15") == dec
    assert runs.latest_successful_run(tmp_path, before="2025-12-01") == nov  # never the same or a later date
    assert runs.latest_successful_run(tmp_path, before=dt.date(2025, 7, 1)) == backtest
    assert runs.latest_successful_run(tmp_path, before="2025-06-01") is None


def test_the_index_speaks_the_language_of_the_runs(tmp_path):
    fake_run(tmp_path, "r1", "2025-11-01", "2025-12-02T08:00:00", language="zh")
    fake_run(tmp_path, "r2", "2025-12-01", "2025-12-02T09:00:00", outcome="failed", language="zh")
    page = runs.render_index(tmp_path)
    assert '<html lang="zh-CN">' in page and "客户分层报告" in page and "失败" in page and ">报告<" in page
    from bs4 import BeautifulSoup

    text = BeautifulSoup(page, "html.parser").get_text(" ")
    for word in ("Run date", "Outcome", "report", "Newest", "failed"):
        assert word not in text, word
    english = tmp_path / "en"
    english.mkdir()
    fake_run(english, "r1", "2025-11-01", "2025-12-02T08:00:00")
    assert "Customer tiering reports" in runs.render_index(english)


def test_report_command_refuses_what_it_cannot_do(tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path)]) == 2
    assert "No successful run" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "nope")]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    run = fake_run(tmp_path, "r1", "2025-11-01", "2025-12-02T08:00:00")
    assert cli.main(["report", str(run), "--language", "zh"]) == 2  # no notebook 07 recorded to re-render
    assert "did not run 07_manager_report" in capsys.readouterr().err
    assert cli.main(["report", str(run)]) == 0
    assert "Report:" in capsys.readouterr().out


@pytest.mark.parametrize("missing", ["chromium", "driver"])
def test_pdf_without_a_browser_says_how_to_install_one(tmp_path, monkeypatch, capsys, missing):
    from analysis.report import pdf

    monkeypatch.setattr(
        pdf,
        "browser_paths",
        lambda: (None, "/usr/bin/chromedriver") if missing == "chromium" else ("/usr/bin/chromium", None),
    )
    run = fake_run(tmp_path, "r1", "2025-11-01", "2025-12-02T08:00:00")
    assert cli.main(["report", str(run), "--pdf"]) == 1
    assert "apt-get install chromium chromium-driver" in capsys.readouterr().err
