"""Cumulative incidence with competing risks and Gray's test (issue 15, item 2) against R's cmprsk
2.2 (tests/fixtures/survival/make_competing_reference.R): cuminc() through timepoints(), to 1e-9,
on data with ties, deaths on day 0, censorings on death days and unknown causes."""
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


@pytest.mark.parametrize("ds", ["ties", "lung"])
def test_cumulative_incidence_is_that_of_cmprsk(ds):
    ref = CIF[CIF["dataset"] == ds].assign(cause=lambda d: d["cause"].map(NAMES))
    got = competing.cuminc(_table(ds), times=sorted(ref["time_years"].unique()), min_cases=1)
    m = ref.merge(got, on=["group", "cause", "time_years"], how="left", validate="one_to_one")
    assert len(m) == len(ref) and len(got) == len(ref)
    np.testing.assert_allclose(m["cif"], m["est"], rtol=1e-9, atol=1e-14, equal_nan=True)
    np.testing.assert_allclose(m["std_err"] ** 2, m["var"], rtol=1e-9, atol=1e-14, equal_nan=True)
    assert m["est"].isna().any() or ds == "ties"  # lung: some times beyond a group's last follow-up


@pytest.mark.parametrize("ds", ["ties", "lung"])
def test_grays_test_is_that_of_cmprsk(ds):
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
