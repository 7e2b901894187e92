"""scoring layer (see docs/architecture.md)."""

from analysis.scoring.score import *  # noqa: F403  (public API of the domain)
