"""Loading an aggregate submission (issue 14): case counts or survival events instead of rows.

`analytics.ingest.ingest_file` reads every kind of file the same way (CSV or Parquet into a temp
view `_raw` of text columns, rows read = rows loaded + rows rejected, all-or-nothing, replacing on
re-load) and recognises the kind by the header (`schema.submission_kind`). For a table of counts it
calls `prepare` before the transaction and `load` inside it; this module parses the table's rows,
applies its rules (`schema.CASE_COUNT_RULES`, `schema.SURVIVAL_EVENT_RULES`) and inserts the valid
rows into `agg_case_counts` or `agg_survival_events`, the others, with every reason, into
`rejected_rows`.

Disclosure control needs a record key per tumour (`analytics.disclosure`): a row of counts holds
many tumours, so each of them is given a key from the warehouse's secret, its cell (`_CELL`: the
strata both tables share) and its number in the cell, and the row stores their sum (mod 2**32)
per count. The same table loaded again gives the same keys, as a case file's tumours do; and a
partner's case counts and survival events give the same tumours the same keys wherever a count
covers whole cells.
"""
from __future__ import annotations

import duckdb

from analytics import iccc
from analytics.disclosure import KEY_MODULUS
from analytics.schema import (AGE_BANDS, AGE_GROUPS, KIND_RULES, PERIOD_SQL, FileKind, rules_fail_sql,
                              rules_reasons_sql)
from analytics.warehouse import KEY_OF_SQL, cellkey_secret

#: What a table of each kind may not overlap: the case rows and the tables of the same kind (a
#: partner sends case counts and survival events of the same registry, one of each).
_HELD_BY = {"cases": ["agg_case_counts", "agg_survival_events"],
            "case_counts": ["cases", "agg_case_counts"],
            "survival_events": ["cases", "agg_survival_events"]}

#: The most tumours one table file may count (each is given a record key, one SHA-256 each: about
#: 1.5 s per million here). Far above a whole country's childhood tumours over decades.
MAX_FILE_TUMOURS = 20_000_000


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """The lookup of ICCC-3 subgroups (`_subs`: code, lower-case code, main group)."""
    d = iccc.definition()[["subgroup", "main_group"]].drop_duplicates()
    con.execute("CREATE OR REPLACE TEMP TABLE _subs (code VARCHAR, lower_code VARCHAR, main VARCHAR)")
    con.executemany("INSERT INTO _subs VALUES (?, ?, ?)",
                    [(s, s.lower(), m) for s, m in zip(d["subgroup"], d["main_group"])])


def held(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Temp tables `_held` (country, registry) and `_held_c` (country, any_null): what the pool
    already holds that a file of `kind` may not send again, for the countries in `_raw` (read after
    a replaced submission is deleted). A blank registry stands for the whole country: it clashes
    with every registry of that country, and every registry with it (`HELD_SQL`)."""
    union = " UNION ".join(f"SELECT DISTINCT country, registry FROM {t}" for t in _HELD_BY[kind])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _held AS SELECT * FROM ({union})
                    WHERE country IN (SELECT DISTINCT upper(trim(country)) FROM _raw)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _held_c AS
                   SELECT country, bool_or(registry IS NULL) AS any_null FROM _held GROUP BY country""")


#: The joins and the flag of a raw row (alias {t}: text columns country_t, registry_t) whose
#: registry `_held` holds: the same registry, or a whole country (blank registry) on either side.
#: Equi-joins on small distinct tables, so each row matches at most once and the join is hashed.
HELD_JOIN = ("LEFT JOIN _held h ON h.country = upper({t}.country_t) AND h.registry IS NOT DISTINCT FROM {t}.registry_t "
             "LEFT JOIN _held_c hc ON hc.country = upper({t}.country_t)")
HELD_FLAG = "(h.country IS NOT NULL OR coalesce(hc.any_null, false) OR ({t}.registry_t IS NULL AND hc.country IS NOT NULL))"


def _whole(column: str) -> str:
    """A whole number from text ('12', '-3', '12.0' as spreadsheets write it); NULL otherwise."""
    return (f"CASE WHEN regexp_full_match({column}_t, '-?[0-9]{{1,15}}([.]0*)?') "
            f"THEN CAST(regexp_extract({column}_t, '^-?[0-9]+') AS BIGINT) END")


_PERIOD_SQL = """CASE WHEN regexp_full_match(period_t, '[0-9]{4}-[0-9]{4}')
      AND CAST(left(period_t, 4) AS INTEGER) % 5 = 0 AND CAST(left(period_t, 4) AS INTEGER) >= 1950
      AND CAST(right(period_t, 4) AS INTEGER) = CAST(left(period_t, 4) AS INTEGER) + 4 THEN period_t END"""

#: Per kind: the parsed values the rules read, and the columns that make a row's stratum.
_PARSED = {
    "case_counts": {"year": _whole("year"), "cases": _whole("cases"), "dco": _whole("dco"),
                    "microscopic": _whole("microscopic")},
    "survival_events": {"period": _PERIOD_SQL, "time": _whole("time"), "deaths": _whole("deaths"),
                        "censored": _whole("censored"), "stage": "upper(stage_t)",
                        "is_toronto": "upper(stage_t) IN (SELECT code FROM _stages)"},
}
#: (A value as written where it does not parse, so that two different wrong values are not "the same".)
_STRATUM = {
    "case_counts": ["country", "registry_t", "coalesce(CAST(year AS VARCHAR), year_t)", "sex_t", "age_group_t",
                    "lower(iccc_sub_t)"],
    "survival_events": ["country", "registry_t", "lower(iccc_sub_t)", "sex_t", "age_group_t", "period_t", "stage",
                        "coalesce(CAST(time AS VARCHAR), time_t)"],
}


def _parse_sql(kind: FileKind) -> str:
    """SELECT of `_raw`'s rows parsed: text columns `<c>_t`, parsed values, the stratum's count of
    rows in the file (`n_same_stratum`) and whether another submission holds its registry."""
    texts = [f"nullif(trim(\"{c}\"), '') AS {c}_t" for c in kind.names]
    if kind.name == "survival_events":
        texts.append("coalesce(" + ", ".join(f"nullif(trim(\"{c}\"), '')" for c in kind.one_of[0]) + ") AS time_t")
    parsed = ",\n        ".join(f"{sql} AS {name}" for name, sql in _PARSED[kind.name].items())
    period_start = ", CAST(left(period, 4) AS INTEGER) AS period_start" if kind.name == "survival_events" else ""
    return f"""
    WITH t AS (SELECT line_no, {', '.join(texts)}, nonfinite AS nonfinite_t FROM _raw),
    p AS (
      SELECT t.*,
        upper(country_t) AS country,
        upper(country_t) IN (SELECT code FROM _iso3) AS is_iso3,
        s.code AS iccc_sub, s.main AS iccc_main,
        {HELD_FLAG.format(t='t')} AS held_elsewhere,
        {parsed}
      FROM t LEFT JOIN _subs s ON s.lower_code = lower(t.iccc_sub_t)
        {HELD_JOIN.format(t='t')}
    )
    SELECT p.*{period_start},
      count(*) OVER (PARTITION BY {', '.join(_STRATUM[kind.name])}) AS n_same_stratum
    FROM p
    """


def _keys_sql(stratum: str, first: str, count: str) -> str:
    """Sum mod 2**32 of the record keys of tumours `first` .. `first + count - 1` of a row whose
    stratum text is `stratum` (each key: the first 32 bits of SHA-256 over the secret, the stratum
    and the position, as `warehouse.RECORD_KEY_SQL` makes a tumour's)."""
    key = KEY_OF_SQL.format(text=f"{stratum} || '|' || i")
    return (f"CAST(coalesce(list_sum(list_transform(range(CAST({first} AS BIGINT), CAST({first} + {count} AS BIGINT)), "
            f"lambda i: CAST({key} AS UBIGINT))), 0) % {KEY_MODULUS} AS BIGINT)")


def _band_sql() -> str:
    """The five-year age band (`schema.AGE_BANDS`) holding each age group (`schema.AGE_GROUPS`)."""
    bands = {g: next(b for b, b_lo, b_hi in AGE_BANDS if b_lo <= lo and hi <= b_hi) for g, lo, hi in AGE_GROUPS}
    return "CASE age_group_t " + " ".join(f"WHEN '{g}' THEN '{b}'" for g, b in bands.items()) + " END"


#: The cell a tumour's record key is numbered in, the same in both tables of a partner: country,
#: registry, five-year period, sex, age group, ICCC-3 subgroup. Within a cell its tumours with a
#: survival time are numbered 0, 1, ... (case counts: by year, then line; survival events: by stage,
#: follow-up time, then line) and its death-certificate-only ones after them (case counts only), so
#: a set of whole cells (a country, a tumour group, a period ...) has the same key sum in both tables,
#: and a viewer reads one number for it on every page (`analytics.disclosure`).
_CELL = "country, registry_t, period, sex_t, age_group_t, iccc_sub"
_CELL_TEXT = ("'agg|' || country || '|' || coalesce(registry_t, '') || '|' || period || '|' || sex_t || '|' "
              "|| age_group_t || '|' || coalesce(iccc_sub, '')")


def _insert_sql(kind: FileKind) -> str:
    """INSERT of the valid parsed rows (`_parsed`, NOT bad) into the kind's table, with the
    record-key sums of their tumours (numbered within their cell: `_CELL`)."""
    if kind.name == "case_counts":
        return f"""INSERT INTO agg_case_counts
            WITH v AS (
              SELECT *, {PERIOD_SQL.format(year='year')} AS period,
                     cases - coalesce(dco, 0) AS alive_n
              FROM _parsed WHERE NOT bad),
            o AS (
              SELECT *,  -- where the row's tumours with a survival time, and its DCO ones, begin in the cell
                     sum(alive_n) OVER (PARTITION BY {_CELL} ORDER BY year, line_no
                                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS alive_from,
                     sum(alive_n) OVER (PARTITION BY {_CELL})
                       + coalesce(sum(coalesce(dco, 0)) OVER (PARTITION BY {_CELL} ORDER BY year, line_no
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS dco_from
              FROM v)
            SELECT $sid, line_no, country, registry_t, CAST(year AS SMALLINT), period,
                   CAST(sex_t AS TINYINT), age_group_t, {_band_sql()}, iccc_main, iccc_sub,
                   cases, dco, microscopic,
                   CAST(({_keys_sql(_CELL_TEXT, 'coalesce(alive_from, 0)', 'alive_n')}
                         + {_keys_sql(_CELL_TEXT, 'dco_from', 'coalesce(dco, 0)')}) % {KEY_MODULUS} AS BIGINT),
                   {_keys_sql(_CELL_TEXT, 'dco_from', 'coalesce(dco, 0)')},
                   {_keys_sql(_CELL_TEXT, 'coalesce(alive_from, 0)', 'coalesce(microscopic, 0)')}
            FROM o"""
    return f"""INSERT INTO agg_survival_events
        WITH o AS (
          SELECT *, coalesce(sum(deaths + censored) OVER (PARTITION BY {_CELL} ORDER BY stage NULLS LAST, time, line_no
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first
          FROM _parsed WHERE NOT bad)
        SELECT $sid, line_no, country, registry_t, iccc_main, iccc_sub,
               CAST(sex_t AS TINYINT), age_group_t, {_band_sql()}, period, stage, $stage_sent, $unit,
               CAST(time AS INTEGER),
               deaths, censored,
               {_keys_sql(_CELL_TEXT, 'first', 'deaths')}, {_keys_sql(_CELL_TEXT, 'first + deaths', 'censored')}
        FROM o"""


def load(con: duckdb.DuckDBPyConnection, kind: FileKind, sid: str) -> None:
    """Validate `_raw` as a table of `kind`, insert its valid rows into the kind's table and the
    others, with every reason, into `rejected_rows` (inside the caller's transaction)."""
    held(con, kind.name)
    rules = KIND_RULES[kind.name]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _parsed AS
        SELECT *, {rules_fail_sql(rules)} AS bad FROM ({_parse_sql(kind)}) _p""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _parsed AS
        SELECT *, CASE WHEN bad THEN {rules_reasons_sql(rules)} END AS reasons FROM _parsed""")
    total = con.execute(f"SELECT coalesce(sum({'cases' if kind.name == 'case_counts' else 'deaths + censored'}), 0) "
                        "FROM _parsed WHERE NOT bad").fetchone()[0]
    if total > MAX_FILE_TUMOURS:  # each tumour is given a record key: bound the work one file can ask for
        from analytics.ingest import SubmissionError

        raise SubmissionError(f"{kind.label} of {total:,} tumours, more than the {MAX_FILE_TUMOURS:,} one file may "
                              "hold; nothing changed. Split the file (by period or country)")
    con.execute(_insert_sql(kind), {"sid": sid, "ck": cellkey_secret(con), "unit": time_unit(con, kind),
                                    "stage_sent": "stage" in _given(con)}
                if kind.name == "survival_events" else {"sid": sid, "ck": cellkey_secret(con)})
    raw = ", ".join(f'"{c}" := r."{c}"' for c in kind.names)
    con.execute(f"""INSERT INTO rejected_rows
        SELECT $sid, p.line_no, NULL, to_json(struct_pack({raw})), p.reasons
        FROM _parsed p JOIN _raw r USING (line_no) WHERE p.bad
        UNION ALL {MALFORMED_REJECTED_SQL}""", {"sid": sid})


#: The lines the CSV reader could not read as rows (`_malformed`), as rejected rows of submission
#: $sid: one UNION ALL branch of every kind's INSERT INTO rejected_rows.
MALFORMED_REJECTED_SQL = "SELECT $sid, line_no, NULL, to_json({'csv_line': csv_line}), [reason] FROM _malformed"


def _given(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The contract columns the file has (`_given`, written when it is read)."""
    return {r[0] for r in con.execute("SELECT name FROM _given").fetchall()}


def time_unit(con: duckdb.DuckDBPyConnection, kind: FileKind) -> str:
    """The follow-up unit of a survival-events file: its one time column (a file naming two, or
    none, is refused when its header is read)."""
    return next(c for c in kind.one_of[0] if c in _given(con))
