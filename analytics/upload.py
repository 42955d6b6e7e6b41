"""A data manager's file from the browser: received safely, checked, then loaded.

The browser path runs the command line's code (`analytics.access.ingest`, which calls
`analytics.ingest.ingest_file`) on a new warehouse version (`analytics.snapshots.writing`); only
receiving the file is its own:

- `stage` keeps the upload under a name of our making (the file's own name cut to its last part,
  letters, digits, `.`, `-` and `_` only), refuses more than `MAX_UPLOAD_BYTES` and any type but
  CSV or Parquet (nor a Parquet file the ingest would refuse), and never lets the name choose a
  folder;
- `check` loads it on a copy that is then thrown away, to show the row accounting, the rejected
  rows and what a load would replace, before anything changes;
- `load` and `remove` make the change, as `who`, audited.
"""
from __future__ import annotations

import io
import re
import shutil
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analytics import access, snapshots

#: The largest file accepted from the browser (bytes). Streamlit's own limit
#: (`server.maxUploadSize`, in MB, .streamlit/config.toml) is set to the same.
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
SUFFIXES = (".csv", ".parquet")
#: A partner's person-years (CSV) and an HMD 1x1 life table (text), as the command line reads them.
POPULATION_SUFFIXES = (".csv",)
LIFETABLE_SUFFIXES = (".txt", ".csv")

STAGING = Path(tempfile.gettempdir()) / "ccoe-uploads"


class UploadError(ValueError):
    """The upload is refused before it is read; the message is one sentence for the user."""


def safe_file_name(name: str, suffixes: tuple[str, ...] = SUFFIXES) -> str:
    """The uploaded file's name made safe to store and show: its last path part only (no folder
    can be named, `..` or otherwise), control and other characters replaced by `_`, at most 100
    characters; it must end in one of `suffixes` (a submission's: .csv or .parquet)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKC", base)
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    stem, dot, suffix = base.rpartition(".")
    if not dot or f".{suffix.lower()}" not in suffixes or not stem.strip("._-"):
        if suffixes == SUFFIXES:
            raise UploadError(f"{_shown(name)} is not a CSV or Parquet file: a submission's name ends in "
                              ".csv or .parquet")
        raise UploadError(f"{_shown(name)} is not a file of this kind: its name ends in {' or '.join(suffixes)}")
    return f"{stem[:90]}.{suffix.lower()}"


def _shown(name: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in (name or ""))
    return repr(text if len(text) <= 60 else text[:57] + "...")


def stage(name: str, data: bytes, directory: str | Path | None = None,
          suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """Keep an uploaded file (`name` as the browser sent it, `data` its bytes) for checking and
    loading, in a folder of its own; raises UploadError for what cannot be a submission (or, with
    other `suffixes`, a population file or a life table: `POPULATION_SUFFIXES`, `LIFETABLE_SUFFIXES`)."""
    safe = safe_file_name(name, suffixes)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{safe} is {len(data) / 2**20:,.0f} MB; the largest file accepted here is "
                          f"{MAX_UPLOAD_BYTES // 2**20} MB (load larger ones from the command line)")
    if not data.strip():
        raise UploadError(f"{safe} is empty")
    if data[:2] == b"\x1f\x8b" or data[:4] == b"PK\x03\x04":
        raise UploadError(f"{safe} is a compressed archive (gzip or zip); upload the CSV or Parquet "
                          "file itself")
    if safe.endswith(".parquet"):
        _check_parquet(safe, data)
    folder = Path(directory or STAGING) / uuid.uuid4().hex
    folder.mkdir(parents=True, mode=0o700)
    path = folder / safe
    path.write_bytes(data)
    return path


def _check_parquet(name: str, data: bytes) -> None:
    """The ingest's own Parquet checks (`analytics.ingest.check_parquet`: nested columns, values
    that would expand beyond its limit), before the file is kept."""
    from analytics.ingest import SubmissionError, check_parquet

    try:
        check_parquet(io.BytesIO(data), name)
    except SubmissionError as e:
        raise UploadError(str(e)) from None


def discard(path: Path) -> None:
    """Remove a staged upload and its folder."""
    shutil.rmtree(path.parent, ignore_errors=True)


@dataclass
class Outcome:
    """What a check or a load found: the ingest report, the submission's countries, what it
    replaces (submission -> tumours), and its rejected rows with every reason."""

    report: object
    countries: list[str]
    replaces: dict[str, int] = field(default_factory=dict)
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)


def _outcome(con, who: access.Principal, path: Path, name: str | None, replace: bool) -> Outcome:
    before = {sid: n for sid, n in con.execute("SELECT submission_id, rows_loaded FROM submissions").fetchall()}
    report = access.ingest(con, who, path, name=name, replace=replace)
    countries = sorted(access.submission_countries(con).get(report.submission_id, ()))
    return Outcome(report, countries, {sid: before.get(sid, 0) for sid in report.replaced},
                   access.rejected_rows(con, who, report.submission_id))


def check(db: str | Path, who: access.Principal, path: Path, name: str | None = None,
          replace: bool = False) -> Outcome:
    """Load the staged file on a copy of the warehouse that is then thrown away: what a load
    would do, with nothing changed. Raises what a load would raise (SubmissionError,
    PermissionDenied)."""
    found = []
    with snapshots.writing(db) as con:
        found.append(_outcome(con, who, path, name, replace))
        raise snapshots.Unchanged
    return found[0]


def load(db: str | Path, who: access.Principal, path: Path, name: str | None = None,
         replace: bool = False) -> Outcome:
    """Load the staged file as `who`: a new warehouse version, audited."""
    with snapshots.writing(db) as con:
        return _outcome(con, who, path, name, replace)


def remove(db: str | Path, who: access.Principal, submission_id: str):
    """Remove a submission as `who`: a new warehouse version, audited."""
    with snapshots.writing(db) as con:
        return access.remove(con, who, submission_id)


def load_population(db: str | Path, who: access.Principal, path: Path):
    """Load a staged population file as `who` (`access.population`: an admin, or the data manager of
    every country in it): read and validated first (ReferenceFileError names the problem, nothing
    changed), then a new warehouse version, audited. Returns the `PopulationReport`."""
    from analytics.reference.population import read_population_file

    pf = read_population_file(path)
    with snapshots.writing(db) as con:
        return access.population(con, who, pf, path)


def load_lifetable(db: str | Path, who: access.Principal, path: Path, country: str, sex: int):
    """Load a staged HMD-format life table of `country` and `sex` (1, 2) as `who`
    (`access.lifetable`), as `load_population`. Returns (the `LifeTable`, rows replaced)."""
    from analytics.reference.lifetable import read_life_table_file

    table = read_life_table_file(path, country, sex)
    with snapshots.writing(db) as con:
        return table, access.lifetable(con, who, table, path)
