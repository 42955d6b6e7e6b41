"""The two field parsers of csvfile.py agree: DuckDB's reader (the fast path) and Python's csv
module (the fallback when DuckDB disagrees with the record scan) load the same tumours on the
same lines and reject the same lines for the same reasons, on every file of the fuzz corpus."""
from __future__ import annotations

import pytest

from analytics import csvfile, warehouse
from analytics.ingest import ingest_file
from tests import fuzz_corpus as fc

SEEDS = list(range(1, 13)) + [101, 102, 103]


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("csvfile") / "empty.duckdb"
    warehouse.connect(path).close()
    return path


def _load(template, tmp_path, crafted, name):
    db = tmp_path / f"{name}.duckdb"
    db.write_bytes(template.read_bytes())
    con = warehouse.connect(db)
    try:
        report = ingest_file(con, crafted.path)
        cases = con.execute("SELECT line_no, case_id, country, registry, sex, diagnosis_date "
                            "FROM cases ORDER BY line_no").fetchall()
        rejected = con.execute("SELECT line_no, reasons FROM rejected_rows ORDER BY line_no").fetchall()
    finally:
        con.close()
    return (report.rows_read, report.rows_loaded, report.rows_rejected, report.blank_rows), cases, rejected


@pytest.mark.parametrize("seed", SEEDS)
def test_duckdb_and_python_paths_agree(seed, empty_db, tmp_path, monkeypatch):
    crafted = fc.fuzz_file(tmp_path, seed, unbalanced=seed > 100)
    paths = []
    real = csvfile._read_with_duckdb

    def spy(*a, **kw):
        out = real(*a, **kw)
        paths.append(out or "python")
        return out

    monkeypatch.setattr(csvfile, "_read_with_duckdb", spy)
    fast = _load(empty_db, tmp_path, crafted, "fast")
    monkeypatch.setattr(csvfile, "_read_with_duckdb", lambda *a, **kw: None)
    slow = _load(empty_db, tmp_path, crafted, "slow")
    assert fast == slow, f"{crafted.description}: the fast path read it with {paths}"
