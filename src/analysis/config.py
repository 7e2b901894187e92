"""Paths and parameters, from one place.

Every path is built from the project root found from this file, so nothing depends on the
working directory (a scheduled run starts wherever cron starts it).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import ConfigError

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


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"Config file {path} does not exist; pass an existing YAML file or omit --config.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of sections, not {type(loaded).__name__}.")
    return loaded


def load_params(path: str | Path | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """Project defaults (``config/params.yaml``), then the analyst's file, then overrides."""
    params = read_yaml(DEFAULT_PARAMS)
    if path is not None and Path(path).resolve() != DEFAULT_PARAMS.resolve():
        params = deep_merge(params, read_yaml(path))
    return deep_merge(params, overrides or {})


def section(params: dict, name: str) -> dict:
    """One domain's section of the parameters (empty dict when absent)."""
    value = params.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"Section '{name}' of the config must be a mapping, got {value!r}.")
    return value
