"""Shared by the benchmark scripts: the project root on sys.path, and median timers."""
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


def timed_rounds(fns: dict, rounds: int) -> dict[str, dict]:
    """Time several approaches in alternation: each round calls every fn() once, so a slow spell
    of the (shared, noisy) machine hits all of them alike. Per name: median and best wall time
    (seconds) and the last result."""
    times = {name: [] for name in fns}
    out = {}
    for _ in range(max(1, rounds)):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: {"median": statistics.median(ts), "best": min(ts), "result": out[name]}
            for name, ts in times.items()}
