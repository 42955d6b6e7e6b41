"""ASR by country and ICCC-3 main group on the big demo pool: aggregate SQL vs a naive pandas path.

    .venv/bin/python benchmarks/incidence_benchmark.py --db /path/to/pool_scale16.duckdb

Build the pool first (about 12 million rows):
    .venv/bin/python benchmarks/demo_benchmark.py --scales 16 --keep /tmp/bench
The two paths run side by side in one process and must give the same numbers:
  * analytics.incidence.incidence(by=country, iccc_main): counts by stratum in DuckDB, joined to
    the population table; the estimator runs on the small table;
  * naive: every case row (country, group, age band, year) into pandas, grouped there, joined to
    the population there, the same formulas applied.
Target (issue 4): SQL path under 0.3 s and at least 10x faster than the naive path.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import sys
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed  # noqa: E402  (puts the project root on sys.path)

from analytics import warehouse  # noqa: E402
from analytics.filters import Selection  # noqa: E402
from analytics.incidence import direct_asr, incidence  # noqa: E402
from analytics.reference.standard import weights  # noqa: E402

BANDS = ["0-4", "5-9", "10-14", "15-19"]


def naive(con) -> pd.DataFrame:
    cases = con.execute("SELECT country, iccc_main, age_band, year FROM cases").df()
    pop = con.execute("SELECT country, year, age_group, person_years FROM population WHERE sex = 0").df()
    span = cases.groupby("country")["year"].agg(["min", "max"]).reset_index()
    pop = pop.merge(span, on="country")
    pop = pop[(pop["year"] >= pop["min"]) & (pop["year"] <= pop["max"]) & pop["age_group"].isin(BANDS)]
    py = pop.groupby(["country", "age_group"])["person_years"].sum()
    counts = cases.groupby(["country", "iccc_main", "age_band"]).size()
    w = weights(None, "segi", BANDS)
    rows = []
    for (country, grp), _ in counts.groupby(level=[0, 1]):
        d = np.array([counts.get((country, grp, b), 0) for b in BANDS], dtype=float)
        n = np.array([py[(country, b)] for b in BANDS])
        y, lo, hi, _ = direct_asr(d, n, np.array([w[b] for b in BANDS]))
        rows.append((country, grp, int(d.sum()), y * 1e6, lo * 1e6, hi * 1e6))
    return pd.DataFrame(rows, columns=["country", "iccc_main", "cases", "asr", "asr_lower", "asr_upper"])




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    con = warehouse.connect(args.db, read_only=True)
    n = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    sel = Selection()
    incidence(con, sel, ["country", "iccc_main"])  # warm-up (file cache)
    t_sql, res = timed(lambda: incidence(con, sel, ["country", "iccc_main"], min_cases=1), args.repeat)
    t_naive, ref = timed(lambda: naive(con), max(1, args.repeat // 2))
    got = res.table[res.table["cases"] > 0].merge(ref, on=["country", "iccc_main"], suffixes=("", "_naive"))
    same = len(got) == len(ref) and all(
        np.allclose(got[c].astype(float), got[f"{c}_naive"], rtol=1e-12) for c in ("cases", "asr", "asr_lower", "asr_upper"))
    print(f"pool: {n:,} cases; ASR with 95% CI by country x ICCC-3 main group ({len(ref)} cells)")
    print(f"{'path':<36}{'median s':>10}")
    print(f"{'aggregate SQL (analytics.incidence)':<36}{t_sql:>10.3f}")
    print(f"{'naive pandas (rows into pandas)':<36}{t_naive:>10.3f}")
    print(f"speed-up: {t_naive / t_sql:.1f}x; identical estimates: {same}")


if __name__ == "__main__":
    main()
