"""Demo pool generation and load: time and peak memory at scale 1 and scale 16.

    .venv/bin/python benchmarks/demo_benchmark.py [--scales 1,16] [--format csv|parquet]

Each scale runs in its own process (so ru_maxrss is its own peak) into a new warehouse in a
temporary folder, exactly as `python -m analytics demo --scale S` builds it. Prints, per scale:
rows, seconds generating, seconds loading (ingest), rows loaded per second, peak resident memory.
Issue 3 asks that scale 16 (about 12 million rows here) generate and load on a 2-core, 24 GB machine.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, resource, sys, time
from analytics.demo import build_demo
t0 = time.perf_counter()
steps = build_demo(sys.argv[1], scale=float(sys.argv[2]), out_dir=sys.argv[3], fmt=sys.argv[4],
                   log=lambda m: print(m, file=sys.stderr, flush=True))
print(json.dumps({"total": time.perf_counter() - t0,
                  "generate": sum(s.generate_seconds for s in steps),
                  "load": sum(s.load_seconds for s in steps),
                  "read": sum(s.report.rows_read for s in steps),
                  "loaded": sum(s.report.rows_loaded for s in steps),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,16")
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--keep", type=Path, metavar="DIR",
                    help="keep each warehouse as DIR/pool_scaleS.duckdb (for the query benchmarks)")
    args = ap.parse_args()
    print(f"{'scale':>6}{'rows':>13}{'generate s':>12}{'load s':>9}{'total s':>9}{'rows/s loaded':>15}"
          f"{'peak MB':>9}{'db MB':>8}")
    for scale in [float(s) for s in args.scales.split(",")]:
        work = Path(tempfile.mkdtemp(prefix="ccoe-demo-bench-"))
        try:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(work / "w.duckdb"), str(scale),
                                  str(work / "files"), args.format],
                                 cwd=ROOT, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            db_mb = (work / "w.duckdb").stat().st_size / 1e6
            print(f"{scale:>6g}{r['read']:>13,}{r['generate']:>12.1f}{r['load']:>9.1f}"
                  f"{time.perf_counter() - t0:>9.1f}{r['loaded'] / r['load']:>15,.0f}"
                  f"{r['peak_mb']:>9.0f}{db_mb:>8.0f}", flush=True)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.move(work / "w.duckdb", args.keep / f"pool_scale{scale:g}.duckdb")
        finally:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
