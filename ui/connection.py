"""Where the warehouse is and the one read-only connection to it that every session shares."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import streamlit as st

from analytics import warehouse


def db_path() -> Path:
    """The warehouse the app reads: $CCOE_DB, else data/warehouse.duckdb."""
    return Path(os.environ.get("CCOE_DB") or warehouse.DEFAULT_DB)


@st.cache_resource(show_spinner=False)
def shared_connection(path: str) -> duckdb.DuckDBPyConnection:
    """The read-only connection to the warehouse at `path`, opened once for every session: take
    a cursor per use (`connection()`, or `.cursor()` on it)."""
    return warehouse.connect(path, read_only=True)


def connection() -> duckdb.DuckDBPyConnection:
    """A cursor on the one cached read-only connection (a cursor per use keeps threads apart)."""
    return shared_connection(str(db_path())).cursor()
