"""Period analysis (issue 15, item 3) against R's survival 3.5
(tests/fixtures/survival/make_period_reference.R): the left-truncated Kaplan-Meier of
survfit(Surv(entry, exit, dead) ~ group) for calendar windows, its step function and its values
at times as summary(fit, times, extend = TRUE) gives them (n.risk: the risk set at the first exit
at or after t), to 1e-12; on datasets with ties, deaths on day 0, censorings on death days,
entries on death days, deaths on the window's first and last days; from rows, and end to end
through ingest, the warehouse's SQL and the command line."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import survival
from analytics.filters import Selection, SelectionError
from analytics.period import Window

HERE = Path(__file__).parent / "fixtures" / "survival"
STEPS = pd.read_csv(HERE / "period_steps.csv", dtype={"group": str})
TIMES = pd.read_csv(HERE / "period_times.csv", dtype={"group": str})
CASES = ["ties", "edge", "relsurv", "period_edge"]
R_TIMES = [0, 0.5, 1, 2, 3, 5, 10]


def _data(ds: str) -> pd.DataFrame:
    return pd.read_csv(HERE / f"{ds}.csv", dtype={"group": str}, parse_dates=["diag_date"])


def _from_rows(ds: str, window: Window) -> survival.EventTable:
    """The definition written out in pandas, independently of the warehouse's SQL."""
    d = _data(ds)
    to_start = (pd.Timestamp(window.start) - d["diag_date"]).dt.days
    to_end = (pd.Timestamp(window.end) - d["diag_date"]).dt.days
    entry, exit_ = to_start.clip(lower=0), np.minimum(d["time_days"], to_end)
    dead = ((d["status"] == 1) & (d["time_days"] <= to_end)).astype(int)
    w = pd.DataFrame({"group": d["group"], "entry": entry, "exit": exit_, "dead": dead})[exit_ > entry]
    leave = w.groupby(["group", "exit"]).agg(n_event=("dead", "sum"), n=("dead", "size")).reset_index()
    leave = leave.assign(n_censor=leave["n"] - leave["n_event"], n_enter=0).rename(columns={"exit": "days"})
    enter = w.groupby(["group", "entry"]).size().rename("n_enter").reset_index().rename(columns={"entry": "days"})
    t = (pd.concat([leave[["group", "days", "n_event", "n_censor", "n_enter"]],
                    enter.assign(n_event=0, n_censor=0)])
         .groupby(["group", "days"], as_index=False).sum().sort_values(["group", "days"]))
    return survival.EventTable(t, ["group"], len(d), 0)


def _check(res: survival.SurvivalResult, ds: str, w: str, group: str = "group"):
    ref = STEPS[(STEPS["dataset"] == ds) & (STEPS["window"] == w)]
    assert sorted(str(k[0]) for k in res.curves) == sorted(ref["group"].unique())
    for key, km in res.curves.items():
        r = ref[ref["group"] == str(key[0])]
        got = km.table
        assert len(got) == len(r), (ds, w, key)
        np.testing.assert_allclose(got["time_years"], r["time_years"], rtol=1e-13)
        for col, rcol in (("n_at_risk", "n_risk"), ("n_events", "n_event"), ("n_censored", "n_censor")):
            assert list(got[col]) == list(r[rcol]), (ds, w, key, col)
        for col, rcol in (("survival", "surv"), ("std_err", "std_err"), ("lower", "lower"), ("upper", "upper")):
            np.testing.assert_allclose(got[col], r[rcol], rtol=1e-12, atol=1e-15, equal_nan=True,
                                       err_msg=f"{ds} {w} {key} {col}")
    ref = TIMES[(TIMES["dataset"] == ds) & (TIMES["window"] == w)]
    at = res.at_times.assign(group=lambda x: x[group].astype(str))
    m = ref.merge(at, on=["group", "time_years"], how="left", suffixes=("_r", ""))
    assert len(m) == len(ref) and m["survival"].notna().all(), (ds, w)
    assert list(m["n_at_risk"]) == list(m["n_risk"]), (ds, w)
    assert list(m["n_in_window"]) == list(m["n_in_window_r"]), (ds, w)
    np.testing.assert_allclose(m["survival"], m["surv"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m["std_err_surv"], m["std_err"], rtol=1e-10, atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(m["lower"], m["lower_r"], rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(m["upper"], m["upper_r"], rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("ds,w", sorted({(r.dataset, r.window) for r in STEPS.itertuples()}))
def test_period_analysis_from_rows_is_that_of_r(ds, w):
    res = survival.kaplan_meier(_from_rows(ds, Window.parse(w)), times=R_TIMES, min_cases=1)
    _check(res, ds, w)


@pytest.fixture(scope="module")
def period_db(tmp_path_factory):
    """Every dataset loaded through ingest, its group as the registry, its dataset as the country
    (FRA ties, DEU edge, ITA relsurv, ESP period_edge)."""
    from analytics import warehouse
    from analytics.ingest import ingest_file
    from tests.conftest import valid_row, write_csv

    tmp = tmp_path_factory.mktemp("period")
    con = warehouse.connect(tmp / "w.duckdb")
    for ds, country in zip(CASES, ["FRA", "DEU", "ITA", "ESP"]):
        d = _data(ds)
        rows = [valid_row(case_id=f"{ds}{r.id}", country=country, registry=r.group,
                          diagnosis_date=r.diag_date.date().isoformat(), birth_date="", age_years="10",
                          vital_status="2" if r.status else "1",
                          last_contact_date=(r.diag_date.date() + timedelta(days=int(r.time_days))).isoformat())
                for r in d.itertuples()]
        assert ingest_file(con, write_csv(tmp / f"{country}.csv", rows)).rows_loaded == len(d)
    con.close()
    return tmp / "w.duckdb"


COUNTRY = dict(zip(CASES, ["FRA", "DEU", "ITA", "ESP"]))


@pytest.mark.parametrize("ds,w", sorted({(r.dataset, r.window) for r in STEPS.itertuples()}))
def test_period_analysis_end_to_end_through_ingest(period_db, ds, w):
    from analytics import warehouse

    con = warehouse.connect(period_db, read_only=True)
    events = survival.event_table(con, Selection(filters={"country": [COUNTRY[ds]]}), ["registry"],
                                  window=Window.parse(w))
    res = survival.kaplan_meier(events, times=R_TIMES, min_cases=1)
    _check(res, ds, w, group="registry")
    n_in = TIMES[(TIMES["dataset"] == ds) & (TIMES["window"] == w)].groupby("group")["n_in_window"].first()
    assert events.n_window == n_in.sum()
    assert events.n_selected == len(_data(ds))
    assert events.entries and any("Period analysis" in n for n in res.notes)


def test_the_command_line_prints_n_in_window(period_db):
    out = subprocess.run([sys.executable, "-m", "analytics", "survival", "--db", str(period_db),
                          "--filter", "country=ESP", "--by", "registry", "--period-window", "2018-2022",
                          "--times", ",".join(map(str, R_TIMES))],
                         cwd=Path(__file__).parents[1], capture_output=True, text=True,
                         env=dict(os.environ, CCOE_MIN_CELL="1"))
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(io.StringIO(out.stdout), dtype={"registry": str})
    assert list(got.columns) == ["registry", "time_years", "n_at_risk", "survival", "lower", "upper", "n_in_window"]
    ref = TIMES[(TIMES["dataset"] == "period_edge") & (TIMES["window"] == "2018-2022")]
    m = ref.merge(got, left_on=["group", "time_years"], right_on=["registry", "time_years"])
    assert len(m) == len(ref)
    assert list(m["n_in_window_x"]) == list(m["n_in_window_y"]) and list(m["n_risk"]) == list(m["n_at_risk"])
    np.testing.assert_allclose(m["survival"], m["surv"], rtol=1e-9)
    assert "Period analysis" in out.stderr and "2018-01-01 to 2022-12-31" in out.stderr


def test_window_parsing():
    assert Window.parse("2018-2022") == Window(date(2018, 1, 1), date(2022, 12, 31))
    assert Window.parse(" 2020 ") == Window(date(2020, 1, 1), date(2020, 12, 31))
    assert Window.parse("2018-2022").label == "2018-2022"
    for bad in ("2022-2018", "18-22", "2018/2022", "", "last five years"):
        with pytest.raises(SelectionError):
            Window.parse(bad)


def test_entries_on_a_death_day_are_not_at_risk_for_it():
    """Two diagnosed at the window's start (entry 0), one dying at day 10; one entering at day 10
    (diagnosed before the window) is at risk only after it, so S(10) = 1/2, and from day 20,
    where the late entrant dies with one other at risk, 1/4."""
    km = survival.KaplanMeier().fit([0, 10, 20, 30], [0, 1, 1, 0], [0, 0, 0, 1], [2, 1, 0, 0])
    assert list(km.table["n_at_risk"]) == [2, 2, 1] and list(km.table["survival"]) == [0.5, 0.25, 0.25]
    assert km.n == 3


@pytest.mark.parametrize("extra,words", [(["--method", "actuarial"], "date of diagnosis"),
                                         (["--followup"], "not of a calendar window"),
                                         ([], "the first year comes first")])
def test_the_command_line_refuses_what_it_cannot_do(period_db, extra, words):
    window = "2022-2018" if not extra else "2018-2022"
    out = subprocess.run([sys.executable, "-m", "analytics", "survival", "--db", str(period_db),
                          "--period-window", window, *extra],
                         cwd=Path(__file__).parents[1], capture_output=True, text=True)
    assert out.returncode == 2 and words in out.stderr and not out.stdout


@pytest.mark.parametrize("ds,w", [("relsurv", "2010-2014"), ("ties", "2008-2012"), ("period_edge", "2018-2022")])
def test_rounding_with_base_1_and_days_is_exact(ds, w):
    """The viewer's rounding of a left-truncated table (`survival._rounded_entries_group`) with
    base 1 and one-day bins is the identity: the same curves as the exact table."""
    exact = _from_rows(ds, Window.parse(w))
    r = survival.kaplan_meier(survival.rounded_events(exact, 1, 1), times=R_TIMES, min_cases=1)
    e = survival.kaplan_meier(exact, times=R_TIMES, min_cases=1)
    assert r.curves.keys() == e.curves.keys()
    for k in e.curves:
        pd.testing.assert_frame_equal(r.curves[k].table, e.curves[k].table)
    pd.testing.assert_frame_equal(r.at_times, e.at_times)


def test_rounded_period_risk_sets_are_differences_of_rounded_counts():
    """Base 16, monthly bins, on the relsurv dataset's window 2010-2014: every risk set of the
    viewer's curve is a multiple of 8 (rounded cumulative counts differ by multiples of 16 from
    the mid-points 8), no count is negative, n is the rounded number of tumours in the window,
    and the curve is within about a block of deaths of the exact one (16 / n at risk: this
    dataset has few deaths in the window, so its first step is a whole block)."""
    exact = _from_rows("relsurv", Window.parse("2010-2014"))
    rounded = survival.rounded_events(exact, 16)
    t = rounded.table
    assert (t[["n_event", "n_censor", "n_enter"]] >= 0).all().all()
    r = survival.kaplan_meier(rounded, times=[1, 3], min_cases=1)
    e = survival.kaplan_meier(exact, times=[1, 3], min_cases=1)
    for k, km in r.curves.items():
        assert (km.table["n_at_risk"] % 8 == 0).all()
        assert km.n == survival.roundmid(e.curves[k].n, 16)
    diff = r.at_times["survival"].to_numpy() - e.at_times["survival"].to_numpy()
    assert np.all(np.abs(diff) <= 16 / e.at_times["n_at_risk"].to_numpy())


def test_risk_at_counts_those_entered_before_t_not_rs_next_exit():
    """R's summary(fit, times)$n.risk (`at`) is the risk set at the next exit, counting whoever
    enters in between; the pages show and check `risk_at` (entered before t, followed to t) and
    `fewest_at_risk` (the weakest step up to t)."""
    y = 365.25
    # A: entry 0, dies at 10 d; B: entry 0, censored at 3 y; C..F: enter at 2 y, censored at 4 y
    km = survival.KaplanMeier().fit([0, 10, 2 * y, 3 * y, 4 * y], [0, 1, 0, 0, 0], [0, 0, 0, 1, 4],
                                    [2, 0, 4, 0, 0])
    assert list(km.risk_at([0, 1, 2.5, 3.5, 5])) == [2, 1, 5, 4, 0]
    assert list(km.at([1])["n_at_risk"]) == [5]  # R: the risk set at the next exit (3 y)
    assert list(km.fewest_at_risk([0, 1, 2.5, 3.5])) == [2, 1, 2, 2]  # the death at 10 d had 2 at risk


def test_a_period_curve_resting_on_few_early_is_not_shown(tmp_path):
    """The review's case: few children diagnosed in the window carry its first months; those
    entering later make the risk set at 1, 3, 5 years large. No value may rest on the early few:
    the group is not shown (a released group whose curve stops at once), and says why."""
    from analytics import warehouse
    from analytics.ingest import ingest_file
    from analytics.release import curves
    from tests.conftest import valid_row, write_csv

    rows = [valid_row(case_id=f"N{i}", diagnosis_date="2018-03-01", birth_date="", age_years="8",
                      vital_status="2" if i < 3 else "1",
                      last_contact_date="2018-06-01" if i < 3 else "2023-06-01") for i in range(13)]
    rows += [valid_row(case_id=f"O{i}", diagnosis_date=f"{2005 + i % 5}-05-01", birth_date="", age_years="8",
                       last_contact_date="2023-06-01") for i in range(150)]
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "f.csv", rows))
    res = curves.survival(con, None, [], window="2018-2022")
    assert res["groups"] == [] and res.get("early_stop") == 1
    assert any("at risk early in the window" in n for n in res["notes"])
    cohort = curves.survival(con, None, [])
    assert cohort["groups"] == [()]  # the cohort estimate is shown
