"""Streamlit glue shared by the pages: the cached warehouse connection and the common notices.

Pages stay thin: widgets and URL state in, an `analytics` call, a figure or table out.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from analytics import overview, suppression, warehouse

SYNTHETIC_NOTICE = ("Synthetic demonstration data: these cases are simulated (calibrated to published "
                    "figures) and are not real patients or real outcomes.")


def db_path() -> Path:
    """The warehouse the app reads: $CCOE_DB, else data/warehouse.duckdb."""
    return Path(os.environ.get("CCOE_DB") or warehouse.DEFAULT_DB)


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    return warehouse.connect(path, read_only=True)


def connection() -> duckdb.DuckDBPyConnection:
    """A cursor on the one cached read-only connection (a cursor per use keeps threads apart)."""
    return _connection(str(db_path())).cursor()


@st.cache_data(show_spinner=False, ttl=60)
def pool_summary(path: str) -> dict:
    return overview.summary(_connection(path).cursor())


def page_header(title: str) -> dict:
    """Title plus the notices every page carries; returns the pool summary."""
    st.title(title)
    path = db_path()
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Build it with `python -m analytics demo` "
                 f"(or start the app with `python3 dev.py run`, which does it for you).")
        st.stop()
    info = pool_summary(str(path))
    if info["synthetic"]:
        st.warning(SYNTHETIC_NOTICE, icon="⚠️")
    return info


#: Display names of result columns (CSV downloads keep the machine-readable names).
LABELS = {
    "iccc_main": "ICCC-3 group", "name": "Name", "cases": "Tumours (n)", "country": "Country",
    "first_year": "First year", "last_year": "Last year", "person_years": "Person-years (ages 0-19)",
    "submission_id": "Submission", "file_name": "File", "rows_read": "Rows read",
    "rows_loaded": "Loaded", "rows_rejected": "Rejected", "rows_unclassified": "Unclassified",
    "synthetic": "Synthetic", "loaded_at": "Loaded at (UTC)", "sha256_prefix": "SHA-256 (start)",
    "schema_version": "Schema", "iccc_version": "ICCC version", "reason": "Reason", "rows": "Rows",
}


def table(df: pd.DataFrame, file_name: str, **kw) -> None:
    """A table with readable headers and a CSV download of the same rows (machine-readable
    headers; the synthetic-data notice as a '#' header comment that pandas' comment='#' skips).
    Suppressed cells read "suppressed, fewer than N cases" in a note column."""
    shown = df
    if "suppressed" in df.columns:
        shown = df.drop(columns="suppressed")
        if df["suppressed"].any():
            shown = shown.assign(note=df["suppressed"].map({True: suppression.notice(), False: ""}))
    config = {c: st.column_config.Column(LABELS.get(c, c.replace("_", " ").capitalize()))
              for c in shown.columns}
    for c in shown.columns:
        if c in ("cases", "person_years", "rows", "rows_read", "rows_loaded", "rows_rejected"):
            config[c] = st.column_config.NumberColumn(LABELS.get(c, c), format="localized")
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kw)
    info = pool_summary(str(db_path()))
    header = f"# {SYNTHETIC_NOTICE}\n" if info["synthetic"] else ""
    st.download_button("Download CSV", header + df.to_csv(index=False), file_name=file_name,
                       mime="text/csv", key=f"dl-{file_name}")
