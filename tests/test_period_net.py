"""Period analysis (Brenner) of net survival: Pohar-Perme and Ederer II on the left-truncated data
of a calendar window (entry, exit and death as analytics/period.py defines them), against
relsurv 2.2.9's own C routine given the entry times (tests/fixtures/survival/
make_period_net_reference.R; rs.surv itself ignores them), to 1e-6 (the sums to 1e-9): the step
function, the values at times, the internal sums; from rows and end to end through ingest and the
warehouse's SQL. Also: a direct day-by-day port of the script's reimpl_lt on harder data (a window
with nobody at risk for a while, old ages, long follow-up), all entries 0 = the cohort estimate,
and population hazards 0 = the left-truncated Kaplan-Meier."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from analytics import survival, warehouse
from analytics.filters import Selection, SelectionError
from analytics.ingest import ingest_file
from analytics.netsurvival import (
    METHODS,
    RELSURV_YEAR,
    RateTable,
    daily_hazard,
    net_survival,
    net_survival_rows,
)
from analytics.period import Window
from tests.conftest import ROOT, valid_row, write_csv
from tests.test_netsurvival import _direct_lookup, close, same

FIX = ROOT / "tests" / "fixtures" / "survival"
STEPS = pd.read_csv(FIX / "period_net_steps.csv", dtype={"group": str})
TIMES = pd.read_csv(FIX / "period_net_times.csv", dtype={"group": str})
INTERNALS = pd.read_csv(FIX / "period_net_internals.csv", dtype={"group": str})
CASES = sorted({(r.method, r.window, r.group) for r in STEPS.itertuples()})
R_TIMES = [1, 3, 5, 10]  # years of 365.241 days, as the script's summary()
TOL = 1e-6


@pytest.fixture(scope="module")
def rates() -> RateTable:
    return RateTable.from_frame(pd.read_csv(FIX / "lifetable_usa.csv"), country="USA")


def in_window(group: str, window: Window) -> pd.DataFrame:
    """relsurv.csv's tumours of `group` with entry, exit and dead written out in pandas, as
    period.py defines them (independently of the warehouse's SQL); exit <= entry kept."""
    d = pd.read_csv(FIX / "relsurv.csv", dtype={"group": str}, parse_dates=["diag_date"])
    d = d if group == "overall" else d[d["group"] == group]
    to_end = (pd.Timestamp(window.end) - d["diag_date"]).dt.days
    return d.assign(entry=(pd.Timestamp(window.start) - d["diag_date"]).dt.days.clip(lower=0),
                    exit=np.minimum(d["time_days"], to_end),
                    dead=((d["status"] == 1) & (d["time_days"] <= to_end)).astype(int))


def fit(method: str, w: str, group: str, rates: RateTable):
    d = in_window(group, Window.parse(w))
    return net_survival_rows(d["exit"], d["dead"], d["age_days"], d["diag_date"].to_numpy(),
                             d["sex"], rates, "USA", method, RELSURV_YEAR, entry_days=d["entry"])


def check_steps(table: pd.DataFrame, method: str, w: str, group: str):
    r = STEPS[(STEPS["method"] == method) & (STEPS["window"] == w) & (STEPS["group"] == group)]
    assert len(table) == len(r), (method, w, group)
    assert close(table["time_days"], r["time"], 1e-15)
    for mine, theirs in [("n_at_risk", "n_risk"), ("n_events", "n_event"), ("n_censored", "n_censor"),
                         ("n_entered", "n_enter")]:
        assert same(table[mine], r[theirs]), mine
    for mine, theirs in [("survival", "surv"), ("std_err", "std_err"), ("lower", "lower"),
                         ("upper", "upper")]:
        assert close(table[mine], r[theirs], TOL), (method, w, group, mine)


def check_times(at: pd.DataFrame, method: str, w: str, group: str, n_in: int):
    r = TIMES[(TIMES["method"] == method) & (TIMES["window"] == w) & (TIMES["group"] == group)]
    assert close(at["time_days"], r["time"], 1e-15)
    assert same(at["n_at_risk"], r["n_risk"]) and same(at["n_events"], r["n_event"])
    for mine, theirs in [("survival", "surv"), ("std_err_surv", "std_err_surv"), ("lower", "lower"),
                         ("upper", "upper")]:
        assert close(at[mine], r[theirs], TOL), (method, w, group, mine)
    assert (r["n_in_window"] == n_in).all()


# ------------------------------------------------------------------------------ from rows

@pytest.mark.parametrize("method,w,group", CASES)
def test_period_net_survival_from_rows_is_relsurvs(method, w, group, rates):
    c = fit(method, w, group, rates)
    check_steps(c.table, method, w, group)
    check_times(c.at(R_TIMES, year_days=RELSURV_YEAR), method, w, group, c.n)
    d = in_window(group, Window.parse(w))
    assert c.n + c.n_zero == len(d) and c.n == int((d["exit"] > d["entry"]).sum())


@pytest.mark.parametrize("w,group", sorted({(w, g) for _, w, g in CASES}))
def test_internal_sums_are_those_of_relsurvs_routine(w, group, rates):
    r = INTERNALS[(INTERNALS["window"] == w) & (INTERNALS["group"] == group)]
    it = fit("pohar-perme", w, group, rates).internals
    assert close(it["time"], r["time"], 1e-15)
    for col in ["yi", "dni"]:
        assert same(it[col], r[col]), col
    for col in ["yidli", "yisi", "dnisi", "dnisisq", "yidlisiw"]:
        assert close(it[col], r[col], 1e-9), col


def test_all_entries_zero_is_the_cohort_estimate(rates):
    """A window starting before every diagnosis: entry 0 for all, the same as rs.surv."""
    d = pd.read_csv(FIX / "relsurv.csv", dtype={"group": str})
    for method in METHODS:
        a = net_survival_rows(d["time_days"], d["status"], d["age_days"], d["diag_date"], d["sex"],
                              rates, "USA", method, RELSURV_YEAR)
        b = net_survival_rows(d["time_days"], d["status"], d["age_days"], d["diag_date"], d["sex"],
                              rates, "USA", method, RELSURV_YEAR, entry_days=np.zeros(len(d)))
        assert a.n_zero == b.n_zero == 2
        pd.testing.assert_frame_equal(a.table, b.table.drop(columns="n_entered"), rtol=1e-14)
        assert (b.table["n_entered"] == 0).all()


def test_zero_population_hazard_is_the_left_truncated_kaplan_meier():
    lt = pd.read_csv(FIX / "lifetable_usa.csv").assign(qx=0.0)
    zero = RateTable.from_frame(lt, country="USA")
    d = in_window("overall", Window.parse("2010-2014"))
    d = d[d["exit"] > d["entry"]]
    leave = d.groupby("exit").agg(n_event=("dead", "sum"), n=("dead", "size"))
    enter = d.groupby("entry").size()
    days = np.union1d(leave.index, enter.index)
    n_event = leave["n_event"].reindex(days, fill_value=0).to_numpy()
    n_censor = (leave["n"] - leave["n_event"]).reindex(days, fill_value=0).to_numpy()
    km = survival.KaplanMeier().fit(days, n_event, n_censor, enter.reindex(days, fill_value=0).to_numpy())
    for method in METHODS:
        c = net_survival_rows(d["exit"], d["dead"], d["age_days"], d["diag_date"].to_numpy(), d["sex"],
                              zero, "USA", method, entry_days=d["entry"])
        t = c.table
        got = np.interp(km.table["time_years"] * survival.DAYS_PER_YEAR, t["time_days"], t["survival"])
        assert close(got, km.table["survival"], 1e-12)


def reimpl_lt(y, st, e0, age0, t0, sex, lt):
    """make_period_net_reference.R's reimpl_lt, line by line: grid of exits and entries > 0, at
    risk entry < t <= exit, S_i from diagnosis for everyone still followed, running mean."""
    keep = y > e0
    y, st, e0, age0, t0, sex = y[keep], st[keep], e0[keep], age0[keep], t0[keep], sex[keep]
    tis = np.unique(np.concatenate([y, e0[e0 > 0]]))
    si = np.ones(len(y))
    time = 0
    rows = []
    for t in tis:
        alive = np.flatnonzero(y >= t)
        r = e0[alive] < t
        risk = alive[r]
        cell, ftime, hazard, fint = t - time, 0, 0.0, 0.0
        a = b = c = d = 0.0
        while ftime < cell:
            step = min(1, cell - ftime)
            tstart = time + ftime
            lam = _direct_lookup(lt, sex[alive], age0[alive] + tstart, t0[alive] + tstart)
            s0 = si[alive]
            s1 = s0 * np.exp(-step * lam)
            a += np.sum((lam / s0)[r])
            b += np.sum((1 / s0)[r])
            c += np.sum((lam / s1)[r])
            d += np.sum((1 / s1)[r])
            hazard += np.sum((step * lam)[r])
            si[alive] = s1
            if r.any():
                fint += (a / b / 2 + c / d / 2) * step
            ftime += step
        dead = risk[(y[risk] == t) & (st[risk] == 1)]
        rows.append((t, len(risk), len(dead), hazard, np.sum(1 / si[risk]), np.sum(1 / si[dead]),
                     np.sum(1 / si[dead] ** 2), fint))
        time = t
    return pd.DataFrame(rows, columns=["time", "yi", "dni", "yidli", "yisi", "dnisi", "dnisisq",
                                       "yidlisiw"])


def test_vectorised_sums_equal_the_direct_algorithm_with_entries(rates):
    """Entries on exit days, late entries after everyone else has left (intervals with nobody at
    risk), old ages, diagnoses before the table and follow-up after it, long follow-up."""
    rng = np.random.default_rng(11)
    n = 90
    age0 = np.concatenate([rng.integers(0, 20 * 365, 30).astype(float),
                           rng.uniform(60, 112, 30) * 365.241,
                           rng.integers(0, 19, 30) * 365.241 + 182])
    t0 = (np.datetime64("1985-01-01") + rng.integers(0, 38 * 365, n)
          - np.datetime64("1970-01-01")).astype(np.int64)
    e0 = np.where(rng.random(n) < 0.6, rng.integers(0, 2500, n), 0)
    y = e0 + rng.integers(-5, 1500, n)
    y[:4] = [e0[0], e0[1] - 1, 6000, 6001]  # left out twice; two late ones, alone after a gap
    e0[2:4] = [5000, 5600]
    y[4], e0[5] = e0[6], y[6]  # an exit on another's entry day, and an entry on another's exit day
    st = (rng.random(n) < 0.4).astype(int)
    sex = rng.integers(1, 3, n)
    raw = pd.read_csv(FIX / "lifetable_usa.csv").sort_values(["sex", "year", "age"])
    h = np.concatenate([daily_hazard(g.pivot(index="year", columns="age", values="qx").to_numpy())
                        .ravel() for _, g in raw.groupby("sex")])
    direct = reimpl_lt(y, st, e0, age0, t0, sex, raw.assign(h=h))
    assert (direct["yi"] == 0).any()  # the data have intervals with nobody at risk
    for method in METHODS:
        c = net_survival_rows(y, st, age0, t0, sex, rates, "USA", method, entry_days=e0)
        assert c.n_zero == int((y <= e0).sum()) >= 2
        for col in ["time", "yi", "dni"]:
            assert same(c.internals[col], direct[col]), col
        for col in ["yidli", "yisi", "dnisi", "dnisisq", "yidlisiw"]:
            assert close(c.internals[col], direct[col], 1e-9), col
        empty = (c.table["n_at_risk"] == 0).to_numpy()
        s = c.table["survival"].to_numpy()
        assert np.isfinite(s).all() and (s[1:][empty[1:]] == s[:-1][empty[1:]]).all()
        # n at risk at any day is entry < t <= exit
        for x in (1, 500, 4500, 5000, 5001, 5601, 6000, 6002):
            got = c.at_days([x])["n_at_risk"].iloc[0]
            k = y > e0
            assert got == int(((e0[k] < x) & (y[k] >= x)).sum())


def test_rows_checks_with_entry(rates):
    with pytest.raises(SelectionError, match="entry in whole days"):
        net_survival_rows([10], [1], [100], ["2000-01-01"], [1], rates, entry_days=[1.5])
    with pytest.raises(SelectionError, match="entry in whole days"):
        net_survival_rows([10], [1], [100], ["2000-01-01"], [1], rates, entry_days=[-1])
    with pytest.raises(SelectionError, match="follow-up in whole days"):
        net_survival_rows([-1], [1], [100], ["2000-01-01"], [1], rates)
    # exit < 0 (diagnosed after the window) is allowed with entry, and left out
    c = net_survival_rows([-30, 5, 10], [1, 1, 0], [100] * 3, ["2000-01-01"] * 3, [1, 2, 1], rates,
                          entry_days=[0, 5, 0])
    assert c.n == 1 and c.n_zero == 2 and list(c.table["time_days"]) == [10.0]


# ------------------------------------------------------------------------- over the warehouse

@pytest.fixture(scope="module")
def period_net_db(tmp_path_factory):
    """relsurv.csv loaded through ingest as the USA (its life table is lifetable_usa.csv's), group
    as the registry, birth date = diagnosis date - age_days."""
    con = _load(tmp_path_factory.mktemp("period_net"))
    yield con
    con.close()


def _load(tmp):
    """A warehouse in `tmp` holding relsurv.csv, as `period_net_db` describes; its connection."""
    d = pd.read_csv(FIX / "relsurv.csv", dtype={"group": str}, parse_dates=["diag_date"])
    rows = [valid_row(case_id=f"R{r.id}", country="USA", registry=r.group, sex=str(r.sex),
                      diagnosis_date=r.diag_date.date().isoformat(),
                      birth_date=(r.diag_date.date() - timedelta(days=int(r.age_days))).isoformat(),
                      vital_status="2" if r.status else "1",
                      last_contact_date=(r.diag_date.date() + timedelta(days=int(r.time_days))).isoformat())
            for r in d.itertuples()]
    con = warehouse.connect(tmp / "w.duckdb")
    assert ingest_file(con, write_csv(tmp / "usa.csv", rows)).rows_loaded == len(d)
    return con


@pytest.mark.parametrize("method", METHODS)
def test_the_command_line_gives_period_net_survival(tmp_path, method):
    """`survival --method pohar-perme|ederer2 --period-window 2010-2014`: the estimates of
    net_survival(window=) with n_in_window, the period named in the notices."""
    import io
    import os
    import subprocess
    import sys

    con = _load(tmp_path)
    res = net_survival(con, None, ["registry"], method=method, times=[1, 3, 5], window=Window.parse("2010-2014"))
    con.close()
    out = subprocess.run([sys.executable, "-m", "analytics", "survival", "--db", str(tmp_path / "w.duckdb"),
                          "--by", "registry", "--method", method, "--period-window", "2010-2014", "--times", "1,3,5"],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, CCOE_MIN_CELL="1"))
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(io.StringIO(out.stdout), dtype={"registry": str})
    assert list(got.columns) == ["registry", "time_years", "n_at_risk", "survival", "lower", "upper", "n_in_window"]
    assert np.allclose(got["survival"], res.at_times["survival"], rtol=1e-12)
    assert list(got["n_in_window"]) == list(res.at_times["n_in_window"])
    assert "Period analysis (Brenner)" in out.stderr


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("w", sorted({w for _, w, _ in CASES}))
def test_period_net_survival_end_to_end_through_ingest(period_net_db, method, w):
    con = period_net_db
    usa = Selection.build({"country": ["USA"]})
    for by in (["registry"], []):
        res = net_survival(con, usa, by, method=method, times=R_TIMES, min_cases=1,
                           year_days=RELSURV_YEAR, window=Window.parse(w))
        keys = [("G1",), ("G2",)] if by else [()]
        assert list(res.curves) == keys
        n_in = 0
        for key in keys:
            group = key[0] if by else "overall"
            curve = res.curves[key]
            check_steps(curve.table, method, w, group)
            at = res.at_times[res.at_times["registry"] == key[0]] if by else res.at_times
            check_times(at.reset_index(drop=True), method, w, group, curve.n)
            assert (at["n_in_window"] == curve.n).all()
            n_in += curve.n
        assert res.window == Window.parse(w) and res.n_window == n_in
        assert res.n_analysed == n_in and res.n_selected == 400 and res.n_dco == 0
        text = " ".join(res.notes)
        assert "Period analysis (Brenner)" in text and Window.parse(w).start.isoformat() in text
        assert f"{n_in:,} of the 400 selected" in text and "no follow-up inside the window" in text


def test_without_window_nothing_changes(period_net_db, rates):
    """The cohort estimate through the warehouse is still rs.surv's (relsurv_pohar-perme.csv)."""
    res = net_survival(period_net_db, None, ["registry"], min_cases=1, year_days=RELSURV_YEAR)
    r = pd.read_csv(FIX / "relsurv_pohar-perme.csv", dtype={"group": str})
    got = res.curves[("G1",)].table
    assert "n_entered" not in got and res.window is None and res.n_window is None
    assert close(got["survival"], r[r["group"] == "G1"]["surv"], TOL)
    assert "n_in_window" not in res.at_times and not any("Period" in n for n in res.notes)


def test_the_survival_page_gives_period_net_survival_released(period_net_db):
    """The Survival page's period estimate with net survival chosen (`release.curves.survival`):
    values at times from net_survival(window=), rounded to 0.001, hidden where fewer than T had
    died or were at risk by then or at any earlier time; notes carry no exact count."""
    from analytics.disclosure import policy
    from analytics.release import curves

    pol = policy()
    res = curves.survival(period_net_db, Selection.build({"country": ["USA"]}), ["registry"], method="pohar-perme",
                          window="2010-2014")
    exact = net_survival(period_net_db, Selection.build({"country": ["USA"]}), ["registry"], times=curves.TIMES,
                         window=Window.parse("2010-2014"))
    at = res["at_times"]
    assert res["window"] == "2010-2014" and set(at["registry"]) <= {"G1", "G2"}
    shown = at[~at["suppressed"]]
    for r in shown.itertuples():
        e = exact.at_times[(exact.at_times["registry"] == r.registry) & (exact.at_times["time_years"] == r.time_years)]
        assert r.survival == pytest.approx(round(float(e["survival"].iloc[0]), 3), abs=1e-12)
        assert int(e["n_at_risk"].iloc[0]) >= pol.threshold
    text = " ".join(map(str, res["notes"]))
    assert "Period analysis (Brenner)" in text and "n_in_window" not in text  # not the exact note
    assert len(shown) and at["suppressed"].any()  # some values shown, the 10-year ones not (few at risk)
