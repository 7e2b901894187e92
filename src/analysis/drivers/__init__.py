"""drivers layer (see docs/architecture.md)."""

from analysis.drivers.models import *  # noqa: F403  (public API of the domain)
