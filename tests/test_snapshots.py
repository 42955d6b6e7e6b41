"""Loads without downtime (analytics.snapshots) and the audit log (analytics.audit).

A load writes a copy of the warehouse and renames it into place: readers keep their version until
they ask for the newest, a load killed at any moment leaves the previous version, two loads at
once both land, and every change has its entry in a hash-chained, append-only audit log."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from analytics import audit, snapshots, warehouse
from analytics.cli import main
from tests.conftest import ROOT, random_rows, write_csv

ENV = {**os.environ, "CCOE_CELLKEY_SECRET": "ccoe-test-suite"}


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "analytics", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def count(con, sql: str = "SELECT count(*) FROM cases") -> int:
    return con.execute(sql).fetchone()[0]


@pytest.fixture
def pool(tmp_path) -> Path:
    """A warehouse with one submission (300 tumours in FRA, DEU and KEN), loaded as a user would."""
    db = tmp_path / "w.duckdb"
    f = write_csv(tmp_path / "first.csv", random_rows(300))
    assert main(["ingest", str(f), "--db", str(db)]) == 0
    return db


def test_a_load_publishes_a_new_version_while_readers_keep_theirs(pool, tmp_path, capsys):
    shots = snapshots.Snapshots(pool)
    old = shots.current()
    reading = old.cursor()
    assert count(reading) == 300 and shots.current() is old  # nothing changed: the same snapshot

    f = write_csv(tmp_path / "GBR.csv", random_rows(200, seed=2, countries=("GBR",)))
    assert main(["ingest", str(f), "--db", str(pool)]) == 0
    assert count(reading) == 300  # a computation begun on the old version finishes on it
    new = shots.current()
    assert new is not old and new.version != old.version
    assert count(new.cursor()) == 500
    assert snapshots.data_version(new.cursor()) == snapshots.data_version(old.cursor()) + 1
    assert not list(tmp_path.glob("w.duckdb.new-*")) and not (tmp_path / "w.duckdb.wal").exists()


def test_a_cursor_of_a_cursor_reads_the_same_snapshot(pool):
    snap = snapshots.Snapshots(pool).current()
    inner = snapshots.cursor(snap.cursor())
    assert count(inner) == 300
    direct = duckdb.connect(str(pool), read_only=True)
    assert count(snapshots.cursor(direct)) == 300  # a warehouse opened directly: nothing to add
    direct.close()


def test_an_old_version_is_closed_when_nobody_reads_it(pool, tmp_path):
    """The replaced file's disk space comes back once its last reader is gone."""
    def open_deleted() -> list[str]:
        fds = Path("/proc/self/fd")
        out = []
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if "w.duckdb" in target and target.endswith("(deleted)"):
                out.append(target)
        return out

    shots = snapshots.Snapshots(pool)
    cur = shots.current().cursor()
    assert count(cur) == 300
    f = write_csv(tmp_path / "GBR.csv", random_rows(50, seed=3, countries=("GBR",)))
    assert main(["ingest", str(f), "--db", str(pool)]) == 0
    assert count(shots.current().cursor()) == 350
    assert open_deleted()  # the old version is still read by `cur`
    del cur
    gc.collect()
    assert not open_deleted()


def test_a_refused_file_changes_nothing(pool, tmp_path, capsys):
    before = snapshots.version(pool)
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    assert main(["ingest", str(bad), "--db", str(pool)]) == 1
    assert snapshots.version(pool) == before  # no new version: nothing to publish
    con = warehouse.connect(pool, read_only=True)
    assert count(con, "SELECT count(*) FROM audit_log") == 1
    con.close()


def test_a_change_without_an_audit_entry_is_not_published(pool):
    before = snapshots.version(pool)
    with pytest.raises(RuntimeError, match="audit entry"):
        with snapshots.writing(pool) as con:
            con.execute("DELETE FROM cases")
    assert snapshots.version(pool) == before
    assert not list(pool.parent.glob("w.duckdb.new-*"))


def test_a_second_writer_that_will_not_wait_is_told_why(pool):
    with snapshots.writing(pool) as con:
        with pytest.raises(snapshots.WarehouseBusy, match="another load"):
            with snapshots.writing(pool, wait=False):
                pass
        audit.record(con, who="test", action="init", what="nothing")


def test_two_loads_at_once_both_land(pool, tmp_path):
    """Loads wait for each other (the writers' lock): neither is lost by being made on a copy of
    a pool the other has already replaced."""
    files = [write_csv(tmp_path / f"{c}.csv", random_rows(3000, seed=i, countries=(c,)))
             for i, c in enumerate(("GBR", "ITA"), 10)]
    procs = [cli("ingest", str(f), "--db", str(pool)) for f in files]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    con = warehouse.connect(pool, read_only=True)
    assert count(con, "SELECT count(DISTINCT submission_id) FROM submissions") == 3
    assert count(con) == 6300
    assert audit.verify(con) == []
    assert sorted(audit.entries(con)["what"].str.split().str[1]) == ["GBR", "ITA", "first"]
    con.close()


def test_a_load_killed_at_any_moment_leaves_the_previous_version(pool, tmp_path):
    """SIGKILL at a spread of moments during a load: the warehouse stays the previous version,
    readable and loadable, and the next load removes the killed one's copy."""
    big = write_csv(tmp_path / "BIG.csv", random_rows(30_000, seed=5, countries=("GBR",)))
    before = snapshots.version(pool)
    killed_with_copy = 0
    for delay in (0.2, 0.5, 0.8, 1.1, 1.4, 1.8, 2.2, 2.8):
        p = cli("ingest", str(big), "--db", str(pool))
        time.sleep(delay)
        had_copy = bool(list(tmp_path.glob("w.duckdb.new-*")))
        p.send_signal(signal.SIGKILL)
        p.wait()
        if snapshots.version(pool) != before:
            break  # this one finished before the kill: longer delays say nothing more
        killed_with_copy += had_copy
        con = duckdb.connect(str(pool), read_only=True)
        assert count(con) == 300 and count(con, "SELECT count(*) FROM audit_log") == 1
        con.close()
    assert killed_with_copy >= 2, "no kill landed while the load was writing its copy"
    f = write_csv(tmp_path / "ITA.csv", random_rows(100, seed=6, countries=("ITA",)))
    assert main(["ingest", str(f), "--db", str(pool)]) == 0
    assert not list(tmp_path.glob("w.duckdb.new-*"))
    con = warehouse.connect(pool, read_only=True)
    assert audit.verify(con) == []
    con.close()


def test_every_change_is_in_the_audit_log_with_who_and_the_files_sha256(pool, tmp_path, capsys):
    f = write_csv(tmp_path / "GBR.csv", random_rows(40, seed=7, countries=("GBR",)))
    assert main(["ingest", str(f), "--db", str(pool)]) == 0
    assert main(["ingest", str(f), "--db", str(pool), "--name", "GBR", "--replace"]) == 0
    assert main(["remove", "GBR", "--db", str(pool)]) == 0
    assert main(["init", "--db", str(pool)]) == 0
    capsys.readouterr()
    assert main(["audit", "--db", str(pool)]) == 0
    out, err = capsys.readouterr()
    import io

    import pandas as pd

    log = pd.read_csv(io.StringIO(out))
    assert list(log["action"]) == ["ingest", "ingest", "replace", "remove", "init"]
    assert log["who"].str.startswith("command line (").all()
    assert log.loc[1, "sha256"] == audit.file_sha256(f) and log.loc[1, "file_name"] == "GBR.csv"
    assert (log.loc[1, "rows_read"], log.loc[1, "rows_loaded"]) == (40, 40)
    assert "5 audit entries" in err
    assert main(["audit", "--db", str(pool), "--verify"]) == 0


def test_an_edited_or_deleted_entry_breaks_the_chain(pool, tmp_path, capsys):
    f = write_csv(tmp_path / "GBR.csv", random_rows(40, seed=7, countries=("GBR",)))
    assert main(["ingest", str(f), "--db", str(pool)]) == 0
    con = duckdb.connect(str(pool))
    con.execute("UPDATE audit_log SET who = 'someone else' WHERE seq = 1")
    con.close()
    assert main(["audit", "--db", str(pool), "--verify"]) == 1
    assert "entry 1" in capsys.readouterr().err
    con = duckdb.connect(str(pool))
    con.execute("DELETE FROM audit_log WHERE seq = 1")
    con.close()
    con = warehouse.connect(pool, read_only=True)
    assert audit.verify(con) == ["entry 1 is missing (the next is number 2)"]
    con.close()


def test_the_apps_reads_have_a_bounded_duckdb_memory(pool, monkeypatch):
    """DuckDB's buffer pool of a snapshot is capped (CCOE_DUCKDB_MEMORY, default 1GB): unbounded it
    grows towards 80% of the machine as a server reads a big pool."""
    def limit(snap):
        return snap._con.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    monkeypatch.delenv("CCOE_DUCKDB_MEMORY", raising=False)
    assert limit(snapshots.Snapshot.open(pool)) in ("953.6 MiB", "1.0 GiB", "1000.0 MiB")
    monkeypatch.setenv("CCOE_DUCKDB_MEMORY", "512MB")
    assert limit(snapshots.Snapshot.open(pool)) in ("488.2 MiB", "512.0 MiB")
    monkeypatch.setenv("CCOE_DUCKDB_MEMORY", "lots")
    with pytest.raises(ValueError, match="CCOE_DUCKDB_MEMORY='lots'"):
        snapshots.Snapshot.open(pool)
