"""Ingest: every validation rule rejects a bad row with its reason; row accounting always holds;
re-loading replaces; an unreadable file changes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pandas as pd
import pytest

from analytics.ingest import (ALREADY_LOADED as ALREADY_LOADED_RULE, MALFORMED_LINE, NONFINITE, RULES,
                              UNTERMINATED_QUOTE, SubmissionError, ingest_file, remove_submission)
from analytics.schema import INPUT_NAMES, SENT_AS_TABLES
from tests.conftest import ROOT, random_rows, valid_row, write_csv

TOMORROW = (date.today() + timedelta(days=7)).isoformat()  # a week ahead: stays in the future if the run crosses midnight


def accounting_holds(con, sid):
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM submissions WHERE submission_id = ?",
        [sid]).fetchone()
    n_cases = con.execute("SELECT count(*) FROM cases WHERE submission_id = ?", [sid]).fetchone()[0]
    n_rej = con.execute("SELECT count(*) FROM rejected_rows WHERE submission_id = ?", [sid]).fetchone()[0]
    return read == loaded + rejected and loaded == n_cases and rejected == n_rej


def reasons_for(con, case_id):
    rows = con.execute("SELECT reasons FROM rejected_rows WHERE case_id = ?", [case_id]).fetchall()
    assert len(rows) == 1, f"{case_id} should be rejected exactly once, got {rows}"
    return set(rows[0][0])


WRITTEN_MORPHOLOGY = ("morphology: written as M9470 or 9470/3: send the 4-digit histology only (9470), and the "
                      "behaviour in its own column")

# (overrides to a valid row, the reason expected among the row's reasons)
BAD_ROWS = [
    ({"case_id": ""}, "case_id: missing"),
    ({"country": ""}, "country: missing"),
    ({"country": "XXX"}, "country: not an ISO 3166-1 alpha-3 country code"),
    ({"country": "FR"}, "country: not an ISO 3166-1 alpha-3 country code"),
    ({"sex": ""}, "sex: missing"),
    ({"sex": "3"}, "sex: must be one of 1, 2, 9"),
    ({"birth_date": "2010-02-30"}, "birth_date: not a valid date in YYYY-MM-DD form"),
    ({"birth_date": "01/05/2010"}, "birth_date: not a valid date in YYYY-MM-DD form"),
    ({"birth_date": TOMORROW, "diagnosis_date": TOMORROW, "last_contact_date": TOMORROW},
     "birth_date: in the future"),
    ({"birth_date": "", "age_years": "five"}, "age_years: not a whole number of years"),
    ({"birth_date": "", "age_years": ""}, "birth_date/age_years: both missing (one of them is required)"),
    ({"birth_date": "", "age_years": "20"}, "age_years: outside 0-19 years at diagnosis"),
    ({"birth_date": "1990-01-01"}, "age_years: outside 0-19 years at diagnosis"),
    ({"age_years": "7"}, "age_years: does not agree with birth_date and diagnosis_date"),
    ({"diagnosis_date": ""}, "diagnosis_date: missing"),
    ({"diagnosis_date": "2015-6-1"}, "diagnosis_date: not a valid date in YYYY-MM-DD form"),
    ({"diagnosis_date": TOMORROW, "last_contact_date": TOMORROW}, "diagnosis_date: in the future"),
    ({"diagnosis_date": "2009-01-01"}, "diagnosis_date: before birth_date"),
    ({"birth_date": "1935-02-01", "diagnosis_date": "1949-12-31", "last_contact_date": "1950-06-01"},
     "diagnosis_date: before 1950-01-01, the earliest diagnosis date the pool covers"),
    ({"topography": ""}, "topography: missing"),
    ({"topography": "C81.0"}, "topography: not an ICD-O-3 topography code C00.0-C80.9"),
    ({"topography": "D42.1"}, "topography: not an ICD-O-3 topography code C00.0-C80.9"),
    ({"topography": "C4"}, "topography: not an ICD-O-3 topography code C00.0-C80.9"),
    ({"morphology": ""}, "morphology: missing"),
    ({"morphology": "7999"}, "morphology: not an ICD-O-3 histology code 8000-9993"),
    ({"morphology": "9994"}, "morphology: not an ICD-O-3 histology code 8000-9993"),
    ({"morphology": "98110"}, "morphology: not an ICD-O-3 histology code 8000-9993"),
    # written forms `classify` reads, refused by the contract with a reason of their own (issue 15)
    ({"morphology": "9811/3"}, WRITTEN_MORPHOLOGY),
    ({"morphology": "M9811"}, WRITTEN_MORPHOLOGY),
    ({"behaviour": ""}, "behaviour: missing"),
    ({"behaviour": "6"}, "behaviour: must be one of 0, 1, 2, 3"),
    ({"behaviour": "3.0"}, "behaviour: written with decimals (3.0): send the digit only (3)"),
    ({"basis": "3"}, "basis: must be one of 0, 1, 2, 4, 5, 6, 7, 9"),
    ({"stage": "Z9"}, "stage: not a Toronto stage value (see the data dictionary)"),
    ({"vital_status": ""}, "vital_status: missing"),
    ({"vital_status": "0"}, "vital_status: must be one of 1, 2"),
    ({"last_contact_date": ""}, "last_contact_date: missing"),
    ({"last_contact_date": "2020-01-32"}, "last_contact_date: not a valid date in YYYY-MM-DD form"),
    ({"last_contact_date": TOMORROW}, "last_contact_date: in the future"),
    ({"last_contact_date": "2015-05-31"}, "last_contact_date: before diagnosis_date"),
    ({"vital_status": "2", "cause_of_death": "3"}, "cause_of_death: must be one of 1, 2, 9"),
    ({"cause_of_death": "1"}, "cause_of_death: given for a patient alive at last contact (vital_status 1): a "
                              "cause of death is for deaths only"),
    ({"sex": "2", "topography": "C62.9", "morphology": "9064"},
     "sex/topography: male genital site (C60-C63) coded female"),
    ({"sex": "1", "topography": "C56.9", "morphology": "9064"},
     "sex/topography: female genital site (C51-C58) coded male"),
]


def test_every_rule_has_a_bad_row_test():
    tested = {reason for _, reason in BAD_ROWS} | {"case_id: appears more than once in this submission",
                                                   MALFORMED_LINE.reason, UNTERMINATED_QUOTE.reason,
                                                   ALREADY_LOADED, NONFINITE.reason, SENT_AS_TABLES.reason}
    # tested elsewhere: duplicates and already-loaded below, malformed lines and quotes below and in
    # test_ingest_hostile.py, NONFINITE with Parquet in test_ingest_hostile.py, SENT_AS_TABLES in
    # test_ingest_tables.py
    assert {r.reason for r in RULES} | {MALFORMED_LINE.reason, UNTERMINATED_QUOTE.reason} == tested


@pytest.mark.parametrize("overrides,reason", BAD_ROWS, ids=[r for _, r in BAD_ROWS])
def test_bad_row_is_rejected_with_its_reason(db, tmp_path, overrides, reason):
    bad = valid_row(case_id="BAD", **{k: v for k, v in overrides.items() if k != "case_id"})
    if "case_id" in overrides:
        bad["case_id"] = overrides["case_id"]
    path = write_csv(tmp_path / "s.csv", [valid_row(case_id="OK"), bad])
    report = ingest_file(db, path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 1, 1)
    rej = db.execute("SELECT line_no, reasons, raw FROM rejected_rows").fetchall()
    assert rej[0][0] == 3
    assert reason in rej[0][1]
    raw = json.loads(rej[0][2])
    assert raw["morphology"] == (bad["morphology"] or None)  # raw values kept as submitted
    assert accounting_holds(db, "s")


def test_duplicate_case_id_rejects_every_occurrence(db, tmp_path):
    path = write_csv(tmp_path / "s.csv", [valid_row(case_id="A"), valid_row(case_id="A"),
                                          valid_row(case_id="B")])
    report = ingest_file(db, path)
    assert (report.rows_loaded, report.rows_rejected) == (1, 2)
    assert report.reasons == {"case_id: appears more than once in this submission": 2}


ALREADY_LOADED = ALREADY_LOADED_RULE.reason


def test_the_same_tumours_in_another_file_are_not_counted_twice(db, tmp_path):
    """Same rows under another name or format (here: with a changed column order): rejected with
    the reason; re-loading the first file under its own name still replaces it."""
    rows = [valid_row(case_id="A"), valid_row(case_id="B"), valid_row(case_id="C", registry="R2")]
    first = write_csv(tmp_path / "first.csv", rows)
    ingest_file(db, first)
    again = pd.DataFrame(rows[:2] + [valid_row(case_id="D")])
    again[list(reversed(again.columns))].to_csv(tmp_path / "again.csv", index=False)
    report = ingest_file(db, tmp_path / "again.csv")
    assert (report.rows_loaded, report.rows_rejected) == (1, 2)
    assert report.reasons == {ALREADY_LOADED: 2}
    assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == 4  # A, B, C once; D
    other_registry = write_csv(tmp_path / "r3.csv", [valid_row(case_id="C", registry="R3")])
    assert ingest_file(db, other_registry).rows_loaded == 1  # another registry's C is another tumour
    assert ingest_file(db, first).rows_loaded == 3  # the same file replaces itself
    assert accounting_holds(db, "again")
    # a corrected extract under a new name: removing the old submission admits its tumours
    assert remove_submission(db, "first") == (3, 0, {"again": 2})
    assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == 4  # A, B, D from again; C from r3
    assert accounting_holds(db, "again")
    with pytest.raises(SubmissionError, match="no submission 'first'"):
        remove_submission(db, "first")


def test_a_row_gets_every_reason_that_applies(db, tmp_path):
    path = write_csv(tmp_path / "s.csv", [valid_row(case_id="X", country="XXX", sex="7", morphology="12")])
    ingest_file(db, path)
    assert reasons_for(db, "X") == {"country: not an ISO 3166-1 alpha-3 country code",
                                    "sex: must be one of 1, 2, 9",
                                    "morphology: not an ICD-O-3 histology code 8000-9993"}


@pytest.mark.parametrize("overrides,reasons", [
    ({"morphology": "9811/3"}, {WRITTEN_MORPHOLOGY}),
    ({"morphology": "m-9811/3"}, {WRITTEN_MORPHOLOGY}),
    ({"morphology": "M9811/3", "behaviour": "3.0"},
     {WRITTEN_MORPHOLOGY, "behaviour: written with decimals (3.0): send the digit only (3)"}),
    ({"behaviour": "3.5"}, {"behaviour: must be one of 0, 1, 2, 3"}),
    ({"morphology": "9811/33"}, {"morphology: not an ICD-O-3 histology code 8000-9993"}),
])
def test_written_forms_get_their_own_reason_and_only_it(db, tmp_path, overrides, reasons):
    """The contract is 4 histology digits and a behaviour digit (schema.py); ingest does not guess
    at other forms, it names them: one reason per fault, not the written form's and the generic one."""
    path = write_csv(tmp_path / "s.csv", [valid_row(case_id="W", **overrides)])
    ingest_file(db, path)
    assert reasons_for(db, "W") == reasons


def test_malformed_line_is_a_rejected_row_with_its_line_number(db, tmp_path):
    path = tmp_path / "s.csv"
    good = write_csv(tmp_path / "g.csv", [valid_row(case_id="A"), valid_row(case_id="B")]).read_text()
    lines = good.splitlines()
    lines.insert(2, "only,three,fields")
    path.write_text("\n".join(lines) + "\n")
    report = ingest_file(db, path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 2, 1)
    assert db.execute("SELECT line_no, reasons FROM rejected_rows").fetchall() == [(3, [MALFORMED_LINE.reason])]
    assert db.execute("SELECT case_id, line_no FROM cases ORDER BY line_no").fetchall() == [("A", 2), ("B", 4)]


def test_line_numbers_survive_blank_lines_and_quoted_line_breaks(db, tmp_path):
    text = write_csv(tmp_path / "g.csv", [valid_row(case_id="A"), valid_row(case_id="B", registry="X\nY"),
                                          valid_row(case_id="C", country="XXX")]).read_text()
    lines = text.split("\n")
    lines.insert(2, "")  # a blank line after A
    (tmp_path / "s.csv").write_text("\n".join(lines))
    ingest_file(db, tmp_path / "s.csv")
    # header 1, A 2, blank 3, B 4-5 (quoted line break), C 6
    assert db.execute("SELECT case_id, line_no FROM cases ORDER BY line_no").fetchall() == [("A", 2), ("B", 4)]
    assert db.execute("SELECT line_no FROM rejected_rows").fetchall() == [(6,)]


def test_reingest_replaces_and_never_duplicates(db, tmp_path):
    path = write_csv(tmp_path / "s.csv", random_rows(50) + [valid_row(case_id="Z", sex="4")])
    first = ingest_file(db, path)
    second = ingest_file(db, path)
    assert second.replaced == ["s"]
    assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == first.rows_loaded == 50
    assert db.execute("SELECT count(*) FROM rejected_rows").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    # a corrected file under the same name replaces the earlier version
    write_csv(path, random_rows(10))
    third = ingest_file(db, path)
    assert (third.rows_loaded, third.rows_rejected) == (10, 0)
    assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == 10
    # the same content under another name is recognised by its SHA-256 and refused: it is loaded
    (tmp_path / "copy.csv").write_bytes(path.read_bytes())
    with pytest.raises(SubmissionError, match="identical .* to submission 's'"):
        ingest_file(db, tmp_path / "copy.csv")
    assert db.execute("SELECT count(*) FROM cases").fetchone()[0] == 10


def warehouse_state(con):
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("cases", "rejected_rows", "submissions")}


@pytest.mark.parametrize("content,expected", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "not a CSV or Parquet file"),
    (b"", "empty file"),
    ("case_id,country\nA,FRA\n".encode(), "missing required column(s): sex"),
    (",".join(INPUT_NAMES).encode() + b"\n" + "A,,FRA,,1,2010-01-01,,2015-01-01,C421,9811,3,7,,1,2016-01-01\n"
     .replace("FRA", "FR\xc3A").encode("latin-1"), "not UTF-8 text"),
    ((",".join(INPUT_NAMES) + ",case_id\n").encode(), "duplicate column name(s): case_id"),
])
def test_unreadable_file_changes_nothing_and_says_why(db, tmp_path, content, expected):
    ingest_file(db, write_csv(tmp_path / "good.csv", random_rows(20)))
    before = warehouse_state(db)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(SubmissionError) as e:
        ingest_file(db, bad)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)
    assert warehouse_state(db) == before


def test_cli_prints_summary_and_one_clear_line_for_a_bad_file(tmp_path):
    dbp = tmp_path / "w.duckdb"
    good = write_csv(tmp_path / "good.csv", random_rows(5) + [valid_row(case_id="B", sex="x")])
    run = subprocess.run([sys.executable, "-m", "analytics", "ingest", str(good), "--db", str(dbp)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "read 6, loaded 5, rejected 1" in run.stdout
    assert "sex: must be one of 1, 2, 9" in run.stdout
    strict = subprocess.run([sys.executable, "-m", "analytics", "ingest", str(good), "--db", str(dbp),
                             "--strict"], cwd=ROOT, capture_output=True, text=True)
    assert strict.returncode != 0
    bad = tmp_path / "bad.csv"
    bad.write_text("hello,world\n1,2\n")
    run = subprocess.run([sys.executable, "-m", "analytics", "ingest", str(bad), "--db", str(dbp)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0 and "missing required column(s)" in run.stderr


def test_derived_fields(db, tmp_path):
    rows = [
        # diagnosed on the 5th birthday: has reached 5
        valid_row(case_id="bday", birth_date="2010-05-01", diagnosis_date="2015-05-01"),
        # the day before the 5th birthday: still 4
        valid_row(case_id="eve", birth_date="2010-05-01", diagnosis_date="2015-04-30"),
        # leap-day birth, diagnosed 28 Feb of a common year: not yet 1
        valid_row(case_id="leap", birth_date="2012-02-29", diagnosis_date="2013-02-28",
                  last_contact_date="2013-02-28", vital_status="2"),
        # age given without birth date; DCO case
        valid_row(case_id="dco", birth_date="", age_years="17", diagnosis_date="2019-12-31",
                  last_contact_date="2019-12-31", vital_status="2", basis="0", topography="C71.9",
                  morphology="9421", behaviour="1", stage="m0"),
    ]
    ingest_file(db, write_csv(tmp_path / "s.csv", rows))
    got = db.execute("""SELECT case_id, age_years, age_group, age_band, year, period, followup_days,
                               followup_years, event, dco, topography, stage, iccc_main, iccc_sub, patient_id
                        FROM cases ORDER BY line_no""").df().set_index("case_id")
    assert got.loc["bday", "age_years"] == 5 and got.loc["bday", "age_group"] == "5-9"
    assert got.loc["eve", "age_years"] == 4 and got.loc["eve", "age_group"] == "1-4"
    assert got.loc["eve", "age_band"] == "0-4"
    assert got.loc["leap", "age_years"] == 0 and got.loc["leap", "age_group"] == "0"
    assert got.loc["leap", "followup_days"] == 0 and got.loc["leap", "event"] == 1
    assert got.loc["bday", "period"] == "2015-2019" and got.loc["bday", "year"] == 2015
    assert got.loc["bday", "followup_days"] == (date(2020, 1, 1) - date(2015, 5, 1)).days
    assert got.loc["bday", "followup_years"] == pytest.approx(got.loc["bday", "followup_days"] / 365.25)
    assert got.loc["dco", "age_years"] == 17 and got.loc["dco", "age_band"] == "15-19"
    assert bool(got.loc["dco", "dco"]) and not bool(got.loc["bday", "dco"])
    assert got.loc["dco", "topography"] == "C719" and got.loc["dco", "stage"] == "M0"
    assert (got.loc["dco", "iccc_main"], got.loc["dco", "iccc_sub"]) == ("III", "IIIb")
    assert got.loc["bday", "iccc_sub"] == "Ia" and got.loc["bday", "patient_id"] == "bday"


def test_unclassified_tumours_are_loaded_and_counted(db, tmp_path):
    rows = [valid_row(case_id="insitu", topography="C50.9", morphology="8500", behaviour="2"),
            valid_row(case_id="ok")]
    report = ingest_file(db, write_csv(tmp_path / "s.csv", rows))
    assert (report.rows_loaded, report.rows_unclassified) == (2, 1)
    assert db.execute("SELECT iccc_sub FROM cases WHERE case_id='insitu'").fetchone() == (None,)


def test_semicolon_csv_case_insensitive_headers_and_extra_columns(db, tmp_path):
    cols = [c.upper() for c in INPUT_NAMES] + ["notes"]
    rows = [{k.upper(): v for k, v in valid_row(case_id=f"S{i}").items()} | {"notes": "x"} for i in range(3)]
    path = write_csv(tmp_path / "s.csv", rows, columns=cols, delimiter=";")
    report = ingest_file(db, path)
    assert report.rows_loaded == 3 and report.ignored_columns == ["notes"]


def test_parquet_submission(db, tmp_path):
    df = pd.DataFrame(random_rows(30))
    df["age_years"] = pd.Series([None] * 29 + [5.0])  # pandas writes gappy integers as floats
    df.loc[29, "birth_date"] = ""
    df["diagnosis_date"] = pd.to_datetime(df["diagnosis_date"]).dt.date  # a real DATE column
    path = tmp_path / "p.parquet"
    df.to_parquet(path)
    report = ingest_file(db, path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (30, 30, 0)
    assert db.execute("SELECT age_years FROM cases WHERE case_id = 'K29'").fetchone() == (5,)


def test_optional_columns_may_be_absent(db, tmp_path):
    cols = [c for c in INPUT_NAMES if c not in ("patient_id", "registry", "basis", "stage", "birth_date")]
    rows = [valid_row(case_id="A", birth_date="", age_years="5")]
    report = ingest_file(db, write_csv(tmp_path / "s.csv", rows, columns=cols))
    assert report.rows_loaded == 1


def test_row_accounting_on_a_messy_file(db, tmp_path):
    rows = random_rows(200, seed=7)
    for i in range(0, 200, 9):
        rows[i]["sex"] = "x"
    for i in range(3, 200, 17):
        rows[i]["case_id"] = "dup"
    report = ingest_file(db, write_csv(tmp_path / "messy.csv", rows))
    assert report.rows_read == 200 == report.rows_loaded + report.rows_rejected
    assert accounting_holds(db, "messy")
