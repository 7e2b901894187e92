"""The runner's side of ``analysis.run.zygote``: start it, ask it for kernels, and hand
jupyter_client a process object for a kernel that is the zygote's child rather than ours."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

READY_TIMEOUT = 120  # seconds the zygote may take to import the analysis stack


class ForkedProcess:
    """What jupyter_client's local provisioner needs of a ``subprocess.Popen`` (poll, wait,
    signals) for a kernel forked by the zygote, which reaps it and reports its return code."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, zygote: Zygote):
        self.pid = pid
        self._zygote = zygote

    @property
    def returncode(self) -> int | None:
        return self._zygote.returncode(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """One ``python -m analysis.run.zygote`` per run. ``spawn`` is thread-safe; ``close`` ends it
    (the kernels it forked end with their notebooks, or when it is gone)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        """``env``: variables added to this process's environment for the zygote (and so for the
        libraries it loads, which read some of them only then)."""
        self._lock = threading.Lock()  # guards _ended
        self._spawn_lock = threading.Lock()  # one request at a time, so that answers come back in order
        self._pids: queue.Queue = queue.Queue()
        self._ready = threading.Event()
        self._ended: dict[int, int] = {}
        self.failed_imports: list[str] = []
        answers_r, answers_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.run.zygote", str(answers_w)],
            stdin=subprocess.PIPE,
            pass_fds=(answers_w,),
            text=True,
            env={**os.environ, **(env or {})},
        )
        os.close(answers_w)
        self._answers = os.fdopen(answers_r, "r")
        self._reader = threading.Thread(target=self._read_answers, name="zygote-answers", daemon=True)
        self._reader.start()

    def _read_answers(self) -> None:
        for line in self._answers:
            message = json.loads(line)
            if "ended" in message:
                with self._lock:
                    self._ended[int(message["ended"])] = int(message["returncode"])
            elif "pid" in message:
                self._pids.put(int(message["pid"]))
            elif message.get("ready"):
                self.failed_imports = list(message.get("failed") or [])
                self._ready.set()
        self._ready.set()  # the zygote is gone: nobody waits for it any longer
        self._pids.put(None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            if pid in self._ended:
                return self._ended[pid]
        if not self.alive() and not _running(pid):  # no zygote left to report it
            return -signal.SIGKILL
        return None

    def can_launch(self, argv: list[str]) -> bool:
        """A kernelspec command the zygote can stand in for: this interpreter's ipykernel_launcher
        (interpreter options before ``-m``, such as ``-Xfrozen_modules=off``, only serve debuggers)."""
        return (
            _launcher_arguments(argv) is not None
            and Path(os.path.abspath(argv[0])).parent == Path(os.path.abspath(sys.executable)).parent
            and self.alive()
        )

    def spawn(self, argv: list[str], cwd: str, env: dict[str, str], stderr_path: str | None) -> ForkedProcess:
        if not self._ready.wait(READY_TIMEOUT) or not self.alive():
            raise OSError("the kernel zygote did not start; no kernel was started")
        request = {"args": _launcher_arguments(argv), "cwd": str(cwd), "env": env, "stderr": stderr_path}
        with self._spawn_lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            pid = self._pids.get(timeout=READY_TIMEOUT)
        if pid is None:
            raise OSError("the kernel zygote ended; no kernel was started")
        return ForkedProcess(pid, self)

    def close(self) -> None:
        if not self._ready.is_set():  # still importing (a run refused before any notebook): no kernel to wait for
            self.proc.kill()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        with contextlib.suppress(OSError):
            self._answers.close()


def _launcher_arguments(argv: list[str]) -> list[str] | None:
    """The arguments after ``-m ipykernel_launcher`` in a kernel command, or None if it is not one."""
    for i in range(1, len(argv) - 1):
        if argv[i] == "-m":
            return list(argv[i + 2 :]) if argv[i + 1] == "ipykernel_launcher" else None
    return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie nobody has reaped yet has ended too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
