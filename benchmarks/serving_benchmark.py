"""Serving under load: 1, 4 and 16 concurrent browser sessions on the demo pool, with a partner's
file loaded from the command line while the largest run is under way.

    .venv/bin/python benchmarks/serving_benchmark.py [--db POOL] [--sessions 1,4,16] [--scale 0.5]

Builds the demo pool (or uses --db, on a copy), starts the app, and for each number of sessions
opens that many headless-Chromium sessions at once (Debian's /usr/bin/chromium, driven by
Playwright's async API), each visiting every page. Prints per page the time to idle (the script
run finished, no spinner or skeleton left: tests/browser_helpers.wait_for_render) as median and
worst over the sessions, the server's resident memory after the round (RSS of the Streamlit
process and its children, MB), and the errors seen (exception boxes in any session). During the
last round a command-line ingest runs against the same warehouse; it must succeed and no session
may show an error. Absolute times depend on the machine; compare the rows of one run.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT  # noqa: E402  (puts the project root on sys.path)

from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS, AppServer, discover_pages  # noqa: E402
from tests.conftest import random_rows, write_csv  # noqa: E402

IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.dataset.testConnectionState === 'CONNECTED'
        && app.dataset.testScriptState === 'notRunning'
        && !document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSkeleton"], [data-testid="stSpinner"]');
}"""


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children (MB), from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


async def session(browser, base: str, paths: list[str], times: dict, errors: list) -> None:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    for path in paths:
        t0 = time.perf_counter()
        await page.goto(f"{base}/{path}", wait_until="domcontentloaded")
        await page.wait_for_function(IDLE_JS, polling=100)
        await page.wait_for_timeout(300)  # a rerun triggered by a widget's first value
        await page.wait_for_function(IDLE_JS, polling=100)
        times.setdefault(path or "(overview)", []).append(time.perf_counter() - t0 - 0.3)
        boxes = await page.locator('[data-testid="stException"]').all_inner_texts()
        errors += [f"{path}: {b[:120]}" for b in boxes]
    await ctx.close()


async def round_(base: str, n: int, paths: list[str]) -> tuple[dict, list]:
    from playwright.async_api import async_playwright

    times: dict[str, list[float]] = {}
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        await asyncio.gather(*(session(browser, base, paths, times, errors) for _ in range(n)))
        await browser.close()
    return times, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, help="a warehouse to serve (copied); default: build the demo pool")
    ap.add_argument("--scale", type=float, default=0.5, help="demo pool scale when building (default 0.5)")
    ap.add_argument("--sessions", default="1,4,16")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccoe-serving-"))
    db = work / "pool.duckdb"
    env = {**os.environ, "CCOE_CELLKEY_SECRET": os.environ.get("CCOE_CELLKEY_SECRET", "benchmark")}
    if args.db:
        shutil.copyfile(args.db, db)
    else:
        subprocess.run([sys.executable, "-m", "analytics", "demo", "--scale", str(args.scale), "--db", str(db)],
                       cwd=ROOT, env=env, check=True, stderr=subprocess.DEVNULL)
    paths = [("" if p.default else p.url_path) for p in discover_pages()]
    server = AppServer(db, work / "streamlit.log")
    counts = [int(n) for n in args.sessions.split(",")]
    try:
        server.wait_healthy(timeout=120)
        print(f"pool: {db.stat().st_size / 2**20:,.0f} MB warehouse; pages: {len(paths)}; server RSS at start "
              f"{rss_mb(server.proc.pid):,.0f} MB")
        print(f"{'sessions':>8}  {'page':<18}{'median s':>10}{'worst s':>10}")
        for n in counts:
            load = None
            if n == counts[-1]:  # the largest round runs while a partner's file is loaded
                f = write_csv(work / "GBR_bench.csv", [{**r, "case_id": "B" + r["case_id"]}
                                                       for r in random_rows(20_000, seed=99, countries=("GBR",))])
                load = subprocess.Popen([sys.executable, "-m", "analytics", "ingest", str(f), "--db", str(db)],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            t0 = time.perf_counter()
            times, errors = asyncio.run(round_(server.base_url, n, paths))
            wall = time.perf_counter() - t0
            for page, ts in times.items():
                print(f"{n:>8}  {page:<18}{statistics.median(ts):>10.2f}{max(ts):>10.2f}")
            note = ""
            if load is not None:
                out, err = load.communicate()
                note = f"; load during the round: {'ok' if load.returncode == 0 else 'FAILED: ' + err.strip()[:200]}"
            print(f"{n:>8}  all pages in {wall:.1f} s; server RSS {rss_mb(server.proc.pid):,.0f} MB; "
                  f"errors {len(errors)}{note}")
            for e in errors[:10]:
                print(f"          {e}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
