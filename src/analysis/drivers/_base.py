"""What every model of the drivers package shares: scikit-learn style construction.

``__init__`` takes flat keyword arguments and stores them unchanged (scikit-learn's
``BaseEstimator`` gives ``get_params``, ``set_params`` and the repr); ``from_params(section,
seed=...)`` builds the model from the typed ``drivers`` section, every option from the section.
A fitted attribute (a public name ending in ``_``) asked for before ``fit`` raises
:class:`analysis.errors.NotFittedError`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sklearn.base import BaseEstimator

from analysis.errors import NotFittedError

if TYPE_CHECKING:
    from analysis.params import DriversParams


def _plain(value):
    """A section value as the model stores it (a nested section becomes a plain mapping)."""
    return value.model_dump() if isinstance(value, BaseModel) else value


class DriversEstimator(BaseEstimator):
    """Base of DriverDesign, RenewalDrivers and NonlinearCheck."""

    @classmethod
    def from_params(cls, section: DriversParams, seed: int | None = None):
        """The model configured from the typed ``drivers`` section (``params.drivers``) and the run's seed."""
        names = cls._get_param_names()
        values = {name: _plain(getattr(section, name)) for name in names if name != "seed"}
        if "seed" in names:
            if seed is None:
                raise TypeError(f"{cls.__name__}.from_params needs seed= (the run's params.seed).")
            values["seed"] = int(seed)
        return cls(**values)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: a missing fitted attribute means fit has not run.
        # A property whose getter failed lands here too; run it again so its NotFittedError shows.
        attribute = inspect.getattr_static(type(self), name, None)
        if isinstance(attribute, property):
            return attribute.fget(self)
        if name.endswith("_") and not name.startswith("_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet ({name} is set by fit); call fit first."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _check_fitted(self, attribute: str) -> None:
        if attribute not in self.__dict__:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")
