"""Check a fitter's analytic gradient and Hessian against central finite differences."""

import numpy as np
import pytest


def assert_derivatives_match(loglik, params, rtol=1e-5, atol=0.0):
    """``loglik(p, hessian)`` returns (value, gradient, Hessian); compare at ``params``."""
    p = np.asarray(params, dtype=float)
    _, grad, hess = loglik(p, True)
    for i in range(len(p)):
        step = np.zeros(len(p))
        step[i] = 1e-6 * p[i]
        up, down = loglik(p + step, True), loglik(p - step, True)
        assert grad[i] == pytest.approx((up[0] - down[0]) / (2 * step[i]), rel=rtol)
        np.testing.assert_allclose(hess[i], (up[1] - down[1]) / (2 * step[i]), rtol=rtol, atol=atol)
