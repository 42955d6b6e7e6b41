"""Where the warehouse is, and the snapshot of it that a script run reads.

A load never stops the app: it writes a new version of the warehouse beside the one being read
and renames it into place (`analytics.snapshots`). Every run of a page starts by pinning the
newest version (`pin_snapshot`, called by app.py), reads only that version from first widget to
last figure, and caches its results under that version (`ui.cache`): a session sees a new pool
on its next interaction, never half of one, and a computation begun on the old pool finishes on
it.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import streamlit as st

from analytics import snapshots, warehouse

_run = threading.local()  # the snapshot pinned by this script run (Streamlit runs a script in one thread)


def db_path() -> Path:
    """The warehouse the app reads: $CCOE_DB, else data/warehouse.duckdb."""
    return Path(os.environ.get("CCOE_DB") or warehouse.DEFAULT_DB)


@st.cache_resource(show_spinner=False)
def _snapshots(path: str) -> snapshots.Snapshots:
    """The newest snapshot of the warehouse at `path`, shared by every session."""
    return snapshots.Snapshots(path)


def pin_snapshot() -> None:
    """Pin the newest warehouse version for the rest of this script run (app.py, first thing).
    Does nothing when there is no warehouse yet (the page header says so)."""
    path = db_path()
    _run.snapshot = _snapshots(str(path)).current() if path.exists() else None


def release_snapshot() -> None:
    """Forget this run's snapshot when the run ends (app.py), so that an idle session does not
    keep a replaced warehouse file open (its disk space is freed when no one reads it)."""
    _run.snapshot = None


def snapshot() -> snapshots.Snapshot:
    """The warehouse version this script run reads (the newest one when the run pinned none)."""
    pinned = getattr(_run, "snapshot", None)
    if pinned is not None and pinned.path == db_path():
        return pinned
    return _snapshots(str(db_path())).current()


def connection() -> duckdb.DuckDBPyConnection:
    """A cursor on this run's snapshot (a cursor per use keeps threads apart)."""
    return snapshot().cursor()
