"""The viewer's Kaplan-Meier input (docs/disclosure-control.md, section 4.1): OpenSAFELY's midpoint
rounding, month bins, and the rounded event table. Fast: small frames, no warehouse."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analytics import survival
from analytics.survival import (EventTable, MONTH_DAYS, age_standardised, at_risk_table,
                                event_table_from_rows, kaplan_meier, logrank, rounded_events,
                                roundmid, truncate)

TIMES = (0.5, 1, 3, 5, 10)


def random_cases(n: int, seed: int, groups=("A", "B"), death_share: float = 0.3,
                 max_days: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.integers(0, max_days, n)
    days[rng.random(n) < 0.02] = 0  # some deaths and censorings on the day of diagnosis
    return pd.DataFrame({"g": rng.choice(list(groups), n), "days": days,
                         "event": (rng.random(n) < death_share).astype(int)})


# ------------------------------------------------------------------------------------------------
# roundmid
# ------------------------------------------------------------------------------------------------

def test_roundmid_base_16():
    x = np.arange(0, 49)
    got = roundmid(x, 16)
    assert got.dtype == np.int64
    assert got[0] == 0
    assert (got[1:17] == 8).all()
    assert (got[17:33] == 24).all()
    assert (got[33:49] == 40).all()
    assert roundmid(16, 16) == 8 and roundmid(17, 16) == 24 and roundmid(0, 16) == 0


def test_roundmid_base_1_is_identity():
    x = np.array([0, 1, 2, 3, 17, 1000, 123456789], dtype=np.int32)
    got = roundmid(x, 1)
    assert got.dtype == np.int64
    assert (got == x).all()


def test_roundmid_opensafely_default_base_6():
    # R: ceiling(x/to)*to - (floor(to/2)*(x!=0)), to = 6
    x = np.arange(0, 40)
    expected = np.where(x != 0, np.ceil(x / 6) * 6 - 3, 0)
    assert (roundmid(x, 6) == expected).all()
    assert (roundmid(np.arange(1, 7), 6) == 3).all()
    assert (roundmid(np.arange(7, 13), 6) == 9).all()


def test_roundmid_odd_base_and_refusals():
    assert list(roundmid(np.arange(0, 11), 5)) == [0, 3, 3, 3, 3, 3, 8, 8, 8, 8, 8]
    with pytest.raises(ValueError):
        roundmid(np.array([-1]), 16)
    with pytest.raises(ValueError):
        roundmid(np.array([3]), 0)


# ------------------------------------------------------------------------------------------------
# base 1, one-day bins: the exact estimator
# ------------------------------------------------------------------------------------------------

def assert_same_result(a: survival.SurvivalResult, b: survival.SurvivalResult):
    assert list(a.curves) == list(b.curves)
    assert a.suppressed == b.suppressed
    for key in a.curves:
        ta, tb = a.curves[key].table, b.curves[key].table
        assert len(ta) == len(tb)
        for col in ("time_years", "n_at_risk", "n_events", "n_censored", "survival", "std_err",
                    "lower", "upper"):
            assert np.array_equal(ta[col].to_numpy(), tb[col].to_numpy(), equal_nan=True), (key, col)
    pd.testing.assert_frame_equal(a.at_times, b.at_times)
    pd.testing.assert_frame_equal(a.medians, b.medians)


@pytest.mark.parametrize("by", [["g"], []])
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_base_1_day_bins_equal_exact(by, conf_type):
    df = random_cases(600, seed=1, groups=("A", "B", "C"), death_share=0.4, max_days=2000)
    df.loc[df.index[:5], ["days", "event"]] = [0, 1]  # deaths on day 0
    ev = event_table_from_rows(df, "days", "event", by)
    r = rounded_events(ev, 1, 1)
    assert r.by == ev.by and (r.n_selected, r.n_dco, r.notes) == (ev.n_selected, ev.n_dco, ev.notes)
    assert len(r.table) == len(ev.table)
    exact = kaplan_meier(ev, TIMES, conf_type, min_cases=1)
    viewer = kaplan_meier(r, TIMES, conf_type, min_cases=1)
    assert len(exact.curves) == (3 if by else 1)
    assert_same_result(exact, viewer)
    first = next(iter(viewer.curves.values())).table
    assert first["time_years"].iloc[0] == 0 and first["n_events"].iloc[0] > 0


def test_base_1_equal_exact_with_tied_and_sparse_days():
    df = pd.DataFrame({"g": list("AAAAAABBBB"), "days": [0, 0, 3, 3, 3, 100, 0, 5, 5, 900],
                       "event": [1, 0, 1, 1, 0, 0, 1, 0, 1, 1]})
    ev = event_table_from_rows(df, "days", "event", ["g"])
    assert_same_result(kaplan_meier(ev, TIMES, min_cases=1),
                       kaplan_meier(rounded_events(ev, 1, 1), TIMES, min_cases=1))


# ------------------------------------------------------------------------------------------------
# base 16, month bins
# ------------------------------------------------------------------------------------------------

def test_base_16_curves_are_rounded():
    df = random_cases(400, seed=2)
    ev = event_table_from_rows(df, "days", "event", ["g"])
    res = kaplan_meier(rounded_events(ev, 16), TIMES, min_cases=16)
    assert set(res.curves) == {("A",), ("B",)}
    for key, km in res.curves.items():
        tab = km.table
        N = int((df["g"] == key[0]).sum())
        assert km.n == roundmid(N, 16)
        d, c, n = (tab[k].to_numpy() for k in ("n_events", "n_censored", "n_at_risk"))
        assert (d >= 0).all() and (c >= 0).all() and ((d > 0) | (c > 0)).all()
        # every count is a difference of rounded counts: a multiple of 8
        assert (d % 8 == 0).all() and (c % 8 == 0).all() and (n % 8 == 0).all()
        # cumulative deaths and censorings are rounded counts (0 or 8 mod 16), up to the last row,
        # which also takes N' - E' - C'
        for cum in (np.cumsum(d)[:-1], np.cumsum(c)[:-1]):
            assert np.isin(cum % 16, (0, 8)).all()
            assert ((cum == 0) | (cum % 16 == 8)).all()
        assert np.isin(np.cumsum(d)[-1] % 16, (0, 8))
        assert d.sum() + c.sum() == km.n
        # risk set consistent: n'_j = N' - E'_{j-1} - C'_{j-1}
        assert (n == km.n - np.concatenate([[0], np.cumsum(d + c)[:-1]])).all()
        assert (d <= n).all()
        # times are bin ends
        j = tab["time_years"].to_numpy() * survival.DAYS_PER_YEAR / MONTH_DAYS
        assert np.allclose(j, np.round(j), atol=1e-9)
        s = tab["survival"].to_numpy()
        assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 0).all()
        shown = truncate(km, 16)
        assert len(shown) and (shown["n_at_risk"] >= 16).all()


def test_small_group_is_rounded_up_to_8_and_suppressed():
    df = pd.concat([random_cases(200, seed=3, groups=("A",)),
                    random_cases(7, seed=4, groups=("Z",))], ignore_index=True)
    ev = event_table_from_rows(df, "days", "event", ["g"])
    r = rounded_events(ev, 16)
    t = r.table
    assert (t.loc[t["g"] == "Z", ["n_event", "n_censor"]].to_numpy().sum()) == 8
    res = kaplan_meier(r, TIMES, min_cases=16)
    assert ("Z",) in res.suppressed and ("Z",) not in res.curves
    assert ("A",) in res.curves and res.curves[("A",)].n == roundmid(200, 16)


def test_estimate_stays_close():
    df = random_cases(2000, seed=5, groups=("A",), death_share=0.25, max_days=4000)
    ev = event_table_from_rows(df, "days", "event", [])
    exact = kaplan_meier(ev, (1, 3, 5), min_cases=16).at_times["survival"].to_numpy()
    viewer = kaplan_meier(rounded_events(ev, 16), (1, 3, 5), min_cases=16).at_times["survival"].to_numpy()
    assert np.all(np.abs(viewer - exact) < 0.02), (viewer, exact)
    assert exact[0] < 0.98 and exact[-1] < 0.9  # not trivial: deaths before each time


def test_day_0_stays_at_time_0():
    df = pd.DataFrame({"days": [0] * 20 + list(range(1, 101)), "event": [1] * 20 + [0, 1] * 50})
    km = kaplan_meier(rounded_events(event_table_from_rows(df, "days", "event"), 16), min_cases=16).curves[()]
    assert km.table["time_years"].iloc[0] == 0 and km.table["n_events"].iloc[0] == roundmid(20, 16)


def test_shortfall_never_makes_a_count_negative():
    # E = [1, 1, 2], C = [0, 1, 1] -> E' = [8, 8, 8], C' = [0, 8, 8], N' = 8 < E' + C' = 16:
    # the rounded risk set runs out after the first bin, which keeps its 8 deaths
    df = pd.DataFrame({"days": [10, 40, 70], "event": [1, 0, 1]})
    t = rounded_events(event_table_from_rows(df, "days", "event"), 16).table
    assert t[["days", "n_event", "n_censor"]].values.tolist() == [[MONTH_DAYS, 8, 0]]


@pytest.mark.parametrize("base", [2, 5, 6, 16])
def test_invariants_on_many_small_groups(base):
    rng = np.random.default_rng(base)
    for _ in range(100):
        n = int(rng.integers(1, 80))
        df = pd.DataFrame({"days": rng.integers(0, int(rng.integers(1, 3000)), n),
                           "event": (rng.random(n) < rng.random()).astype(int)})
        ev = event_table_from_rows(df, "days", "event")
        t = rounded_events(ev, base).table
        d, c = t["n_event"].to_numpy(), t["n_censor"].to_numpy()
        assert (d >= 0).all() and (c >= 0).all() and ((d > 0) | (c > 0)).all()
        assert d.sum() + c.sum() == roundmid(n, base)
        assert (np.diff(t["days"].to_numpy()) > 0).all()
        # all rows but the last carry exactly the rounded cumulative counts
        bins = np.ceil(df["days"].to_numpy() / MONTH_DAYS).astype(int)
        for row_bin, cd, cc in zip(np.rint(t["days"].to_numpy() / MONTH_DAYS)[:-1], np.cumsum(d)[:-1],
                                   np.cumsum(c)[:-1]):
            upto = bins <= row_bin
            assert cd == roundmid(int(df["event"][upto].sum()), base)
            assert cc == roundmid(int((1 - df["event"])[upto].sum()), base)
        km = survival.KaplanMeier().fit(t["days"], d, c)
        s = km.arrays["surv"]
        assert ((s >= 0) & (s <= 1)).all() and (np.diff(s) <= 0).all()


# ------------------------------------------------------------------------------------------------
# The rounded table in the rest of the module
# ------------------------------------------------------------------------------------------------

def test_arrow_backed_input_gives_the_same_table():
    df = random_cases(300, seed=6)
    ev = event_table_from_rows(df, "days", "event", ["g"])
    a = pa.Table.from_pandas(ev.table, preserve_index=False)
    group = survival._group_codes(a, ["g"])
    order = np.lexsort((a.column("days").to_numpy(), group))
    arrow_ev = EventTable(None, ["g"], ev.n_selected, ev.n_dco, arrow=a.take(order), group=group[order])
    pd.testing.assert_frame_equal(rounded_events(arrow_ev, 16).table, rounded_events(ev, 16).table)


def test_other_functions_take_the_rounded_table():
    rng = np.random.default_rng(7)
    df = random_cases(800, seed=7)
    df["age_band"] = rng.choice(survival.AGE_BANDS, len(df))
    r = rounded_events(event_table_from_rows(df, "days", "event", ["g", "age_band"]), 16)
    assert list(r.table.columns) == ["g", "age_band", "days", "n_event", "n_censor"]
    std = age_standardised(r, (1, 5), min_cases=16)
    assert len(std) == 4 and not std["suppressed"].any() and std["survival"].between(0, 1).all()
    rg = rounded_events(event_table_from_rows(df, "days", "event", ["g"]), 16)
    res = kaplan_meier(rg, TIMES, min_cases=16)
    risk = at_risk_table(res, [0, 1, 5], min_shown=16)
    assert (risk["n_at_risk"].dropna() % 8 == 0).all()
    lr = logrank(rg, "g")
    assert lr["df"] == 1 and 0 <= lr["p"] <= 1
    empty = rounded_events(event_table_from_rows(df.iloc[:0], "days", "event", ["g"]), 16)
    assert empty.table.empty and kaplan_meier(empty, min_cases=16).curves == {}
