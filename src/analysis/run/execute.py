"""One notebook of a run: execute it with papermill, render its code-free HTML, and turn any way it
can fail into a ``NotebookFailure`` with the outcome the exit code follows (docs/running.md).

Kernels are started through :class:`Kernels`, which remembers their process ids so that the runner
can stop every running notebook at once (Ctrl-C, SIGTERM) while notebooks run side by side in
worker threads (``analysis.run.schedule``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, DataContractError
from analysis.run.forked import Zygote

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
TRACEBACK_LINES = 40  # printed; the manifest keeps the whole traceback
# The kernel's own log (not cell output) goes to our stderr; at the default level it prints
# transport warnings for every notebook, which buries the one line that matters in cron mail.
KERNEL_LOG_LEVEL = os.environ.get("ANALYSIS_KERNEL_LOG_LEVEL", "CRITICAL")

# Offline HTML: lab template without the CDN scripts (require.js, MathJax, Mermaid), so the
# page opens from disk or a share with no internet. Figures are embedded as base64 already.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
"""

# Errors that can only mean "nothing more can be written there" (disk full, quota, read-only file
# system), as errno values in this process and as the text an OSError shows in a notebook's output.
# (Permission errors are not among them: a notebook also gets those when it cannot read a file.)
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
STORAGE_TEXT = re.compile(
    r"\[Errno (" + "|".join(str(n) for n in sorted(STORAGE_ERRNOS)) + r")\]"
    r"|No space left on device|Disk quota exceeded|Read-only file system",
    re.IGNORECASE,
)
STORAGE_ADVICE = "free space on that disk (or fix its permissions, or pass another --out) and run again"


KERNEL_STDERR = "kernels.log"  # what the kernels printed to stderr, in the run folder


@dataclass
class NotebookFailure(Exception):
    """How a notebook (or the runner while filing it) failed: ``outcome`` picks the exit code."""

    outcome: str  # failed | bad_input | timeout | write_failed | interrupted | error
    message: str
    details: dict[str, Any] = field(default_factory=dict)


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def is_storage_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_failure(what: str, exc: OSError) -> NotebookFailure:
    """The runner could not write ``what`` (any OSError of one of its own writes): say where and
    what to do."""
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    reason = exc.strerror or str(exc)
    return NotebookFailure(
        "write_failed",
        f"{what} could not be written{where}: {reason}; {STORAGE_ADVICE}.",
        {"ename": type(exc).__name__, "evalue": f"[Errno {exc.errno}] {reason}{where}"},
    )


def _bad_input_names() -> set[str]:
    """Exception class names that mean 'fix the input', whichever notebook raised them."""
    names, todo = set(), [ConfigError, DataContractError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


def classify(name: str, exc: BaseException, timeout: float | None) -> NotebookFailure:
    """The failure of notebook ``name`` that ``exc`` (raised by papermill or the runner) stands for."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        evalue = strip_ansi(str(exc.evalue))
        trace = strip_ansi("\n".join(exc.traceback)).strip().splitlines()
        shown = trace if len(trace) <= TRACEBACK_LINES else ["..."] + trace[-TRACEBACK_LINES:]
        outcome = "bad_input" if exc.ename in _bad_input_names() else "failed"
        advice = ""
        if exc.ename.endswith("Error") and STORAGE_TEXT.search(evalue):
            outcome, advice = "write_failed", f" (the notebook could not write its output: {STORAGE_ADVICE})"
        message = f"Notebook {name} failed in cell In [{exc.exec_count}]: {exc.ename}: {evalue}{advice}\n" + "\n".join(
            shown
        )
        return NotebookFailure(
            outcome,
            message,
            {"ename": exc.ename, "evalue": evalue, "cell": exc.exec_count, "traceback": "\n".join(trace)},
        )
    if isinstance(exc, CellTimeoutError):
        detail = strip_ansi(str(exc)).strip()
        return NotebookFailure(
            "timeout",
            f"Notebook {name} timed out: a cell ran longer than {timeout} s "
            f"(raise pipeline.execution_timeout if that is expected).\n{detail}",
            {"ename": "CellTimeoutError", "evalue": detail},
        )
    if isinstance(exc, DeadKernelError):
        return NotebookFailure(
            "failed",
            f"Notebook {name}: the kernel died (out of memory?): {exc}",
            {"ename": "DeadKernelError", "evalue": str(exc)},
        )
    if is_storage_error(exc):
        return storage_failure(f"Notebook {name}", exc)
    return NotebookFailure(
        "failed",
        f"Notebook {name} could not run: {type(exc).__name__}: {strip_ansi(str(exc))}",
        {"ename": type(exc).__name__, "evalue": strip_ansi(str(exc))},
    )


def render_html(executed: Path, target: Path) -> Path:
    """Code-free, self-contained HTML of an executed notebook (no inputs, no prompts, no CDN)."""
    body, _ = _exporter().from_filename(str(executed))
    target.write_text(body, encoding="utf-8")
    return target


_EXPORTERS = threading.local()


def _exporter():
    """One HTML exporter per thread (a run renders its pages in one): each new exporter compiles
    nbconvert's templates again, about 0.5 s of CPU per page."""
    if not hasattr(_EXPORTERS, "html"):
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        _EXPORTERS.html = HTMLExporter(
            template_name="lab",
            extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
            template_file="offline.html.j2",
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    return _EXPORTERS.html


class Kernels:
    """The kernels of a run's notebooks, so that all of them can be stopped from the main thread.

    papermill starts each kernel through ``manager_class()`` (an ``AsyncKernelManager`` that adds its
    process id here); ``stop_all`` interrupts them (the running cell raises KeyboardInterrupt and
    the executed notebook shows where it stopped) and kills the ones that do not stop in time.
    """

    def __init__(self, zygote: Zygote | None = None, env: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()
        self.stopping = False
        self.zygote = zygote  # forks kernels with the analysis stack imported (None: start each anew)
        self.env = dict(env or {})  # added to every kernel's environment

    def manager_class(self, cwd: Path | None = None) -> type:
        from jupyter_client.manager import AsyncKernelManager

        kernels = self

        class TrackedKernelManager(AsyncKernelManager):
            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                # jupyter_client's documented place to launch kernel processes differently.
                kw["env"] = {**(kw.get("env") or os.environ), **kernels.env}
                zygote = kernels.zygote
                if zygote is None or not zygote.can_launch(kernel_cmd):
                    return await super()._async_launch_kernel(kernel_cmd, **kw)
                log = getattr(self, "_stderr_log", None)
                process = await asyncio.to_thread(
                    zygote.spawn,
                    kernel_cmd,
                    str(kw.get("cwd") or os.getcwd()),
                    kw["env"],
                    log.name if log is not None else None,
                )
                provisioner = self.provisioner
                provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, process.pid
                provisioner.cwd = kw.get("cwd")
                self._reconcile_connection_info(provisioner.connection_info)

            async def start_kernel(self, **kwargs: Any) -> None:
                if cwd is not None:  # the kernel's own working folder (not the runner's: see execute)
                    kwargs["cwd"] = str(cwd)
                    # The kernel's stderr into the run folder, not the runner's terminal: a kernel
                    # interrupted while Python is still starting prints its traceback there.
                    self._stderr_log = open(Path(cwd) / KERNEL_STDERR, "ab")  # noqa: SIM115 (closed at shutdown)
                    kwargs["stderr"] = self._stderr_log
                await super().start_kernel(**kwargs)
                kernels._started(self.provisioner.pid if self.provisioner else None)

            async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
                pid = self.provisioner.pid if self.provisioner else None
                try:
                    await super().shutdown_kernel(now=now, restart=restart)
                finally:
                    kernels._ended(pid)
                    log = getattr(self, "_stderr_log", None)
                    if log is not None:
                        log.close()

        return TrackedKernelManager

    def _started(self, pid: int | None) -> None:
        if pid is None:
            return
        with self._lock:
            self._pids.add(pid)
        if self.stopping:  # started while the run was being stopped: stop it too
            self._signal({pid}, signal.SIGKILL)

    def _ended(self, pid: int | None) -> None:
        with self._lock:
            self._pids.discard(pid)

    def running(self) -> set[int]:
        with self._lock:
            return set(self._pids)

    @staticmethod
    def _signal(pids: set[int], signum: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # ended meanwhile
                os.kill(pid, signum)

    def stop_all(self, finished: threading.Event | None, grace: float) -> None:
        """Interrupt every running kernel; kill those still running after ``grace`` seconds (or
        at once when ``grace`` is 0). ``finished`` is set when every notebook thread has ended."""
        self.stopping = True
        self._signal(self.running(), signal.SIGINT)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and not (finished is not None and finished.is_set()):
            time.sleep(0.1)
        self._signal(self.running(), signal.SIGKILL)


def execute(
    source: Path,
    executed: Path,
    parameters: dict,
    *,
    kernel_name: str,
    cwd: Path,
    timeout: int | None,
    start_timeout: int,
    progress_bar: bool,
    kernels: Kernels,
) -> None:
    """Run one notebook with papermill into ``executed`` (raises what papermill raises)."""
    import papermill

    papermill.execute_notebook(
        str(source),
        str(executed),
        parameters=parameters,
        kernel_name=kernel_name,
        # Not papermill's cwd=: it os.chdir()s the whole runner process, which notebooks running side
        # by side in threads race on (a run left the process in a staging folder that was then moved,
        # and the next run failed with FileNotFoundError). The kernel is started in ``cwd`` instead.
        log_output=False,
        progress_bar=progress_bar,
        execution_timeout=timeout,
        start_timeout=start_timeout,
        kernel_manager_class=kernels.manager_class(cwd),
        extra_arguments=[f"--IPKernelApp.log_level={KERNEL_LOG_LEVEL}"],
    )
