"""Paths and fixed names, from one place.

Every path is built from the project root found from this file, so nothing depends on the
working directory (a scheduled run starts wherever cron starts it).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_PARAMS = CONFIG_DIR / "params.yaml"

KERNEL_NAME = "b2b-tiering"
KERNEL_DISPLAY_NAME = "B2B tiering (project)"  # as in the notebooks' metadata
DEFAULT_SEED = 42
DEFAULT_SAMPLE_ACCOUNTS = 5000
