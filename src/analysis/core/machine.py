"""What machine a run or a benchmark ran on (recorded next to every figure)."""

from __future__ import annotations

import os
import platform
import socket
import sys


def machine_info() -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    memory_gb = os.sysconf("SC_PAGE_SIZE") * pages / 1024**3 if pages else None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": None if memory_gb is None else round(memory_gb, 1),
        "python_version": platform.python_version(),
        "python": sys.executable,
        "host": socket.gethostname(),
    }
