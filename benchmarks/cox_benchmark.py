"""The Survival page's Cox model on the big demo pool: counts per covariate pattern and day vs rows.

    .venv/bin/python benchmarks/cox_benchmark.py --db /path/to/pool_scale16.duckdb [--rounds 3]

Build the pool first (about 12 million rows):
    .venv/bin/python benchmarks/demo_benchmark.py --scales 16 --keep /tmp/bench
The page's default model (ICCC-3 group I, country + sex + age group, levels with fewer cases than
the threshold left out, record-key sums for the release layer), two ways, in alternation:
  * counts: `survival.cox` as the pages call it: DuckDB groups the rows by (covariates, follow-up
    day), and Efron's partial likelihood is maximised over those counts (`survival.cox_grouped`,
    vectorised over covariate patterns and death times);
  * rows (the path before issue 16): every row of the selection into pandas, lifelines'
    CoxPHFitter on them.
The hazard ratios must agree (lifelines converges to about 1e-9). Target (issue 16): under 0.3 s.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed_rounds  # noqa: E402  (puts the project root on sys.path)

from analytics import pooled, survival, warehouse  # noqa: E402
from analytics.filters import Selection  # noqa: E402
from analytics.suppression import threshold  # noqa: E402

COVARIATES = ["country", "sex", "age_group"]


def rows_path(con, sel, min_level: int):
    """The rows into pandas and lifelines, with the same levels left out and key sums."""
    source, params = pooled.followup_rows_sql(sel, COVARIATES)
    df = con.execute(f"SELECT followup_days, event, {', '.join(COVARIATES)}, record_key FROM {source}", params).df()
    for c in COVARIATES:
        df[c] = df[c].astype(str).where(df[c].notna())
    df, _ = survival.drop_small_levels(df, COVARIATES, set(), min_level)
    res = survival.cox_fit(df, "followup_days", "event", COVARIATES, set())
    res.attrs.update(survival.cox_level_events(df, COVARIATES, set(), "event", "record_key"))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--group", default="I", help="ICCC-3 main group (default I, the largest)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    con = warehouse.connect(args.db, read_only=True)
    sel = Selection.build({"iccc_main": [args.group]})
    t_min = threshold()
    counts = lambda: survival.cox(con, sel, COVARIATES, min_level=t_min, keys=True)  # noqa: E731
    counts()  # warm-up
    t = timed_rounds({"counts": counts, "rows": lambda: rows_path(con, sel, t_min)}, args.rounds)
    a, b = t["counts"]["result"], t["rows"]["result"]
    print(f"ICCC-3 group {args.group}: Cox on {', '.join(COVARIATES)}, n = {a.attrs['n']:,}, "
          f"{a.attrs['events']:,} deaths, {len(a)} terms; {args.rounds} rounds in alternation")
    print(f"{'path':<52}{'median s':>10}{'best s':>10}")
    for name, label in [("counts", "counts per pattern and day (DuckDB) + grouped Efron"),
                        ("rows", "rows into pandas + lifelines (before)")]:
        print(f"{label:<52}{t[name]['median']:>10.3f}{t[name]['best']:>10.3f}")
    same_keys = all(a.attrs[k] == b.attrs[k] for k in ("term_events", "reference_events", "key", "events_key"))
    print(f"speed-up (medians): {t['rows']['median'] / t['counts']['median']:.1f}x; largest difference in "
          f"log hazard ratio {np.max(np.abs(a['coef'].to_numpy() - b['coef'].to_numpy())):.1e}, in its standard "
          f"error {np.max(np.abs(a['se'].to_numpy() - b['se'].to_numpy())):.1e}; same deaths and key sums per "
          f"level: {same_keys}")


if __name__ == "__main__":
    main()
