"""Numbers in the words of the renewal drivers: p-values and odds ratios as sentences print them."""

from __future__ import annotations

import math


def format_p(p: float, alpha: float) -> str:
    """A p-value with two significant digits that never rounds across ``alpha``.

    ``0.0458`` -> ``"0.046"``, ``0.0499`` -> ``"0.0499"`` (two digits would print 0.050, which reads
    as not significant at 5%), ``0.051`` -> ``"0.051"``, ``0.0004`` -> ``"< 0.001"``. Digits are added
    until the printed value lies on the same side of ``alpha`` as the value itself.
    """
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    significant = p < alpha
    for digits in range(2, 8):
        text = f"{p:.{digits}g}"
        if (float(text) < alpha) == significant:
            return text
    return repr(p)


def p_phrase(p: float, alpha: float, what: str = "corrected p") -> str:
    """'corrected p < 0.001' or 'corrected p = 0.046'."""
    text = format_p(p, alpha)
    return f"{what} {text}" if text.startswith("<") else f"{what} = {text}"


def odds_phrase(odds: float, lo: float, hi: float) -> str:
    """'34% lower odds of renewal (95% CI -38% to -29%)', or 'x2.3' for large ratios."""
    if odds >= 2 or hi >= 10 or lo <= 0.1:
        return f"odds of renewal x{odds:.2f} (95% CI {lo:.2f}-{hi:.2f})"
    way = "higher" if odds >= 1 else "lower"
    return f"{abs(odds - 1):.0%} {way} odds of renewal (95% CI {lo - 1:+.0%} to {hi - 1:+.0%})"
