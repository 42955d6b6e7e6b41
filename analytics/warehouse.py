"""The DuckDB warehouse: opening it, creating its tables. The only module that knows table layouts.

Tables:
    submissions    one row per loaded file: provenance and row accounting
    cases          accepted tumours with derived fields (layout from schema.CASE_COLUMNS)
    rejected_rows  one row per rejected input row: line, raw values (JSON), every reason
    iccc_rules     the ICCC-3 definition, expanded to ranges (reference; ingest uses it)
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from analytics import iccc
from analytics.schema import CASE_COLUMNS, SCHEMA_VERSION

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "warehouse.duckdb"

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
        CHECK (rows_read = rows_loaded + rows_rejected)
    )""",
    "CREATE TABLE IF NOT EXISTS cases (\n    "
    + ",\n    ".join(f"{c.name} {c.sql_type}" for c in CASE_COLUMNS)
    + "\n)",
    """CREATE TABLE IF NOT EXISTS rejected_rows (
        submission_id VARCHAR NOT NULL,
        line_no BIGINT NOT NULL,
        case_id VARCHAR,
        raw VARCHAR NOT NULL,
        reasons VARCHAR[] NOT NULL
    )""",
]


def connect(path: str | Path | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path` (default data/warehouse.duckdb), creating and initialising it
    when it does not exist yet. Read-only connections never create anything."""
    path = Path(path) if path is not None else DEFAULT_DB
    if read_only:
        if not path.exists():
            raise FileNotFoundError(f"warehouse {path} does not exist; build it with "
                                    f"`python -m analytics demo` or `python -m analytics init`")
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    initialise(con)
    return con


def initialise(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables; idempotent."""
    for ddl in _DDL:
        con.execute(ddl)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
    if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'iccc_rules'"
                       ).fetchall():
        iccc.install_rules(con, temp=False)
