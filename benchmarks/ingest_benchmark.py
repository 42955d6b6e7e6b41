"""Ingest throughput: validated rows per second and peak memory for a 1-million-row submission,
and the cost of awkward but valid files (issue 11): the same CSV with one blank line, and with one
quoted line break, should load within 1.5x of the plain file.

    .venv/bin/python benchmarks/ingest_benchmark.py [--rows 1000000] [--keep]

Generates a realistic submission (about 1% invalid rows) once, then ingests it in fresh processes
side by side: as CSV and as Parquet, into a new warehouse, and again into the same warehouse
(the replace path). Each ingest runs in its own process so its peak resident memory
(ru_maxrss) is its own. The machine is noisy: compare the rows side by side, not with other runs.
Target (issue 2): >= 150,000 validated rows/s and < 2 GB peak on a 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent

GENERATE_SQL = """
COPY (
  WITH base AS (
    SELECT i,
      DATE '2000-01-01' + CAST(floor(random() * 7300) AS INTEGER) AS dx,
      CAST(floor(random() * 7000) AS INTEGER) AS age_days,
      CAST(floor(random() * 4000) AS INTEGER) AS fu_days,
      random() AS r, random() AS r2
    FROM range($n) t(i)
  )
  SELECT
    CASE WHEN r2 < 0.001 THEN 'DUP' ELSE 'C' || i END AS case_id,
    '' AS patient_id,
    (['FRA','DEU','ITA','GBR','USA','CAN','JPN','AUS','BRA','MEX','IND','ZAF','KEN'])[1 + i % 13] AS country,
    'R' || (i % 4) AS registry,
    CASE WHEN r2 BETWEEN 0.001 AND 0.004 THEN '7' WHEN r < 0.53 THEN '1' ELSE '2' END AS sex,
    strftime(dx - age_days, '%Y-%m-%d') AS birth_date,
    '' AS age_years,
    strftime(dx, '%Y-%m-%d') AS diagnosis_date,
    (['C42.1','C71.9','C77.9','C74.9','C64.9','C40.2','C49.1','C69.2','C22.0','C73.9'])[1 + i % 10] AS topography,
    (['9811','9421','9650','9500','8960','9180','8900','9510','8970','8260'])[1 + i % 10] AS morphology,
    CASE WHEN i % 10 = 1 THEN '1' ELSE '3' END AS behaviour,
    CASE WHEN r2 BETWEEN 0.004 AND 0.006 THEN '0' ELSE '7' END AS basis,
    '' AS stage,
    CASE WHEN r < 0.2 THEN '2' ELSE '1' END AS vital_status,
    strftime(least(dx + fu_days, DATE '2022-12-31'), '%Y-%m-%d') AS last_contact_date
  FROM base
) TO '{path}' ({fmt})
"""


def generate(path: Path, rows: int) -> None:
    fmt = "FORMAT parquet" if path.suffix == ".parquet" else "HEADER, DELIMITER ','"
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(GENERATE_SQL.format(path=path, fmt=fmt), {"n": rows})
    con.close()


CHILD = """
import json, resource, sys, time
from analytics import warehouse
from analytics.ingest import ingest_file
con = warehouse.connect(sys.argv[2])
t0 = time.perf_counter()
r = ingest_file(con, sys.argv[1])
dt = time.perf_counter() - t0
con.close()
print(json.dumps({"seconds": dt, "read": r.rows_read, "loaded": r.rows_loaded,
                  "rejected": r.rows_rejected,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def awkward_copies(csv_path: Path) -> tuple[Path, Path]:
    """The plain CSV with one blank line in the middle, and with one field holding a quoted line
    break (the registry of the middle record): valid files that once fell off a 34x cliff."""
    data = csv_path.read_bytes()
    middle = data.index(b"\n", len(data) // 2) + 1
    blank = csv_path.with_name("blank_line.csv")
    blank.write_bytes(data[:middle] + b"\n" + data[middle:])
    end = data.index(b"\n", middle)
    fields = data[middle:end].split(b",")
    fields[3] = b'"' + fields[3] + b'\nsecond line"'
    broken = csv_path.with_name("quoted_line_break.csv")
    broken.write_bytes(data[:middle] + b",".join(fields) + data[end:])
    return blank, broken


def ingest_in_child(path: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(db)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ccoe-bench-"))
    try:
        csv_path, pq_path = work / "bench.csv", work / "bench.parquet"
        t0 = time.perf_counter()
        generate(csv_path, args.rows)
        generate(pq_path, args.rows)
        print(f"generated {args.rows:,} rows as CSV ({csv_path.stat().st_size / 1e6:.0f} MB) and "
              f"Parquet ({pq_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        blank, line_break = awkward_copies(csv_path)
        runs = [("CSV, new warehouse", csv_path, work / "a.duckdb"),
                ("CSV, re-load (replace)", csv_path, work / "a.duckdb"),
                ("Parquet, new warehouse", pq_path, work / "b.duckdb"),
                ("CSV, one blank line", blank, work / "c.duckdb"),
                ("CSV, quoted line break", line_break, work / "d.duckdb"),
                ("CSV, plain again", csv_path, work / "e.duckdb")]
        print(f"{'run':<26}{'seconds':>9}{'rows/s':>12}{'loaded':>11}{'rejected':>10}{'peak MB':>9}"
              f"{'x plain':>9}")
        plain = []
        for label, path, db in runs:
            r = ingest_in_child(path, db)
            assert r["read"] == r["loaded"] + r["rejected"] == args.rows
            if label.startswith("CSV, new") or label.startswith("CSV, plain"):
                plain.append(r["seconds"])
            ratio = r["seconds"] / plain[0] if plain else float("nan")
            print(f"{label:<26}{r['seconds']:>9.2f}{r['read'] / r['seconds']:>12,.0f}"
                  f"{r['loaded']:>11,}{r['rejected']:>10,}{r['peak_mb']:>9.0f}{ratio:>9.2f}")
        print(f"(the plain CSV was timed first and last: {plain[0]:.2f} s and {plain[-1]:.2f} s; "
              f"target for the awkward files: within 1.5x)")
        print(f"(this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    finally:
        if args.keep:
            print(f"files kept in {work}")
        else:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
