"""Restricted mean survival time and median follow-up (issue 15, items 4 and 5) against R's
survival 3.5 (tests/fixtures/survival/make_followup_rmst_reference.R): `rmean` and `se(rmean)` of
`summary(survfit(...), rmean = tau)$table`, and the reverse Kaplan-Meier median follow-up with its
log-log CI from `quantile()`, to 1e-12, on datasets with ties, deaths on day 0, censorings on
death days and groups without deaths."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import survival

HERE = Path(__file__).parent / "fixtures" / "survival"
RMST = pd.read_csv(HERE / "rmst.csv", dtype={"group": str})
FOLLOWUP = pd.read_csv(HERE / "followup.csv", dtype={"group": str})


def _events(ds: str) -> survival.EventTable:
    d = pd.read_csv(HERE / f"{ds}.csv", dtype={"group": str})
    return survival.event_table_from_rows(d, "time_days", "status", ["group"])


@pytest.mark.parametrize("ds", sorted(RMST["dataset"].unique()))
def test_rmst_is_that_of_r(ds):
    res = survival.kaplan_meier(_events(ds), min_cases=1)
    for tau, ref in RMST[RMST["dataset"] == ds].groupby("tau_years"):
        got = survival.rmst(res, tau).set_index("group").loc[ref["group"]]
        np.testing.assert_allclose(got["rmst_years"], ref["rmean"], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["std_err"], ref["se_rmean"], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("ds", sorted(FOLLOWUP["dataset"].unique()))
def test_median_followup_is_that_of_r(ds):
    got = survival.median_followup(_events(ds), min_cases=1).set_index("group")
    ref = FOLLOWUP[FOLLOWUP["dataset"] == ds].set_index("group")
    assert sorted(got.index) == sorted(ref.index)
    for col, rcol in (("median_followup_years", "median"), ("lower", "lower"), ("upper", "upper")):
        np.testing.assert_allclose(got.loc[ref.index, col], ref[rcol], rtol=1e-12, equal_nan=True, err_msg=col)


def test_rmst_by_hand():
    """Deaths at 1 and 2 years of 4 children (one censored at 1.5, one followed to 3): S = 3/4 on
    [1, 2), 3/8 from 2; to tau = 2.5 the area is 1 + 0.75 + 0.5 * 3/8."""
    km = survival.KaplanMeier().fit(np.array([1, 1.5, 2, 3]) * 365.25, [1, 0, 1, 0], [0, 1, 0, 1])
    m, se = km.rmst(2.5)
    assert m == pytest.approx(1 + 0.75 + 0.5 * 3 / 8)
    a1, a2 = 0.75 + 0.5 * 3 / 8, 0.5 * 3 / 8  # area after each death, to tau
    assert se == pytest.approx(np.sqrt(a1 ** 2 * 1 / (4 * 3) + a2 ** 2 * 1 / (2 * 1)))
    assert km.rmst(0.5) == (0.5, 0.0)  # before the first death: tau itself, no variance
