"""report layer (see docs/architecture.md)."""

from analysis.report.build import *  # noqa: F403  (public API of the domain)
