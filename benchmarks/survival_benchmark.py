"""Kaplan-Meier by country for one ICCC-3 group on the big demo pool: event-table path vs naive.

    .venv/bin/python benchmarks/survival_benchmark.py --db /path/to/pool_scale16.duckdb [--group I]

Build the pool first (about 12 million rows):
    .venv/bin/python benchmarks/demo_benchmark.py --scales 16 --keep /tmp/bench
Side by side, in alternation in one process (the machine is shared and noisy):
  * event table: one aggregate query (deaths and censorings per country and follow-up day, read
    as Arrow), then the product-limit estimator on that small table (analytics.survival);
  * naive: every case row of the group into pandas, lifelines' KaplanMeierFitter per country;
  * the aggregate query alone over `cases`, and over `cases` with the aggregate partners' survival
    events (`analytics.pooled`, issue 14): what reading the tables too costs.
The estimates must be identical (survival at every distinct time). Target (issue 5): under
0.1 s for the event-table path and at least 10x faster than the naive path.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed_rounds  # noqa: E402  (puts the project root on sys.path)

from analytics import pooled, warehouse  # noqa: E402
from analytics.filters import Selection  # noqa: E402
from analytics.survival import event_table, kaplan_meier  # noqa: E402


def fast(con, sel):
    return kaplan_meier(event_table(con, sel, ["country"]), min_cases=1)


def _grouped(con, source: str, params: dict):
    """The event table's aggregate query over `source`, read as Arrow (no sort, no estimator)."""
    return con.sql(f"""SELECT country, days, CAST(sum(deaths) AS BIGINT) AS n_event,
                              CAST(sum(censored) AS BIGINT) AS n_censor, dco
                       FROM {source} GROUP BY ALL""", params=params).to_arrow_table()


def rows_only(con, sel):
    """The aggregate query over `cases` alone (as before aggregate submissions, issue 14)."""
    where, params = sel.where()
    source = (f"(SELECT country, followup_days AS days, CAST(event AS BIGINT) AS deaths, "
              f"CAST(1 - event AS BIGINT) AS censored, dco FROM cases WHERE {where})")
    return _grouped(con, source, params)


def with_tables(con, sel):
    """The same over the rows and the aggregate partners' survival events (analytics.pooled)."""
    source, params = pooled.events_sql(sel, ["country"])
    return _grouped(con, source, params)


def naive(con, group: str):
    from lifelines import KaplanMeierFitter

    rows = con.execute("SELECT country, followup_days, event FROM cases WHERE iccc_main = ? AND NOT dco",
                       [group]).df()
    out = {}
    for country, g in rows.groupby("country"):
        km = KaplanMeierFitter().fit(g["followup_days"] / 365.25, g["event"])
        out[country] = km.survival_function_.iloc[:, 0]
    return out


def identical(res, ref) -> bool:
    """Survival at every distinct time equal to lifelines' (which adds a row at t = 0), for every
    country with rows (lifelines reads rows: an aggregate partner's curve is checked against its
    rows in tests/test_pooled.py instead)."""
    same = set(ref) <= {key[0] for key in res.curves}
    for (country,), km in res.curves.items():
        if country not in ref:
            continue
        s_ref = ref[country]
        s_ref = s_ref[s_ref.index > 0] if km.table["time_years"].iloc[0] > 0 else s_ref
        mine = km.table.set_index("time_years")["survival"]
        same &= np.allclose(mine.to_numpy(), s_ref.reindex(mine.index, method="ffill").to_numpy(), rtol=1e-12)
    return bool(same)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--group", default="I", help="ICCC-3 main group (default I, the largest)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    con = warehouse.connect(args.db, read_only=True)
    sel = Selection.build({"iccc_main": [args.group]})
    n = con.execute("SELECT count(*) FROM cases WHERE iccc_main = ? AND NOT dco", [args.group]).fetchall()[0][0]
    fast(con, sel)  # warm-up
    events = event_table(con, sel, ["country"])
    t = timed_rounds({
        "fast": lambda: fast(con, sel),
        "query": lambda: event_table(con, sel, ["country"]),
        "estimator": lambda: kaplan_meier(events, min_cases=1),
        "naive": lambda: naive(con, args.group),
        "rows_only": lambda: rows_only(con, sel),
        "with_tables": lambda: with_tables(con, sel),
    }, args.rounds)
    res = t["fast"]["result"]
    print(f"ICCC-3 group {args.group}: {n:,} cases (DCO excluded), Kaplan-Meier by country "
          f"({len(res.curves)} curves), {args.rounds} rounds in alternation")
    print(f"{'path':<46}{'median s':>10}{'best s':>10}")
    for name, label in [("fast", "event table in DuckDB + product-limit"),
                        ("query", "  of which: the aggregate query"),
                        ("estimator", "  of which: the estimator (12 curves)"),
                        ("naive", "naive: rows into pandas + lifelines"),
                        ("rows_only", "query over cases alone (before issue 14)"),
                        ("with_tables", "query over cases + aggregate tables")]:
        print(f"{label:<46}{t[name]['median']:>10.3f}{t[name]['best']:>10.3f}")
    print(f"cost of reading the aggregate tables too: {t['with_tables']['median'] / t['rows_only']['median']:.2f}x "
          f"the query over cases alone")
    tables_only = sorted({key[0] for key in res.curves} - set(t["naive"]["result"]))
    print(f"speed-up (medians): {t['naive']['median'] / t['fast']['median']:.1f}x; "
          f"identical estimates: {identical(res, t['naive']['result'])}"
          + (f" (countries with rows; {', '.join(tables_only)} sent tables: the naive path cannot read them)"
             if tables_only else ""))


if __name__ == "__main__":
    main()
