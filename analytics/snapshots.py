"""The warehouse as a series of snapshots: new data while the app serves, and no half-loaded pool.

DuckDB lets one process write a database file, or many processes read it, never both at once
(https://duckdb.org/docs/stable/connect/concurrency). The app reads the warehouse all day, so a
load cannot write the file the app reads. Instead every change (ingest, replace, remove,
population, life table, init, demo) is made on a private copy and then renamed over the
warehouse:

    1. take the writers' lock (`<warehouse>.lock`, an advisory `flock`): loads run one at a time,
       so none is lost by being made on a copy of a pool another load has already replaced;
    2. copy the warehouse to `<warehouse>.new-<pid>-<n>` and open that copy read-write;
    3. make the change, count the new version (`meta.data_version`), checkpoint, close, fsync;
    4. `os.replace` the copy over the warehouse (atomic on POSIX) and fsync the folder.

A reader that opened the warehouse before step 4 keeps reading the old file (its open file
survives the rename); a reader that opens it after step 4 sees the whole new version. A load
killed at any moment (even SIGKILL) leaves the warehouse as it was: at worst a stray
`.new-<pid>-<n>` copy, which the next load removes. The cost is one copy of the warehouse per load
(disk space for two, and the copy's time: about a second per GB).

Readers (`Snapshots`) notice a new version by the file's identity (inode, modification time and
size, one `stat`) and open it beside the old one. A snapshot is opened with ATTACH in a private
in-memory DuckDB rather than with `duckdb.connect(path)`: DuckDB's Python client caches databases
by path, so a second `connect` to the same path would return the old version. Sessions that
started a computation on the old snapshot finish it there; the old one is closed when nothing
uses it any more (Python's garbage collector; no explicit close, which would break their cursors).

`CCOE_DB` and `--db` keep naming "the warehouse": one file, as before.
"""
from __future__ import annotations

import fcntl
import itertools
import os
import re
import shutil
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

_writes = itertools.count(1)

#: The name a snapshot is attached under in its private in-memory database.
ALIAS = "warehouse_snapshot"


class Unchanged(Exception):
    """Raised inside `writing` when there turned out to be nothing to publish: the copy is thrown
    away and the warehouse stays as it was (no error)."""


class WarehouseBusy(RuntimeError):
    """Another load holds the writers' lock and the caller chose not to wait."""


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def version(path: str | Path) -> str:
    """The identity of the warehouse file now at `path` (its path, inode, modification time in ns
    and size): changes with every load, costs one `stat`. Raises FileNotFoundError when there is
    none."""
    st = os.stat(path)
    return f"{Path(path).resolve()}:{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"


@contextmanager
def _writers_lock(path: Path, wait: bool, log) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise WarehouseBusy(f"another load is changing the warehouse {path}; try again when "
                                    "it has finished") from None
            if log:
                log(f"waiting for another load of {path} to finish ...")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock (the kernel does the same when a process dies)


def _held_for_writing(path: Path) -> bool:
    """Whether another process has the warehouse open read-write (DuckDB then holds a write lock
    on the file; readers hold read locks, which do not count). Asked with F_GETLK, which takes no
    lock: closing a descriptor that had taken one would drop this process's other locks on the
    file, the app's own read lock included."""
    fd = os.open(path, os.O_RDONLY)
    try:
        query = struct.pack("hhllhh", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0, 0)  # Linux struct flock
        return struct.unpack("hhllhh", fcntl.fcntl(fd, fcntl.F_GETLK, query))[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def _remove_strays(path: Path) -> None:
    """Copies left by loads that were killed (only the lock holder writes copies, so with the
    lock held every copy is a stray)."""
    for stray in path.parent.glob(path.name + ".new-*"):
        stray.unlink(missing_ok=True)


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def writing(path: str | Path, *, wait: bool = True, log=None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to a private copy of the warehouse at `path` (created, with its
    reference data, when there is none), which replaces the warehouse when the block ends
    without an exception, and is thrown away when it raises: the change lands whole or not at
    all, while readers keep reading. The block must record the change in the audit log
    (`analytics.audit.record`), or nothing is published. With `wait=False`, raises `WarehouseBusy` instead of waiting
    for another load. `log(text)` hears about waiting."""
    from analytics import warehouse

    path = Path(path)
    with _writers_lock(path, wait, log):
        _remove_strays(path)
        if path.exists() and _held_for_writing(path):
            # Not the app, not a load of ours: a program that writes the file in place. A copy
            # made now could miss its changes, and its later changes would go to the old file.
            raise WarehouseBusy(f"the warehouse {path} is held by another program that opened it for "
                                "writing (not the app, and not a load of this project: they let each "
                                "other work); stop that program and try again")
        if path.with_name(path.name + ".wal").exists():
            # Left by a program that wrote the warehouse in place and was stopped before closing
            # it: replay it in place first (needs the warehouse to itself), or its changes would
            # be lost in the copy.
            try:
                duckdb.connect(str(path)).close()
            except duckdb.IOException as e:
                raise WarehouseBusy(f"the warehouse {path} has unfinished changes from a program that is "
                                    "still writing it in place; stop that program and load again") from e
        # Unique per write, not only per process: DuckDB caches open databases by path, and the
        # app may write several times in one process.
        copy = path.with_name(f"{path.name}.new-{os.getpid()}-{next(_writes)}")
        if path.exists():
            shutil.copyfile(path, copy)
        try:
            con = warehouse.connect(copy)
            try:
                try:
                    yield con
                except Unchanged:
                    return
                if not recorded(con):
                    raise RuntimeError("a change without its audit entry (analytics.audit.record) "
                                       "is not published")
                con.execute("""INSERT OR REPLACE INTO meta
                               SELECT 'data_version', CAST(coalesce(max(TRY_CAST(value AS BIGINT)), 0) + 1 AS VARCHAR)
                               FROM meta WHERE key = 'data_version'""")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            _fsync(copy)
            os.replace(copy, path)
            _fsync(path.parent, directory=True)
        finally:
            for leftover in (copy, copy.with_name(copy.name + ".wal")):
                leftover.unlink(missing_ok=True)


def recorded(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the change being written on `con` (inside `writing`) has its audit entry yet."""
    return bool(con.execute("SELECT 1 FROM audit_log WHERE data_version = ?",
                            [data_version(con) + 1]).fetchone())


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    """How many changes made the warehouse `con` reads (0 for one written in place only)."""
    row = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
    return int(row[0]) if row else 0


@dataclass(eq=False)
class Snapshot:
    """One version of the warehouse, open read-only. `version` is the file identity it was
    opened under (the key of every cached result computed from it); `cursor()` gives a
    connection of its own (one per use or thread), reading this version however many loads
    happen meanwhile."""

    path: Path
    version: str
    _con: duckdb.DuckDBPyConnection

    @classmethod
    def open(cls, path: str | Path) -> "Snapshot":
        path = Path(path)
        token = version(path)  # before opening: a load in between gives a newer file under an older
        # token, which the next check replaces; the reverse would serve old data as new
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit()}'")
        con.execute(f"ATTACH ? AS {ALIAS} (READ_ONLY)", [str(path)])
        con.execute(f"USE {ALIAS}")
        from analytics import warehouse

        if not warehouse.is_current(con):  # made before record keys or the audit log: upgrade, reopen
            con.close()
            warehouse.upgrade(path, who="the app (automatic upgrade)")
            return cls.open(path)
        return cls(path, token, con)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return cursor(self._con)


#: DuckDB's memory for a snapshot's connection (the app's reads), unless CCOE_DUCKDB_MEMORY says
#: otherwise. DuckDB keeps the blocks of the warehouse it has read in its buffer pool, which by
#: default may grow to 80% of the machine: at 12 million tumours a server touring the pages grew
#: past 3 GB (benchmarks/page_benchmark.py); with 1 GB it stays under 2 GB, as fast.
DEFAULT_MEMORY = "1GB"
_MEMORY = re.compile(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def memory_limit() -> str:
    """CCOE_DUCKDB_MEMORY (e.g. '1GB', '512MB'), or `DEFAULT_MEMORY`; ValueError naming the variable
    for anything else."""
    value = os.environ.get("CCOE_DUCKDB_MEMORY", "").strip() or DEFAULT_MEMORY
    if not _MEMORY.fullmatch(value):
        raise ValueError(f"CCOE_DUCKDB_MEMORY={value!r}: give a size such as 1GB or 512MB")
    return value


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor on `con` reading the same database: for a snapshot (attached under `ALIAS`)
    that means `USE` on the new cursor, which DuckDB does not inherit; for a warehouse opened
    directly, nothing more."""
    cur = con.cursor()
    if cur.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [ALIAS]).fetchone():
        cur.execute(f"USE {ALIAS}")
    return cur


class Snapshots:
    """The newest snapshot of the warehouse at `path`, reopened when a load has replaced it.
    Thread-safe: every session of the app shares one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._current: Snapshot | None = None

    def current(self) -> Snapshot:
        """The snapshot to start a computation on (one `stat` when nothing changed)."""
        token = version(self.path)
        with self._lock:
            if self._current is None or self._current.version != token:
                self._current = Snapshot.open(self.path)  # the old one lives while anyone reads it
            return self._current

