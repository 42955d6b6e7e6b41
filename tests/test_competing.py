"""Cumulative incidence with competing risks and Gray's test (issue 15, item 2) against R's cmprsk
2.2 (tests/fixtures/survival/make_competing_reference.R): cuminc() through timepoints(), to 1e-9,
on data with ties, deaths on day 0, censorings on death days and unknown causes, and on 30 groups."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import competing

HERE = Path(__file__).parent / "fixtures" / "survival"
DATA = pd.read_csv(HERE / "competing.csv", dtype={"group": str})
CIF = pd.read_csv(HERE / "cif_reference.csv", dtype={"group": str, "cause": str})
GRAY = pd.read_csv(HERE / "gray_reference.csv", dtype={"cause": str})
NAMES = {"1": "cancer", "2": "other", "9": "unknown"}


def _table(ds: str) -> competing.CauseTable:
    return competing.cause_table_from_rows(DATA[DATA["dataset"] == ds], "time_days", "cause", ["group"])


@pytest.mark.parametrize("ds", ["ties", "lung", "many"])
def test_cumulative_incidence_is_that_of_cmprsk(ds):
    ref = CIF[CIF["dataset"] == ds].assign(cause=lambda d: d["cause"].map(NAMES))
    got = competing.cuminc(_table(ds), times=sorted(ref["time_years"].unique()), min_cases=1)
    m = ref.merge(got, on=["group", "cause", "time_years"], how="left", validate="one_to_one")
    assert len(m) == len(ref) and len(got) == len(ref)
    np.testing.assert_allclose(m["cif"], m["est"], rtol=1e-9, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(m["std_err"] ** 2, m["var"], rtol=1e-9, atol=1e-14, equal_nan=True)
    assert m["est"].isna().any() or ds == "ties"  # lung: some times beyond a group's last follow-up


@pytest.mark.parametrize("ds", ["ties", "lung", "many"])
def test_grays_test_is_that_of_cmprsk(ds):
    """'many' (30 groups, 2003 days): the variance is summed over blocks of death times."""
    ref = GRAY[GRAY["dataset"] == ds].assign(cause=lambda d: d["cause"].map(NAMES)).set_index("cause")
    got = competing.gray_test(_table(ds), "group").set_index("cause").loc[ref.index]
    np.testing.assert_allclose(got["statistic"], ref["stat"], rtol=1e-9)
    np.testing.assert_allclose(got["p"], ref["pv"], rtol=1e-8, atol=1e-15)
    assert (got["df"] == ref["df"]).all()


def test_the_causes_add_up_to_one_minus_overall_survival():
    from analytics import survival

    d = DATA[DATA["dataset"] == "lung"]
    got = competing.cuminc(_table("lung"), times=[0.5, 1, 2], min_cases=1)
    total = got.groupby(["group", "time_years"])["cif"].sum()
    km = survival.kaplan_meier(survival.event_table_from_rows(d.assign(dead=d["cause"] > 0), "time_days", "dead",
                                                              ["group"]), times=[0.5, 1, 2], min_cases=1)
    s = km.at_times.set_index(["group", "time_years"])["survival"]
    np.testing.assert_allclose(total.loc[s.index], 1 - s, rtol=1e-12)


def test_confidence_interval_stays_within_0_and_1():
    got = competing.cuminc(_table("ties"), times=[0.5, 1, 3], min_cases=1)
    ok = got["cif"].between(0, 1, inclusive="neither")
    assert (got.loc[ok, "lower"] < got.loc[ok, "cif"]).all() and (got.loc[ok, "upper"] > got.loc[ok, "cif"]).all()
    assert (got.loc[ok, "lower"] > 0).all() and (got.loc[ok, "upper"] < 1).all()


@pytest.fixture(scope="module")
def ties_db(tmp_path_factory):
    """The `ties` dataset with its causes loaded through ingest: group as registry, follow-up as
    dates, the cause in the contract's cause_of_death column."""
    from datetime import date, timedelta

    from analytics import warehouse
    from analytics.ingest import ingest_file
    from tests.conftest import valid_row, write_csv

    d = DATA[DATA["dataset"] == "ties"]
    dx = date(2010, 1, 1)
    rows = [valid_row(case_id=f"T{r.id}", registry=r.group, diagnosis_date=dx.isoformat(), birth_date="",
                      age_years="10",
                      vital_status="2" if r.cause else "1", cause_of_death=str(r.cause) if r.cause else "",
                      last_contact_date=(dx + timedelta(days=int(r.time_days))).isoformat())
            for r in d.itertuples()]
    tmp = tmp_path_factory.mktemp("ties")
    con = warehouse.connect(tmp / "w.duckdb")
    assert ingest_file(con, write_csv(tmp / "ties.csv", rows)).rows_loaded == len(d) == 300
    con.close()
    return tmp / "w.duckdb"


def _run(*args):
    import io
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-m", "analytics", *map(str, args)], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, CCOE_MIN_CELL="16"))
    assert out.returncode == 0, out.stderr
    return pd.read_csv(io.StringIO(out.stdout), dtype={"registry": str}), out.stderr


def test_the_command_line_end_to_end_through_ingest(ties_db):
    got, err = _run("cif", "--db", ties_db, "--by", "registry", "--times", "0,0.5,1,2,3,5,10")
    assert list(got.columns) == ["registry", "cause", "time_years", "cif", "std_err", "lower", "upper"]
    ref = CIF[CIF["dataset"] == "ties"].assign(cause=lambda d: d["cause"].map(NAMES))
    m = ref.merge(got, left_on=["group", "cause", "time_years"], right_on=["registry", "cause", "time_years"])
    assert len(m) == len(ref) == len(got)
    np.testing.assert_allclose(m["cif"], m["est"], rtol=1e-9, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(m["std_err"] ** 2, m["var"], rtol=1e-9, atol=1e-14, equal_nan=True)
    assert "300 analysed of 300 selected" in err
    test, _ = _run("cif", "--db", ties_db, "--by", "registry", "--test")
    ref = GRAY[GRAY["dataset"] == "ties"].assign(cause=lambda d: d["cause"].map(NAMES))
    assert list(test.columns) == ["cause", "statistic", "df", "p"] and list(test["cause"]) == list(ref["cause"])
    np.testing.assert_allclose(test["statistic"], ref["stat"], rtol=1e-9)
