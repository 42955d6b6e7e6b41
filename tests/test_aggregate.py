"""Aggregate submissions, the partner's side (issue 14): `python -m analytics aggregate` writes case
counts and survival events from a row-level file after ingest's own validation, and from them the
numbers are those of the rows: case counts add up to the warehouse's tumours in every stratum, and
Kaplan-Meier (survival at times, CIs, numbers at risk, medians), the log-rank test and the Cox
model (Efron ties, categorical covariates: `survival.cox_grouped`) from the summed survival events
equal the ones from the loaded rows."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics import schema, survival, warehouse
from analytics.aggregate import COUNT_STRATA, aggregate_file
from analytics.cli import main
from analytics.ingest import SubmissionError, ingest_file
from tests.conftest import random_rows, valid_row, write_csv

STAGES = {"9811": "CNS1", "9500": "L1"}


@pytest.fixture(scope="module")
def partner(tmp_path_factory):
    """A partner's row file (with DCO, unknown sex, stages and two bad rows), aggregated, and the
    same file loaded as rows into a warehouse."""
    d = tmp_path_factory.mktemp("aggregate")
    rows = random_rows(800, seed=31, countries=("FRA", "KEN"))
    for i, r in enumerate(rows):
        if i % 23 == 0:  # a death certificate only: dead, known on the day of diagnosis
            r.update(basis="0", vital_status="2", last_contact_date=r["diagnosis_date"])
        if i % 31 == 0 and r["topography"] != "C629":
            r["sex"] = "9"
        if r["morphology"] in STAGES and i % 2:
            r["stage"] = STAGES[r["morphology"]]
        if i % 7 == 0:
            r["basis"] = "2"
    rows += [valid_row(case_id="BAD1", sex="7"), valid_row(case_id="BAD2", country="XX")]
    (d / "rows").mkdir()
    src = write_csv(d / "rows" / "KEN_2024.csv", rows)
    done = aggregate_file(src, d / "out")
    con = warehouse.connect(d / "w.duckdb")
    ingest_file(con, src)
    yield {"done": done, "con": con, "dir": d, "src": src}
    con.close()


def test_only_the_two_tables_leave_and_the_rejected_rows_stay(partner):
    done, d = partner["done"], partner["dir"]
    assert sorted(p.name for p in (d / "out").iterdir()) == ["KEN_2024_case_counts.csv",
                                                            "KEN_2024_survival_events.csv"]
    assert (done.report.rows_read, done.report.rows_loaded, done.report.rows_rejected) == (802, 800, 2)
    assert done.rejected == partner["src"].with_name("KEN_2024_rejected.csv")
    assert len(pd.read_csv(done.rejected)) == 2
    assert list(pd.read_csv(done.case_counts, nrows=0).columns) == [c.name for c in schema.CASE_COUNT_COLUMNS]
    assert list(pd.read_csv(done.survival_events, nrows=0).columns) == [
        c.name for c in schema.SURVIVAL_EVENT_COLUMNS if c.name not in ("month", "year")]  # time in days
    assert schema.submission_kind(pd.read_csv(done.case_counts, nrows=0).columns) == "case_counts"
    assert schema.submission_kind(pd.read_csv(done.survival_events, nrows=0).columns) == "survival_events"
    assert schema.submission_kind(schema.INPUT_NAMES) == "cases"


def test_case_counts_add_up_to_the_loaded_tumours_in_every_stratum(partner):
    counts = pd.read_csv(partner["done"].case_counts, keep_default_na=False, dtype={"iccc_sub": str, "registry": str})
    rows = partner["con"].execute("""
        SELECT country, coalesce(registry, '') AS registry, year, sex, age_group, coalesce(iccc_sub, '') AS iccc_sub,
               count(*) AS cases, count(*) FILTER (WHERE dco) AS dco,
               count(*) FILTER (WHERE basis IN (5, 6, 7)) AS microscopic
        FROM cases GROUP BY ALL""").df()
    merged = rows.merge(counts, on=COUNT_STRATA, how="outer", suffixes=("_rows", "_table"), indicator=True)
    assert (merged["_merge"] == "both").all()  # the same strata on both sides
    for c in ("cases", "dco", "microscopic"):
        assert (merged[f"{c}_rows"] == merged[f"{c}_table"]).all(), c
    assert counts["cases"].sum() == 800 and counts["dco"].sum() > 0


def _from_table(path, by: list[str], unit: str = "day") -> survival.EventTable:
    ev = pd.read_csv(path, keep_default_na=False, dtype={"iccc_sub": str, "registry": str, "stage": str})
    t = (ev.groupby(by + [unit], as_index=False)[["deaths", "censored"]].sum()
           .rename(columns={unit: "days", "deaths": "n_event", "censored": "n_censor"})
           .sort_values(by + ["days"]).reset_index(drop=True))
    return survival.EventTable(t, by, int(ev["deaths"].sum() + ev["censored"].sum()), 0)


@pytest.mark.parametrize("by", [[], ["country"], ["sex"]])
def test_kaplan_meier_and_log_rank_from_the_tables_equal_the_rows(partner, by):
    from_rows = survival.event_table(partner["con"], None, by)
    from_table = _from_table(partner["done"].survival_events, by)
    a = survival.kaplan_meier(from_rows, times=(1, 3, 5, 8), min_cases=1)
    b = survival.kaplan_meier(from_table, times=(1, 3, 5, 8), min_cases=1)
    pd.testing.assert_frame_equal(a.at_times.reset_index(drop=True), b.at_times.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, atol=1e-12, check_dtype=False)
    pd.testing.assert_frame_equal(a.medians.reset_index(drop=True), b.medians.reset_index(drop=True),
                                  check_exact=False, rtol=1e-12, atol=1e-12, check_dtype=False)
    assert a.n_selected - a.n_dco == b.n_selected  # the DCO registrations are not in the events table
    if by:
        ra, rb = survival.logrank(from_rows, by[0]), survival.logrank(from_table, by[0])
        assert ra["chisq"] == pytest.approx(rb["chisq"], rel=1e-12) and ra["df"] == rb["df"] > 0


def test_coarser_follow_up_counts_every_child_once(partner, tmp_path):
    done = aggregate_file(partner["src"], tmp_path / "months", unit="month", stage=False)
    ev = pd.read_csv(done.survival_events)
    assert "month" in ev.columns and "stage" not in ev.columns and "day" not in ev.columns
    days = partner["con"].execute("SELECT followup_days, event FROM cases WHERE NOT dco").df()
    months = (days["followup_days"] // (365.25 / 12)).astype(int)
    assert ev["deaths"].sum() == days["event"].sum()
    assert ev["deaths"].sum() + ev["censored"].sum() == len(days)
    by_month = ev.groupby("month")[["deaths", "censored"]].sum().sum(axis=1)
    assert by_month.to_dict() == months.value_counts().sort_index().to_dict()


def test_a_file_that_is_not_a_submission_gives_one_message_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    with pytest.raises(SubmissionError):
        aggregate_file(bad, tmp_path / "out")
    assert main(["aggregate", str(bad), "--out", str(tmp_path / "out")]) == 1
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="unit"):
        aggregate_file(bad, tmp_path / "out", unit="week")


def test_the_command_line_prints_what_it_wrote(partner, tmp_path, capsys):
    assert main(["aggregate", str(partner["src"]), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr()
    assert "case counts:" in out.out and "survival events:" in out.out and "sex: must be one of" in out.err


@pytest.mark.parametrize("unit", ["day", "month"])
def test_cox_from_the_tables_equals_cox_on_the_rows(partner, tmp_path, unit):
    """Efron's partial likelihood over the counts (survival.cox_grouped) is the rows' own, ties
    and all (in completed months nearly every death is tied): fitted on the tables and on the
    individual rows (one row, one person) the estimates agree to 1e-10, and with lifelines on the
    rows (itself checked against R's coxph) to its own convergence (1e-6)."""
    done = aggregate_file(partner["src"], tmp_path / unit, unit=unit)
    ev = pd.read_csv(done.survival_events, keep_default_na=False,
                     dtype={"iccc_sub": str, "registry": str, "stage": str})
    rows = partner["con"].execute("SELECT followup_days, event, country, sex, age_group FROM cases WHERE NOT dco").df()
    rows["t"] = rows["followup_days"] if unit == "day" else (rows["followup_days"] // (365.25 / 12)).astype(int)
    rows["censored"] = 1 - rows["event"]
    covariates = ["country", "sex", "age_group"]
    tables = survival.cox_grouped(ev, unit, "deaths", "censored", covariates)
    one_by_one = survival.cox_grouped(rows, "t", "event", "censored", covariates)
    lifelines = survival.cox_fit(rows, "t", "event", covariates, set())
    assert list(tables["term"]) == list(one_by_one["term"]) == list(lifelines["term"])
    for col in ("coef", "se", "p"):
        assert abs(tables[col] - one_by_one[col]).max() < 1e-10, col
        assert abs(tables[col] - lifelines[col]).max() < 1e-6, col
    assert tables.attrs["loglik"] == pytest.approx(lifelines.attrs["model"].log_likelihood_, rel=1e-12)
    assert (tables.attrs["n"], tables.attrs["events"]) == (lifelines.attrs["n"], lifelines.attrs["events"])
    with pytest.raises(survival.SelectionError):
        survival.cox_grouped(ev.assign(deaths=0), unit, "deaths", "censored", covariates)
