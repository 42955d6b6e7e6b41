"""Every page's server-side work on the big demo pool, for a default and a changed selection
(issue 16, item 3: "every interaction fast at 12 million tumours").

    .venv/bin/python benchmarks/page_benchmark.py --db /path/to/pool_scale16.duckdb [--rounds 3]

Build the pool first (about 12 million rows):
    .venv/bin/python benchmarks/demo_benchmark.py --scales 16 --keep /tmp/bench
Each interaction is a page opened with a link (its selection in the address), run by Streamlit's
own test driver (`streamlit.testing.v1.AppTest`: the page script as the server runs it, every
tab's computations included, no browser). Timed:
  * cold: the caches emptied first (`st.cache_data`, `st.cache_resource`): the first person to
    ask for that selection since the server started or the warehouse changed;
  * warm: the same run again (what everyone after them gets).
Median over the rounds; also the process's peak memory after the tour (each cold run opens the
warehouse afresh, as a restarted server would; a server that keeps running holds one connection
and stays lower). The target (issue 16): every interaction under 0.3 s of server compute, one
server under 2 GB.
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402  (puts the project root on sys.path)

os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")  # no "missing ScriptRunContext" lines between the rows
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

#: (page, what changed, the link's parameters): a default view and one changed selection per page.
INTERACTIONS = [
    ("views/home.py", "default", {}),
    ("views/incidence.py", "default", {}),
    ("views/incidence.py", "ages 0-19", {"ages": "0-19"}),
    ("views/survival.py", "default", {}),
    ("views/survival.py", "stratified by sex", {"by": "sex"}),
    ("views/cohorts.py", "default", {}),
    ("views/cohorts.py", "three cohorts", {"n": "3"}),
    ("views/international.py", "default", {}),
    ("views/international.py", "ages 0-19", {"ages": "0-19"}),
    ("views/data_quality.py", "default", {}),
    ("views/data_quality.py", "USA", {"country": "USA"}),
]


def page_run(page: str, params: dict, cold: bool) -> tuple[float, float]:
    """Seconds for the page's run (`cold`: caches emptied just before), then for a second,
    identical run."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()  # the entry page, so that the page can be switched to (its own time not counted)
    if cold:
        st.cache_data.clear()
        st.cache_resource.clear()
        gc.collect()  # a restarted server holds no old warehouse connection (each caches up to 1 GB)
    for t in threading.enumerate():  # the server's start-up work (ui.cache.warm_up) is not a page's
        if t.name == "warm-world-map":
            t.join()
    t0 = time.perf_counter()
    at.switch_page(page).run()
    first = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page}: {[e.message for e in at.exception]}")
    t0 = time.perf_counter()
    at.run()
    return first, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["CCOE_DB"] = str(args.db)
    print(f"warehouse {args.db}; {os.cpu_count()} cores; medians of {args.rounds} rounds; seconds of server compute")
    print(f"{'page':<26}{'selection':<20}{'cold':>8}{'warm':>8}  under 0.3 s (cold)")
    for page, what, params in INTERACTIONS:
        runs = [page_run(page, params, cold=True) for _ in range(args.rounds)]
        cold = statistics.median(r[0] for r in runs)
        warm = statistics.median(r[1] for r in runs)
        print(f"{Path(page).stem:<26}{what:<20}{cold:>8.2f}{warm:>8.2f}  {'yes' if cold < 0.3 else 'no'}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process after the tour: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
