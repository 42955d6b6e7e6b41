"""The audit log: every change to the warehouse, who made it, when, and from which file.

One row per change (a loaded, replaced or removed submission; a population or life-table import;
`init`; each country of the demo; a re-classification by an ICCC-3 version), written in the same
snapshot as the change itself (`analytics.snapshots.writing` refuses to publish a change that has
no entry), so the log holds an entry exactly when the change landed.

Append-only: rows are only ever inserted, by `record`. Each carries the SHA-256 of the row before
it and its own (over its fields and that hash), so a row deleted or edited afterwards breaks the
chain, which `verify` finds (`python -m analytics audit --verify`).

Who: the signed-in identity for the browser, `command line (OS user)` for the command line.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

#: What a change can be (the `action` column).
ACTIONS = ("ingest", "replace", "remove", "population", "lifetable", "init", "demo", "upgrade", "reclassify")

#: The log's columns in order (the table itself is made by `analytics.warehouse`).
COLUMNS = ("seq", "at_utc", "who", "action", "what", "file_name", "sha256", "rows_read", "rows_loaded",
           "rows_rejected", "data_version", "prev_hash", "hash")


def command_line_user() -> str:
    """The command line's identity: `command line (OS user)`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"command line ({user})"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(fields: dict, prev_hash: str) -> str:
    body = json.dumps({k: fields[k] for k in COLUMNS if k not in ("prev_hash", "hash")},
                      sort_keys=True, default=str)
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


def record(con: duckdb.DuckDBPyConnection, *, who: str, action: str, what: str,
           file_name: str | None = None, sha256: str | None = None, rows_read: int | None = None,
           rows_loaded: int | None = None, rows_rejected: int | None = None) -> None:
    """Append one entry for a change being made on `con` (inside `snapshots.writing`)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if not who:
        raise ValueError("an audit entry needs who made the change")
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, "")
    from analytics.snapshots import data_version

    fields = {"seq": seq, "at_utc": datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
              "who": who, "action": action, "what": what, "file_name": file_name, "sha256": sha256,
              "rows_read": _int(rows_read), "rows_loaded": _int(rows_loaded), "rows_rejected": _int(rows_rejected),
              "data_version": data_version(con) + 1, "prev_hash": prev_hash}
    fields["hash"] = _digest(fields, prev_hash)
    con.execute(f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [fields[c] for c in COLUMNS])


def _int(n) -> int | None:
    return None if n is None else int(n)  # numpy integers would hash as text, but read back as int


def entries(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The whole log, oldest first."""
    return con.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq").df()


def verify(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Where the chain is broken (an entry edited, deleted or inserted out of turn); empty when
    the log is whole."""
    problems, prev = [], ""
    for i, row in enumerate(con.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq").fetchall(), 1):
        fields = dict(zip(COLUMNS, row))
        if fields["seq"] != i:
            problems.append(f"entry {i} is missing (the next is number {fields['seq']})")
            break
        if fields["prev_hash"] != prev or _digest(fields, prev) != fields["hash"]:
            problems.append(f"entry {i} ({fields['action']} {fields['what']}) does not match its hash: "
                            "it, or one before it, was changed")
            break
        prev = fields["hash"]
    return problems


# --- the entries of each kind of change (the command line and the upload page share them) -------

def _countries(con: duckdb.DuckDBPyConnection, submission_id: str) -> str:
    from analytics.warehouse import SCOPE_SQL

    rows = con.execute(f"SELECT DISTINCT country FROM ({SCOPE_SQL}) WHERE submission_id = ? ORDER BY 1",
                       [submission_id]).fetchall()
    return ", ".join(r[0] for r in rows) or "no tumours loaded"


def record_ingest(con: duckdb.DuckDBPyConnection, report, path: str | Path, who: str,
                  action: str | None = None) -> None:
    """The entry of a loaded file (`analytics.ingest.IngestReport`): `replace` when it replaced
    an earlier submission."""
    what = f"submission {report.submission_id} ({_countries(con, report.submission_id)})"
    if report.replaced:
        what += f"; replaced {', '.join(report.replaced)}"
    record(con, who=who, action=action or ("replace" if report.replaced else "ingest"), what=what,
           file_name=report.file_name, sha256=report.sha256, rows_read=report.rows_read,
           rows_loaded=report.rows_loaded, rows_rejected=report.rows_rejected)


def record_removal(con: duckdb.DuckDBPyConnection, submission_id: str, removal, who: str,
                   kind: str = "cases") -> None:
    """The entry of a removed submission (`analytics.ingest.Removal`) of `kind` (schema.FILE_KINDS)."""
    from analytics.ingest import loaded_words

    what = (f"submission {submission_id}: removed its {loaded_words(kind, removal.loaded)} and "
            f"{removal.rejected:,} rejected rows")
    if removal.readmitted:
        what += "; re-admitted " + ", ".join(f"{n} from {s}" for s, n in removal.readmitted.items())
    record(con, who=who, action="remove", what=what, rows_loaded=removal.loaded, rows_rejected=removal.rejected)
