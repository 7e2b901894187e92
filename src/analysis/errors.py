"""Named exceptions and warnings. Every message says what to do next."""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(AnalysisError, ValueError):
    """A parameter or YAML config value is invalid."""


class EngineError(ConfigError):
    """The engine the parameters ask for cannot run here (Spark extra or Java missing, a source the
    engine cannot read); the message says what to install or change."""


class OutputFolderError(ConfigError):
    """The output folder of a run (``--out``) cannot be created or written; nothing was written."""


class DataContractError(AnalysisError, ValueError):
    """Input data breaks the data contract (docs/data_contract.md)."""


class ValidationFailed(DataContractError):
    """Lazy validation found problems; ``report`` holds every one of them."""

    def __init__(self, report):
        self.report = report
        super().__init__(report.to_text())


class MissingTableError(DataContractError):
    """An optional table an analysis needs is absent; the analysis should skip with a note."""


class InsufficientDataError(AnalysisError, ValueError):
    """Too little or degenerate data to estimate what was asked (no events, one class, ...)."""


class ConvergenceError(AnalysisError, RuntimeError):
    """An optimiser did not converge."""


class DegenerateFitError(ConvergenceError):
    """An optimiser converged to a boundary of the parameter space (a parameter -> 0 or infinity, or a
    singular information matrix): the data do not identify the model, so it is not estimated."""


class ConvergenceWarning(RuntimeWarning):
    """An optimiser converged with caveats (for example a singular Hessian)."""


class CatalogError(AnalysisError, RuntimeError):
    """A notebook reads or writes a run table against the catalog (analysis.catalog)."""


class NotFittedError(AnalysisError, AttributeError):
    """A model's fitted attribute or prediction was asked for before ``fit``."""


class PipelineError(AnalysisError, RuntimeError):
    """A notebook of the pipeline failed; the message names the notebook and the cell error."""


class RunLockedError(PipelineError):
    """Another run holds the lock on the same output folder."""


class AssumptionWarning(UserWarning):
    """A model assumption or a data property needs attention (a remedy was applied or is advised)."""
