#!/usr/bin/env python3
"""Set-up and entry points that need nothing but Python 3.11+ and git.

    python3 tasks.py run     # create .venv from the lock if needed, make the sample data if
                             # missing, run the whole notebook pipeline, print the report path
    python3 tasks.py test    # create .venv if needed, install chromium, Java and the spark extra when
                             # the machine allows, run the whole test suite
    python3 tasks.py test --fast   # the fast tier (tiny frames, no notebook runs): under a minute
    python3 tasks.py lint    # ruff lint and format check (what the pre-commit hook runs)
    python3 tasks.py hooks   # install the git pre-commit hooks (ruff, jupytext sync, no notebook outputs)
    python3 tasks.py lab     # open JupyterLab on notebooks/ with the project kernel
    python3 tasks.py bench   # benchmarks of the foundation (sample generation, feature build)
    python3 tasks.py screenshots   # refresh docs/screenshots/ (the manager report, both languages)
    python3 tasks.py setup   # only create / refresh .venv and the Jupyter kernel
    python3 tasks.py lock    # maintainers: re-resolve requirements.lock and environment.yml

Standard library only: it runs before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
SPARK_LOCK = ROOT / "requirements-spark.lock"  # the default pins plus the spark extra
STAMP = VENV / ".installed-lock-sha256"
SPARK_STAMP = VENV / ".installed-spark-lock-sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def sh(*args: str | Path, **kwargs) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT, **kwargs)


def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create or refresh .venv so that it matches requirements.lock exactly."""
    if sys.version_info < (3, 11):  # noqa: UP036 (tasks.py must explain itself on an older Python)
        sys.exit(f"Python 3.11 or newer is needed (this is {sys.version.split()[0]}).")
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text().strip() == lock_digest():
        return
    if not PYTHON.exists():
        print(f"Creating the environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", LOCK)
    sh(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", ".")
    sh(BIN / "analysis", "kernel")
    STAMP.write_text(lock_digest())


def relock() -> int:
    """Re-resolve the pins from pyproject.toml (needs network to PyPI) and mirror them for conda;
    the spark extra gets its own lock, constrained to the default pins."""
    ensure_venv()
    sh(PYTHON, "-m", "pip", "install", "--quiet", "uv")
    compile_ = [BIN / "uv", "pip", "compile", "pyproject.toml", "--extra", "dev", "--python-version", "3.11"]
    sh(*compile_, "--no-header", "-o", LOCK)
    sh(*compile_, "--extra", "spark", "--no-header", "-c", LOCK, "-o", SPARK_LOCK)
    pins = [line.strip() for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith(" ")]
    head = (ROOT / "environment.yml").read_text().split("  - pip:")[0]
    (ROOT / "environment.yml").write_text(head + "  - pip:\n" + "".join(f"      - {p}\n" for p in pins))
    return 0


def apt_install(packages: list[str], what: str, skipped: str) -> bool:
    """Install Debian packages (best effort: needs root and apt-get); say what is skipped if not."""
    import shutil

    if not shutil.which("apt-get") or os.geteuid() != 0:
        print(f"{what} is not installed and cannot be installed here (needs root + apt-get); {skipped}.", flush=True)
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        sh("apt-get", "update", "-qq", env=env)
        sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages, env=env)
    except subprocess.CalledProcessError:
        print(f"Installing {what} failed; {skipped}.", flush=True)
        return False
    return True


def ensure_browser() -> None:
    """Install Debian's chromium + chromium-driver for the report's browser test when missing.

    Without them the browser test skips with a message."""
    import shutil

    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    apt_install(["chromium", "chromium-driver"], "Chromium", "the browser check of the report will be skipped")


def java_found() -> bool:
    import shutil

    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def ensure_spark() -> None:
    """The Spark engine's tests need a Java runtime and the spark extra: install Debian's
    openjdk-17-jre-headless when Java is missing (and the machine allows it), then the extra from
    requirements-spark.lock. Without Java the Spark tests skip with a message."""
    skipped = "the Spark engine's tests will be skipped"
    if not java_found() and not apt_install(["openjdk-17-jre-headless"], "Java", skipped):
        return
    digest = hashlib.sha256(SPARK_LOCK.read_bytes()).hexdigest()
    if SPARK_STAMP.exists() and SPARK_STAMP.read_text().strip() == digest:
        return
    try:  # pyspark is a large sdist: the first install takes a few minutes, later ones use pip's cache
        sh(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", SPARK_LOCK)
    except subprocess.CalledProcessError:
        print(f"Installing the spark extra failed; {skipped}.", flush=True)
        return
    SPARK_STAMP.write_text(digest)


def screenshots() -> None:
    """docs/screenshots/: a 1,500-account sample run twice a month apart (so "since the last run" is
    filled), then one small PNG per section of the second report in English and Chinese."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="report-screenshots-") as tmp:
        book, out = Path(tmp) / "book", Path(tmp) / "reports"
        sh(BIN / "analysis", "sample", "--accounts", "1500", "--seed", "7", "--out", book)
        for as_of in ("2025-11-01", "2025-12-01"):
            sh(BIN / "analysis", "run", "--data", book, "--as-of", as_of, "--out", out)
        sh(BIN / "analysis", "report", "--out", out, "--screenshots", ROOT / "docs" / "screenshots")


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "lock":
        return relock()
    if command not in {"run", "test", "lab", "bench", "setup", "lint", "hooks", "screenshots"}:
        print(__doc__)
        return 0 if command in {"help", "-h", "--help"} else 2
    ensure_venv()
    try:
        if command == "run":
            sample = ROOT / "data" / "sample"
            if not (sample / "accounts.parquet").exists():
                sh(BIN / "analysis", "sample", "--out", sample)
            sh(BIN / "analysis", "run", "--data", sample, *rest)
        elif command == "test":
            if "--fast" in rest:
                rest = [a for a in rest if a != "--fast"]
                sh(PYTHON, "-m", "pytest", "-m", "not slow", "-q", *(rest or ["-n", "2"]))
            else:
                ensure_browser()
                ensure_spark()
                sh(PYTHON, "-m", "pytest", *(rest or ["-n", "2"]))
        elif command == "hooks":
            sh(BIN / "pre-commit", "install")
        elif command == "lint":
            sh(BIN / "ruff", "check", "src", "tests", "benchmarks", "notebooks", "tasks.py", *rest)
            sh(BIN / "ruff", "format", "--check", "src", "tests", "benchmarks", "notebooks", "tasks.py")
        elif command == "lab":
            sh(BIN / "jupyter", "lab", "--notebook-dir", ROOT / "notebooks", *rest)
        elif command == "bench":
            sh(BIN / "analysis", "bench", *rest)
        elif command == "screenshots":
            screenshots()
    except subprocess.CalledProcessError as exc:
        return exc.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
