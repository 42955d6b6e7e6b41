"""The survival commands end to end: real trial data (R's veteran) loaded through ingest as a
harmonized submission, then `survival`, `logrank` and `cox` compared with R to 1e-6."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, timedelta

import pandas as pd
import pytest

from analytics import warehouse
from analytics.ingest import ingest_file
from tests.conftest import ROOT, valid_row, write_csv

FIX = ROOT / "tests" / "fixtures" / "survival"
STAGE_OF_CELLTYPE = {"adeno": "I", "large": "II", "smallcell": "III", "squamous": "IV"}  # keeps sort order
TOL = 1e-6


@pytest.fixture(scope="module")
def trial_db(tmp_path_factory):
    """veteran: treatment as `registry` ('1', '2'), cell type as a stage code, follow-up as dates."""
    d = pd.read_csv(FIX / "trial.csv", dtype={"group": str})
    dx = date(2010, 1, 1)
    rows = [valid_row(case_id=f"V{r.id}", country="USA", registry=str(r.trt), birth_date="", age_years="10",
                      diagnosis_date=dx.isoformat(), stage=STAGE_OF_CELLTYPE[r.celltype],
                      vital_status="2" if r.status == 1 else "1",
                      last_contact_date=(dx + timedelta(days=int(r.time_days))).isoformat())
            for r in d.itertuples()]
    tmp = tmp_path_factory.mktemp("trial")
    con = warehouse.connect(tmp / "trial.duckdb")
    report = ingest_file(con, write_csv(tmp / "veteran.csv", rows))
    assert report.rows_loaded == len(d) == 137
    con.close()
    return tmp / "trial.duckdb"


def run(*args):
    out = subprocess.run([sys.executable, "-m", "analytics", *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, env=dict(os.environ, CCOE_MIN_CELL="16"))
    assert out.returncode == 0, out.stderr
    return pd.read_csv(io.StringIO(out.stdout), dtype={"registry": str}), out.stderr


@pytest.mark.parametrize("ci", ["log-log", "log", "plain"])
def test_survival_at_times(trial_db, ci):
    got, err = run("survival", "--db", trial_db, "--by", "registry", "--times", "0,0.5,1,3", "--ci", ci)
    assert list(got.columns) == ["registry", "time_years", "n_at_risk", "survival", "lower", "upper"]
    ref = pd.read_csv(FIX / "km_times_trial.csv", dtype={"group": str})
    ref = ref[(ref["conf_type"] == ci) & ref["time"].isin([0, 0.5, 1, 3])]
    ref = ref.rename(columns={"lower": "r_lower", "upper": "r_upper"})
    m = got.merge(ref, left_on=["registry", "time_years"], right_on=["group", "time"])
    assert len(m) == len(got) == 8
    assert (m["n_at_risk"] == m["n.risk"]).all()
    for a, b in [("survival", "surv"), ("lower", "r_lower"), ("upper", "r_upper")]:
        assert m[a].to_numpy() == pytest.approx(m[b].to_numpy(), rel=TOL, nan_ok=True), a
    assert "137 analysed of 137 selected" in err


def test_step_function(trial_db):
    got, _ = run("survival", "--db", trial_db, "--by", "registry", "--steps")
    ref = pd.read_csv(FIX / "km_trial.csv", dtype={"group": str})
    ref = ref[ref["conf_type"] == "log-log"]
    assert len(got) == len(ref)
    assert got["survival"].to_numpy() == pytest.approx(ref["surv"].to_numpy(), rel=TOL)
    assert (got["n_at_risk"].to_numpy() == ref["n.risk"].to_numpy()).all()


def test_median(trial_db):
    got, _ = run("survival", "--db", trial_db, "--by", "registry", "--median")
    ref = pd.read_csv(FIX / "median_trial.csv", dtype={"group": str})
    ref = ref[ref["conf_type"] == "log-log"].set_index("group")
    for _, r in got.iterrows():
        assert float(r["median"]) == pytest.approx(ref.loc[r["registry"], "quantile_median"], rel=TOL)
        assert float(r["median_lower"]) == pytest.approx(ref.loc[r["registry"], "quantile_lower"], rel=TOL)


def test_logrank(trial_db):
    got, _ = run("logrank", "--db", trial_db, "--by", "registry")
    ref = pd.read_csv(FIX / "logrank_trial.csv")
    r = ref[ref["rho"] == 0].iloc[0]
    assert got.iloc[0]["chisq"] == pytest.approx(r["chisq"], rel=TOL)
    assert got.iloc[0]["p"] == pytest.approx(r["p"], rel=TOL)
    strat, _ = run("logrank", "--db", trial_db, "--by", "registry", "--strata", "stage")
    rs = pd.read_csv(FIX / "logrank_veteran_stratified.csv").iloc[0]
    assert strat.iloc[0]["chisq"] == pytest.approx(rs["chisq"], rel=TOL)


def test_cox(trial_db):
    got, _ = run("cox", "--db", trial_db, "--covariates", "registry,stage")
    ref = pd.read_csv(FIX / "cox_trial_trt_celltype.csv")
    ref["term"] = ref["term"].replace({"trt=2": "registry=2", **{f"celltype={k}": f"stage={v}"
                                                               for k, v in STAGE_OF_CELLTYPE.items()}})
    assert list(got["term"]) == list(ref["term"])
    for col in ("hr", "hr_lower", "hr_upper", "p"):
        assert got[col].to_numpy() == pytest.approx(ref[col].to_numpy(), rel=TOL), col


def test_cox_ph_check(trial_db):
    got, _ = run("cox", "--db", trial_db, "--covariates", "registry,stage", "--ph")
    assert list(got.columns) == ["term", "chisq", "df", "p"]
    assert got["term"].tolist() == ["registry", "stage", "GLOBAL"]
    assert (got["p"].between(0, 1)).all()


def test_restricted_mean_survival_time(trial_db):
    """`survival --rmst TAU` equals R's summary(survfit, rmean = tau)$table (issue 15, item 4)."""
    ref = pd.read_csv(FIX / "rmst.csv", dtype={"group": str})
    for tau in (0.5, 1, 3):
        got, err = run("survival", "--db", trial_db, "--by", "registry", "--rmst", tau)
        assert list(got.columns) == ["registry", "tau_years", "rmst_years", "std_err", "lower", "upper"]
        r = ref[(ref["dataset"] == "trial") & (ref["tau_years"] == tau)].set_index("group").loc[got["registry"]]
        assert got["rmst_years"].to_numpy() == pytest.approx(r["rmean"].to_numpy(), rel=TOL)
        assert got["std_err"].to_numpy() == pytest.approx(r["se_rmean"].to_numpy(), rel=TOL)
        assert "Restricted mean survival time to" in err


def test_median_followup(trial_db):
    """`survival --followup`: reverse Kaplan-Meier; in the trial nearly everyone died, so, as R's
    quantile() says (NA), the median follow-up is not reached (issue 15, item 5)."""
    got, err = run("survival", "--db", trial_db, "--by", "registry", "--followup")
    assert list(got.columns) == ["registry", "median_followup_years", "lower", "upper"]
    assert (got["median_followup_years"] == "not reached").all()
    assert "reverse Kaplan-Meier" in err
    out = subprocess.run([sys.executable, "-m", "analytics", "survival", "--db", str(trial_db), "--followup",
                          "--method", "pohar-perme"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "--followup is computed on Kaplan-Meier" in out.stderr
