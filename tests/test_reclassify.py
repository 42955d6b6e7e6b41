"""ICCC-3 versions in the warehouse (issue 15, item 7): each submission records the version that
classified it; `python -m analytics reclassify [--version V]` classifies every tumour again, in one
transaction, audited, and says how many tumours changed group; a warehouse made before the 2023
update reads as it is and is re-classified by the command. All through warehouses built by ingest."""
from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest

from analytics import iccc, snapshots, warehouse
from analytics.cli import main
from analytics.ingest import ingest_file, remove_submission
from tests.conftest import ROOT, random_rows, valid_row, write_csv

OLD, NEW = "ICCC-3/IARC 2017", "ICCC-3/IARC 2017, SEER 2023 update"

#: Tumours whose codes only the 2023 update classifies: case id -> (topography, morphology, subgroup)
NEWER = {"N1": ("C42.1", "9877", "Ib"), "N2": ("C42.1", "9878", "Ib"), "N3": ("C42.1", "9879", "Ib"),
         "N4": ("C42.1", "9968", "Ie"), "N5": ("C42.1", "9993", "Id"), "N6": ("C49.1", "9366", "IXd"),
         "N7": ("C49.1", "9367", "IXd"), "N8": ("C49.1", "9368", "IXd"), "N9": ("C49.1", "8859", "IXd"),
         "N10": ("C49.1", "9126", "IXd")}


def newer_rows(prefix: str = "") -> list[dict[str, str]]:
    return [valid_row(case_id=prefix + cid, topography=t, morphology=m) for cid, (t, m, _) in NEWER.items()]


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def query(path, sql, params=None):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def groups(path) -> dict[str, str | None]:
    return dict(query(path, "SELECT case_id, iccc_sub FROM cases"))


@pytest.fixture
def pool(tmp_path, capsys):
    """A warehouse built by `python -m analytics ingest`: 60 ordinary tumours and the ten newer ones."""
    path = write_csv(tmp_path / "FRA_2024.csv", random_rows(60, seed=7) + newer_rows())
    db = tmp_path / "w.duckdb"
    code, out, err = run(capsys, "ingest", path, "--db", db)
    assert code == 0, err
    assert "unclassified (ICCC-3) 0" in out
    return db


def test_ingest_classifies_by_the_update_and_records_it(pool):
    got = groups(pool)
    assert {cid: got[cid] for cid in NEWER} == {cid: sub for cid, (_, _, sub) in NEWER.items()}
    assert query(pool, "SELECT iccc_version, rows_unclassified FROM submissions") == [(NEW, 0)]


def test_reclassify_to_the_first_table_and_back(pool, capsys):
    before = groups(pool)
    code, out, err = run(capsys, "reclassify", "--version", "2017", "--db", pool)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"re-classified 70 tumour(s) by {OLD}: 10 changed group"
    assert f"  before: 1 submission(s) by {NEW}" in lines
    assert "  Ib -> unclassified: 3" in lines and "  IXd -> unclassified: 5" in lines
    after = groups(pool)
    assert {cid for cid in after if after[cid] != before[cid]} == set(NEWER)
    assert all(after[cid] is None for cid in NEWER)
    assert query(pool, "SELECT count(*) FROM cases WHERE iccc_sub IS NULL AND (iccc_main IS NOT NULL "
                       "OR iccc_ext IS NOT NULL)") == [(0,)]
    assert query(pool, "SELECT iccc_version, rows_unclassified FROM submissions") == [(OLD, 10)]
    assert query(pool, "SELECT value FROM meta WHERE key = 'iccc_version'") == [(OLD,)]
    assert query(pool, "SELECT DISTINCT version FROM iccc_rules") == [(OLD,)]
    # audited, and the chain is whole
    code, out, err = run(capsys, "audit", "--db", pool)
    assert "reclassify" in out and f"every tumour re-classified by {OLD}: 10 of 70 changed group" in out
    assert run(capsys, "audit", "--verify", "--db", pool)[0] == 0

    # the same again changes nothing, and the warehouse is not rewritten
    version = snapshots.version(pool)
    code, out, err = run(capsys, "reclassify", "--version", OLD, "--db", pool)
    assert code == 0 and out == "" and f"nothing to change: every tumour is already classified by {OLD}" in err
    assert snapshots.version(pool) == version

    # back to the default
    code, out, err = run(capsys, "reclassify", "--db", pool)
    assert code == 0, err
    assert out.splitlines()[0] == f"re-classified 70 tumour(s) by {NEW}: 10 changed group"
    assert "  unclassified -> Ib: 3" in out.splitlines()
    assert groups(pool) == before
    assert query(pool, "SELECT iccc_version, rows_unclassified FROM submissions") == [(NEW, 0)]
    assert [r[0] for r in query(pool, "SELECT action FROM audit_log ORDER BY seq")] == [
        "ingest", "reclassify", "reclassify"]


def test_a_reclassified_warehouse_classifies_new_submissions_by_its_version(pool, tmp_path, capsys):
    assert run(capsys, "reclassify", "--version", "2017", "--db", pool)[0] == 0
    path = write_csv(tmp_path / "DEU_2024.csv", [dict(r, country="DEU") for r in newer_rows("D")])
    code, out, err = run(capsys, "ingest", path, "--db", pool)
    assert code == 0, err
    assert "unclassified (ICCC-3) 10" in out
    assert query(pool, "SELECT iccc_version, rows_unclassified FROM submissions WHERE submission_id = "
                       "'DEU_2024'") == [(OLD, 10)]


def test_unknown_version_is_refused_and_nothing_is_touched(pool, tmp_path, capsys):
    version = snapshots.version(pool)
    code, out, err = run(capsys, "reclassify", "--version", "ICCC-4", "--db", pool)
    assert code == 2 and out == ""
    assert err.strip() == ("error: no ICCC-3 version 'ICCC-4'; there are: 2017 (ICCC-3/IARC 2017); "
                           "2023 (ICCC-3/IARC 2017, SEER 2023 update)")
    assert snapshots.version(pool) == version
    code, _, _ = run(capsys, "reclassify", "--version", "1999", "--db", tmp_path / "none.duckdb")
    assert code == 2 and not (tmp_path / "none.duckdb").exists()


def test_reclassify_is_one_transaction(tmp_path):
    """A failure after the tumours were updated leaves every tumour and submission as it was."""
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "s.csv", random_rows(20) + newer_rows()))
    before = con.execute("SELECT case_id, iccc_sub FROM cases ORDER BY 1").fetchall()

    class FailsOnSubmissions:  # the connection, failing at the submissions' update
        def __getattr__(self, name):
            return getattr(con, name)

        def execute(self, sql, *args):
            if sql.lstrip().startswith("UPDATE submissions"):
                raise RuntimeError("disk full")
            return con.execute(sql, *args)

    with pytest.raises(RuntimeError, match="disk full"):
        iccc.reclassify(FailsOnSubmissions(), "2017")
    assert con.execute("SELECT case_id, iccc_sub FROM cases ORDER BY 1").fetchall() == before
    assert con.execute("SELECT iccc_version FROM submissions").fetchall() == [(NEW,)]
    assert con.execute("SELECT count(*) FROM meta WHERE key = 'iccc_version'").fetchone() == (0,)
    result = iccc.reclassify(con, "2017")  # and the connection still works
    assert (result.tumours, result.changed) == (30, 10)
    con.close()


def test_readmitted_tumours_are_classified_by_their_submissions_version(tmp_path):
    """A submission keeps one version: tumours it gets back when the submission holding them is
    removed are classified by the version it records, not the warehouse's."""
    con = warehouse.connect(tmp_path / "w.duckdb")
    iccc.reclassify(con, "2017")  # an empty warehouse set to the first table
    ingest_file(con, write_csv(tmp_path / "first.csv", newer_rows()[:1]))
    second = ingest_file(con, write_csv(tmp_path / "second.csv", newer_rows()[:2]))
    assert (second.rows_loaded, second.rows_rejected, second.iccc_version) == (1, 1, OLD)
    con.execute("UPDATE meta SET value = $v WHERE key = 'iccc_version'", {"v": NEW})  # the warehouse on the default
    assert iccc.warehouse_version(con) == NEW
    removal = remove_submission(con, "first")
    assert removal.readmitted == {"second": 1}
    assert con.execute("SELECT case_id, iccc_sub FROM cases ORDER BY 1").fetchall() == [("N1", None), ("N2", None)]
    assert con.execute("SELECT iccc_version, rows_unclassified FROM submissions").fetchall() == [(OLD, 2)]
    # a new submission gets the default, and its summary points at the mixed pool
    third = ingest_file(con, write_csv(tmp_path / "third.csv", [dict(r, country="DEU") for r in newer_rows("T")]))
    assert (third.iccc_version, third.rows_unclassified) == (NEW, 0)
    assert third.other_iccc_versions == {OLD: 1}
    assert (f"classified by {NEW}; other submissions in the pool: 1 by {OLD}. "
            "`python -m analytics reclassify` puts the whole pool on one version") in third.summary()
    con.close()


def _make_old_warehouse(path, tmp_path) -> None:
    """A warehouse as the code before the 2023 update left it: tumours classified by the first
    table, submissions recording it, no version in `meta`, `iccc_rules` without a version column."""
    con = warehouse.connect(path)
    ingest_file(con, write_csv(tmp_path / "FRA_2019.csv", random_rows(40, seed=3) + newer_rows()))
    iccc.reclassify(con, "2017")
    con.execute("DELETE FROM meta WHERE key = 'iccc_version'")
    con.execute("CREATE OR REPLACE TABLE iccc_rules AS SELECT * EXCLUDE (version) FROM iccc_rules")
    con.close()


def test_a_warehouse_made_before_the_update_reads_as_it_is_and_is_reclassified(tmp_path, capsys):
    db = tmp_path / "old.duckdb"
    _make_old_warehouse(db, tmp_path)
    version = snapshots.version(db)
    # readable without an upgrade (nothing in it is new): read-only opens, overview, quality
    con = warehouse.connect(db, read_only=True)
    assert warehouse.is_current(con)
    from analytics import overview

    assert set(overview.submissions(con)["iccc_version"]) == {OLD}
    assert con.execute("SELECT count(*) FROM cases WHERE iccc_sub IS NULL").fetchone() == (10,)  # the newer codes
    con.close()
    assert snapshots.version(db) == version
    code, out, err = run(capsys, "quality", "--db", db)
    assert code == 0, err
    # the command brings it to the default version; newer codes are classified
    code, out, err = run(capsys, "reclassify", "--db", db)
    assert code == 0, err
    assert out.splitlines()[0] == f"re-classified 50 tumour(s) by {NEW}: 10 changed group"
    assert f"  before: 1 submission(s) by {OLD}" in out.splitlines()
    got = groups(db)
    assert {cid: got[cid] for cid in NEWER} == {cid: sub for cid, (_, _, sub) in NEWER.items()}
    assert query(db, "SELECT iccc_version, rows_unclassified FROM submissions") == [(NEW, 0)]
    assert query(db, "SELECT DISTINCT version FROM iccc_rules") == [(NEW,)]


def test_reclassify_leaves_aggregate_submissions_alone(tmp_path, capsys):
    """A partner's tables hold no codes: they keep their groups and their recorded version."""
    rows = write_csv(tmp_path / "rows.csv", [dict(r, country="KEN") for r in random_rows(30, seed=5)])
    out_dir = tmp_path / "tables"
    code, _, err = run(capsys, "aggregate", rows, "--out", out_dir)
    assert code == 0, err
    db = tmp_path / "w.duckdb"
    code, _, err = run(capsys, "ingest", *sorted(out_dir.iterdir()), "--db", db)
    assert code == 0, err
    code, _, err = run(capsys, "ingest", write_csv(tmp_path / "FRA.csv", newer_rows()), "--db", db)
    assert code == 0, err
    kept = query(db, "SELECT submission_id, iccc_version FROM submissions WHERE kind <> 'cases' ORDER BY 1")
    counts = query(db, "SELECT iccc_sub, sum(cases) FROM agg_case_counts GROUP BY 1 ORDER BY 1")
    code, out, err = run(capsys, "reclassify", "--version", "2017", "--db", db)
    assert code == 0, err
    assert out.splitlines()[0] == f"re-classified 10 tumour(s) by {OLD}: 10 changed group"
    assert f"  {len(kept)} aggregate submission(s) (tables, no codes) keep the groups their partners' " \
           "tables give" in out.splitlines()
    assert query(db, "SELECT submission_id, iccc_version FROM submissions WHERE kind <> 'cases' ORDER BY 1") == kept
    assert query(db, "SELECT iccc_sub, sum(cases) FROM agg_case_counts GROUP BY 1 ORDER BY 1") == counts


def test_reclassify_end_to_end_as_a_process(pool):
    res = subprocess.run([sys.executable, "-m", "analytics", "reclassify", "--version", "2017", "--db", str(pool)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0] == f"re-classified 70 tumour(s) by {OLD}: 10 changed group"


def test_a_warehouse_without_a_recorded_version_stays_on_that_of_its_submissions(tmp_path):
    """A warehouse made before versions were kept (no `meta` entry, every case submission by the
    first table) classifies new submissions by that table, so the pool does not become mixed on
    its next load; the figures' footnote names the pool's version, or says it is mixed."""
    from analytics import overview

    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "first.csv", random_rows(5)))
    con.execute("UPDATE submissions SET iccc_version = $v", {"v": OLD})  # as an old warehouse holds it
    assert iccc.warehouse_version(con) == OLD
    assert ingest_file(con, write_csv(tmp_path / "deu.csv", [dict(r, country="DEU") for r in newer_rows("D")])
                       ).iccc_version == OLD
    assert overview.summary(con)["data_version"].endswith(f"; {OLD}.")
    con.execute("UPDATE submissions SET iccc_version = $v WHERE file_name = 'deu.csv'", {"v": NEW})
    assert iccc.warehouse_version(con) == NEW  # mixed: the default
    assert "ICCC-3 versions 2017 and 2023 (mixed)" in overview.summary(con)["data_version"]
    con.close()


@pytest.mark.parametrize("field,value,reason", [
    ("morphology", "M9470", "written as M9470 or 9470/3"),
    ("morphology", "M0000", "not an ICD-O-3 histology code 8000-9993"),  # not told to send 0000
    ("morphology", "1234/3", "not an ICD-O-3 histology code 8000-9993"),
    ("behaviour", "3.0", "written with decimals"),
    ("behaviour", "4.0", "must be one of"),  # not told to send 4
])
def test_ingest_reasons_for_written_forms_suggest_only_valid_codes(tmp_path, field, value, reason):
    con = warehouse.connect(tmp_path / "w.duckdb")
    report = ingest_file(con, write_csv(tmp_path / "f.csv", [valid_row(**{field: value})]))
    reasons = " | ".join(r for (rs,) in con.execute("SELECT reasons FROM rejected_rows").fetchall() for r in rs) \
        if report.rows_rejected else ""
    con.close()
    assert report.rows_rejected == 1 and reason in reasons, reasons
