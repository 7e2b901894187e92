"""Run a pipeline's notebooks side by side where the run-table catalog allows it.

A notebook starts once every notebook whose tables it reads has finished (``analysis.catalog``:
the waves of ``run_order()``), at most ``pipeline.max_parallel_notebooks`` at a time. Of the
notebooks ready to start, the one with the longest expected path to the end of the run goes first
(``critical_path_order``; expected seconds from the last successful run in the same output folder,
so a monthly rerun packs its notebooks better than the first run); without history, the catalog's
order. Each notebook runs in a worker thread (papermill drives its kernel, a separate
process); only this module's main loop touches the manifest records, and it saves the manifest
after every change of status so that a run killed without warning (kill -9, power cut) leaves
a manifest that says which notebooks had finished.

When a notebook fails, no further notebook starts; the ones already running finish, and the
failure of the first failed notebook in run order is the run's failure. Ctrl-C or SIGTERM stops
every running kernel (``Kernels.stop_all``) before the run is filed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis import catalog
from analysis.errors import ConfigError
from analysis.params import load_params
from analysis.run import runs
from analysis.run.execute import Kernels, NotebookFailure, classify, execute, render_html, storage_failure
from analysis.run.forked import Zygote
from analysis.run.kernel import kernel_environment


@dataclass(frozen=True)
class Job:
    """One notebook to run: where it comes from, where it goes and what it is given."""

    source: Path
    parameters: dict[str, Any]
    tag: str  # "[3/7]" in progress lines


@dataclass(frozen=True)
class Settings:
    kernel_name: str
    cwd: Path
    timeout: int | None
    start_timeout: int
    progress_bar: bool
    secrets: list[str]
    parallel: int
    stop_grace: float
    zygote: Zygote | None  # forks kernels with the analysis stack imported (None: each kernel starts anew)
    kernel_env: dict[str, str]  # added to every kernel's environment (kernel.kernel_environment)
    expected_seconds: dict[str, float]  # per notebook, from the last successful run (empty: none)


def run_one(job: Job, settings: Settings, kernels: Kernels) -> tuple[NotebookFailure | None, float]:
    """Execute one notebook and scrub it; (failure or None, seconds). Never raises for a
    notebook's own failure: every way it can fail becomes a ``NotebookFailure``."""
    name = job.source.stem
    executed = settings.cwd / "notebooks" / job.source.name
    clock = time.perf_counter()
    error: NotebookFailure | None = None
    try:
        execute(
            job.source,
            executed,
            job.parameters,
            kernel_name=settings.kernel_name,
            cwd=settings.cwd,
            timeout=settings.timeout,
            start_timeout=settings.start_timeout,
            progress_bar=settings.progress_bar,
            kernels=kernels,
        )
    except Exception as exc:  # any way a notebook can fail becomes a filed, printed failure
        error = classify(name, exc, settings.timeout)
    seconds = round(time.perf_counter() - clock, 2)
    try:
        if executed.exists():
            runs.scrub_json_file(executed, settings.secrets)
    except OSError as exc:
        error = error or storage_failure(f"The executed notebook of {name}", exc)
    return error, seconds


def render_page(name: str, settings: Settings) -> NotebookFailure | None:
    """The code-free HTML page of an executed notebook (unless the notebook wrote its own, as the
    manager report does); the failure, or None. Runs beside later notebooks, which need only the
    tables: the first page costs seconds of nbconvert start-up that no notebook should wait for."""
    page = settings.cwd / "html" / f"{name}.html"
    try:
        if not page.exists():
            render_html(settings.cwd / "notebooks" / f"{name}.ipynb", page)
    except OSError as exc:
        return storage_failure(f"The HTML page of {name}", exc)
    except Exception as exc:
        return NotebookFailure(
            "failed",
            f"Notebook {name} ran but its HTML could not be rendered: {exc!r}",
            {"ename": type(exc).__name__, "evalue": str(exc)},
        )
    return None


def run_notebooks(
    jobs: list[Job],
    records: dict[str, dict],
    settings: Settings,
    save: Callable[[], None],
    say: Callable[[str], Any],
) -> tuple[str, NotebookFailure] | None:
    """Run ``jobs`` (in run order) as the catalog allows; (failed notebook, failure) or None.

    ``records`` are the manifest's per-notebook entries (status, seconds, parameters), updated
    here; ``save`` writes the manifest. On Ctrl-C / SIGTERM (KeyboardInterrupt in this, the main
    thread) or any other exception here, every running kernel is stopped and the exception goes
    on; the notebooks that were running keep the status ``running`` for the caller to settle.
    """
    by_name = {job.source.stem: job for job in jobs}
    deps = catalog.dependencies(list(by_name))
    names = critical_path_order(list(by_name), deps, settings.expected_seconds)
    kernels = Kernels(settings.zygote, settings.kernel_env)
    pool = ThreadPoolExecutor(max_workers=max(1, settings.parallel), thread_name_prefix="notebook")
    renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page")
    running: dict[Future, str] = {}
    pages: dict[Future, str] = {}
    started: set[str] = set()
    done: set[str] = set()
    failures: dict[str, NotebookFailure] = {}
    try:
        while True:
            for name in names:
                if failures or len(running) >= settings.parallel:
                    break
                if name not in started and deps[name] <= done:
                    started.add(name)
                    job = by_name[name]
                    records[name].update(status="running", parameters=job.parameters)
                    save()
                    say(f"{job.tag} {name} ...")
                    running[pool.submit(run_one, job, settings, kernels)] = name
            if not running and not pages:
                break
            finished, _ = wait([*running, *pages], return_when=FIRST_COMPLETED)
            for future in finished:
                if future in pages:
                    name = pages.pop(future)
                    error = future.result()
                    if error is not None:
                        records[name].update(status=error.outcome)
                        save()
                        say(f"{by_name[name].tag} {name} {error.outcome}: its HTML page could not be written")
                        failures[name] = error
                    continue
                name = running.pop(future)
                error, seconds = future.result()
                records[name].update(status="ok" if error is None else error.outcome, seconds=seconds)
                save()
                say(f"{by_name[name].tag} {name} {records[name]['status']} ({seconds:.1f} s)")
                if error is None:
                    done.add(name)  # its tables are complete: dependants start while its page renders
                    pages[renderer.submit(render_page, name, settings)] = name
                else:
                    failures[name] = error
    except BaseException:
        _stop(running, records, kernels, settings.stop_grace)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        renderer.shutdown(wait=False, cancel_futures=True)
    first = next((name for name in by_name if name in failures), None)
    return None if first is None else (first, failures[first])


def critical_path_order(names: list[str], deps: dict[str, set[str]], expected: dict[str, float]) -> list[str]:
    """``names`` by the longest expected path from each to the end of the run (its own seconds plus
    its slowest chain of dependants), longest first; ties and notebooks without history keep their
    order (a notebook without a recorded time counts as the median of those with one)."""
    known = sorted(v for v in expected.values() if v)
    default = known[len(known) // 2] if known else 1.0
    dependants = {name: [d for d in names if name in deps[d]] for name in names}
    path: dict[str, float] = {}

    def longest(name: str) -> float:
        if name not in path:
            path[name] = (expected.get(name) or default) + max((longest(d) for d in dependants[name]), default=0.0)
        return path[name]

    return sorted(names, key=lambda name: (-round(longest(name), 1) if known else 0, names.index(name)))


@contextmanager
def preloaded_kernels(config_path, overrides, say: Callable[[str], Any]) -> Iterator[Zygote | None]:
    """The kernel zygote for one run (``pipeline.preload_kernels``), started before the run is
    planned so that its imports overlap the runner's own checks; None when preloading is off, the
    parameters do not load (planning then reports why) or the zygote cannot start (kernels then
    start as the kernelspec says)."""
    try:
        pipeline = load_params(config_path, overrides).pipeline
    except ConfigError:
        pipeline = None
    zygote = None
    if pipeline is not None and pipeline.preload_kernels:
        try:
            zygote = Zygote(kernel_environment(pipeline))
        except OSError as exc:
            say(f"Kernels start one by one: the preloading process could not start ({exc}).")
    try:
        yield zygote
    finally:
        if zygote is not None:
            zygote.close()


def _stop(running: dict[Future, str], records: dict[str, dict], kernels: Kernels, grace: float) -> None:
    """Stop every running notebook (interrupt, then kill its kernel) and wait for its thread."""
    if not running:
        return
    all_done = threading.Event()
    threading.Thread(target=lambda: (wait(running), all_done.set()), daemon=True).start()
    kernels.stop_all(all_done, grace)
    all_done.wait(grace + 10)  # a killed kernel ends its papermill call within a second or two
    for future, name in running.items():
        if future.done() and not future.cancelled():
            records[name]["seconds"] = future.result()[1]
