"""The aggregates on Apache Spark (issue 16, item 2): the same statistics from `--engine spark` as
from DuckDB, to 1e-9, on the same warehouse.

Spark runs for real here: PySpark in local mode on Debian's JDK 17 (`python3 dev.py test` installs
both), reading the warehouse's Parquet copy (`analytics.engine.export_parquet`). The warehouses are
small demo pools with an aggregate partner (Kenya, as the two tables it would send), so both
branches of every query run: the rows, and the partners' tables, in days and in months. One Spark
session serves the module (it takes about 10 s to start).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analytics import competing, engine, incidence, survival, warehouse
from analytics.cli import main
from analytics.filters import Selection
from analytics.period import Window

RTOL = 1e-9


def _demo(tmp_path_factory, unit: str):
    from analytics.demo import build_demo

    d = tmp_path_factory.mktemp(f"spark_{unit}")
    build_demo(d / "w.duckdb", scale=0.05, seed=11, out_dir=d / "files", countries=["FRA", "GBR", "KEN", "UGA"],
               aggregate_countries=["KEN"], aggregate_unit=unit, log=lambda m: None)
    return d / "w.duckdb"


@pytest.fixture(scope="module")
def spark():
    session = engine.spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def days_db(tmp_path_factory):
    return _demo(tmp_path_factory, "day")


@pytest.fixture(scope="module")
def months_db(tmp_path_factory):
    return _demo(tmp_path_factory, "month")


def _engines(db, spark, tmp_path):
    con = warehouse.connect(db, read_only=True)
    engine.export_parquet(con, tmp_path / "parquet")
    return con, engine.spark_engine(con, data=str(tmp_path / "parquet"), spark=spark)


@pytest.fixture(scope="module")
def days(days_db, spark, tmp_path_factory):
    con, eng = _engines(days_db, spark, tmp_path_factory.mktemp("days_parquet"))
    yield con, eng
    con.close()


@pytest.fixture(scope="module")
def months(months_db, spark, tmp_path_factory):
    con, eng = _engines(months_db, spark, tmp_path_factory.mktemp("months_parquet"))
    yield con, eng
    con.close()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal frames: the same columns, rows and values (numbers to RTOL), not necessarily the same
    integer widths."""
    assert len(a) > 0
    assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False,
                       check_exact=False, rtol=RTOL, atol=0)


SELECTIONS = [
    (Selection(), []),
    (Selection(), ["country"]),
    (Selection.build({"iccc_main": ["I", "III"]}), ["country", "sex"]),
    (Selection.build({"country": ["FRA", "KEN"]}, (2005, 2014)), ["age_group"]),
    (Selection.build({"sex": [2]}), ["period"]),
]


#: Incidence: the demo's denominators are both sexes (UN WPP), so no sex-specific rates.
RATE_SELECTIONS = [s for s in SELECTIONS if "sex" not in s[0].filters and "sex" not in s[1]] + [
    (Selection.build({"age_band": ["0-4", "5-9"]}), ["iccc_main"])]


@pytest.mark.parametrize("sel,by", RATE_SELECTIONS)
def test_incidence_is_the_same_on_spark(days, sel, by):
    con, eng = days
    a, b = incidence.incidence(con, sel, by), incidence.incidence(con, sel, by, engine=eng)
    same(a.table, b.table)
    same(a.age_specific, b.age_specific)
    assert a.notes == b.notes


def test_incidence_left_out_country_years_are_the_same_on_spark(days_db, spark, tmp_path):
    """Country-years without person-years (FRA 2005 and 2007-2008, all of UGA deleted from a copy
    of the pool): the cases left out, and the note's lists of years, come from the same query on
    Spark."""
    import shutil

    shutil.copy(days_db, tmp_path / "gaps.duckdb")
    con = warehouse.connect(tmp_path / "gaps.duckdb")
    con.execute("DELETE FROM population WHERE country = 'UGA' OR (country = 'FRA' AND year IN (2005, 2007, 2008))")
    con.close()
    con, eng = _engines(tmp_path / "gaps.duckdb", spark, tmp_path)
    for by in ([], ["country"], ["iccc_main"]):
        a, b = incidence.band_counts(con, Selection(), by), incidence.band_counts(con, Selection(), by, engine=eng)
        same(a, b)
        assert a.attrs["left_out"] is not None and a.attrs["left_out"] == b.attrs["left_out"]
    assert "FRA 2005, 2007-2008" in a.attrs["left_out"].where and "UGA (all years)" in a.attrs["left_out"].where
    con.close()


def test_the_trend_is_the_same_on_spark(days):
    con, eng = days
    same(incidence.trend(con, None, ["iccc_main"]), incidence.trend(con, None, ["iccc_main"], engine=eng))


@pytest.mark.parametrize("sel,by", SELECTIONS)
def test_kaplan_meier_is_the_same_on_spark(days, sel, by):
    con, eng = days
    a = survival.kaplan_meier(survival.event_table(con, sel, by))
    b = survival.kaplan_meier(survival.event_table(con, sel, by, engine=eng))
    same(a.at_times, b.at_times)
    same(a.medians, b.medians)
    same(a.steps(), b.steps())
    assert a.notes == b.notes


def test_the_event_tables_are_equal_on_spark(days):
    """The aggregate itself: every row, the counts of selected and DCO, the notes on partners."""
    con, eng = days
    a = survival.event_table(con, Selection(), ["country", "stage"])
    b = survival.event_table(con, Selection(), ["country", "stage"], engine=eng)
    key = ["country", "stage", "days"]
    same(a.table.sort_values(key, na_position="last"), b.table.sort_values(key, na_position="last"))
    assert (a.n_selected, a.n_dco, a.notes) == (b.n_selected, b.n_dco, b.notes)
    assert "KEN" in set(a.table["country"])  # the partner's tables are in it


def test_the_life_table_in_months_is_the_same_on_spark(months):
    """An aggregate partner in completed months: the actuarial life table pools it, on both."""
    con, eng = months
    a = survival.kaplan_meier(survival.event_table(con, Selection(), ["country"], unit="month"))
    b = survival.kaplan_meier(survival.event_table(con, Selection(), ["country"], unit="month", engine=eng))
    assert "KEN" in set(a.at_times["country"])
    same(a.at_times, b.at_times)


def test_period_analysis_is_the_same_on_spark(days):
    con, eng = days
    w = Window.parse("2015-2019")
    a = survival.event_table(con, Selection(), ["sex"], window=w)
    b = survival.event_table(con, Selection(), ["sex"], window=w, engine=eng)
    assert (a.n_selected, a.n_dco, a.n_window) == (b.n_selected, b.n_dco, b.n_window)
    same(survival.kaplan_meier(a).at_times, survival.kaplan_meier(b).at_times)


def test_age_standardised_survival_and_follow_up_are_the_same_on_spark(days):
    con, eng = days
    a = survival.event_table(con, Selection(), ["country", "age_band"])
    b = survival.event_table(con, Selection(), ["country", "age_band"], engine=eng)
    same(survival.age_standardised(a), survival.age_standardised(b))
    a, b = survival.event_table(con, Selection(), ["sex"]), survival.event_table(con, Selection(), ["sex"], engine=eng)
    same(survival.median_followup(a), survival.median_followup(b))


@pytest.mark.parametrize("group,strata", [("country", None), ("sex", "age_group"), ("stage", None)])
def test_the_log_rank_test_is_the_same_on_spark(days, group, strata):
    con, eng = days
    cols = [group] + ([strata] if strata else [])
    a = survival.logrank(survival.event_table(con, Selection(), cols), group, strata=strata)
    b = survival.logrank(survival.event_table(con, Selection(), cols, engine=eng), group, strata=strata)
    assert a.keys() == b.keys()
    assert a["reason"] is None and a["levels"] == b["levels"]
    for k in ("chisq", "df", "p", "observed", "expected", "n_excluded"):
        np.testing.assert_allclose(a[k], b[k], rtol=RTOL)


@pytest.mark.parametrize("by", [[], ["age_group"], ["country"]])
def test_cumulative_incidence_is_the_same_on_spark(days, by):
    con, eng = days
    a, b = competing.cause_table(con, Selection(), by), competing.cause_table(con, Selection(), by, engine=eng)
    assert (a.n_selected, a.n_dco, a.notes) == (b.n_selected, b.n_dco, b.notes)
    same(competing.cuminc(a), competing.cuminc(b))
    if by:
        same(competing.gray_test(a, by[0]), competing.gray_test(b, by[0]))


@pytest.mark.parametrize("command", [
    ["incidence", "--by", "country,iccc_main"],
    ["trend", "--by", "iccc_main"],
    ["survival", "--by", "country", "--times", "1,5"],
    ["survival", "--method", "actuarial", "--by", "country"],
    ["survival", "--by", "sex", "--period-window", "2015-2019", "--median"],
    ["logrank", "--by", "country", "--strata", "sex"],
    ["cif", "--by", "age_group"],
    ["cif", "--by", "sex", "--test"],
])
def test_the_command_line_prints_the_same_with_engine_spark(days_db, spark, capsys, command):
    """End to end: `--engine spark` writes the warehouse as Parquet, runs the aggregate on Spark,
    and prints the same table as the default engine."""
    assert main([*command, "--db", str(days_db)]) == 0
    expected = capsys.readouterr().out
    assert main([*command, "--db", str(days_db), "--engine", "spark"]) == 0
    out = capsys.readouterr()
    assert out.out == expected
    assert "starting Spark" in out.err


def test_net_survival_is_refused_on_spark(days_db, capsys):
    assert main(["survival", "--method", "pohar-perme", "--db", str(days_db), "--engine", "spark"]) == 2
    assert "net survival" in capsys.readouterr().err


def test_a_copy_of_another_warehouse_is_refused(days_db, months_db, spark, tmp_path, capsys):
    """The Parquet copy must be of the warehouse the notes are read from: another one's (or one
    without a manifest) is refused in plain words, on the command line too."""
    con = warehouse.connect(months_db, read_only=True)
    engine.export_parquet(con, tmp_path / "months")
    con.close()
    con = warehouse.connect(days_db, read_only=True)
    with pytest.raises(engine.EngineError, match="not of this warehouse"):
        engine.spark_engine(con, data=str(tmp_path / "months"), spark=spark)
    (tmp_path / "months" / engine.MANIFEST).unlink()
    with pytest.raises(engine.EngineError, match="cannot read .*manifest.json"):
        engine.spark_engine(con, data=str(tmp_path / "months"), spark=spark)
    with pytest.raises(engine.EngineError, match="cannot read .*manifest.json"):
        engine.spark_engine(con, data=str(tmp_path / "nowhere"), spark=spark)
    con.close()
    assert main(["parquet", "--db", str(months_db), "--out", str(tmp_path / "again")]) == 0
    assert main(["incidence", "--db", str(days_db), "--engine", "spark", "--spark-data", str(tmp_path / "again")]) == 2
    assert "not of this warehouse" in capsys.readouterr().err


def test_parameters_are_bound_by_spark_not_pasted():
    """The transpiled text keeps every parameter as a named marker; values never enter it."""
    sel = Selection.build({"country": ["FRA", "GBR"]}, (2000, 2019))
    from analytics import pooled

    sql, params = pooled.events_sql(sel, ["country"])
    text = engine.to_spark(f"SELECT * FROM {sql}")
    assert ":f_country_0" in text and ":y_from" in text and "'FRA'" not in text and "2019" not in text
    assert set(params) >= {"f_country_0", "f_country_1", "y_from", "y_to"}


def test_two_warehouses_in_one_spark_session_keep_their_own_tables(days, months):
    """Each engine reads its own copy (a Spark session of its own): the day-unit pool's Kenya is
    in its Kaplan-Meier table whatever engine was made after it."""
    for con, eng in (days, months, days):
        a = survival.event_table(con, Selection(), ["country"])
        b = survival.event_table(con, Selection(), ["country"], engine=eng)
        assert (a.n_selected, sorted(set(a.table["country"]))) == (b.n_selected, sorted(set(b.table["country"])))


def test_a_copy_made_before_an_edit_in_place_is_refused(days_db, spark, tmp_path):
    """Same change count, same rows, other contents (person-years doubled in place): the checksum
    in the manifest tells the copy is not the warehouse's any more."""
    import shutil

    shutil.copy(days_db, tmp_path / "w.duckdb")
    con = warehouse.connect(tmp_path / "w.duckdb", read_only=True)
    engine.export_parquet(con, tmp_path / "copy")
    con.close()
    con = warehouse.connect(tmp_path / "w.duckdb")
    con.execute("UPDATE population SET person_years = person_years * 2 WHERE country = 'GBR'")
    with pytest.raises(engine.EngineError, match="differ in checksum"):
        engine.spark_engine(con, data=str(tmp_path / "copy"), spark=spark)
    con.close()


def test_an_incomplete_copy_is_refused(days_db, spark, tmp_path):
    """The manifest is the warehouse's but a file holds fewer rows (a copy cut short)."""
    import duckdb

    con = warehouse.connect(days_db, read_only=True)
    engine.export_parquet(con, tmp_path / "copy")
    part = tmp_path / "copy" / "cases.parquet"
    duckdb.sql(f"SELECT * FROM read_parquet('{part}') LIMIT 100").write_parquet(str(tmp_path / "part.parquet"))
    (tmp_path / "part.parquet").replace(part)
    with pytest.raises(engine.EngineError, match="incomplete copy"):
        engine.spark_engine(con, data=str(tmp_path / "copy"), spark=spark)
    con.close()


def test_the_copy_holds_no_identifiers(days_db, tmp_path):
    """Only the columns the aggregates read leave the warehouse: no ids, no date of birth."""
    import pyarrow.parquet as pq

    con = warehouse.connect(days_db, read_only=True)
    engine.export_parquet(con, tmp_path / "copy")
    con.close()
    cols = set(pq.read_schema(tmp_path / "copy" / "cases.parquet").names)
    assert {"country", "followup_days", "event", "dco", "diagnosis_date", "record_key"} <= cols
    assert not cols & {"case_id", "patient_id", "birth_date", "last_contact_date", "submission_id"}


def test_the_engine_options_are_checked_before_spark_starts(days_db, capsys, monkeypatch):
    """A cluster cannot read this machine's temporary copy: refused without --spark-data; the
    Spark options without --engine spark are refused, not ignored."""
    monkeypatch.delenv("CCOE_SPARK_MASTER", raising=False)
    assert main(["logrank", "--by", "sex", "--db", str(days_db), "--engine", "spark",
                 "--spark-master", "spark://head:7077"]) == 2
    assert "--spark-data" in capsys.readouterr().err
    assert main(["logrank", "--by", "sex", "--db", str(days_db), "--spark-data", "/tmp/x"]) == 2
    assert "are for --engine spark" in capsys.readouterr().err
