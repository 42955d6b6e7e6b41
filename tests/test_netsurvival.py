"""Net survival (Pohar-Perme) and relative survival (Ederer II) against R's relsurv 2.2.9
rs.surv (fixtures and the script that made them: tests/fixtures/survival/), the rate-table
lookup, a direct day-by-day re-implementation of relsurv's algorithm on harder data, and the
warehouse entry point (coverage error, exclusions, suppression) end to end through ingest."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics import warehouse
from analytics.filters import Selection, SelectionError
from analytics.ingest import ingest_file
from analytics.netsurvival import (
    APP_YEAR,
    METHODS,
    RELSURV_YEAR,
    RateTable,
    combined,
    daily_hazard,
    net_survival,
    net_survival_rows,
)
from tests.conftest import ROOT, valid_row, write_csv

FIX = ROOT / "tests" / "fixtures" / "survival"
GROUPS = ["G1", "G2", "overall"]
TOL = 1e-6


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(a.shape == b.shape and np.all(both_nan | np.isclose(a, b, rtol=tol, atol=0)))


def same(a, b):
    return np.array_equal(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))


@pytest.fixture(scope="module")
def rates() -> RateTable:
    return RateTable.from_frame(pd.read_csv(FIX / "lifetable_usa.csv"), country="USA")


def subjects(group: str) -> pd.DataFrame:
    d = pd.read_csv(FIX / "relsurv.csv", dtype={"group": str})
    return d if group == "overall" else d[d["group"] == group]


def fit(group: str, method: str, rates: RateTable, year_days: float = RELSURV_YEAR):
    d = subjects(group)
    return net_survival_rows(d["time_days"], d["status"], d["age_days"], d["diag_date"], d["sex"],
                             rates, "USA", method, year_days)


def ref(name: str, group: str) -> pd.DataFrame:
    r = pd.read_csv(FIX / name, dtype={"group": str})
    return r[r["group"] == group]


# ------------------------------------------------------------------------------ against relsurv

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("group", GROUPS)
def test_curve_matches_rs_surv(group, method, rates):
    r = ref(f"relsurv_{method}.csv", group)
    c = fit(group, method, rates)
    got = c.table
    assert len(got) == len(r)
    assert close(got["time_days"], r["time"], 1e-15)
    assert same(got["n_at_risk"], r["n.risk"])
    assert same(got["n_events"], r["n.event"])
    assert same(got["n_censored"], r["n.censor"])
    for mine, theirs in [("survival", "surv"), ("std_err", "std.err"), ("lower", "lower"),
                         ("upper", "upper")]:
        assert close(got[mine], r[theirs]), mine
    assert (got["upper"] > 1).any()  # not clipped, as relsurv
    # rs.surv drops follow-up 0: one subject in each group, both in the pooled data
    assert c.n_zero == (2 if group == "overall" else 1)
    assert c.n == len(subjects(group)) - c.n_zero


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("group", GROUPS)
def test_values_at_times_match_summary(group, method, rates):
    r = ref(f"relsurv_times_{method}.csv", group)
    c = fit(group, method, rates)
    got = c.at([1, 3, 5, 10], year_days=RELSURV_YEAR)
    assert close(got["time_days"], r["time"], 1e-15)
    assert same(got["n_at_risk"], r["n.risk"])
    assert same(got["n_events"], r["n.event"])
    for mine, theirs in [("survival", "surv"), ("std_err_surv", "std.err.surv"),
                         ("lower", "lower"), ("upper", "upper")]:
        assert close(got[mine], r[theirs]), mine
    # with whole days, years of 365.25 (the app) give the same values at 1, 3, 5 and 10 years
    app = c.at([1, 3, 5, 10], year_days=APP_YEAR)
    cols = ["n_at_risk", "n_events", "survival", "std_err_surv", "lower", "upper"]
    pd.testing.assert_frame_equal(app[cols], got[cols])
    assert close(app["time_days"], np.array([1, 3, 5, 10]) * 365.25, 1e-15)


@pytest.mark.parametrize("group", GROUPS)
def test_internal_sums_match_relsurv_c_code(group, rates):
    """The per-time sums of relsurv's netfastpinter2, including its running-mean yidlisiw."""
    r = ref("relsurv_internals.csv", group)
    it = fit(group, "pohar-perme", rates).internals
    assert close(it["time"], r["time"], 1e-15)
    for col in ["yi", "dni"]:
        assert same(it[col], r[col]), col
    for col in ["yidli", "yisi", "dnisi", "dnisisq", "yidlisiw"]:
        assert close(it[col], r[col], 1e-9), col


def test_ratetable_lookup_cells(rates):
    r = pd.read_csv(FIX / "relsurv_ratetable_lookup.csv")
    age_i, year, h = rates.lookup("USA", r["sex"], r["age_days"], r["diag_date"])
    assert same(age_i, r["age_index"])
    assert same(year, r["year"])
    assert close(h, r["daily_hazard"], 1e-12)


def test_daily_hazard_is_transrate_hmd():
    qx = np.array([[0.01, 0.5, 1.0, 0.2], [0.01, np.nan, 0.3, 0.4], [0.0, 0.1, 0.2, 0.3]])
    h = daily_hazard(qx)
    expect = np.array([[0.01, 0.5, 0.999, 0.999], [0.01, 0.999, 0.999, 0.999],
                       [0.0, 0.1, 0.2, 0.3]])
    assert np.allclose(h, -np.log(1 - expect) / 365.241, rtol=1e-15, atol=0)


def test_lookup_beyond_the_table_uses_the_edge_cell(rates):
    age_i, year, h = rates.lookup("USA", [1, 2, 1], [50 * 365.241 + 1, 120 * 365.241, 0],
                                  ["1980-06-01", "2030-01-01", "2022-12-31"])
    assert age_i.tolist() == [50, 110, 0]
    assert year.tolist() == [1990, 2022, 2022]
    _, _, h_in = rates.lookup("USA", [1, 2], [50 * 365.241 + 1, 110 * 365.241],
                              ["1990-01-01", "2022-01-01"])
    assert np.array_equal(h[:2], h_in)
    assert h[1] == pytest.approx(-np.log(0.001) / 365.241, rel=1e-15)


# ----------------------------------------------- a direct port of reimpl() on harder data

def _direct_lookup(lt: pd.DataFrame, sex, age_days, day):
    """Independent of the module: cells by comparison with every cut point, years from dates."""
    cuts = np.arange(111) * 365.241
    age_i = np.clip((np.asarray(age_days, float)[:, None] >= cuts[None, :]).sum(axis=1) - 1, 0, 110)
    years = (np.datetime64("1970-01-01") + np.asarray(day, dtype="timedelta64[D]"))
    years = years.astype("datetime64[Y]").astype(int) + 1970
    years = np.clip(years, lt["year"].min(), lt["year"].max())
    return lt["h"].to_numpy()[((np.asarray(sex) - 1) * (lt["year"].max() - lt["year"].min() + 1)
                               + (years - lt["year"].min())) * 111 + age_i]


def reimpl(y, st, age0, t0, sex, lt):
    """make_reference.R's reimpl(), line by line: day steps, rates at the start of each step,
    relsurv's running mean for yidlisiw."""
    keep = y > 0
    y, st, age0, t0, sex = y[keep], st[keep], age0[keep], t0[keep], sex[keep]
    tis = np.unique(y)
    si = np.ones(len(y))
    time = 0
    rows = []
    for t in tis:
        risk = np.flatnonzero(y >= t)
        cell, ftime, hazard, fint = t - time, 0, 0.0, 0.0
        a = b = c = d = 0.0
        while ftime < cell:
            step = min(1, cell - ftime)
            tstart = time + ftime
            lam = _direct_lookup(lt, sex[risk], age0[risk] + tstart, t0[risk] + tstart)
            s0 = si[risk]
            s1 = s0 * np.exp(-step * lam)
            a += np.sum(lam / s0)
            b += np.sum(1 / s0)
            c += np.sum(lam / s1)
            d += np.sum(1 / s1)
            hazard += np.sum(step * lam)
            si[risk] = s1
            fint += (a / b / 2 + c / d / 2) * step
            ftime += step
        dead = risk[(y[risk] == t) & (st[risk] == 1)]
        rows.append((t, len(risk), len(dead), hazard, np.sum(1 / si[risk]), np.sum(1 / si[dead]),
                     np.sum(1 / si[dead] ** 2), fint))
        time = t
    return pd.DataFrame(rows, columns=["time", "yi", "dni", "yidli", "yisi", "dnisi", "dnisisq",
                                       "yidlisiw"])


def test_vectorised_sums_equal_the_direct_algorithm_on_hard_data(rates):
    """Old ages up to 110+ (qx replaced by 0.999, large hazards), fractional ages, diagnoses
    before the table's first year and follow-up after its last, long follow-up across many
    birthdays, New Years and accumulation blocks."""
    rng = np.random.default_rng(7)
    n = 120
    age0 = np.concatenate([rng.integers(0, 20 * 365, 40).astype(float),
                           rng.uniform(60, 112, 40) * 365.241,
                           rng.integers(0, 19, 40) * 365.241 + 182])
    t0 = (np.datetime64("1985-01-01") + rng.integers(0, 38 * 365, n)
          - np.datetime64("1970-01-01")).astype(np.int64)
    y = rng.integers(0, 4000, n)
    y[:3] = [0, 1, 1]
    st = (rng.random(n) < 0.4).astype(int)
    sex = rng.integers(1, 3, n)
    raw = pd.read_csv(FIX / "lifetable_usa.csv").sort_values(["sex", "year", "age"])
    h = np.concatenate([daily_hazard(g.pivot(index="year", columns="age", values="qx").to_numpy())
                        .ravel() for _, g in raw.groupby("sex")])
    lt = raw.assign(h=h)
    direct = reimpl(y, st, age0, t0, sex, lt)
    c = net_survival_rows(y, st, age0, t0, sex, rates, "USA", "pohar-perme")
    assert c.n_zero == 1
    for col in ["time", "yi", "dni"]:
        assert same(c.internals[col], direct[col]), col
    for col in ["yidli", "yisi", "dnisi", "dnisisq", "yidlisiw"]:
        assert close(c.internals[col], direct[col], 1e-9), col


@pytest.mark.parametrize("with_entry", [False, True])
def test_daily_sums_are_the_same_when_the_cells_arrays_are_emitted_early(rates, with_entry):
    """`_daily_sums` keeps one array of days per life-table cell and band up to a budget, then
    emits them early (many countries in one group, long follow-up), or a chunk's cells a batch
    at a time when one chunk alone is over it: the same sums either way (the default budget is
    checked against the direct algorithm above)."""
    from analytics.netsurvival import _daily_sums

    rng = np.random.default_rng(2)
    n = 3000
    age0 = np.concatenate([rng.integers(0, 20 * 365, 2000).astype(float), rng.uniform(60, 105, 1000) * 365.241])
    t0 = rng.integers(5_000, 19_000, n)
    y = rng.integers(1, 6000, n)
    ids = rng.integers(0, 2, n)  # the two sexes' tables
    entry = np.minimum(rng.integers(0, 3000, n), y - 1) if with_entry else None
    ref = _daily_sums(y, age0, t0, ids, rates, entry=entry)
    for budget, cells in [(200_000, 20_000), (20_000, 50_000), (1, 5_000)]:
        got = _daily_sums(y, age0, t0, ids, rates, cells_per_chunk=cells, budget=budget, entry=entry)
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)


def test_ratetable_ids_refuses_a_subject_without_country(rates):
    with pytest.raises(SelectionError, match="without country"):
        rates.ids(np.array(["USA", None], dtype=object), [1, 2])
    with pytest.raises(SelectionError, match="no life table for FRA sex 1"):
        rates.ids(np.array(["USA", "FRA"], dtype=object), [2, 1])


def test_rows_checks():
    lt = RateTable.from_frame(pd.read_csv(FIX / "lifetable_usa.csv"), country="USA")
    with pytest.raises(SelectionError, match="sex 1 or 2"):
        net_survival_rows([10], [1], [100], ["2000-01-01"], [9], lt)
    with pytest.raises(SelectionError, match="whole days"):
        net_survival_rows([10.5], [1], [100], ["2000-01-01"], [1], lt)
    with pytest.raises(SelectionError, match="method"):
        net_survival_rows([10], [1], [100], ["2000-01-01"], [1], lt, method="hakulinen")
    with pytest.raises(SelectionError, match="no life table for FRA"):
        net_survival_rows([10], [1], [100], ["2000-01-01"], [1], lt, country="FRA")
    empty = net_survival_rows([0, 0], [1, 0], [100, 200], ["2000-01-01"] * 2, [1, 2], lt)
    assert empty.n == 0 and empty.n_zero == 2 and empty.table.empty


def test_median_is_the_first_time_net_survival_reaches_half(rates):
    n = 60
    days = np.arange(1, n + 1) * 7
    c = net_survival_rows(days, np.ones(n, int), np.full(n, 3000.0), ["2010-03-01"] * n,
                          np.tile([1, 2], n // 2), rates, "USA", "pohar-perme", APP_YEAR)
    s = c.table["survival"].to_numpy()
    first = np.flatnonzero(s <= 0.5)[0]
    m, lo, hi = c.median()
    assert m == pytest.approx(days[first] / APP_YEAR, rel=1e-15)
    assert lo <= m <= hi


# ------------------------------------------------------------------------- over the warehouse

def usa_rows(n: int = 240, seed: int = 3) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        dx = date(2000, 1, 1) + pd.Timedelta(days=int(rng.integers(0, 15 * 365)))
        birth = dx - pd.Timedelta(days=int(rng.integers(0, 19 * 365)))
        dead = rng.random() < 0.3
        last = min(dx + pd.Timedelta(days=int(rng.integers(1, 3500))), date(2022, 12, 31))
        rows.append(valid_row(case_id=f"U{i}", country="USA", sex=str(rng.integers(1, 3)),
                              birth_date=birth.isoformat(), diagnosis_date=dx.isoformat(),
                              vital_status="2" if dead else "1",
                              last_contact_date=last.isoformat()))
    # no birth date (mid-year age), unknown sex, death-certificate-only, follow-up 0
    rows[0].update(birth_date="", age_years="7")
    rows[1].update(birth_date="", age_years="0")
    rows[2].update(sex="9")
    rows[3].update(basis="0")
    rows[4].update(last_contact_date=rows[4]["diagnosis_date"], vital_status="2")
    return rows


def direct(rows: list[dict[str, str]], rates: RateTable, method: str):
    """The same cases straight from the submitted rows, without the warehouse."""
    d = pd.DataFrame(rows)
    d = d[(d["sex"] != "9") & (d["basis"] != "0")]
    dx = pd.to_datetime(d["diagnosis_date"])
    birth = pd.to_datetime(d["birth_date"].replace("", None))
    age = np.where(birth.notna(), (dx - birth).dt.days,
                   pd.to_numeric(d["age_years"].replace("", None)).astype(float) * 365.241 + 182)
    fu = (pd.to_datetime(d["last_contact_date"]) - dx).dt.days
    return net_survival_rows(fu, (d["vital_status"] == "2").astype(int), age, dx.to_numpy(),
                             d["sex"].astype(int), rates, "USA", method)


def random_subjects(seed: int, n_young: int, n_old: int, y_low: int, with_entry: bool):
    """(the generator, follow-up days y_low..3999, status (40% dead), age at diagnosis in days
    (children, then 60-100 year olds: large population hazards), diagnosis day 10,000-18,999,
    sex, entry days 0..2499 or None) for the horizon and `combined` tests."""
    rng = np.random.default_rng(seed)
    n = n_young + n_old
    age0 = np.concatenate([rng.integers(0, 20 * 365, n_young).astype(float),
                           rng.uniform(60, 100, n_old) * 365.241])
    t0 = rng.integers(10_000, 19_000, n)
    y = rng.integers(y_low, 4000, n)
    st = (rng.random(n) < 0.4).astype(int)
    sex = rng.integers(1, 3, n)
    entry = rng.integers(0, 2500, n) if with_entry else None
    return rng, y, st, age0, t0, sex, entry


@pytest.mark.parametrize("with_entry", [False, True])
@pytest.mark.parametrize("horizon", [1, 365, 1000.5, 1826.25, 3999, 5000])
def test_a_curve_to_a_horizon_is_the_whole_curve_up_to_it(rates, with_entry, horizon):
    """`horizon_days` (what the pages ask for: values at 5 years only) censors follow-up at the
    first grid time at or after it: every row of the table up to it, and the values at any time
    up to it, equal the whole curve's; later times are refused; the subjects counted are all."""
    _, y, st, age0, t0, sex, entry = random_subjects(11, 300, 100, 1, with_entry)
    whole = net_survival_rows(y, st, age0, t0, sex, rates, "USA", "pohar-perme", entry_days=entry)
    part = net_survival_rows(y, st, age0, t0, sex, rates, "USA", "pohar-perme", entry_days=entry,
                             horizon_days=horizon)
    assert part.n == whole.n and part.n_zero == whole.n_zero
    if part.horizon_days is None:  # no grid time after the horizon: nothing to save
        assert horizon >= whole.table["time_days"].max() - 1 or len(whole.table) == len(part.table)
        pd.testing.assert_frame_equal(part.table, whole.table)
        return
    c = part.horizon_days
    assert c >= horizon and c in set(whole.table["time_days"])
    assert not ((whole.table["time_days"] >= horizon) & (whole.table["time_days"] < c)).any()
    head = whole.table[whole.table["time_days"] <= c].reset_index(drop=True)
    assert part.table["time_days"].max() == c and len(part.table) == len(head)
    cols = [k for k in head.columns if k != "n_censored"]  # the last row: censored at the horizon
    pd.testing.assert_frame_equal(part.table[cols], head[cols], rtol=1e-12)
    pd.testing.assert_frame_equal(part.table[cols].iloc[:-1], head[cols].iloc[:-1], rtol=1e-12)
    assert (part.table["n_censored"].iloc[:-1] == head["n_censored"].iloc[:-1]).all()
    times = [t for t in (0.5, 1, 100, horizon, c) if t <= c]
    pd.testing.assert_frame_equal(part.at_days(times), whole.at_days(times), rtol=1e-12)
    with pytest.raises(ValueError):
        part.at_days([c + 1])
    with pytest.raises(ValueError):
        part.median()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("with_entry", [False, True])
@pytest.mark.parametrize("horizon", [None, 365, 1826.25, 5000])
def test_curves_of_disjoint_groups_add_up_to_the_curve_of_their_union(rates, method, with_entry, horizon):
    """`combined` (a country's age bands, computed once for age-standardisation, added for the
    country): the same table, internals and counts as the curve of all the rows."""
    rng, y, st, age0, t0, sex, entry = random_subjects(5, 400, 100, 0, with_entry)
    n = len(y)
    band = rng.integers(0, 4, n)
    band[y > 3500] = 3  # one group with the longest follow-up: the others' sums end earlier

    def rows(m):
        return net_survival_rows(y[m], st[m], age0[m], t0[m], sex[m], rates, "USA", method, APP_YEAR,
                                 None if entry is None else entry[m], horizon)

    whole = rows(np.ones(n, bool))
    added = combined([rows(band == b) for b in range(4)])
    pd.testing.assert_frame_equal(added.internals, whole.internals, rtol=1e-12)
    pd.testing.assert_frame_equal(added.table, whole.table, rtol=1e-12)
    assert (added.n, added.n_zero, added.horizon_days) == (whole.n, whole.n_zero, whole.horizon_days)
    assert sorted(added.followup) == sorted(whole.followup)
    times = [t for t in (0.5, 1, 3, 5, 10) if horizon is None or t * APP_YEAR <= horizon]
    pd.testing.assert_frame_equal(added.at(times), whole.at(times), rtol=1e-12)


def test_curves_all_cut_at_the_same_day_add_up_to_a_cut_curve(rates):
    """Every part cut at the same grid day (its last after the cut): the union is cut there too
    (found in review: it came back as a whole curve, and answered for later times)."""
    y = np.array([100, 400, 900, 50, 400, 1200])
    st = np.array([1, 0, 1, 1, 1, 0])
    age0, t0, sex = np.full(6, 3000.0), np.full(6, 15_000), np.array([1, 2, 1, 2, 1, 2])
    band = np.array([0, 0, 0, 1, 1, 1])

    def rows(m):
        return net_survival_rows(y[m], st[m], age0[m], t0[m], sex[m], rates, "USA", horizon_days=365)

    whole, parts = rows(np.ones(6, bool)), [rows(band == b) for b in (0, 1)]
    assert whole.horizon_days == 400 and [p.horizon_days for p in parts] == [400, 400]
    added = combined(parts)
    assert added.horizon_days == 400
    pd.testing.assert_frame_equal(added.table, whole.table, rtol=1e-12)
    with pytest.raises(ValueError):
        added.at_days([500])


def test_net_survival_for_pages_gives_the_same_values_at_times(usa_warehouse):
    con, _ = usa_warehouse
    whole = net_survival(con, None, times=(1, 3, 5))
    part = net_survival(con, None, times=(1, 3, 5), whole_curve=False)
    pd.testing.assert_frame_equal(part.at_times, whole.at_times)
    assert part.curves[()].horizon_days is not None and part.medians["median"].isna().all()
    assert part.notes == whole.notes


@pytest.fixture(scope="module")
def usa_warehouse(tmp_path_factory):
    d = tmp_path_factory.mktemp("netsurv")
    rows = usa_rows()
    con = warehouse.connect(d / "w.duckdb")
    ingest_file(con, write_csv(d / "usa.csv", rows))
    yield con, rows
    con.close()


@pytest.mark.parametrize("method", METHODS)
def test_warehouse_net_survival_equals_direct_computation(usa_warehouse, rates, method):
    con, rows = usa_warehouse
    assert con.execute("SELECT count(*) FROM cases").fetchall()[0][0] == len(rows)
    res = net_survival(con, None, method=method)
    mine = direct(rows, rates, method)
    got = res.curves[()]
    assert got.n == len(rows) - 3 and mine.n_zero == 1
    pd.testing.assert_frame_equal(got.table, mine.table, rtol=1e-12)
    pd.testing.assert_frame_equal(got.internals, mine.internals, rtol=1e-12)
    assert (res.n_selected, res.n_dco, res.n_sex_unknown, res.n_zero_followup,
            res.n_age_assumed) == (len(rows), 1, 1, 1, 2)
    assert res.n_analysed == len(rows) - 3
    assert len(res.at_times) == 4 and res.at_times["time_years"].tolist() == [1, 3, 5, 10]
    assert res.medians.columns.tolist() == ["n", "events", "median", "median_lower",
                                            "median_upper"]
    assert res.medians["n"].tolist() == [got.n] and res.medians["events"].tolist() == [
        int(got.status.sum())]
    at = mine.at([1, 3, 5, 10])
    assert close(res.at_times["survival"], at["survival"], 1e-12)
    text = " ".join(res.notes)
    assert "Biometrics 2012;68:113-20" in text and "Ederer" in text
    assert "J Stat Softw 2018;87(8)" in text
    assert "1 of unknown sex" in text and "1 with no follow-up time" in text
    assert "2 case(s) without birth date" in text


def test_warehouse_by_group_and_suppression(usa_warehouse, rates):
    con, rows = usa_warehouse
    res = net_survival(con, Selection.build({"sex": ["1", "2"]}), by=["sex"])
    assert list(res.curves) == [(1,), (2,)]
    males = [r for r in rows if r["sex"] == "1"]
    assert np.allclose(res.curves[(1,)].table["survival"],
                       direct(males, rates, "pohar-perme").table["survival"], rtol=1e-12)
    assert set(res.at_times["sex"]) == {1, 2}
    big = net_survival(con, None, by=["sex"], min_cases=10_000)
    assert big.curves == {} and big.suppressed == [(1,), (2,)] and big.at_times.empty
    assert any("suppressed" in n for n in big.notes)
    assert not res.steps().empty


def test_coverage_error_for_a_country_without_life_table(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        rows = usa_rows(40)
        rows += [valid_row(case_id=f"F{i}", country="FRA") for i in range(3)]
        rows += [valid_row(case_id=f"K{i}", country="KEN") for i in range(3)]
        ingest_file(con, write_csv(tmp_path / "mix.csv", rows))
        with pytest.raises(SelectionError) as e:
            net_survival(con, None)
        msg = str(e.value)
        assert "\n" not in msg
        assert msg.startswith("net survival needs life tables for FRA, KEN (only USA 1933-2022 is loaded)")
        # the USA alone is covered
        assert net_survival(con, Selection.build({"country": ["USA"]})).curves
        # a follow-up year beyond the life table
        con.execute("UPDATE cases SET last_contact_date = DATE '2023-03-01', "
                    "followup_days = DATE '2023-03-01' - diagnosis_date WHERE case_id = 'U10'")
        with pytest.raises(SelectionError, match="USA males and females 2023"):
            net_survival(con, Selection.build({"country": ["USA"]}))
        with pytest.raises(SelectionError, match="method"):
            net_survival(con, None, method="hakulinen")
    finally:
        con.close()
