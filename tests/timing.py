"""Time in tests: limits that scale with the machine's load, and CPU time read from /proc, so that a busy machine
makes tests slower, never red."""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def slack() -> float:
    """How much slower than idle the machine is now: the 1-minute load per core, at least 1."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a live process has used itself, not its children; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS
