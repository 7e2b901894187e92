"""survival layer (see docs/architecture.md)."""

from analysis.survival.models import *  # noqa: F403  (public API of the domain)
