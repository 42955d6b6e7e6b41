"""International comparison on the big demo pool: incidence and 5-year survival with CIs for
every country, one tumour type.

    .venv/bin/python benchmarks/compare_benchmark.py --db /path/to/pool_scale16.duckdb [--tumour Ia]

Prints the time of analytics.compare.international without net survival (the issue's target:
under 0.5 s on the 2-core machine) and, side by side, with net survival for the countries a life
table covers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed  # noqa: E402  (puts the project root on sys.path)

from analytics import warehouse  # noqa: E402
from analytics.compare import international  # noqa: E402
from analytics.filters import Selection  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--tumour", default="Ia", help="ICCC-3 subgroup (default Ia)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    con = warehouse.connect(args.db, read_only=True)
    n = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    sel = Selection.build({"iccc_sub": [args.tumour]})
    print(f"pool: {n:,} cases; international comparison of ICCC-3 {args.tumour}, ages 0-14")
    print(f"{'path':<44}{'median s':>10}")
    for label, net in (("incidence + 5-year survival (KM)", False), ("... and net survival where covered", True)):
        international(con, sel, net=net)  # warm-up
        t, res = timed(lambda: international(con, sel, net=net), args.repeat)
        print(f"{label:<44}{t:>10.3f}")
    print(f"countries: {len(res['table'])}")


if __name__ == "__main__":
    main()
