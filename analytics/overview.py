"""What the home page shows: the size and make-up of the pool, from aggregate SQL."""
from __future__ import annotations

import duckdb
import pandas as pd

from analytics import iccc
from analytics.suppression import suppress


def summary(con: duckdb.DuckDBPyConnection) -> dict:
    """Totals over the whole pool: cases, countries, years of diagnosis, submissions, rejections,
    whether any synthetic submission is loaded, and the person-years at risk (ages 0-19, both
    sexes, WPP or partner denominators) of each country over the years its cases cover."""
    row = con.execute("""
        WITH span AS (SELECT country, min(year) AS y0, max(year) AS y1 FROM cases GROUP BY country)
        SELECT (SELECT count(*) FROM cases),
               (SELECT count(DISTINCT country) FROM cases),
               (SELECT min(year) FROM cases), (SELECT max(year) FROM cases),
               (SELECT count(*) FROM submissions),
               (SELECT coalesce(sum(rows_rejected), 0) FROM submissions),
               (SELECT coalesce(sum(rows_unclassified), 0) FROM submissions),
               (SELECT coalesce(bool_or(synthetic), false) FROM submissions),
               (SELECT sum(p.person_years) FROM population p JOIN span s
                  ON p.country = s.country AND p.year BETWEEN s.y0 AND s.y1
                WHERE p.sex = 0 AND p.age_group IN ('0-4', '5-9', '10-14', '15-19')),
               (SELECT max(loaded_at) FROM submissions),
               (SELECT max(schema_version) FROM submissions)
    """).fetchone()
    keys = ["cases", "countries", "year_min", "year_max", "submissions", "rejected",
            "unclassified", "synthetic", "person_years", "last_loaded", "schema_version"]
    out = dict(zip(keys, row))
    out["data_version"] = data_version(out)
    return out


def data_version(info: dict) -> str:
    """One line naming the data a figure was made from (for footnotes and exports)."""
    if not info.get("submissions"):
        return "Data: empty warehouse"
    when = info["last_loaded"].strftime("%Y-%m-%d") if info.get("last_loaded") else "?"
    return (f"Data: {info['submissions']} submission(s), {info['cases']:,} tumours, last loaded {when}; "
            f"schema {info.get('schema_version')}; ICCC-3/IARC 2017.")


def cases_by_group(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Cases by ICCC-3 main group (I..XII, then unclassified), with names; small counts suppressed."""
    df = con.execute("""
        SELECT coalesce(iccc_main, 'unclassified') AS iccc_main, count(*) AS cases
        FROM cases GROUP BY ALL""").df()
    order = list(iccc.MAIN_GROUPS) + ["unclassified"]
    df["name"] = df["iccc_main"].map(iccc.MAIN_GROUPS).fillna("Not classifiable in ICCC-3")
    df["_o"] = df["iccc_main"].map(order.index)
    df = df.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    return suppress(df[["iccc_main", "name", "cases"]], "cases")


def cases_by_country(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Cases, years of diagnosis and person-years (ages 0-19, both sexes) by country; small
    counts suppressed."""
    df = con.execute("""
        WITH c AS (SELECT country, count(*) AS cases, min(year) AS first_year, max(year) AS last_year
                   FROM cases GROUP BY country)
        SELECT c.*, (SELECT sum(person_years) FROM population p
                     WHERE p.country = c.country AND p.year BETWEEN c.first_year AND c.last_year
                       AND p.sex = 0 AND p.age_group IN ('0-4', '5-9', '10-14', '15-19')) AS person_years
        FROM c ORDER BY country""").df()
    return suppress(df, "cases")


def population_gaps(con: duckdb.DuckDBPyConnection) -> str | None:
    """The note on the pool's tumours (ages 0-19) whose country-year has no person-years (both
    sexes), which every rate leaves out (see `analytics.incidence`); None when all are covered."""
    from analytics.filters import Selection
    from analytics.incidence import NoDenominators, band_counts

    try:
        left_out = band_counts(con, Selection(), [], "0-19").attrs["left_out"]
    except NoDenominators as e:
        return f"No rate can be computed from this pool: {e}."
    return left_out.note() if left_out else None


def submissions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Provenance of every loaded submission, newest first."""
    return con.execute("""
        SELECT submission_id, file_name, rows_read, rows_loaded, rows_rejected, rows_unclassified,
               synthetic, loaded_at, left(sha256, 12) AS sha256_prefix, schema_version, iccc_version
        FROM submissions ORDER BY loaded_at DESC, submission_id""").df()


def rejection_reasons(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected rows per submission and reason (a row with several reasons counts under each).

    Reason counts describe files, not patients, so they are not suppressed."""
    return con.execute("""
        SELECT submission_id, reason, count(*) AS rows
        FROM (SELECT submission_id, unnest(reasons) AS reason FROM rejected_rows)
        GROUP BY ALL ORDER BY submission_id, rows DESC, reason""").df()


def countries(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Countries with cases, sorted."""
    return [r[0] for r in con.execute("SELECT DISTINCT country FROM cases ORDER BY 1").fetchall()]


#: Calendar years a selection may name (as `analytics.filters.Selection` accepts them).
SELECTABLE_YEARS = (1900, 2100)


def year_span(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """First and last year of diagnosis in the pool, among the years a selection may name: a
    stray year (0010, 1899) loaded before ingest refused it must not make every page's default
    year range invalid. `outside_years` counts the tumours left out that way."""
    lo, hi = con.execute("SELECT min(year), max(year) FROM cases WHERE year BETWEEN $lo AND $hi",
                         {"lo": SELECTABLE_YEARS[0], "hi": SELECTABLE_YEARS[1]}).fetchone()
    if lo is None:  # no case in a selectable year (or none at all): the selectable span itself
        return SELECTABLE_YEARS
    return int(lo), int(hi)


def outside_years(con: duckdb.DuckDBPyConnection) -> int:
    """Tumours whose year of diagnosis no selection can name (outside `SELECTABLE_YEARS`): they
    are in the pool's totals but on no analysis page."""
    return con.execute("SELECT count(*) FROM cases WHERE year NOT BETWEEN $lo AND $hi",
                       {"lo": SELECTABLE_YEARS[0], "hi": SELECTABLE_YEARS[1]}).fetchone()[0]
