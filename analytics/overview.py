"""What the home page shows: the size and make-up of the pool, from aggregate SQL.

The pool's tumours are those loaded as rows and those aggregate partners sent as case counts
(`analytics.pooled.POOL_TUMOURS`)."""
from __future__ import annotations

import duckdb
import pandas as pd

from analytics import iccc
from analytics.pooled import POOL_TUMOURS, interval_unit
from analytics.disclosure import KEY_MODULUS, key_sum_sql
from analytics.suppression import suppress
from analytics.warehouse import RECORD_KEY_SQL, SCOPE_SQL, cellkey_secret

#: SQL of a rejected row's record key (for the disclosure-control key sums of rejected-row counts):
#: rejected rows are not tumours and have no `record_key`, so theirs is made at query time, as
#: `RECORD_KEY_SQL` makes a tumour's, from the warehouse secret ($ck), the submission and the line
#: ('rejected' in the place of a country code keeps the two kinds of key apart).
REJECTED_KEY_SQL = RECORD_KEY_SQL.format(country="'rejected'", registry="submission_id",
                                         case_id="CAST(line_no AS VARCHAR)")


def summary(con: duckdb.DuckDBPyConnection, keys: bool = False) -> dict:
    """Totals over the whole pool: cases, countries, years of diagnosis, submissions, rejections,
    whether any synthetic submission is loaded, and the person-years at risk (ages 0-19, both
    sexes, WPP or partner denominators) of each country over the years its cases cover.

    `keys=True` adds the record-key sums (`analytics.disclosure`) of the counted rows:
    cases_key, rejected_key (keys of rejected rows: `REJECTED_KEY_SQL`), unclassified_key."""
    row = con.execute(f"""
        WITH t AS (SELECT * FROM {POOL_TUMOURS}),
        span AS (SELECT country, min(year) AS y0, max(year) AS y1 FROM t GROUP BY country)
        SELECT (SELECT coalesce(sum(n), 0) FROM t),
               (SELECT count(DISTINCT country) FROM t),
               (SELECT min(year) FROM t), (SELECT max(year) FROM t),
               (SELECT count(*) FROM submissions),
               (SELECT coalesce(sum(rows_rejected), 0) FROM submissions),
               (SELECT coalesce(sum(n) FILTER (WHERE iccc_sub IS NULL), 0) FROM t),
               (SELECT coalesce(bool_or(synthetic), false) FROM submissions),
               (SELECT sum(p.person_years) FROM population p JOIN span s
                  ON p.country = s.country AND p.year BETWEEN s.y0 AND s.y1
                WHERE p.sex = 0 AND p.age_group IN ('0-4', '5-9', '10-14', '15-19')),
               (SELECT max(loaded_at) FROM submissions),
               (SELECT max(schema_version) FROM submissions),
               (SELECT list(DISTINCT country ORDER BY country) FROM agg_case_counts),
               (SELECT list(DISTINCT country ORDER BY country) FROM agg_survival_events),
               (SELECT list(DISTINCT iccc_version) FROM submissions WHERE kind = 'cases')
    """).fetchone()
    names = ["cases", "countries", "year_min", "year_max", "submissions", "rejected",
             "unclassified", "synthetic", "person_years", "last_loaded", "schema_version",
             "aggregate_counts", "aggregate_events", "iccc_versions"]
    out = dict(zip(names, row))
    out["cases"] = int(out["cases"])
    out["aggregate_counts"], out["aggregate_events"] = out["aggregate_counts"] or [], out["aggregate_events"] or []
    out["interval_unit"] = interval_unit(con)  # survival events in months or years: the life table's unit
    out["data_version"] = data_version(out)
    if keys:
        out.update(zip(["cases_key", "unclassified_key", "rejected_key"], con.execute(f"""
            SELECT (SELECT {key_sum_sql(column='key')} FROM {POOL_TUMOURS}),
                   (SELECT {key_sum_sql("iccc_sub IS NULL", column='key')} FROM {POOL_TUMOURS}),
                   (SELECT {key_sum_sql(column=REJECTED_KEY_SQL)} FROM rejected_rows)""",
                                                                         {"ck": cellkey_secret(con)}).fetchone()))
    return out


def data_version(info: dict) -> str:
    """One line naming the data a figure was made from (for footnotes and exports)."""
    if not info.get("submissions"):
        return "Data: empty warehouse"
    when = info["last_loaded"].strftime("%Y-%m-%d") if info.get("last_loaded") else "?"
    return (f"Data: {info['submissions']} submission(s), {info['cases']:,} tumours, last loaded {when}; "
            f"schema {info.get('schema_version')}; {iccc.versions_label(info.get('iccc_versions') or [])}.")


def cases_by_group(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Cases by ICCC-3 main group (I..XII, then unclassified), with names; small counts suppressed.

    `keys=True`: the exact counts, not suppressed, with their key sums (`cases_key`), for the
    disclosure-control layer (`analytics.release.pool`)."""
    key = f", {key_sum_sql(column='key')} AS cases_key" if keys else ""
    df = con.execute(f"""
        SELECT coalesce(iccc_main, 'unclassified') AS iccc_main, CAST(sum(n) AS BIGINT) AS cases{key}
        FROM {POOL_TUMOURS} GROUP BY ALL""").df()
    order = list(iccc.MAIN_GROUPS) + ["unclassified"]
    df["name"] = df["iccc_main"].map(iccc.MAIN_GROUPS).fillna("Not classifiable in ICCC-3")
    df["_o"] = df["iccc_main"].map(order.index)
    df = df.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    if keys:
        return df[["iccc_main", "name", "cases", "cases_key"]]
    return suppress(df[["iccc_main", "name", "cases"]], "cases")


def cases_by_country(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Cases, years of diagnosis and person-years (ages 0-19, both sexes) by country; small
    counts suppressed.

    `keys=True`: the exact counts, not suppressed, with their key sums (`cases_key`, the last
    column), for the disclosure-control layer (`analytics.release.pool`)."""
    key = f", {key_sum_sql(column='key')} AS cases_key" if keys else ""
    df = con.execute(f"""
        WITH c AS (SELECT country, CAST(sum(n) AS BIGINT) AS cases, min(year) AS first_year,
                          max(year) AS last_year{key}
                   FROM {POOL_TUMOURS} GROUP BY country)
        SELECT c.*, (SELECT sum(person_years) FROM population p
                     WHERE p.country = c.country AND p.year BETWEEN c.first_year AND c.last_year
                       AND p.sex = 0 AND p.age_group IN ('0-4', '5-9', '10-14', '15-19')) AS person_years
        FROM c ORDER BY country""").df()
    if keys:
        return df[[c for c in df.columns if c != "cases_key"] + ["cases_key"]]
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


#: A submission's countries (of its loaded tumours or table rows), "FRA, GBR", for a query over
#: `submissions s`.
SUBMISSION_COUNTRIES_SQL = f"""(SELECT string_agg(DISTINCT country, ', ' ORDER BY country) FROM ({SCOPE_SQL}) c
     WHERE c.submission_id = s.submission_id) AS countries"""

#: SQL of the record key of a loaded row of an aggregate table (a row, not a tumour: for the key
#: sums of the row counts `submissions` reports), made as `REJECTED_KEY_SQL` makes a rejected row's.
TABLE_ROW_KEY_SQL = RECORD_KEY_SQL.format(country="'table'", registry="submission_id",
                                          case_id="CAST(line_no AS VARCHAR)")


def submissions(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Provenance of every loaded submission, newest first, with the countries of its tumours.

    `keys=True` adds the key sums of the rows behind each count (rows_read_key, rows_loaded_key,
    rows_rejected_key, rows_unclassified_key; read = loaded + rejected, so its key is the sum of
    theirs), for the disclosure-control layer (`analytics.release.pool`)."""
    if not keys:
        return con.execute(f"""
            SELECT submission_id, file_name, kind, {SUBMISSION_COUNTRIES_SQL}, rows_read, rows_loaded,
                   rows_rejected, rows_unclassified, synthetic, loaded_at, left(sha256, 12) AS sha256_prefix, schema_version,
                   iccc_version
            FROM submissions s ORDER BY loaded_at DESC, submission_id""").df()
    return con.execute(f"""
        WITH l AS (SELECT submission_id, {key_sum_sql()} AS k, {key_sum_sql("iccc_sub IS NULL")} AS ku
                   FROM (SELECT submission_id, iccc_sub, record_key FROM cases
                         UNION ALL SELECT submission_id, iccc_sub, {TABLE_ROW_KEY_SQL} FROM agg_case_counts
                         UNION ALL SELECT submission_id, iccc_sub, {TABLE_ROW_KEY_SQL} FROM agg_survival_events)
                   GROUP BY submission_id),
             r AS (SELECT submission_id, {key_sum_sql(column=REJECTED_KEY_SQL)} AS k
                   FROM rejected_rows GROUP BY submission_id)
        SELECT s.submission_id, file_name, kind, {SUBMISSION_COUNTRIES_SQL}, rows_read, rows_loaded, rows_rejected,
               rows_unclassified,
               synthetic, loaded_at, left(sha256, 12) AS sha256_prefix, schema_version, iccc_version,
               CAST((coalesce(l.k, 0) + coalesce(r.k, 0)) % {KEY_MODULUS} AS BIGINT) AS rows_read_key,
               coalesce(l.k, 0) AS rows_loaded_key, coalesce(r.k, 0) AS rows_rejected_key,
               coalesce(l.ku, 0) AS rows_unclassified_key
        FROM submissions s LEFT JOIN l USING (submission_id) LEFT JOIN r USING (submission_id)
        ORDER BY loaded_at DESC, submission_id""", {"ck": cellkey_secret(con)}).df()


def rejection_reasons(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Rejected rows per submission and reason (a row with several reasons counts under each).

    Reason counts describe files, not patients, so they are not suppressed here (the app releases
    them as counts of rows: `analytics.release.pool`). `keys=True` adds `rows_key`, the key sum of
    each reason's rows."""
    key = f", {key_sum_sql(column='k')} AS rows_key" if keys else ""
    src = (f"SELECT submission_id, unnest(reasons) AS reason, {REJECTED_KEY_SQL} AS k FROM rejected_rows"
           if keys else "SELECT submission_id, unnest(reasons) AS reason FROM rejected_rows")
    return con.execute(f"""
        SELECT submission_id, reason, count(*) AS rows{key}
        FROM ({src})
        GROUP BY ALL ORDER BY submission_id, rows DESC, reason""",
                       {"ck": cellkey_secret(con)} if keys else None).df()


def countries(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Countries with cases (as rows or as aggregate tables), sorted."""
    return [r[0] for r in con.execute("""SELECT country FROM cases UNION SELECT country FROM agg_case_counts
                                         UNION SELECT country FROM agg_survival_events ORDER BY 1""").fetchall()]


#: Calendar years a selection may name (as `analytics.filters.Selection` accepts them).
SELECTABLE_YEARS = (1900, 2100)


def year_span(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """First and last year of diagnosis in the pool, among the years a selection may name: a
    stray year (0010, 1899) loaded before ingest refused it must not make every page's default
    year range invalid. `outside_years` counts the tumours left out that way."""
    lo, hi = con.execute(f"SELECT min(year), max(year) FROM {POOL_TUMOURS} WHERE year BETWEEN $lo AND $hi",
                         {"lo": SELECTABLE_YEARS[0], "hi": SELECTABLE_YEARS[1]}).fetchone()
    if lo is None:  # no case in a selectable year (or none at all): the selectable span itself
        return SELECTABLE_YEARS
    return int(lo), int(hi)


def outside_years(con: duckdb.DuckDBPyConnection, keys: bool = False) -> int | tuple[int, int]:
    """Tumours whose year of diagnosis no selection can name (outside `SELECTABLE_YEARS`): they
    are in the pool's totals but on no analysis page. `keys=True`: (count, key sum)."""
    row = con.execute(f"SELECT coalesce(sum(n), 0), {key_sum_sql(column='key')} FROM {POOL_TUMOURS} "
                      "WHERE year NOT BETWEEN $lo AND $hi",
                      {"lo": SELECTABLE_YEARS[0], "hi": SELECTABLE_YEARS[1]}).fetchone()
    return (int(row[0]), int(row[1])) if keys else row[0]
