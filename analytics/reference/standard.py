"""Standard populations: the age-distribution weights of direct age standardisation.

The weights are data, in `standard_populations.csv` beside this file (columns standard,
age_group, weight, source), as published, per 100,000 persons of the standard:

    segi      Segi (1960) world standard as modified by Doll et al. (1966), the standard of IARC's
              Cancer Incidence in Five Continents and International Incidence of Childhood Cancer
              (world-standardised rates, WSR). 0-4 is also given split as 0 and 1-4.
    who2000   WHO world standard population 2000-2025 (Ahmad et al. 2001, GPE Discussion Paper 31).
              Published as percentages that sum to 100.035; stored x 1,000 as published (five-year
              bands only: no verified published split of 0-4).
    esp2013   European Standard Population 2013 (Eurostat 2013). 0-4 is also given split as
              0 and 1-4, as published.

Where and how each number was checked: README.md beside this file. A standard's bands overlap
where 0-4 is given beside 0 and 1-4: use one or the other, never both (`weights` refuses).

`weights(con_or_none, standard, age_groups)` returns the weights renormalised to sum to one over
the age groups used, e.g. the 0-14 world-standardised rate uses segi 0-4, 5-9, 10-14 ->
12/31, 10/31, 9/31.
"""
from __future__ import annotations

import csv
import math
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import duckdb

STANDARDS_CSV = Path(__file__).resolve().parent / "standard_populations.csv"

#: Key -> human name, for labels in the app.
STANDARD_NAMES = {
    "segi": "World standard population (Segi 1960, modified by Doll et al. 1966)",
    "who2000": "WHO world standard population 2000-2025",
    "esp2013": "European Standard Population 2013",
}


@lru_cache(maxsize=1)
def read_standards() -> tuple[tuple[str, str, float, str], ...]:
    """The rows of standard_populations.csv as (standard, age_group, weight, source)."""
    with open(STANDARDS_CSV, newline="", encoding="utf-8") as f:
        rows = tuple((r["standard"], r["age_group"], float(r["weight"]), r["source"])
                     for r in csv.DictReader(f))
    return rows


def load_standards(con: duckdb.DuckDBPyConnection) -> int:
    """Replace the `standard_population` table by the contents of standard_populations.csv.
    Returns the number of rows loaded. Runs inside the caller's transaction when there is one."""
    rows = read_standards()
    con.execute("DELETE FROM standard_population")
    con.executemany("INSERT INTO standard_population (standard, age_group, weight, source) "
                    "VALUES (?, ?, ?, ?)", list(rows))
    return len(rows)


def age_bounds(age_group: str) -> tuple[float, float]:
    """Ages covered by a label, as a closed interval in completed years: '0' -> (0, 0),
    '1-4' -> (1, 4), '85+' -> (85, inf)."""
    label = age_group.strip()
    try:
        if label.endswith("+"):
            return float(int(label[:-1])), math.inf
        if "-" in label:
            lo, hi = label.split("-")
            return float(int(lo)), float(int(hi))
        return float(int(label)), float(int(label))
    except ValueError:
        raise ValueError(f"not an age group: {age_group!r}") from None


def _published(con: duckdb.DuckDBPyConnection | None, standard: str) -> dict[str, float]:
    if con is None:
        return {a: w for s, a, w, _ in read_standards() if s == standard}
    return dict(con.execute("SELECT age_group, weight FROM standard_population WHERE standard = ?",
                            [standard]).fetchall())


def weights(con_or_none: duckdb.DuckDBPyConnection | None, standard: str,
            age_groups: Iterable[str]) -> dict[str, float]:
    """Weights of `standard` for `age_groups`, renormalised to sum to one over those groups.

    `con_or_none`: a warehouse connection (reads `standard_population`) or None (reads the CSV
    shipped with the code: same numbers). Raises ValueError for an unknown standard, an age group
    the standard does not define, a repeated group, or overlapping groups (e.g. '0-4' with '0')."""
    groups = [str(a) for a in age_groups]
    if not groups:
        raise ValueError("no age groups given")
    published = _published(con_or_none, standard)
    if not published:
        known = sorted({s for s, *_ in read_standards()})
        raise ValueError(f"unknown standard {standard!r}; known: {', '.join(known)}")
    unknown = [a for a in groups if a not in published]
    if unknown:
        raise ValueError(f"standard {standard!r} has no age group {', '.join(map(repr, unknown))}; "
                         f"it has {', '.join(published)}")
    if len(set(groups)) != len(groups):
        raise ValueError(f"age group repeated in {groups}")
    spans = sorted((age_bounds(a), a) for a in groups)
    for (b1, a1), (b2, a2) in zip(spans, spans[1:]):
        if b2[0] <= b1[1]:
            raise ValueError(f"age groups {a1!r} and {a2!r} overlap; use one or the other")
    total = sum(published[a] for a in groups)
    return {a: published[a] / total for a in groups}
