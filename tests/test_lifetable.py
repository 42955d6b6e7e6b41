"""The actuarial life table (analytics/lifetable.py) against KMsurv's lifetab in R, on the
fixture datasets with follow-up in completed months and years
(tests/fixtures/survival/make_lifetab_reference.R): the numbers entering, the effective numbers
at risk, survival at each interval's end and its Greenwood standard error, to 1e-12."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.lifetable import ActuarialTable, actuarial
from analytics.schema import FOLLOWUP_UNITS
from analytics.survival import EventTable, _ci, event_table_from_rows, kaplan_meier

HERE = Path(__file__).parent / "fixtures" / "survival"
REF = pd.read_csv(HERE / "lifetab.csv", dtype={"group": str})


def _data(ds: str) -> pd.DataFrame:
    return pd.read_csv(HERE / f"{ds}.csv", dtype={"group": str})


def _intervals(d: pd.DataFrame, unit: str) -> pd.DataFrame:
    """Deaths and withdrawals per completed interval, as `schema.completed_sql` bins them."""
    j = np.floor(d["time_days"].to_numpy() / FOLLOWUP_UNITS[unit]).astype(int)
    return (d.assign(j=j, d=d["status"], c=1 - d["status"]).groupby("j")[["d", "c"]].sum().reset_index())


CASES = sorted({(r.dataset, r.unit, r.group) for r in REF.itertuples()})


@pytest.mark.parametrize("ds,unit,group", CASES)
def test_life_table_is_that_of_kmsurv(ds, unit, group):
    d = _data(ds)
    t = _intervals(d[d["group"] == group], unit)
    fit = ActuarialTable(FOLLOWUP_UNITS[unit]).fit(t["j"], t["d"], t["c"])
    ref = REF[(REF.dataset == ds) & (REF.unit == unit) & (REF.group == group)].set_index("interval")
    tab = fit.table
    j = t["j"].to_numpy()
    np.testing.assert_array_equal(tab["n_at_risk"], ref.loc[j, "nsubs"])
    np.testing.assert_allclose(tab["n_effective"], ref.loc[j, "nrisk"], rtol=1e-15)
    # lifetab prints S at each interval's start: S at the end of interval j is its row j + 1
    end = ref.loc[j + 1]
    np.testing.assert_allclose(tab["survival"], end["surv"], rtol=1e-12, atol=1e-15)
    se_surv = (tab["survival"] * tab["std_err"]).to_numpy()
    r_se = end["se_surv"].to_numpy()
    finite = np.isfinite(r_se)
    np.testing.assert_allclose(se_surv[finite], r_se[finite], rtol=1e-12, atol=1e-15)
    assert np.all(~np.isfinite(se_surv[~finite]) | (tab["survival"].to_numpy()[~finite] == 0))
    # survival and numbers at risk at every interval boundary, as lifetab prints them
    w = FOLLOWUP_UNITS[unit] / 365.25
    times = ref.index.to_numpy() * w
    at = fit.at(times)
    np.testing.assert_allclose(at["survival"], ref["surv"], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(at["n_at_risk"], ref["nsubs"])


def test_confidence_interval_is_the_kaplan_meier_rule_on_the_greenwood_variance():
    t = _intervals(_data("lung"), "month")
    for ct in ("log-log", "log", "plain"):
        tab = ActuarialTable(FOLLOWUP_UNITS["month"], ct).fit(t["j"], t["d"], t["c"]).table
        died = tab["n_events"].cumsum() > 0
        lo, hi = _ci(tab["survival"].to_numpy(), tab["std_err"].to_numpy(), ct)
        np.testing.assert_allclose(tab["lower"][died], lo[died])
        np.testing.assert_allclose(tab["upper"][died], hi[died])
        assert (tab["lower"][~died] == 1).all() and (tab["upper"][~died] == 1).all()


def test_a_hand_worked_table():
    """Yearly intervals: 10 enter; year 0: 2 die, 2 withdrawn (n' = 9); year 2 (year 1 empty):
    3 die, 1 withdrawn (n' = 5.5); year 3: the last 2 die."""
    fit = ActuarialTable(365.25).fit([0, 2, 3], [2, 3, 2], [2, 1, 0])
    s0, s2 = 1 - 2 / 9, (1 - 2 / 9) * (1 - 3 / 5.5)
    np.testing.assert_allclose(fit.table["survival"], [s0, s2, 0.0])
    np.testing.assert_allclose(fit.table["n_effective"], [9, 5.5, 2])
    np.testing.assert_allclose(fit.table["std_err"][:2],
                               np.sqrt(np.cumsum([2 / (9 * 7), 3 / (5.5 * 2.5)])))
    at = fit.at([0, 1, 2, 2.5, 3, 4, 9])
    np.testing.assert_allclose(at["survival"], [1, s0, s0, s0, s2, 0, 0])
    assert at["n_at_risk"].tolist() == [10, 6, 6, 6, 2, 0, 0]
    # the median: S falls from s0 = 0.78 to s2 = 0.35 within year 2 (from 2 to 3 years)
    median, _, _ = fit.median()
    assert median == pytest.approx(2 + (s0 - 0.5) / (s0 - s2))
    assert np.isnan(ActuarialTable(365.25).fit([0], [1], [9]).median()[0])  # S = 0.9: not reached


def test_kaplan_meier_sends_an_event_table_in_months_to_the_life_table():
    d = _data("trial")
    t = _intervals(d, "month").rename(columns={"j": "days", "d": "n_event", "c": "n_censor"})
    events = EventTable(t, [], len(d), 0, unit="month")
    res = kaplan_meier(events, times=(0.5, 1), min_cases=0)
    assert res.notes[0].startswith("Actuarial life table (Cutler-Ederer), monthly intervals")
    direct = actuarial(events, times=(0.5, 1), min_cases=0)
    pd.testing.assert_frame_equal(res.at_times, direct.at_times)
    with pytest.raises(ValueError, match="completed months or years"):
        actuarial(event_table_from_rows(d, "time_days", "status"))
