"""Aggregate submissions at the centre (issue 14): `ingest` recognises case counts and survival
events by their header, rejects bad rows with every reason and loses none (rows read = rows loaded
+ rows rejected), loads all-or-nothing, replaces on re-load, and never lets a registry's tumours
be counted twice (as rows and as a table, or in two tables of one kind)."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics import warehouse
from analytics.aggregate import aggregate_file
from analytics.cli import main
from analytics.ingest import StrictRejectError, SubmissionError, ingest_file, remove_submission
from analytics.schema import (CASE_COUNT_COLUMNS, CASE_COUNT_RULES, HELD_ELSEWHERE, NONFINITE, SENT_AS_TABLES,
                              SURVIVAL_EVENT_COLUMNS, SURVIVAL_EVENT_RULES)
from tests.conftest import random_rows, valid_row, write_csv

COUNT_HEADER = [c.name for c in CASE_COUNT_COLUMNS]
EVENT_HEADER = [c.name for c in SURVIVAL_EVENT_COLUMNS if c.name not in ("month", "year")]
GOOD_COUNT = {"country": "KEN", "registry": "", "year": "2012", "sex": "1", "age_group": "1-4",
              "iccc_sub": "Ia", "cases": "5", "dco": "1", "microscopic": "3"}
GOOD_EVENT = {"country": "KEN", "registry": "", "iccc_sub": "IIIc", "sex": "2", "age_group": "5-9",
              "period": "2010-2014", "stage": "", "day": "400", "deaths": "1", "censored": "2"}


def _file(tmp_path, name, header, rows):
    return write_csv(tmp_path / name, rows, header)


def _one_bad(tmp_path, db, good, header, overrides, name):
    """Load a good row and one bad row; return the bad row's reasons (the good one must load)."""
    bad = {**good, **overrides}
    other = {**good, "age_group": "15-19"}  # a different stratum: never a repeat of the bad row
    report = ingest_file(db, _file(tmp_path, name, header, [other, bad]))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 1, 1)
    return db.execute("SELECT reasons FROM rejected_rows WHERE submission_id = ?",
                      [report.submission_id]).fetchone()[0]


BAD_COUNTS = [
    ({"country": ""}, "country: missing"),
    ({"country": "XX"}, "country: not an ISO 3166-1 alpha-3 country code"),
    ({"sex": ""}, "sex: missing"),
    ({"sex": "3"}, "sex: must be one of 1, 2, 9"),
    ({"age_group": ""}, "age_group: missing"),
    ({"age_group": "0-4"}, "age_group: must be one of 0, 1-4, 5-9, 10-14, 15-19"),
    ({"iccc_sub": "Ia.1"}, "iccc_sub: not an ICCC-3 subgroup code such as Ia, IIIc or V (empty when unclassified)"),
    ({"year": ""}, "year: missing"),
    ({"year": "2012.5"}, "year: not a whole number"),
    ({"year": "1949"}, "year: before 1950, the earliest year of diagnosis the pool covers"),
    ({"year": "2999"}, "year: in the future"),
    ({"cases": ""}, "cases: missing"),
    ({"cases": "2.5"}, "cases: not a whole number"),
    ({"cases": "-4", "dco": "", "microscopic": ""}, "cases: negative"),
    ({"cases": "2000000", "dco": "", "microscopic": ""}, "cases: more than 1,000,000 in one row"),
    ({"cases": "0", "dco": "", "microscopic": ""}, "cases: 0 (a row counts at least one tumour)"),
    ({"dco": "one"}, "dco: not a whole number"),
    ({"dco": "-1"}, "dco: negative"),
    ({"dco": "1000001", "cases": "1000000"}, "dco: more than 1,000,000 in one row"),
    ({"dco": "6"}, "dco: more than cases"),
    ({"microscopic": "x"}, "microscopic: not a whole number"),
    ({"microscopic": "-2"}, "microscopic: negative"),
    ({"microscopic": "1000001", "cases": "1000000", "dco": ""}, "microscopic: more than 1,000,000 in one row"),
    ({"microscopic": "6"}, "microscopic: more than cases"),
    ({"dco": "3", "microscopic": "3"}, "dco/microscopic: more than cases together (a death-certificate-only "
                                       "registration is not microscopically verified)"),
]

BAD_EVENTS = [
    ({"country": ""}, "country: missing"),
    ({"country": "KE"}, "country: not an ISO 3166-1 alpha-3 country code"),
    ({"sex": ""}, "sex: missing"),
    ({"sex": "0"}, "sex: must be one of 1, 2, 9"),
    ({"age_group": ""}, "age_group: missing"),
    ({"age_group": "20-24"}, "age_group: must be one of 0, 1-4, 5-9, 10-14, 15-19"),
    ({"iccc_sub": "XIII"}, "iccc_sub: not an ICCC-3 subgroup code such as Ia, IIIc or V (empty when unclassified)"),
    ({"period": ""}, "period: missing"),
    ({"period": "2010-2013"}, "period: not a five-year period of diagnosis from 1950 (1950-1954 ... 2015-2019 ...)"),
    ({"period": "2011-2015"}, "period: not a five-year period of diagnosis from 1950 (1950-1954 ... 2015-2019 ...)"),
    ({"period": "2010"}, "period: not a five-year period of diagnosis from 1950 (1950-1954 ... 2015-2019 ...)"),
    ({"period": "1945-1949"}, "period: not a five-year period of diagnosis from 1950 (1950-1954 ... 2015-2019 ...)"),
    ({"period": "2995-2999"}, "period: in the future"),
    ({"stage": "Q7"}, "stage: not a Toronto stage value (see the data dictionary)"),
    ({"day": ""}, "follow-up time: missing"),
    ({"day": "1.5"}, "follow-up time: not a whole number"),
    ({"day": "-1"}, "follow-up time: negative"),
    ({"day": "1000001"}, "follow-up time: more than 1,000,000 in one row"),
    ({"deaths": ""}, "deaths: missing"),
    ({"deaths": "a"}, "deaths: not a whole number"),
    ({"deaths": "-1"}, "deaths: negative"),
    ({"deaths": "1000001"}, "deaths: more than 1,000,000 in one row"),
    ({"censored": ""}, "censored: missing"),
    ({"censored": "1e3"}, "censored: not a whole number"),
    ({"censored": "-3"}, "censored: negative"),
    ({"censored": "1000001"}, "censored: more than 1,000,000 in one row"),
    ({"deaths": "0", "censored": "0"}, "deaths/censored: both 0 (a row counts at least one child)"),
]


def test_every_rule_of_the_tables_has_a_bad_row_test():
    tested_elsewhere = {NONFINITE.reason, HELD_ELSEWHERE.reason}  # below
    counts = {r for _, r in BAD_COUNTS} | tested_elsewhere | {CASE_COUNT_RULES[-2].reason}
    events = {r for _, r in BAD_EVENTS} | tested_elsewhere | {SURVIVAL_EVENT_RULES[-2].reason}
    assert {r.reason for r in CASE_COUNT_RULES} == counts
    assert {r.reason for r in SURVIVAL_EVENT_RULES} == events


@pytest.mark.parametrize("overrides,reason", BAD_COUNTS, ids=[r for _, r in BAD_COUNTS])
def test_bad_case_count_row_is_kept_with_its_reason(db, tmp_path, overrides, reason):
    assert reason in _one_bad(tmp_path, db, GOOD_COUNT, COUNT_HEADER, overrides, "counts.csv")


@pytest.mark.parametrize("overrides,reason", BAD_EVENTS, ids=[r for _, r in BAD_EVENTS])
def test_bad_survival_event_row_is_kept_with_its_reason(db, tmp_path, overrides, reason):
    assert reason in _one_bad(tmp_path, db, GOOD_EVENT, EVENT_HEADER, overrides, "events.csv")


def test_a_repeated_stratum_rejects_every_copy_and_nothing_is_lost(db, tmp_path):
    rows = [GOOD_COUNT, {**GOOD_COUNT, "iccc_sub": "ia", "cases": "2", "dco": "", "microscopic": ""},
            {**GOOD_COUNT, "sex": "2"}]
    report = ingest_file(db, _file(tmp_path, "c.csv", COUNT_HEADER, rows))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 1, 2)
    assert report.reasons == {CASE_COUNT_RULES[-2].reason: 2}
    events = [GOOD_EVENT, {**GOOD_EVENT, "deaths": "0"}, {**GOOD_EVENT, "day": "401"}]
    report = ingest_file(db, _file(tmp_path, "e.csv", EVENT_HEADER, events))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 1, 2)
    assert report.reasons == {SURVIVAL_EVENT_RULES[-2].reason: 2}
    raw = db.execute("SELECT raw FROM rejected_rows WHERE submission_id = 'e' ORDER BY line_no").fetchall()
    assert '"day":"400"' in raw[0][0].replace(" ", "")  # the row as sent, kept


def test_malformed_line_in_a_table_is_a_rejected_row(db, tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text(",".join(COUNT_HEADER) + "\n" + ",".join(GOOD_COUNT.values()) + "\nKEN,,2012,1\n")
    report = ingest_file(db, path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 1, 1)
    assert report.kind == "case_counts"


def test_values_are_stored_and_derived(db, tmp_path):
    ingest_file(db, _file(tmp_path, "c.csv", COUNT_HEADER, [{**GOOD_COUNT, "iccc_sub": "iiic", "registry": "NAI"},
                                                           {**GOOD_COUNT, "iccc_sub": "", "cases": "2.0",
                                                                            "dco": "", "microscopic": "0"}]))
    got = db.execute("""SELECT registry, year, period, sex, age_group, age_band, iccc_main, iccc_sub, cases, dco,
                               microscopic FROM agg_case_counts ORDER BY line_no""").fetchall()
    assert got == [("NAI", 2012, "2010-2014", 1, "1-4", "0-4", "III", "IIIc", 5, 1, 3),
                   (None, 2012, "2010-2014", 1, "1-4", "0-4", None, None, 2, None, 0)]
    assert db.execute("SELECT kind, rows_unclassified FROM submissions").fetchall() == [("case_counts", 1)]
    month = {k: v for k, v in GOOD_EVENT.items() if k != "day"} | {"month": "13", "stage": "l1"}
    ingest_file(db, _file(tmp_path, "e.csv", [*EVENT_HEADER[:7], "month", "deaths", "censored"], [month]))
    assert db.execute("SELECT unit, time, stage, age_band, deaths, censored FROM agg_survival_events").fetchall() \
        == [("month", 13, "L1", "5-9", 1, 2)]


def test_a_time_column_must_be_exactly_one(db, tmp_path):
    both = _file(tmp_path, "e.csv", [*EVENT_HEADER, "month"], [{**GOOD_EVENT, "month": "13"}])
    with pytest.raises(SubmissionError, match="day and month both given"):
        ingest_file(db, both)
    none = _file(tmp_path, "f.csv", [c for c in EVENT_HEADER if c != "day"], [GOOD_EVENT])
    with pytest.raises(SubmissionError, match="missing required column.*one of day, month, year"):
        ingest_file(db, none)
    assert db.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_strict_loads_nothing_and_reload_replaces(db, tmp_path):
    path = _file(tmp_path, "KEN_counts.csv", COUNT_HEADER, [GOOD_COUNT, {**GOOD_COUNT, "sex": "2", "cases": "-1"}])
    with pytest.raises(StrictRejectError):
        ingest_file(db, path, strict=True)
    assert db.execute("SELECT count(*) FROM agg_case_counts").fetchone()[0] == 0
    first = ingest_file(db, path)
    keys = db.execute("SELECT key_cases, key_dco, key_microscopic FROM agg_case_counts").fetchall()
    path.write_text(path.read_text() + "KEN,,2013,2,0,V,1,,\n")  # a corrected extract, one row more
    again = ingest_file(db, path)
    assert again.replaced == [first.submission_id]
    assert db.execute("SELECT count(*), sum(cases) FROM agg_case_counts").fetchone() == (2, 6)
    assert db.execute("SELECT count(*) FROM rejected_rows").fetchone()[0] == 1
    assert db.execute("SELECT key_cases, key_dco, key_microscopic FROM agg_case_counts WHERE year = 2012"
                      ).fetchall() == keys  # same tumours, same record keys
    removal = remove_submission(db, again.submission_id)
    assert (removal.loaded, removal.rejected) == (2, 1)
    assert db.execute("SELECT count(*) FROM agg_case_counts").fetchone()[0] == 0


def test_record_keys_of_a_row_are_the_sum_of_its_tumours_keys(db, tmp_path):
    """A row of n tumours holds the sum of n keys: a split of the row sums to the same total."""
    ingest_file(db, _file(tmp_path, "c.csv", COUNT_HEADER, [{**GOOD_COUNT, "dco": "2", "microscopic": "3"}]))
    k, kd, km = db.execute("SELECT key_cases, key_dco, key_microscopic FROM agg_case_counts").fetchone()
    assert 0 <= k < 2 ** 32 and len({k, kd, km}) == 3
    secret = warehouse.cellkey_secret(db)
    one = [db.execute("SELECT CAST('0x' || left(sha256(? || '|' || 'agg|KEN||2010-2014|1|1-4|Ia' || '|' || ?), 8) "
                      "AS UBIGINT)", [secret, i]).fetchone()[0] for i in range(5)]
    # the 3 with a survival time first (the microscopically verified among them), the 2 DCO after
    assert (sum(one) % 2 ** 32, sum(one[3:]) % 2 ** 32, sum(one[:3]) % 2 ** 32) == (k, kd, km)


def test_a_registry_is_counted_once(db, tmp_path):
    counts = _file(tmp_path, "KEN_counts.csv", COUNT_HEADER, [GOOD_COUNT])
    ingest_file(db, counts)
    # the same registry's survival events: the other kind, welcome
    assert ingest_file(db, _file(tmp_path, "KEN_events.csv", EVENT_HEADER, [GOOD_EVENT])).rows_loaded == 1
    # its case counts again under another name: refused row by row, kept
    again = ingest_file(db, _file(tmp_path, "KEN_counts_2.csv", COUNT_HEADER, [{**GOOD_COUNT, "year": "2013"}]))
    assert again.reasons == {HELD_ELSEWHERE.reason: 1}
    # its rows: each tumour refused, and kept
    rows = ingest_file(db, write_csv(tmp_path / "KEN_rows.csv",
                                     [valid_row(country="KEN", registry=""), valid_row(case_id="F", country="FRA")]))
    assert (rows.rows_loaded, rows.reasons) == (1, {SENT_AS_TABLES.reason: 1})
    # and a FRA table, FRA being in the pool as rows
    fra = ingest_file(db, _file(tmp_path, "FRA_events.csv", EVENT_HEADER, [{**GOOD_EVENT, "country": "FRA",
                                                                          "registry": "R01"}]))
    assert fra.reasons == {HELD_ELSEWHERE.reason: 1}


def test_parquet_tables_load(db, tmp_path):
    df = pd.DataFrame([GOOD_COUNT, {**GOOD_COUNT, "sex": "2", "dco": None}])
    df = df.assign(year=df["year"].astype(int), cases=df["cases"].astype(int),
                   dco=pd.to_numeric(df["dco"]), microscopic=df["microscopic"].astype(int))
    df.to_parquet(tmp_path / "counts.parquet")
    report = ingest_file(db, tmp_path / "counts.parquet")
    assert (report.kind, report.rows_loaded) == ("case_counts", 2)
    assert db.execute("SELECT dco FROM agg_case_counts ORDER BY sex").fetchall() == [(1,), (None,)]
    df = pd.DataFrame([GOOD_EVENT]).assign(day=[float("inf")], deaths=[1], censored=[2])
    df.to_parquet(tmp_path / "events.parquet")
    assert NONFINITE.reason in ingest_file(db, tmp_path / "events.parquet").reasons


def test_the_partners_tables_load_whole_and_sum_to_its_rows(tmp_path):
    """`aggregate` on the partner's side, `ingest` at the centre: every tumour is in the counts and
    every one with a survival time in the events, stratum by stratum."""
    rows = random_rows(600, seed=5, countries=("KEN",))
    for i, r in enumerate(rows):
        if i % 17 == 0:
            r.update(basis="0", vital_status="2", last_contact_date=r["diagnosis_date"])
    src = write_csv(tmp_path / "KEN.csv", rows)
    done = aggregate_file(src, tmp_path / "out")
    assert main(["ingest", str(done.case_counts), str(done.survival_events), "--db", str(tmp_path / "pool.duckdb")]) == 0
    by_rows = warehouse.connect(tmp_path / "rows.duckdb")
    ingest_file(by_rows, src)
    pooled = warehouse.connect(tmp_path / "pool.duckdb", read_only=True)
    strata = "country, year, sex, age_group, iccc_sub"
    a = pooled.execute(f"SELECT {strata}, sum(cases), sum(dco), sum(microscopic) FROM agg_case_counts "
                       "GROUP BY ALL ORDER BY ALL").fetchall()
    b = by_rows.execute(f"SELECT {strata}, count(*), count(*) FILTER (WHERE dco), "
                        "count(*) FILTER (WHERE basis IN (5, 6, 7)) FROM cases GROUP BY ALL ORDER BY ALL").fetchall()
    assert a == b
    e = pooled.execute("SELECT iccc_sub, sex, age_group, period, time, sum(deaths), sum(censored) "
                       "FROM agg_survival_events GROUP BY ALL ORDER BY ALL").fetchall()
    f = by_rows.execute("SELECT iccc_sub, sex, age_group, period, followup_days, sum(event), count(*) - sum(event) "
                        "FROM cases WHERE NOT dco GROUP BY ALL ORDER BY ALL").fetchall()
    assert e == f
    s = pooled.execute("SELECT kind, rows_read, rows_loaded, rows_rejected FROM submissions ORDER BY kind").fetchall()
    assert [k for k, *_ in s] == ["case_counts", "survival_events"]
    assert all(read == loaded and rejected == 0 for _, read, loaded, rejected in s)
    audit = pooled.execute("SELECT action, what FROM audit_log WHERE action = 'ingest' ORDER BY seq").fetchall()
    assert len(audit) == 2 and all("(KEN)" in what for _, what in audit)


def test_review_findings_kind_registry_and_size(db, tmp_path, monkeypatch):
    """A file of another kind never replaces a submission by its name alone; a blank registry is
    the whole country (it clashes with every registry, both ways); a file counting more tumours
    than one file may is refused whole."""
    from analytics import ingest_tables

    counts = _file(tmp_path, "KEN.csv", COUNT_HEADER, [GOOD_COUNT])
    ingest_file(db, counts)
    events = tmp_path / "ev" / "KEN.csv"
    events.parent.mkdir()
    _file(tmp_path / "ev", "KEN.csv", EVENT_HEADER, [GOOD_EVENT])
    with pytest.raises(SubmissionError, match="is a case counts .aggregate., this file a survival events"):
        ingest_file(db, events)
    assert db.execute("SELECT count(*) FROM agg_case_counts").fetchone()[0] == 1
    # KEN's counts have a blank registry: rows of its registry R01 clash, and a table of R01 too
    rows = ingest_file(db, write_csv(tmp_path / "r.csv", [valid_row(country="KEN", registry="R01")]))
    assert rows.reasons == {SENT_AS_TABLES.reason: 1}
    r01 = ingest_file(db, _file(tmp_path, "c2.csv", COUNT_HEADER, [{**GOOD_COUNT, "registry": "R01", "year": "2013"}]))
    assert r01.reasons == {HELD_ELSEWHERE.reason: 1}
    # FRA rows of registry R01: a national (blank registry) table of FRA clashes
    ingest_file(db, write_csv(tmp_path / "fra.csv", [valid_row(case_id="F1")]))
    fra = ingest_file(db, _file(tmp_path, "fra_c.csv", COUNT_HEADER, [{**GOOD_COUNT, "country": "FRA"}]))
    assert fra.reasons == {HELD_ELSEWHERE.reason: 1}
    monkeypatch.setattr(ingest_tables, "MAX_FILE_TUMOURS", 8)
    big = _file(tmp_path, "big.csv", COUNT_HEADER, [{**GOOD_COUNT, "country": "UGA"},
                                                     {**GOOD_COUNT, "country": "UGA", "sex": "2"}])
    with pytest.raises(SubmissionError, match="of 10 tumours, more than the 8 one file may hold"):
        ingest_file(db, big)
    assert db.execute("SELECT count(*) FROM submissions WHERE submission_id = 'big'").fetchone()[0] == 0
