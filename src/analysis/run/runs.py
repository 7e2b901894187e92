"""Bookkeeping of pipeline runs: run ids, folders, the lock, the manifest, the index page.

Layout under the output folder (``reports/`` by default)::

    reports/
      index.html                 every run, newest first (rewritten after each run)
      <run-id>/                  one finished run: notebooks/, html/, tables/, params.yaml, manifest.json
      _failed/<run-id>/          a run that did not finish, as far as it got
      .tmp-<run-id>/             the run being written (moved away when it ends)
      .run.lock, .run.lock.owner.json

Nothing here runs notebooks; ``analysis.pipeline`` does, and uses these helpers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import platform
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import filelock

from analysis.errors import ConfigError, OutputFolderError, RunLockedError
from analysis.paths import PROJECT_ROOT

FAILED_DIR = "_failed"
TMP_PREFIX = ".tmp-"
LOCK_FILE = ".run.lock"
OWNER_FILE = ".run.lock.owner.json"
MANIFEST = "manifest.json"
INDEX = "index.html"
MAIN_REPORT = "07_manager_report.html"
HEADLINE = "headline.json"

# The core stack whose versions go into every manifest (distribution names).
CORE_PACKAGES = (
    "b2b-customer-tiering",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbformat",
    "nbclient",
    "ipykernel",
    "jupyter_client",
    "jupyterlab",
    "duckdb",
    "pyarrow",
    "pandera",
    "PyYAML",
    "filelock",
    "jupytext",
)

# Env var names whose values are secrets; their values are scrubbed from manifests and notebooks.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL", re.IGNORECASE)
# Parameter names that look like credentials: such parameters are refused outright.
CREDENTIAL_PARAM = re.compile(r"passw(or)?d|secret|token|credential|api_?key|private_?key", re.IGNORECASE)
# user:password@ inside a URL (postgresql://user:pw@host/db).
URL_CREDENTIALS = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE)
# Shorter values are too likely to occur in ordinary text to be replaced everywhere.
MIN_SECRET_LENGTH = 8
REDACTED = "***"

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --- run ids and folders -------------------------------------------------------------------


def make_run_id(started: dt.datetime, as_of: str | None) -> str:
    """``2025-12-31T120000_asof-2025-12-01``: sortable, and safe as a folder name everywhere."""
    return f"{started:%Y-%m-%dT%H%M%S}_asof-{as_of or 'latest'}"


def check_run_id(run_id: str) -> str:
    if not RUN_ID_PATTERN.match(run_id) or run_id in (FAILED_DIR,):
        raise ConfigError(
            f"Run id {run_id!r} is not a safe folder name; use letters, digits, '.', '_' and '-' only, "
            f"not starting with '.' or '_'."
        )
    return run_id


def unique_run_id(out_dir: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever is not taken by a finished, failed or running run."""
    candidate, n = base, 1
    while any(
        p.exists()
        for p in (out_dir / candidate, out_dir / FAILED_DIR / candidate, out_dir / f"{TMP_PREFIX}{candidate}")
    ):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def failed_target(out_dir: Path, run_id: str) -> Path:
    """Where a partial run goes: ``_failed/<run-id>`` (made unique; the folder is made by the move)."""
    failed = out_dir / FAILED_DIR
    return failed / unique_run_id(failed, run_id)


def recover_stale_runs(out_dir: Path) -> list[Path]:
    """Move ``.tmp-*`` folders left by a run that was killed (power cut, kill -9) under ``_failed/``.

    The runner saved the manifest after every change of a notebook's status, so the notebooks
    that had finished keep ``ok``; the ones running when the run died become ``interrupted`` and
    the ones not started ``not run``. Only called while holding the lock, so no live run can own
    them. A folder that cannot be moved (full disk) stays for the next run to try again.
    """
    moved = []
    for folder in sorted(out_dir.glob(f"{TMP_PREFIX}*")):
        if not folder.is_dir():
            continue
        run_id = folder.name[len(TMP_PREFIX) :]
        manifest = read_manifest(folder) or {"run_id": run_id}
        target = failed_target(out_dir, run_id)
        for record in manifest.get("notebooks") or []:
            if record.get("status") == "running":
                record["status"] = "interrupted"
                manifest["failed_notebook"] = manifest.get("failed_notebook") or record.get("name")
            elif record.get("status") == "pending":
                record["status"] = "not run"
        manifest.update(
            outcome="interrupted",
            exit_code=130,
            output=str(target),
            tables=tables_fingerprint(folder),
            error={"message": "The run was killed before it finished (kill -9, power cut, out of memory)."},
        )
        try:
            write_json_atomic(folder / MANIFEST, manifest)
            target.parent.mkdir(exist_ok=True)
            os.replace(folder, target)
        except OSError:
            continue
        moved.append(target)
    return moved


# --- lock ----------------------------------------------------------------------------------


@contextmanager
def run_lock(out_dir: Path, timeout: float = 0) -> Iterator[Callable[[str], None]]:
    """Hold ``out_dir/.run.lock`` for the duration of a run, or raise ``RunLockedError``.

    Yields ``claim(run_id)``, which records the holder in a separate owner file (the lock file
    itself may be truncated by a process that tries, and fails, to take it).
    """
    lock = filelock.FileLock(str(out_dir / LOCK_FILE), timeout=timeout)
    owner = out_dir / OWNER_FILE
    try:
        lock.acquire()
    except filelock.Timeout:
        holder = _read_json(owner) or {}
        who = (
            f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
            f"started {holder.get('started_at', '?')})"
            if holder
            else "another run"
        )
        raise RunLockedError(
            f"{out_dir} is locked by {who}. Wait for it to finish, or pass another --out folder. "
            f"If that process is gone, the lock is released automatically; nothing to delete."
        ) from None
    except OSError as exc:  # read-only file system, full disk, no permission: say which folder
        raise OutputFolderError(
            f"Cannot create the lock file in the output folder {out_dir} ({exc.strerror or exc}); nothing was "
            f"written. Pass --out with a folder this user may write to, or free space on its disk."
        ) from None

    def claim(run_id: str) -> None:
        try:
            write_json_atomic(
                owner, {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": now_iso()}
            )
        except OSError as exc:
            raise OutputFolderError(
                f"Cannot write {owner} ({exc.strerror or exc}); nothing was written. Free space on the disk of "
                f"{out_dir} or pass another --out."
            ) from None

    try:
        yield claim
    finally:
        owner.unlink(missing_ok=True)
        lock.release()


# --- manifest ingredients ------------------------------------------------------------------


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def data_fingerprint(source: Path) -> dict[str, Any]:
    """SHA-256 over the data files' relative names, sizes and full contents.

    Contents are hashed (streamed in chunks by ``hashlib.file_digest``), not mtimes: a copy of
    the same extract gets the same fingerprint and an edited file a different one.
    """
    started = time.perf_counter()
    source = Path(source)
    if source.is_dir():
        files = sorted(
            p
            for p in source.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
        )
        names = [p.relative_to(source).as_posix() for p in files]
    else:
        files, names = [source], [source.name]
    overall = hashlib.sha256()
    listing = []
    for path, name in zip(files, names, strict=True):
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        size = path.stat().st_size
        overall.update(f"{name}\0{size}\0{digest}\n".encode())
        listing.append({"name": name, "bytes": size, "sha256": digest})
    return {
        "path": str(source),
        "sha256": overall.hexdigest(),
        "files": listing,
        "bytes": sum(f["bytes"] for f in listing),
        "seconds": round(time.perf_counter() - started, 3),
    }


def tables_fingerprint(run_dir: Path) -> dict[str, str]:
    """sha256 per file under ``run_dir/tables``: two runs with equal inputs must agree."""
    folder = run_dir / "tables"
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            out[path.relative_to(folder).as_posix()] = hashlib.file_digest(fh, "sha256").hexdigest()
    return out


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """Commit of the code that ran, and whether tracked files differed from it."""

    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            # --no-optional-locks: a read-only query must not rewrite the index of a live checkout.
            return subprocess.run(
                ["git", "--no-optional-locks", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return {"commit": "unknown", "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


def package_versions(names: tuple[str, ...] = CORE_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# --- secrets -------------------------------------------------------------------------------


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of env vars named like secrets (PASSWORD, SECRET, TOKEN, KEY...), longest first."""
    environ = os.environ if environ is None else environ
    values = {v for k, v in environ.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def scrub(obj: Any, secrets: list[str]) -> Any:
    """Copy of ``obj`` with secret values and URL passwords replaced by ``***`` in every string."""
    if isinstance(obj, str):
        for value in secrets:
            obj = obj.replace(value, REDACTED)
        return URL_CREDENTIALS.sub(lambda m: m.group("head") + REDACTED + "@", obj)
    if isinstance(obj, Mapping):
        # Embedded images are base64: replacing inside them could only corrupt them.
        return {k: (v if str(k).startswith("image/") else scrub(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub(v, secrets) for v in obj]
    return obj


def scrub_json_file(path: Path, secrets: list[str]) -> bool:
    """Scrub a JSON file (an executed notebook) in place; True when something was replaced."""
    original = json.loads(path.read_text(encoding="utf-8"))
    cleaned = scrub(original, secrets)
    if cleaned == original:
        return False
    write_json_atomic(path, cleaned, indent=1)
    return True


def credential_problems(params: Any, secrets: list[str], where: str = "") -> list[str]:
    """Places in the parameters that hold a credential (they must come from the environment)."""
    problems = []
    if isinstance(params, Mapping):
        for key, value in params.items():
            path = f"{where}.{key}" if where else str(key)
            if CREDENTIAL_PARAM.search(str(key)) and value not in (None, ""):
                problems.append(f"{path} (a credential-like name)")
            else:
                problems += credential_problems(value, secrets, path)
    elif isinstance(params, (list, tuple)):
        for i, value in enumerate(params):
            problems += credential_problems(value, secrets, f"{where}[{i}]")
    elif isinstance(params, str):
        if URL_CREDENTIALS.search(params):
            problems.append(f"{where} (a URL with a password)")
        elif params in secrets:
            problems.append(f"{where} (the value of a secret environment variable)")
    return problems


# --- JSON files ----------------------------------------------------------------------------


def write_json_atomic(path: Path, obj: Any, indent: int = 2) -> Path:
    """Write JSON next to ``path`` and rename it into place: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_manifest(run_dir: Path) -> dict | None:
    manifest = _read_json(run_dir / MANIFEST)
    return manifest if isinstance(manifest, dict) else None


# --- the list of runs and the index page ---------------------------------------------------


def list_runs(out_dir: Path) -> list[dict[str, Any]]:
    """Every finished and failed run under ``out_dir`` (manifest + folder), newest first."""
    runs = []
    candidates = [p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    failed = out_dir / FAILED_DIR
    if failed.is_dir():
        candidates += [p for p in failed.iterdir() if p.is_dir()]
    for folder in candidates:
        manifest = read_manifest(folder)
        if manifest is not None:
            runs.append({"folder": folder, "manifest": manifest})
    runs.sort(key=lambda r: (str(r["manifest"].get("started_at", "")), r["folder"].name), reverse=True)
    return runs


def latest_successful_run(out_dir: Path, before: str | dt.date | None = None) -> Path | None:
    """The newest successful run; with ``before``, the successful run with the latest as-of date
    earlier than ``before`` (the newest of those on a tie), so a back-test run filed later is never
    "the last run" of a report on a later date."""
    done = [r for r in list_runs(out_dir) if r["manifest"].get("outcome") == "ok" and r["folder"].parent == out_dir]
    if before is None:
        return done[0]["folder"] if done else None
    limit = str(before)[:10]
    earlier = [r for r in done if r["manifest"].get("as_of") and str(r["manifest"]["as_of"])[:10] < limit]
    if not earlier:
        return None
    # list_runs is newest first and sorted() is stable: the latest as-of wins, the newest run on a tie
    return sorted(earlier, key=lambda r: str(r["manifest"]["as_of"])[:10], reverse=True)[0]["folder"]


def notebook_seconds(run_dir: Path | None) -> dict[str, float]:
    """Seconds each notebook took in the run filed at ``run_dir`` (empty when none or unreadable)."""
    if run_dir is None:
        return {}
    try:
        records = json.loads((run_dir / MANIFEST).read_text(encoding="utf-8")).get("notebooks") or []
        return {r["name"]: float(r["seconds"]) for r in records if r.get("status") == "ok" and r.get("seconds")}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _fmt_number(value: Any, kind: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if kind == "rate":
        # A share (0.87) or already a percentage (87.0).
        return f"{value:.1%}" if abs(value) <= 1 else f"{value:.1f}%"
    return f"{value:,.0f}"


HEADLINE_COLUMNS = (
    ("accounts", "Accounts", "count"),
    ("arr", "ARR", "money"),
    ("renewal_rate", "Renewal rate", "rate"),
    ("churned_value", "Churned value", "money"),
)
# The index in the language of the newest run (config `language`), so a Chinese setup reads no English.
INDEX_WORDS = {
    "en": {
        "title": "Customer tiering reports",
        "newest": "Newest first. Updated {when}.",
        "none": "No runs yet.",
        "columns": (
            "Run date",
            "As of",
            "Run",
            "Outcome",
            "Accounts",
            "ARR",
            "Renewal rate",
            "Churned value",
            "Report",
        ),
        "report": "report",
        "manifest": "manifest",
        "in": "in",
        "outcomes": {},
    },
    "zh": {
        "title": "客户分层报告",
        "newest": "最新的在前。更新于 {when}。",
        "none": "暂无运行。",
        "columns": (
            "运行日期",
            "数据截至",
            "运行",
            "结果",
            "活跃客户数",
            "年度经常性收入",
            "续约率",
            "流失价值",
            "报告",
        ),
        "report": "报告",
        "manifest": "运行记录",
        "in": "于",
        "outcomes": {"ok": "成功", "bad_input": "输入有误", "failed": "失败", "timeout": "超时", "interrupted": "中断"},
    },
}


def _headline(folder: Path) -> dict[str, str]:
    data = _read_json(folder / "tables" / HEADLINE)
    if not isinstance(data, dict):
        return {}
    return {key: _fmt_number(data.get(key), kind) for key, _, kind in HEADLINE_COLUMNS}


def _href(out_dir: Path, path: Path) -> str:
    return "/".join(url_quote(part) for part in path.relative_to(out_dir).parts)


def _links(out_dir: Path, folder: Path, manifest: dict, words: dict = INDEX_WORDS["en"]) -> str:
    esc = html.escape
    main = folder / "html" / MAIN_REPORT
    if main.exists():
        return f'<a href="{esc(_href(out_dir, main))}">{esc(words["report"])}</a>'
    pages = sorted((folder / "html").glob("*.html")) if (folder / "html").is_dir() else []
    links = [f'<a href="{esc(_href(out_dir, p))}">{esc(p.stem)}</a>' for p in pages]
    if manifest.get("outcome") != "ok":
        links.append(f'<a href="{esc(_href(out_dir, folder / MANIFEST))}">{esc(words["manifest"])}</a>')
    return " · ".join(links)


def _index_language(found: list[dict]) -> str:
    for run in found:
        language = (run["manifest"].get("parameters") or {}).get("language")
        if language in INDEX_WORDS:
            return language
    return "en"


INDEX_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC",sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}th,td{padding:.35rem .7rem;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00020}.muted{color:#777}
"""


def render_index(out_dir: Path) -> str:
    """The HTML of ``index.html``. Every text that comes from a manifest or a table is escaped."""
    esc = html.escape
    found = list_runs(out_dir)
    lang = _index_language(found)
    words = INDEX_WORDS[lang]
    rows = []
    for run in found:
        m, folder = run["manifest"], run["folder"]
        outcome = str(m.get("outcome", "?"))
        if outcome == "running" and folder.parent.name == FAILED_DIR:  # its final manifest could not be written
            outcome = "incomplete"
        shown = words["outcomes"].get(outcome, outcome)
        if outcome != "ok" and m.get("failed_notebook"):
            shown += f" {words['in']} {m['failed_notebook']}"
        headline = _headline(folder) if m.get("outcome") == "ok" else {}
        cells = [
            f"<td>{esc(str(m.get('started_at', ''))[:16].replace('T', ' '))}</td>",
            f"<td>{esc(str(m.get('as_of') or ''))}</td>",
            f"<td>{esc(str(m.get('run_id', folder.name)))}</td>",
            f'<td class="{"" if m.get("outcome") == "ok" else "bad"}">{esc(shown)}</td>',
            *(f'<td class="num">{esc(headline.get(key, ""))}</td>' for key, _, _ in HEADLINE_COLUMNS),
            f"<td>{_links(out_dir, folder, m, words)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{esc(label)}</th>" for label in words["columns"])
    body = "\n".join(rows) or f'<tr><td colspan="9" class="muted">{esc(words["none"])}</td></tr>'
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(words['title'])}</title><style>{INDEX_STYLE}</style></head>\n<body>\n"
        f"<h1>{esc(words['title'])}</h1>\n"
        f'<p class="muted">{esc(words["newest"].format(when=now_iso()))}</p>\n'
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n</body></html>\n"
    )


def refresh_index(out_dir: Path, progress: Callable[[str], Any]) -> Path | None:
    """Rewrite ``index.html``; a failure is reported, not raised (the run itself is filed)."""
    try:
        return write_index(out_dir)
    except OSError as exc:
        progress(f"Could not rewrite {Path(out_dir) / INDEX}: {exc}")
        return None


def write_index(out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    path = out_dir / INDEX
    tmp = out_dir / f".{INDEX}.{os.getpid()}.tmp"
    tmp.write_text(render_index(out_dir), encoding="utf-8")
    os.replace(tmp, path)
    return path
