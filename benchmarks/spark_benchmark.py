"""The same aggregates on DuckDB and on Apache Spark (local mode), side by side (issue 16, item 4).

    .venv/bin/python benchmarks/spark_benchmark.py --db /path/to/pool_scale16.duckdb [--rounds 5]

Needs PySpark and Java 17 (`python3 dev.py test` installs both). Build a big pool first:
    .venv/bin/python benchmarks/demo_benchmark.py --scales 16 --keep /tmp/bench

Each statistic's aggregate is one query, written once (DuckDB SQL) and transpiled to Spark SQL by
SQLGlot (`analytics/engine.py`). Timed, in alternation so a slow spell hits both engines alike:
  * Kaplan-Meier event table by country for ICCC-3 group I (`survival.event_table`),
  * cases and person-years by country x ICCC-3 group x age band (`incidence.band_counts`),
  * deaths by cause per day by age group (`competing.cause_table`),
each checked equal between the engines. Also printed: the one-off costs on Spark's side (writing
the warehouse as Parquet, starting the session). Spark on one machine is expected to be slower
than DuckDB (a JVM, a query planner, tasks and shuffles built for many machines); the point is
that the same statistics run there, and what that costs. Not a target: a measurement.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed_rounds  # noqa: E402  (puts the project root on sys.path)

from analytics import competing, engine, incidence, survival, warehouse  # noqa: E402
from analytics.filters import Selection  # noqa: E402


def statistics(con) -> dict:
    """The three aggregates, each a function of the engine (None: DuckDB)."""
    group_i = Selection.build({"iccc_main": ["I"]})
    return {
        "Kaplan-Meier events, group I by country": lambda e: survival.event_table(con, group_i, ["country"], engine=e),
        "incidence counts, country x group x age": lambda e: incidence.band_counts(con, Selection(),
                                                                                   ["country", "iccc_main"], engine=e),
        "deaths by cause per day, by age group": lambda e: competing.cause_table(con, Selection(), ["age_group"],
                                                                                 engine=e),
    }


def frame(result):
    """A comparable frame of any of the three results, in a fixed row order."""
    t = result.table if hasattr(result, "table") else result
    t = t.drop(columns=[c for c in ("_i",) if c in t.columns])
    return t.sort_values(list(t.columns), na_position="last").reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--master", default="local[*]", help="Spark master (default: local mode, all cores)")
    args = ap.parse_args()
    con = warehouse.connect(args.db, read_only=True)
    n = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    print(f"warehouse {args.db}: {n:,} tumours; {os.cpu_count()} cores; Spark master {args.master}")

    with tempfile.TemporaryDirectory(prefix="ccoe-spark-bench-") as tmp:
        t0 = time.perf_counter()
        manifest = engine.export_parquet(con, tmp)
        t_export = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
        t0 = time.perf_counter()
        spark = engine.spark_session(args.master)
        t_start = time.perf_counter() - t0
        t0 = time.perf_counter()
        eng = engine.spark_engine(con, data=Path(tmp).as_uri(), spark=spark)
        t_views = time.perf_counter() - t0
        print(f"one-off: Parquet copy {t_export:.1f} s ({size:,.0f} MB, {sum(manifest['rows'].values()):,} rows); "
              f"Spark session start {t_start:.1f} s; copy checked and tables registered {t_views:.1f} s")

        print(f"\n{'aggregate':<42} {'DuckDB median (best)':>22} {'Spark median (best)':>22} {'Spark/DuckDB':>13}  equal")
        try:
            compare(con, eng, args.rounds)
        finally:
            spark.stop()


def compare(con, eng, rounds: int) -> None:
    """Each statistic's aggregate on both engines, in alternation; a line each."""
    for name, fn in statistics(con).items():
        fn(eng)  # Spark's first run of a query plans and compiles it: a warm-up, as a server would have
        r = timed_rounds({"duckdb": lambda: fn(None), "spark": lambda: fn(eng)}, rounds)
        a, b = frame(r["duckdb"]["result"]), frame(r["spark"]["result"])
        num = a.select_dtypes("number").columns
        equal = (list(a.columns) == list(b.columns) and len(a) == len(b)
                 and a.drop(columns=num).astype(str).equals(b.drop(columns=num).astype(str))
                 and np.allclose(a[num].to_numpy(float), b[num].to_numpy(float), rtol=1e-9, atol=0, equal_nan=True))
        d, s = r["duckdb"], r["spark"]
        print(f"{name:<42} {d['median']:>12.3f} s ({d['best']:.3f}) {s['median']:>12.3f} s ({s['best']:.3f}) "
              f"{s['median'] / d['median']:>12.1f}x  {'yes' if equal else 'NO'}")


if __name__ == "__main__":
    main()
