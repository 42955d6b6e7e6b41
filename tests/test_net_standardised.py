"""Age-standardised net survival (issue 15, item 6) against relsurv 2.2.9
(tests/fixtures/survival/make_net_standardised_reference.R): rs.surv in each age band 0-4, 5-9,
10-14, 15-19 of relsurv.csv and the weighted sum (cohort and equal weights), Pohar-Perme and
Ederer II, to 1e-6; end to end through ingest (age bands from birth dates) and the command line."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analytics.filters import Selection, SelectionError
from analytics.netsurvival import METHODS, RELSURV_YEAR, age_standardised, net_survival
from tests.conftest import ROOT
from tests.test_period_net import _load

FIX = ROOT / "tests" / "fixtures" / "survival"
BANDS = pd.read_csv(FIX / "net_band_times.csv", dtype={"group": str})
STD = pd.read_csv(FIX / "net_standardised_times.csv", dtype={"group": str})
WEIGHTS = pd.read_csv(FIX / "net_standardised_weights.csv")
TIMES = [1, 3, 5, 10]
TOL = 1e-6
USA = Selection.build({"country": ["USA"]})


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("net_std")
    _load(tmp).close()
    return tmp / "w.duckdb"


@pytest.fixture(scope="module")
def con(db):
    from analytics import warehouse

    c = warehouse.connect(db, read_only=True)
    yield c
    c.close()


@pytest.mark.parametrize("method", METHODS)
def test_each_band_is_relsurvs(con, method):
    res = net_survival(con, USA, ["registry", "age_band"], method=method, times=TIMES, min_cases=1,
                       year_days=RELSURV_YEAR)
    ref = BANDS[(BANDS["method"] == method) & (BANDS["group"] != "overall")]
    for (group, band), r in ref.groupby(["group", "band"]):
        at = res.curves[(group, band)].at(TIMES)
        assert list(at["n_at_risk"]) == list(r["n_risk"])
        np.testing.assert_allclose(at["survival"], r["surv"], rtol=TOL)
        np.testing.assert_allclose(at["std_err_surv"], r["std_err_surv"], rtol=TOL)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("weights", ["cohort", "equal"])
def test_standardised_is_the_weighted_sum_of_relsurvs(con, method, weights):
    for by in (["registry"], []):
        got = age_standardised(con, USA, by, method=method, times=TIMES, weights=weights, min_cases=1,
                               year_days=RELSURV_YEAR)
        w = WEIGHTS[WEIGHTS["weights"] == weights].set_index("band")["w"]
        assert got.attrs["weights"] == pytest.approx(w.to_dict(), rel=1e-12)
        ref = STD[(STD["method"] == method) & (STD["weights"] == weights)]
        ref = ref[ref["group"] != "overall"] if by else ref[ref["group"] == "overall"]
        assert len(got) == len(ref) and not got["suppressed"].any()
        for col, rcol in (("survival", "surv"), ("std_err_surv", "std_err_surv"), ("lower", "lower"),
                          ("upper", "upper")):
            np.testing.assert_allclose(got[col].to_numpy(float), ref[rcol].to_numpy(float), rtol=TOL, err_msg=col)


def test_ages_0_14_are_standardised_over_their_three_bands(con):
    """The bands are those the selection keeps (the International page's ages 0-14): equal weights
    1/3 each, the sum of relsurv's values in those bands."""
    young = Selection.build({"country": ["USA"], "age_band": ["0-4", "5-9", "10-14"]})
    got = age_standardised(con, young, ["registry"], times=TIMES, weights="equal", min_cases=1,
                           year_days=RELSURV_YEAR)
    assert got.attrs["weights"] == pytest.approx({"0-4": 1 / 3, "5-9": 1 / 3, "10-14": 1 / 3})
    ref = BANDS[(BANDS["method"] == "pohar-perme") & (BANDS["band"] != "15-19") & (BANDS["group"] != "overall")]
    expect = ref.groupby(["group", "time"])["surv"].mean().to_numpy()
    np.testing.assert_allclose(got["survival"], expect, rtol=TOL)
    bands = got.attrs["bands"]
    assert set(bands["age_band"]) == {"0-4", "5-9", "10-14"} and (bands["deaths_by"] >= 0).all()


def test_a_group_too_small_gets_no_estimate(con):
    big = age_standardised(con, USA, ["registry"], times=TIMES, min_cases=250)  # 200 per group
    assert big["suppressed"].all()
    with pytest.raises(SelectionError):
        age_standardised(con, USA, ["age_band"])
    with pytest.raises(SelectionError):
        age_standardised(con, USA, [], weights="icss")


@pytest.mark.parametrize("method", METHODS)
def test_the_command_line(db, method):
    out = subprocess.run([sys.executable, "-m", "analytics", "survival", "--db", str(db), "--by", "registry",
                          "--method", method, "--standardise", "equal", "--times", "1,3,5,10"],
                         cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, CCOE_MIN_CELL="1"))
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(io.StringIO(out.stdout), dtype={"registry": str})
    assert list(got.columns) == ["registry", "time_years", "survival", "lower", "upper"]
    exp = age_standardised_app_year(db, method)
    np.testing.assert_allclose(got["survival"], exp["survival"], rtol=1e-12)
    assert "equal weights" in out.stderr and ("Pohar" in out.stderr or "Ederer" in out.stderr)


def age_standardised_app_year(db, method):
    from analytics import warehouse

    c = warehouse.connect(db, read_only=True)
    try:
        return age_standardised(c, None, ["registry"], method=method, times=TIMES, weights="equal")
    finally:
        c.close()
