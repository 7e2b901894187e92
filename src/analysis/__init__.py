"""B2B customer tiering: data contract, features, CLV, churn survival, renewal drivers,
calibrated score weights, tiers and high-value segments.

Submodules are imported on demand (``from analysis import features``) so that the
command line starts fast.
"""

__version__ = "0.1.0"
