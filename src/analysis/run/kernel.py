"""The project's named Jupyter kernel: registered for this environment's interpreter on demand.

Notebooks always run on ``b2b-tiering`` (docs/running.md, "Kernel"); a kernelspec of that name that
runs another Python is refused with a message saying how to remove it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from analysis.errors import ConfigError
from analysis.paths import KERNEL_DISPLAY_NAME, KERNEL_NAME


def kernel_environment(pipeline) -> dict[str, str]:
    """Environment variables every kernel of a run gets (``pipeline``: ``params.pipeline``). They
    must be in place when a kernel's libraries load, so the preloading process starts with them.
    A variable the runner's own environment sets already is left as it is (the user's choice)."""
    env = {}
    if pipeline.openmp_wait_policy is not None and "OMP_WAIT_POLICY" not in os.environ:
        env["OMP_WAIT_POLICY"] = pipeline.openmp_wait_policy.upper()
    return env


def _writable_prefix() -> str | None:
    return sys.prefix if os.access(sys.prefix, os.W_OK) else None


def _display_name(kernel_name: str) -> str:
    return KERNEL_DISPLAY_NAME if kernel_name == KERNEL_NAME else f"Python ({kernel_name})"


def register_kernel(
    kernel_name: str = KERNEL_NAME, *, prefix: str | Path | None = None, display_name: str | None = None
) -> Path:
    """Install kernelspec ``kernel_name`` running this interpreter (``sys.executable``).

    Goes into ``<prefix>/share/jupyter/kernels`` (default: this environment, so neither root
    nor ``~/.local`` is needed); into the user's folder only when the environment is read-only.
    """
    import filelock
    from ipykernel.kernelspec import install

    prefix = str(prefix) if prefix is not None else _writable_prefix()
    # install() deletes and copies the folder: two runs registering at once must take turns.
    with filelock.FileLock(str(Path(tempfile.gettempdir()) / f"{kernel_name}.kernelspec.lock"), timeout=60):
        dest = install(
            kernel_name=kernel_name,
            display_name=display_name or _display_name(kernel_name),
            prefix=prefix,
            user=prefix is None,
        )
    return Path(dest)


def _runs_this_interpreter(argv0: str) -> bool:
    # Compare without resolving symlinks: a venv's python links to the system python.
    return Path(os.path.abspath(argv0)).parent == Path(os.path.abspath(sys.executable)).parent


def ensure_kernel(kernel_name: str = KERNEL_NAME, *, prefix: str | Path | None = None) -> Path:
    """The kernelspec folder of ``kernel_name``, registering it first when it is missing or stale."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        return register_kernel(kernel_name, prefix=prefix)
    if spec.argv and _runs_this_interpreter(spec.argv[0]):
        return Path(spec.resource_dir)
    own = Path(prefix or _writable_prefix() or sys.prefix) / "share" / "jupyter" / "kernels"
    if Path(spec.resource_dir).resolve().parent == own.resolve():
        return register_kernel(kernel_name, prefix=prefix)  # ours, left by an earlier environment
    raise ConfigError(
        f"Jupyter kernel '{kernel_name}' at {spec.resource_dir} runs {spec.argv[:1]}, not this "
        f"environment's {sys.executable}. Remove it (jupyter kernelspec remove {kernel_name}); the "
        f"runner then registers the right one."
    )
