"""Shared by the benchmark scripts: the project root on sys.path, and a median timer."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the scripts run from anywhere


def timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of `repeat` calls of fn() (seconds) and the last result."""
    times, out = [], None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out
