"""segments layer (see docs/architecture.md)."""

from analysis.segments.clusters import *  # noqa: F403  (public API of the domain)
