"""The notebook runner: run folders, failures, lock, timeout, parameters, index, secrets.

Runs tiny dummy notebooks from tests/fixtures/notebooks (each run starts a real kernel of the
project's named kernelspec, about 2 s), copied into a temporary notebooks folder under
``NN_name.ipynb`` names in the order a test needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import ConfigError, DataContractError, RunLockedError
from analysis.paths import PROJECT_ROOT
from analysis.run import pipeline, runs

pytestmark = pytest.mark.slow  # every test here starts a real kernel (about 2 s each)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
AS_OF = "2025-12-01"
SECRET = "hunter2-correct-horse-battery"
SECRET_ENV = "B2B_TEST_DB_PASSWORD"


def make_notebooks(folder: Path, *names: str) -> Path:
    """Copy fixtures into ``folder`` as 01_<name>.ipynb, 02_<name>.ipynb, ... in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names, 1):
        shutil.copy(FIXTURES / f"{name}.ipynb", folder / f"{i:02d}_{name}.ipynb")
    return folder


def make_data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "accounts.csv").write_text("account_id,name\nA1,Acme\nA2,Globex\n", encoding="utf-8")
    (folder / "orders.csv").write_text("order_id,account_id,date,amount\nO1,A1,2025-11-03,10.5\n", encoding="utf-8")
    return folder


def write_config(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run(data: Path, out: Path, notebooks: Path, lines: list[str] | None = None, **kwargs) -> pipeline.RunResult:
    sink = lines if lines is not None else []
    kwargs.setdefault("validate", False)  # the dummy data folder is no customer book
    return pipeline.run_pipeline(
        data, as_of=kwargs.pop("as_of", AS_OF), out_dir=out, notebooks_dir=notebooks, progress=sink.append, **kwargs
    )


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One successful run: a config override per notebook and a secret in the environment."""
    root = tmp_path_factory.mktemp("good")
    data = make_data(root / "data")
    notebooks = make_notebooks(root / "nb", "write_table")
    config = write_config(
        root / "config.yaml",
        """
        pipeline:
          notebooks:
            01_write_table: {n_rows: 7, echo_env: B2B_TEST_DB_PASSWORD}
    """,
    )
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, SECRET)
        result = run(data, root / "reports", notebooks, lines, config_path=config)
    return {
        "root": root,
        "data": data,
        "notebooks": notebooks,
        "config": config,
        "result": result,
        "lines": lines,
        "out": root / "reports",
    }


# --- success path --------------------------------------------------------------------------


def test_success_files_the_run_with_manifest(good):
    result, out = good["result"], good["out"]
    assert result.ok and result.exit_code == 0, good["lines"]
    assert result.path == out / result.run_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}_asof-2025-12-01", result.run_id)
    for rel in (
        "notebooks/01_write_table.ipynb",
        "html/01_write_table.html",
        "tables/draws.csv",
        "tables/draws.parquet",
        "params.yaml",
        "manifest.json",
    ):
        assert (result.path / rel).is_file(), rel
    assert not list(out.glob(".tmp-*")) and not (out / runs.OWNER_FILE).exists()
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["outcome"] == "ok" and manifest["exit_code"] == 0
    assert manifest["as_of"] == AS_OF and manifest["seed"] == 42
    assert manifest["data"]["sha256"] == runs.data_fingerprint(good["data"])["sha256"]
    assert manifest["git"]["commit"]  # a hash, or "unknown" outside a repository with commits
    assert manifest["packages"]["pandas"] == pd.__version__
    assert manifest["notebooks"][0]["status"] == "ok" and manifest["notebooks"][0]["seconds"] > 0
    csv_hash = hashlib.sha256((result.path / "tables/draws.csv").read_bytes()).hexdigest()
    assert manifest["tables"]["draws.csv"] == csv_hash
    assert manifest["started_at"] <= manifest["finished_at"]
    # One progress line per notebook with its elapsed seconds.
    assert any(re.fullmatch(r"\[1/1\] 01_write_table ok \(\d+\.\d s\)", line) for line in good["lines"])


def test_html_has_no_code_and_no_external_links(good):
    page = (good["result"].path / "html" / "01_write_table.html").read_text(encoding="utf-8")
    assert "CODE_MARKER_PRINTED_OUTPUT 7" in page  # outputs are there ...
    assert "default_rng" not in page and "to_parquet" not in page  # ... inputs are not
    assert not re.search(r"In&nbsp;\[|In \[\d+\]", page)  # nor prompts
    images = re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", page)
    assert images and all(src.startswith("data:image/") for src in images)
    assert not re.search(r"""<(?:script|link|img)[^>]*(?:src|href)=["']?(?:https?:)?//""", page)


def test_only_declared_parameters_reach_a_notebook(good):
    executed = json.loads((good["result"].path / "notebooks" / "01_write_table.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    names = set(re.findall(r"^(\w+) = ", "".join(injected[0]["source"]), flags=re.M))
    # declared by the notebook: data_dir, as_of, run_dir, config_path, seed, n_rows, echo_env
    assert names == {"data_dir", "as_of", "run_dir", "config_path", "seed", "n_rows", "echo_env"}
    assert "run_id" not in names and "previous_run_dir" not in names  # the runner has them; not declared
    assert len(pd.read_csv(good["result"].path / "tables" / "draws.csv")) == 7  # per-notebook override applied


def test_undeclared_or_unknown_notebook_parameters_are_refused_before_running(good, tmp_path):
    declared = {"01_write_table": ["run_dir", "seed", "n_rows"]}
    with pytest.raises(ConfigError, match=r"does not declare.*\['run_dir', 'seed', 'n_rows'\]"):
        pipeline.check_notebook_overrides(declared, {"01_write_table": {"n_rowz": 3}})
    with pytest.raises(ConfigError, match="unknown notebook.*02_clv"):
        pipeline.check_notebook_overrides(declared, {"02_clv": {}})
    with pytest.raises(ConfigError, match="runner sets"):
        pipeline.check_notebook_overrides(declared, {"01_write_table": {"run_dir": "/elsewhere"}})
    config = write_config(tmp_path / "c.yaml", "pipeline: {notebooks: {01_write_table: {n_rowz: 3}}}\n")
    with pytest.raises(ConfigError, match="n_rowz"):
        run(good["data"], tmp_path / "reports", good["notebooks"], config_path=config)
    assert not (tmp_path / "reports").exists()  # refused before anything was written


def test_secrets_never_reach_notebooks_html_or_manifest(good, tmp_path, monkeypatch):
    path = good["result"].path
    for rel in ("notebooks/01_write_table.ipynb", "html/01_write_table.html", "manifest.json", "params.yaml"):
        assert SECRET not in (path / rel).read_text(encoding="utf-8"), rel
    assert "env says ***" in (path / "html/01_write_table.html").read_text(encoding="utf-8")
    # Credentials in parameters are refused outright (they belong in environment variables).
    for text, what in (
        ("database: {password: pw12345678}\n", "database.password"),
        ("report: {db: 'postgresql://bob:pw12345678@db/crm'}\n", "URL with a password"),
    ):
        config = write_config(tmp_path / "c.yaml", text)
        with pytest.raises(ConfigError, match=re.escape(what)):
            run(good["data"], tmp_path / "reports", good["notebooks"], config_path=config)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    assert runs.scrub({"u": f"x {SECRET} y", "url": "mysql://ann:s3cret@h/db"}, runs.secret_values()) == {
        "u": "x *** y",
        "url": "mysql://ann:***@h/db",
    }


def test_same_data_params_seed_give_identical_tables(good, tmp_path):
    again = run(good["data"], tmp_path / "a", good["notebooks"], config_path=good["config"])
    assert again.ok
    first = good["result"].path / "tables"
    for name in ("draws.csv", "draws.parquet"):
        assert (again.path / "tables" / name).read_bytes() == (first / name).read_bytes(), name
    assert again.manifest["tables"] == good["result"].manifest["tables"]
    other = run(good["data"], tmp_path / "b", good["notebooks"], config_path=good["config"], overrides={"seed": 7})
    assert other.ok and other.manifest["seed"] == 7
    assert (other.path / "tables/draws.csv").read_bytes() != (first / "draws.csv").read_bytes()


# --- failure paths -------------------------------------------------------------------------


def test_failing_cell_exits_nonzero_files_partial_run_and_keeps_earlier_report(good, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(good["out"], out)
    earlier = out / good["result"].run_id
    before = tree_digest(earlier)
    notebooks = make_notebooks(tmp_path / "nb", "fail_cell", "write_table")
    lines: list[str] = []
    result = run(good["data"], out, notebooks, lines)
    assert result.exit_code == pipeline.EXIT_NOTEBOOK_FAILED and result.outcome == "failed"
    printed = "\n".join(lines)
    assert "Notebook 01_fail_cell failed" in printed
    assert "ValueError: planted failure: <run> cannot go on" in printed
    assert "\x1b" not in printed and "\x1b" not in result.error
    assert result.failed_notebook == "01_fail_cell"
    assert result.path == out / "_failed" / result.run_id
    executed = (result.path / "notebooks" / "01_fail_cell.ipynb").read_text()
    assert "planted failure" in executed  # the failing notebook is kept, with its error output
    assert not (result.path / "notebooks" / "02_write_table.ipynb").exists()  # later notebooks did not run
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["outcome"] == "failed" and manifest["error"]["ename"] == "ValueError"
    assert [n["status"] for n in manifest["notebooks"]] == ["failed", "not run"]
    # Earlier report untouched; nothing else appeared next to it.
    assert tree_digest(earlier) == before
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted([earlier.name, "_failed"])
    assert not list(out.glob(".tmp-*"))
    assert "failed in 01_fail_cell" in (out / "index.html").read_text()


def test_data_contract_error_in_a_notebook_is_bad_input(good, tmp_path):
    notebooks = make_notebooks(tmp_path / "nb", "fail_cell")
    config = write_config(
        tmp_path / "c.yaml", "pipeline: {notebooks: {01_fail_cell: {error_class: DataContractError}}}\n"
    )
    result = run(good["data"], tmp_path / "reports", notebooks, config_path=config)
    assert result.outcome == "bad_input" and result.exit_code == pipeline.EXIT_BAD_INPUT
    assert "DataContractError: planted failure" in result.error


def test_timeout_stops_the_notebook_and_exits_5(good, tmp_path):
    notebooks = make_notebooks(tmp_path / "nb", "sleep")
    lines: list[str] = []
    clock = time.perf_counter()
    result = run(good["data"], tmp_path / "reports", notebooks, lines, timeout=1.2)  # whole seconds: 2
    assert time.perf_counter() - clock < 25  # the 30 s sleep was cut short
    assert result.outcome == "timeout" and result.exit_code == pipeline.EXIT_TIMEOUT
    assert result.path.parent.name == "_failed" and (result.path / "notebooks/01_sleep.ipynb").exists()
    assert "timed out" in "\n".join(lines) and "longer than 2 s" in result.error


def test_second_concurrent_run_is_refused_by_the_lock(good, tmp_path):
    out = tmp_path / "reports"
    notebooks = make_notebooks(tmp_path / "nb", "sleep")
    config = write_config(tmp_path / "c.yaml", "pipeline: {notebooks: {01_sleep: {seconds: 2}}}\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from analysis.run.pipeline import run_pipeline; "
            f"r = run_pipeline({str(good['data'])!r}, as_of={AS_OF!r}, config_path={str(config)!r}, "
            f"out_dir={str(out)!r}, notebooks_dir={str(notebooks)!r}, run_id='holder-run', validate=False); "
            "sys.exit(r.exit_code)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / runs.OWNER_FILE).exists():
            assert holder.poll() is None and time.monotonic() < deadline, holder.stdout.read() if holder.stdout else ""
            time.sleep(0.05)
        with pytest.raises(RunLockedError, match="holder-run") as info:
            run(good["data"], out, notebooks)
        assert pipeline.exit_code_for(info.value) == pipeline.EXIT_LOCKED
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == []  # refused run wrote nothing
    finally:
        output, _ = holder.communicate(timeout=120)
    assert holder.returncode == 0, output
    assert (out / "holder-run" / "manifest.json").exists()


# --- pieces without a kernel ---------------------------------------------------------------


def test_stale_temporary_run_is_moved_to_failed(tmp_path):
    out = tmp_path / "reports"
    stale = out / ".tmp-2025-01-01T000000_asof-2024-12-01"
    (stale / "notebooks").mkdir(parents=True)
    with runs.run_lock(out):
        moved = runs.recover_stale_runs(out)
    assert moved == [out / "_failed" / "2025-01-01T000000_asof-2024-12-01"]
    assert json.loads((moved[0] / "manifest.json").read_text())["outcome"] == "interrupted"
    assert not stale.exists()


def test_lock_message_names_the_holder(tmp_path):
    with runs.run_lock(tmp_path) as claim:
        claim("2025-12-31T120000_asof-2025-12-01")
        with (
            pytest.raises(RunLockedError, match=r"locked by run 2025-12-31T120000_asof-2025-12-01 \(pid \d+"),
            runs.run_lock(tmp_path),
        ):
            pass
    with runs.run_lock(tmp_path):  # released afterwards
        pass


def fake_run(
    out: Path, run_id: str, started: str, outcome: str = "ok", headline: dict | None = None, pages: tuple[str, ...] = ()
) -> Path:
    folder = out / ("_failed" if outcome != "ok" else "") / run_id
    (folder / "html").mkdir(parents=True)
    for page in pages:
        (folder / "html" / page).write_text("<p>report</p>")
    if headline is not None:
        (folder / "tables").mkdir()
        (folder / "tables" / "headline.json").write_text(json.dumps(headline))
    manifest = {
        "run_id": run_id,
        "started_at": started,
        "as_of": "2025-11-01",
        "outcome": outcome,
        "failed_notebook": None if outcome == "ok" else "03_x",
    }
    runs.write_json_atomic(folder / "manifest.json", manifest)
    return folder


def test_index_lists_runs_newest_first_and_escapes_text(tmp_path):
    out = tmp_path
    fake_run(
        out,
        "r-old",
        "2025-10-01T06:00:00+00:00",
        headline={"accounts": 4800, "arr": 12500000.5, "renewal_rate": 0.84, "churned_value": 310000},
    )
    fake_run(
        out,
        "r-new",
        "2025-12-01T06:00:00+00:00",
        pages=("01_data_quality.html", runs.MAIN_REPORT),
        headline={"accounts": "<script>alert(1)</script>", "arr": '<img src=x onerror="alert(2)">'},
    )
    fake_run(out, "r-plain", "2025-11-01T06:00:00+00:00", pages=("01_data_quality.html", "02_clv.html"))
    fake_run(out, "r-bad", "2025-12-02T06:00:00+00:00", outcome="failed")
    page = runs.write_index(out).read_text(encoding="utf-8")
    assert "<script>" not in page and "<img" not in page  # headline text is escaped, never executed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=" in page
    order = [page.index(name) for name in ("r-bad", "r-new", "r-plain", "r-old")]
    assert order == sorted(order)  # newest first
    assert 'href="r-new/html/07_manager_report.html"' in page and "r-new/html/01_data_quality.html" not in page
    assert 'href="r-plain/html/01_data_quality.html"' in page and 'href="r-plain/html/02_clv.html"' in page
    assert "4,800" in page and "12,500,000" in page and "84.0%" in page and "310,000" in page
    assert "failed in 03_x" in page
    plain_row = next(r for r in page.split("<tr>") if "r-plain" in r)
    assert plain_row.count('<td class="num"></td>') == 4  # no headline.json: nothing shown


def test_fingerprint_hashes_contents_not_just_sizes_and_times(tmp_path):
    data = make_data(tmp_path / "d")
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    first = runs.data_fingerprint(data)
    assert runs.data_fingerprint(copy)["sha256"] == first["sha256"]  # same files elsewhere: same fingerprint
    target = data / "accounts.csv"
    stat = target.stat()
    target.write_text(target.read_text().replace("Acme", "Acne"))  # same size ...
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... same mtime
    assert target.stat().st_size == stat.st_size
    assert runs.data_fingerprint(data)["sha256"] != first["sha256"]


def test_as_of_is_parsed_once_or_derived_from_the_data(tmp_path):
    from analysis.data.io import load_book

    book = load_book(make_data(tmp_path / "d"))
    assert pipeline.resolve_as_of(book, "2025-11-30") == (dt.date(2025, 11, 30), "argument")
    assert pipeline.resolve_as_of(book, None) == (dt.date(2025, 11, 4), "data")  # day after the latest order
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        pipeline.resolve_as_of(book, "31/12/2025")
    with pytest.raises(ConfigError, match="after the data's extract date"):
        pipeline.resolve_as_of(book, "2030-01-01")
    with pytest.raises(ConfigError, match="earliest date in the data"):
        pipeline.resolve_as_of(book, "1990-01-01")


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path):
    data = make_data(tmp_path / "d")
    notebooks = make_notebooks(tmp_path / "nb", "write_table")
    out = tmp_path / "reports"
    with pytest.raises(DataContractError, match="does not exist"):
        run(tmp_path / "missing", out, notebooks)
    with pytest.raises(ConfigError, match="No notebooks"):
        run(data, out, tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a safe folder name"):
        run(data, out, notebooks, run_id="../escape")
    nb = json.loads((notebooks / "01_write_table.ipynb").read_text())
    nb["cells"][0]["metadata"]["tags"] = ["parameters"]  # now two cells are tagged
    (notebooks / "01_write_table.ipynb").write_text(json.dumps(nb))
    with pytest.raises(ConfigError, match="2 cells tagged 'parameters'"):
        run(data, out, notebooks)
    assert not out.exists()
    assert pipeline.exit_code_for(ConfigError("x")) == pipeline.exit_code_for(DataContractError("x")) == 2


def test_kernel_is_registered_for_this_interpreter(tmp_path, monkeypatch):
    prefix = tmp_path / "prefix"
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    name = "b2b-tiering-test"
    spec_dir = pipeline.ensure_kernel(name, prefix=prefix)  # missing: registered
    assert spec_dir == prefix / "share" / "jupyter" / "kernels" / name
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable and "ipykernel_launcher" in spec["argv"]
    mtime = (spec_dir / "kernel.json").stat().st_mtime_ns
    assert pipeline.ensure_kernel(name, prefix=prefix) == spec_dir
    assert (spec_dir / "kernel.json").stat().st_mtime_ns == mtime  # present and right: left alone
    spec["argv"][0] = "/old/env/bin/python"  # our own spec, left by an older environment: replaced
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    pipeline.ensure_kernel(name, prefix=prefix)
    assert json.loads((spec_dir / "kernel.json").read_text())["argv"][0] == sys.executable
    foreign = tmp_path / "foreign" / "kernels" / name  # someone else's spec shadowing ours: refused
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps(dict(spec, argv=["/usr/bin/python3", "-m", "ipykernel"])))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "foreign"))
    with pytest.raises(ConfigError, match="jupyter kernelspec remove"):
        pipeline.ensure_kernel(name, prefix=prefix)


def test_every_exit_code_is_documented():
    doc = (PROJECT_ROOT / "docs" / "running.md").read_text(encoding="utf-8")
    for code in pipeline.EXIT_CODES:
        assert re.search(rf"^\|\s*{code}\s*\|", doc, flags=re.M), f"exit code {code} missing from docs/running.md"


def test_the_runner_never_changes_its_own_working_folder(good, tmp_path, monkeypatch):
    # papermill's cwd= os.chdir()s the whole process; with notebooks side by side in threads the
    # runner was left in a staging folder that was then moved, and the next run failed.
    import os

    calls: list[str] = []
    real_chdir = os.chdir
    monkeypatch.setattr(os, "chdir", lambda path: (calls.append(str(path)), real_chdir(path))[1])
    before = os.getcwd()
    result = run(good["data"], tmp_path / "reports", good["notebooks"])
    assert result.exit_code == 0
    assert set(calls) <= {before} and os.getcwd() == before  # (papermill re-enters the current folder)
