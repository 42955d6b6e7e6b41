"""The DuckDB warehouse: opening it, creating its tables. The only module that knows table layouts.

Tables:
    submissions    one row per loaded file: provenance and row accounting (rows_read = rows_loaded +
                   rows_rejected; rows_blank: blank lines and rows of only delimiters, skipped;
                   kind: cases, case_counts or survival_events)
    cases          accepted tumours with derived fields (layout from schema.CASE_COLUMNS)
    agg_case_counts, agg_survival_events
                   aggregate submissions: tumours counted per stratum, deaths and censorings per
                   stratum and follow-up time (schema.AGG_*_COLUMNS; analytics.ingest_tables)
    rejected_rows  one row per rejected input row: line, raw values (JSON), every reason
    iccc_rules     the ICCC-3 definition the warehouse was last classified by, expanded to ranges
                   (reference: ingest classifies with a scratch copy of the same rules)
    population     person-years by country, calendar year, sex and age group (denominators)
    standard_population  weights of the world/European standard populations by age group
    life_table     all-cause mortality (mx, qx) by country, calendar year, sex, single year of age
    audit_log      every change: who, when, what, file name and SHA-256, rows (analytics.audit)
    meta           schema_version, cellkey_secret, data_version (changes made: analytics.snapshots),
                   iccc_version (the ICCC-3 version new submissions are classified by, once
                   `python -m analytics reclassify` chose one; absent: iccc.DEFAULT_VERSION)

Each submission records the ICCC-3 version that classified its tumours (`submissions.iccc_version`);
a warehouse made before the 2023 update says "ICCC-3/IARC 2017" there, which is still a version
the code knows (`iccc.VERSIONS`), so it reads as it is and needs no upgrade.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics import iccc
from analytics.schema import (AGG_CASE_COUNT_COLUMNS, AGG_SURVIVAL_EVENT_COLUMNS, CASE_COLUMNS, FILE_KINDS,
                             SCHEMA_VERSION)

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "warehouse.duckdb"

def _table(name: str, columns) -> str:
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    " + ",\n    ".join(
        f"{c.name} {c.sql_type}" for c in columns) + "\n)"


_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS submissions (
        submission_id VARCHAR PRIMARY KEY,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        file_format VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        rows_unclassified BIGINT NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        schema_version VARCHAR NOT NULL,
        iccc_version VARCHAR NOT NULL,
        synthetic BOOLEAN NOT NULL,
        rows_blank BIGINT NOT NULL DEFAULT 0,
        CHECK (rows_read = rows_loaded + rows_rejected)
    )""",
    # rows_blank (blank lines and rows of only delimiters, skipped) came after schema 1.0's first
    # warehouses: added in place, so an existing warehouse keeps working.
    "ALTER TABLE submissions ADD COLUMN IF NOT EXISTS rows_blank BIGINT DEFAULT 0",
    _table("cases", CASE_COLUMNS),
    # Aggregate submissions (issue 14): tables instead of rows, one row per stratum (and time).
    _table("agg_case_counts", AGG_CASE_COUNT_COLUMNS),
    _table("agg_survival_events", AGG_SURVIVAL_EVENT_COLUMNS),
    # kind: which kind of file a submission was (schema.FILE_KINDS); added after the first
    # warehouses, in place.
    "ALTER TABLE submissions ADD COLUMN IF NOT EXISTS kind VARCHAR DEFAULT 'cases'",
    # sex: 0 = both sexes combined (WPP), 1 male, 2 female (a partner's own denominators).
    # age_group: five-year bands '0-4' ... '15-19', and '0', '1-4' where a source gives them.
    """CREATE TABLE IF NOT EXISTS population (
        country VARCHAR NOT NULL,
        year SMALLINT NOT NULL,
        sex TINYINT NOT NULL,
        age_group VARCHAR NOT NULL,
        person_years DOUBLE NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (country, year, sex, age_group)
    )""",
    # weight: as published (per 100,000 of the standard); renormalise over the ages used.
    """CREATE TABLE IF NOT EXISTS standard_population (
        standard VARCHAR NOT NULL,
        age_group VARCHAR NOT NULL,
        weight DOUBLE NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (standard, age_group)
    )""",
    # sex: 1 male, 2 female; age: single years 0..110 (110 = 110+); mx, qx as in HMD 1x1 tables.
    """CREATE TABLE IF NOT EXISTS life_table (
        country VARCHAR NOT NULL,
        year SMALLINT NOT NULL,
        sex TINYINT NOT NULL,
        age SMALLINT NOT NULL,
        mx DOUBLE NOT NULL,
        qx DOUBLE NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (country, year, sex, age)
    )""",
    """CREATE TABLE IF NOT EXISTS rejected_rows (
        submission_id VARCHAR NOT NULL,
        line_no BIGINT NOT NULL,
        case_id VARCHAR,
        raw VARCHAR NOT NULL,
        reasons VARCHAR[] NOT NULL
    )""",
    # Append-only (analytics.audit inserts; nothing updates or deletes): hash chains each entry
    # to the one before it.
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY,
        at_utc TIMESTAMP NOT NULL,
        who VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        what VARCHAR NOT NULL,
        file_name VARCHAR,
        sha256 VARCHAR,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        data_version BIGINT NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL
    )""",
]


#: (submission_id, country, registry) of everything loaded, rows and aggregate tables: what a
#: submission holds (its countries, its replacement scope).
SCOPE_SQL = " UNION ALL ".join(
    f"SELECT DISTINCT submission_id, country, registry FROM {k.table}" for k in FILE_KINDS.values())


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on `con`: committed when the block ends, rolled back (and the error raised
    again) when it raises, interruptions included."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (default data/warehouse.duckdb), creating and initialising it
    when it does not exist yet. Read-only connections never create anything; a warehouse made
    before record keys existed is given them first (one read-write open), since no page may show
    a count without them."""
    path = Path(path) if path is not None else DEFAULT_DB
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"warehouse {path} does not exist; build it with "
                                    f"`python -m analytics demo` or `python -m analytics init`")
        con = duckdb.connect(str(path), read_only=True)
        if is_current(con):
            return con
        con.close()
        upgrade(path)
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    con = duckdb.connect(str(path))
    initialise(con)
    if not existed:
        try:
            load_reference(con)
        except BaseException:
            # A warehouse without its denominators must not be left behind looking ready.
            con.close()
            for leftover in (path, path.with_name(path.name + ".wal")):
                leftover.unlink(missing_ok=True)
            raise
    return con


def upgrade(path: Path, who: str | None = None) -> None:
    """Give a warehouse made before record keys or the audit log existed what it lacks (one write,
    as a new snapshot: `analytics.snapshots.writing`): no page may show a count without record
    keys, and every change from now on is logged."""
    from analytics import audit, snapshots

    try:
        with snapshots.writing(path) as con:
            audit.record(con, who=who or audit.command_line_user(), action="upgrade",
                         what="warehouse brought up to date (record keys, audit log, aggregate tables, "
                              "cause of death)")
    except duckdb.Error as e:
        raise RuntimeError(f"warehouse {path} predates disclosure control and could not be "
                           f"upgraded ({e}); run `python -m analytics init --db {path}` once") from e


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse `con` reads has everything a reader needs: disclosure control's
    record keys, the audit log and the aggregate tables (a warehouse made before any of them is
    upgraded once: `upgrade`). The cause of death is not needed: a reader of a warehouse made
    before it takes every death's cause as unknown (`cause_of_death_sql`), and the next write adds
    the column."""
    return _has_record_keys(con) and con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name IN "
        "('audit_log', 'agg_case_counts', 'agg_survival_events')").fetchone()[0] == 3


#: SQL of a tumour's record key (`cases.record_key`): the first 32 bits of SHA-256 over the
#: warehouse's secret ($ck), country, registry and case id. Derived from identity, not drawn at
#: random, so that a corrected extract loaded again gives the same tumours the same keys (and the
#: same cells the same noise). DuckDB has no HMAC; a secret prefix suffices, as no hash is shown.
#: The key of a text (`{text}`: SQL) under the secret: the first 32 bits of SHA-256. Every record key
#: is made with it: a tumour's from its identity (below), an aggregate partner's tumour's from its
#: cell and number (`analytics.ingest_tables`).
KEY_OF_SQL = "CAST('0x' || left(sha256($ck || '|' || {text}), 8) AS UINTEGER)"
RECORD_KEY_SQL = KEY_OF_SQL.replace("{text}", "{country} || '|' || coalesce({registry}, '') || '|' || {case_id}")


def cellkey_secret(con: duckdb.DuckDBPyConnection) -> str:
    """The warehouse's cell-key secret (made by `initialise`: CCOE_CELLKEY_SECRET if set when
    the warehouse is created, so that tests and demos perturb reproducibly, else random)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'cellkey_secret'").fetchone()
    if row is None:
        raise RuntimeError("this warehouse has no cell-key secret; open it read-write once")
    return row[0]


def _has_record_keys(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("""SELECT 1 FROM information_schema.columns
                               WHERE table_name = 'cases' AND column_name = 'record_key'""").fetchall())


def _add_record_keys(con: duckdb.DuckDBPyConnection) -> None:
    """The secret, the column and the keys of a warehouse that lacks them (idempotent, cheap when
    present)."""
    import os
    import secrets

    if con.execute("SELECT 1 FROM meta WHERE key = 'cellkey_secret'").fetchone() is None:
        secret = os.environ.get("CCOE_CELLKEY_SECRET") or secrets.token_hex(32)
        con.execute("INSERT INTO meta VALUES ('cellkey_secret', ?)", [secret])
    if not _has_record_keys(con):
        con.execute("ALTER TABLE cases ADD COLUMN record_key UINTEGER")
        key = RECORD_KEY_SQL.format(country="country", registry="registry", case_id="case_id")
        con.execute(f"UPDATE cases SET record_key = {key}", {"ck": cellkey_secret(con)})


def cause_of_death_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of a tumour's cause of death in `cases`: the column, or, in a warehouse made before it
    (read-only: not upgraded), 9 (unknown) for every death."""
    return "cause_of_death" if _has_cause_of_death(con) else "CASE WHEN event = 1 THEN 9 END"


def _has_cause_of_death(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("""SELECT 1 FROM information_schema.columns
                               WHERE table_name = 'cases' AND column_name = 'cause_of_death'""").fetchall())


def _add_cause_of_death(con: duckdb.DuckDBPyConnection) -> None:
    """The cause-of-death column (issue 15) of a warehouse made before it: added in place, its
    deaths' cause unknown (9), as a death sent without one is."""
    if not _has_cause_of_death(con):
        con.execute("ALTER TABLE cases ADD COLUMN cause_of_death TINYINT")
        con.execute("UPDATE cases SET cause_of_death = 9 WHERE event = 1")


def load_reference(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Load the reference data shipped with the code: WPP 2022 denominators (`population`),
    the standard populations and the HMD USA life tables (see analytics/reference/README.md).

    Called by `connect` for a new warehouse only (an existing one opens fast). Fills gaps only:
    a partner's replacement denominators or life tables are kept. Returns rows inserted per table."""
    from analytics import reference

    return reference.install(con)


def initialise(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables; idempotent. Gives the warehouse its cell-key secret and its tumours
    their record keys when it has none yet (a warehouse made before disclosure control)."""
    for ddl in _DDL:
        con.execute(ddl)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    _add_record_keys(con)
    _add_cause_of_death(con)
    if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'iccc_rules'"
                       ).fetchall():
        iccc.install_rules(con, temp=False)
