"""Cause of death in the contract (issue 15, item 1): optional; 1 the cancer, 2 another cause, 9
unknown; for deaths only. A file without the column loads as before (its deaths' cause unknown),
a live patient with a cause is rejected with a reason naming the cause of death, nothing is lost,
and a warehouse made before the column gets it in place."""
from __future__ import annotations

from analytics import warehouse
from analytics.ingest import ingest_file
from analytics.schema import INPUT_NAMES
from tests.conftest import valid_row, write_csv


def _dead(case_id: str, cause: str = "") -> dict:
    return valid_row(case_id=case_id, vital_status="2", last_contact_date="2016-01-01", cause_of_death=cause)


def test_causes_are_stored_and_a_death_without_one_is_unknown(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    rows = [_dead("D1", "1"), _dead("D2", "2"), _dead("D3", "9"), _dead("D4", ""), valid_row(case_id="A1")]
    report = ingest_file(con, write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 5, 0)
    got = dict(con.execute("SELECT case_id, cause_of_death FROM cases").fetchall())
    assert got == {"D1": 1, "D2": 2, "D3": 9, "D4": 9, "A1": None}


def test_a_file_without_the_column_loads_as_before(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    cols = [c for c in INPUT_NAMES if c != "cause_of_death"]
    report = ingest_file(con, write_csv(tmp_path / "c.csv", [_dead("D1"), valid_row(case_id="A1")], columns=cols))
    assert report.rows_loaded == 2
    assert dict(con.execute("SELECT case_id, cause_of_death FROM cases").fetchall()) == {"D1": 9, "A1": None}


def test_a_live_patient_with_a_cause_and_an_unknown_code_are_rejected_with_reasons(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    rows = [valid_row(case_id="A1", cause_of_death="1"), _dead("D1", "3"), _dead("D2", "cancer"),
            _dead("D3", "1")]
    report = ingest_file(con, write_csv(tmp_path / "c.csv", rows))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (4, 1, 3)
    reasons = dict(con.execute("SELECT case_id, array_to_string(reasons, '; ') FROM rejected_rows").fetchall())
    assert reasons["A1"] == ("cause_of_death: given for a patient alive at last contact (vital_status 1): a "
                             "cause of death is for deaths only")
    assert reasons["D1"] == reasons["D2"] == "cause_of_death: must be one of 1, 2, 9"


def test_a_warehouse_made_before_the_column_gets_it_with_its_deaths_unknown(tmp_path):
    path = tmp_path / "old.duckdb"
    con = warehouse.connect(path)
    ingest_file(con, write_csv(tmp_path / "c.csv", [_dead("D1", "1"), valid_row(case_id="A1")]))
    con.execute("ALTER TABLE cases DROP COLUMN cause_of_death")  # as a warehouse of schema 1.0 was
    assert warehouse.is_current(con)  # a reader needs no upgrade: every death's cause is unknown
    from analytics import competing

    t = competing.cause_table(con, None, []).table
    assert (t["n_unknown"].sum(), t["n_cancer"].sum()) == (1, 0)
    warehouse.initialise(con)  # the next write adds the column
    assert dict(con.execute("SELECT case_id, cause_of_death FROM cases").fetchall()) == {"D1": 9, "A1": None}
    con.close()


def test_the_demo_gives_causes_with_other_causes_rising_with_follow_up(tmp_path):
    from analytics.demo import build_demo

    build_demo(tmp_path / "w.duckdb", scale=0.3, seed=3, out_dir=tmp_path / "files", countries=["FRA", "UGA"],
               log=lambda m: None)
    con = warehouse.connect(tmp_path / "w.duckdb", read_only=True)
    early, late, unknown, alive_with = con.execute("""
        SELECT avg(CAST(cause_of_death = 2 AS INT)) FILTER (WHERE event = 1 AND followup_years < 5),
               avg(CAST(cause_of_death = 2 AS INT)) FILTER (WHERE event = 1 AND followup_years >= 10),
               avg(CAST(cause_of_death = 9 AS INT)) FILTER (WHERE event = 1),
               count(*) FILTER (WHERE event = 0 AND cause_of_death IS NOT NULL)
        FROM cases""").fetchone()
    con.close()
    assert early < 0.08 and late > 0.2 and 0.02 < unknown < 0.08 and alive_with == 0
