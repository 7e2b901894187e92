"""Kernels forked from one process that has imported the analysis stack already (the "zygote").

Each notebook of a run used to start a fresh Python that imported pandas, SciPy, statsmodels,
scikit-learn, lifelines, seaborn, pandera and the package again: 3-5 s of CPU per notebook, about
a third of the default run on a 2-core machine. The runner instead starts this module once per run
(``analysis.run.forked.Zygote``): it imports what the notebooks import, then forks a child for
every kernel, which runs ``ipykernel_launcher`` exactly as the kernelspec would, with the
connection file, working folder, environment and stderr file the kernel manager chose. Modules
are shared copy-on-write; each notebook still gets its own process, namespace and kernel, so
notebooks cannot see each other's state.

Only the import of modules is shared, never state that matters: nothing here opens a connection,
starts a thread pool of its own or draws a random number before the fork (the analysis seeds its
own generators; ``random`` reseeds itself in a forked child). No library does this for Jupyter
kernels (kernel pools keep one kernel and reset its namespace, which would share state between
notebooks), hence this small module; it is the idea of ``multiprocessing``'s forkserver with
preloaded modules.

Protocol, one JSON object per line. The runner writes requests to the zygote's stdin:
``{"args": [...], "cwd": ..., "env": {...}, "stderr": path or null}`` (``args``: what follows
``-m ipykernel_launcher`` in the kernelspec's command). The zygote answers on the file descriptor
given as its first argument (its stdout stays the runner's, for the kernels to inherit): first
``{"ready": true, "failed": [modules that could not be imported]}``, then ``{"pid": n}`` for each
request, in order, and ``{"ended": pid, "returncode": code}`` whenever a kernel ends
(``returncode`` as ``subprocess`` gives it: negative for a signal). End of input ends the zygote.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import sys

# What the notebooks import (the kernel machinery included); a module missing here is simply
# imported by the notebook that needs it.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "IPython.core.interactiveshell",
    "matplotlib.pyplot",
    "seaborn",
    "pandera.pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "statsmodels.discrete.discrete_model",
    "sklearn.ensemble",
    "sklearn.inspection",
    "lifelines",
    "analysis.run.notebook",
    "analysis.data.quality",
    "analysis.clv",
    "analysis.scoring",
    "analysis.survival",
    "analysis.drivers",
    "analysis.segments",
    "analysis.report",
    "analysis.table_schemas",
    "fontTools.subset",  # the manager report's embedded CJK font
    "itables",  # and its sortable tables
)
# The kernel's matplotlib backend, which ipykernel would set; matplotlib reads it when imported.
INLINE_MODULE = "matplotlib_inline.backend_inline"
INLINE_BACKEND = f"module://{INLINE_MODULE}"
REAP_EVERY = 0.1  # seconds between checks for ended kernels while waiting for a request


def _become_kernel(request: dict, keep_out: tuple[int, ...]) -> None:
    """In the forked child: turn into ``python -m ipykernel_launcher ...``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the kernel's interrupt (Ctrl-C of a cell)
        os.setsid()  # its own session and process group, as jupyter_client's launcher gives it
        for fd in keep_out:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)  # the launcher gives a kernel an empty stdin too
        os.dup2(devnull, 0)
        os.close(devnull)
        if request.get("stderr"):
            log = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.dup2(log, 2)
            os.close(log)
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ["JPY_PARENT_PID"] = str(os.getppid())
        os.chdir(request["cwd"])
        # ipykernel read JPY_PARENT_PID when the zygote imported it (a trait default), so it is
        # given again: the kernel ends itself when the zygote (and so the runner) is gone.
        own = [f"--IPKernelApp.parent_handle={os.getppid()}"]
        if INLINE_MODULE in sys.modules:  # imported before any shell existed: its figure hooks were not set
            own.append("--matplotlib=inline")
        sys.argv = ["ipykernel_launcher", *request["args"], *own]
        import runpy

        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a child must never return into the zygote's loop
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _reap(answer) -> None:
    """Report every kernel that has ended since the last call."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        answer({"ended": pid, "returncode": os.waitstatus_to_exitcode(status)})


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the terminal is the runner's to handle
    answers = os.fdopen(int(argv[0]), "w", buffering=1)

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")

    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    failed = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # the notebook that needs it imports it itself and shows the error
            failed.append(name)
    # The imported objects never go away: keep them out of the collector's passes, which would
    # otherwise write to (and so copy) every page of them in every kernel (gc.freeze's purpose).
    gc.collect()
    gc.freeze()
    answer({"ready": True, "failed": failed})
    requests = sys.stdin.buffer
    selector = selectors.DefaultSelector()
    selector.register(requests, selectors.EVENT_READ)
    pending = b""
    open_input = True
    while open_input:
        if selector.select(REAP_EVERY):
            chunk = os.read(requests.fileno(), 65536)
            open_input = bool(chunk)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in filter(None, lines):
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _become_kernel(request, (answers.fileno(), requests.fileno(), selector.fileno()))
                answer({"pid": pid})
        _reap(answer)
    # Input closed: the runner has ended (or shut its kernels down). Kernels still running see
    # their parent gone and end themselves, as kernels of a runner that died do.
    with contextlib.suppress(OSError):
        answers.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    # Without the interpreter's teardown: it only frees the preloaded modules, and DuckDB's
    # bindings print a page of "leaked" objects to stderr when torn down that way.
    os._exit(code)
