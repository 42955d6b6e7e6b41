"""Incidence: ASRs and both gamma CIs against R (epitools; the Tiwari formula written out in R),
the command line end to end on a real warehouse, suppression, and clear errors."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analytics import warehouse
from analytics.filters import Selection, SelectionError
from analytics.incidence import apc, direct_asr, incidence, poisson_ci, trend
from analytics.ingest import ingest_file
from analytics.reference.standard import weights
from tests.conftest import ROOT, valid_row, write_csv

FIX = ROOT / "tests" / "fixtures" / "incidence"
RANGES = {"0-14": ["0-4", "5-9", "10-14"], "15-19": ["15-19"], "0-19": ["0-4", "5-9", "10-14", "15-19"]}
SCEN = pd.read_csv(FIX / "scenarios.csv")
REF = pd.read_csv(FIX / "reference.csv")
TOL = 1e-6


def scenario(name, ages):
    s = SCEN[(SCEN["scenario"] == name) & SCEN["age_band"].isin(RANGES[ages])]
    return s.set_index("age_band").loc[RANGES[ages]]


@pytest.mark.parametrize("i", range(len(REF)), ids=lambda i: "-".join(REF.iloc[i][["scenario", "standard", "ages"]]))
def test_formulas_match_r(i):
    ref = REF.iloc[i]
    s = scenario(ref["scenario"], ref["ages"])
    d, n = s["cases"].to_numpy(), s["person_years"].to_numpy(float)
    lo, hi = poisson_ci([d.sum()], [n.sum()])
    assert lo[0] == pytest.approx(ref["crude_lower"], rel=TOL, abs=1e-300)
    assert hi[0] == pytest.approx(ref["crude_upper"], rel=TOL)
    if d.sum() == 0:
        return
    w = weights(None, ref["standard"], RANGES[ref["ages"]])
    wv = np.array([w[b] for b in RANGES[ref["ages"]]])
    y, ff_lo, ff_hi, _ = direct_asr(d, n, wv, "fay-feuer")
    assert y == pytest.approx(ref["asr"], rel=TOL)
    assert ff_lo == pytest.approx(ref["ff_lower"], rel=TOL)
    assert ff_hi == pytest.approx(ref["ff_upper"], rel=TOL)
    _, tw_lo, tw_hi, _ = direct_asr(d, n, wv, "tiwari")
    assert tw_lo == pytest.approx(ref["tiwari_lower"], rel=TOL)
    assert tw_hi == pytest.approx(ref["tiwari_upper"], rel=TOL)


AGE_OF_BAND = {"0-4": 2, "5-9": 7, "10-14": 12, "15-19": 17}


def scenario_warehouse(tmp_path, name, country="FRA", year=2010):
    """A warehouse whose only cases are the scenario's counts (one country, one year) and whose
    person-years for that country and year are the scenario's."""
    rows = []
    for _, r in SCEN[SCEN["scenario"] == name].iterrows():
        for k in range(int(r["cases"])):
            rows.append(valid_row(case_id=f"{r['age_band']}-{k}", country=country, birth_date="",
                                  age_years=AGE_OF_BAND[r["age_band"]], diagnosis_date=f"{year}-06-01",
                                  last_contact_date=f"{year + 1}-01-01"))
    con = warehouse.connect(tmp_path / f"{name}.duckdb")
    ingest_file(con, write_csv(tmp_path / f"{name}.csv", rows))
    con.execute("DELETE FROM population WHERE country = ? AND year = ?", [country, year])
    for _, r in SCEN[SCEN["scenario"] == name].iterrows():
        con.execute("INSERT INTO population VALUES (?, ?, 0, ?, ?, 'test')",
                    [country, year, r["age_band"], float(r["person_years"])])
    con.close()
    return tmp_path / f"{name}.duckdb"


def run_cli(*args, min_cell="1"):
    """The command line in a fresh process, as a user runs it."""
    env = dict(os.environ, CCOE_MIN_CELL=min_cell)
    out = subprocess.run([sys.executable, "-m", "analytics", *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    return out


@pytest.fixture(scope="module")
def scenario_dbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("scenarios")
    return {name: scenario_warehouse(d, name) for name in ("typical", "sparse", "uneven_pop")}


@pytest.mark.parametrize("name", ["typical", "sparse", "uneven_pop"])
@pytest.mark.parametrize("ages", ["0-14", "0-19"])
@pytest.mark.parametrize("ci,standard", [("tiwari", "segi"), ("fay-feuer", "who2000"), ("tiwari", "esp2013")])
def test_cli_matches_r_end_to_end(scenario_dbs, monkeypatch, capsys, name, ages, ci, standard):
    """`python -m analytics incidence` (parsed and printed by the CLI's own main, in-process for
    speed; test_cli_errors_are_one_clear_line runs it as a separate process)."""
    from analytics.cli import main

    monkeypatch.setenv("CCOE_MIN_CELL", "1")
    code = main(["incidence", "--db", str(scenario_dbs[name]), "--ages", ages, "--ci", ci,
                 "--standard", standard])
    captured = capsys.readouterr()
    out = SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(rows[0]) == ["cases", "person_years", "crude_rate", "asr", "asr_lower", "asr_upper"]
    ref = REF[(REF["scenario"] == name) & (REF["standard"] == standard) & (REF["ages"] == ages)].iloc[0]
    got = rows[0]
    prefix = "tiwari" if ci == "tiwari" else "ff"
    assert int(got["cases"]) == ref["cases"]
    assert float(got["person_years"]) == pytest.approx(ref["person_years"], rel=1e-12)
    assert float(got["crude_rate"]) == pytest.approx(ref["crude_rate"] * 1e6, rel=TOL)
    assert float(got["asr"]) == pytest.approx(ref["asr"] * 1e6, rel=TOL)
    assert float(got["asr_lower"]) == pytest.approx(ref[f"{prefix}_lower"] * 1e6, rel=TOL)
    assert float(got["asr_upper"]) == pytest.approx(ref[f"{prefix}_upper"] * 1e6, rel=TOL)
    assert "Synthetic" not in out.stderr  # this warehouse holds no synthetic submission


def test_cli_json_and_breakdown(scenario_dbs):
    db = scenario_dbs["typical"]
    out = run_cli("incidence", "--db", db, "--by", "iccc_main,age_group", "--format", "json")
    assert out.returncode == 0, out.stderr
    recs = json.loads(out.stdout)
    assert [r["age_group"] for r in recs] == ["0-4", "5-9", "10-14", "15-19"]
    assert all(r["iccc_main"] == "I" for r in recs)


def test_cli_errors_are_one_clear_line(scenario_dbs):
    db = scenario_dbs["typical"]
    for args, words in [(["--filter", "registry=R01"], "registry"),
                        (["--by", "sex"], "sex-specific"),
                        (["--filter", "country=FRANCE"], "ISO alpha-3"),
                        (["--by", "stage"], "cannot break down"),
                        (["--filter", "age_group=1-4"], "five-year age groups"),
                        (["--filter", "iccc_main=XIII"], "ICCC-3 main group"),
                        (["--filter", "country=FRA'; DROP TABLE cases; --"], "ISO alpha-3")]:
        out = run_cli("incidence", "--db", db, *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert words in out.stderr and out.stderr.strip().count("\n") == 0, out.stderr
    con = warehouse.connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM cases").fetchone()[0] > 0


def test_sex_specific_rates_use_sex_specific_denominators(tmp_path):
    db = scenario_warehouse(tmp_path, "typical")
    con = warehouse.connect(db)
    for band, py in [("0-4", 4.1e6), ("5-9", 4.3e6), ("10-14", 4.4e6), ("15-19", 4.6e6)]:
        con.execute("INSERT INTO population VALUES ('FRA', 2010, 1, ?, ?, 't'), ('FRA', 2010, 2, ?, ?, 't')",
                    [band, py * 0.51, band, py * 0.49])
    res = incidence(con, by=["sex"], min_cases=1).table
    # every test case is a boy (valid_row sex 1): girls have zero cases over their own person-years
    boys = res[res["sex"] == 1].iloc[0]
    assert boys["person_years"] == pytest.approx(17.4e6 * 0.51)
    assert res[res["sex"] == 2].iloc[0]["cases"] == 0


def test_small_counts_are_suppressed_and_cannot_be_recovered(small_warehouse):
    con = warehouse.connect(small_warehouse, read_only=True)
    res = incidence(con, Selection(), by=["country", "iccc_main"])
    t = res.table
    shown = t["cases"].dropna()
    assert (shown == 0).sum() + (shown >= 16).sum() == len(shown), "a count below 16 is visible"
    assert t.loc[t["suppressed"], ["asr", "asr_lower", "crude_rate"]].isna().all().all()
    # no slice (a country's row, or a group's column) has exactly one suppressed cell
    for col in ("country", "iccc_main"):
        assert (t.groupby(col)["suppressed"].sum() != 1).all()


def test_no_matching_cases_gives_zero_rate_not_an_error(small_warehouse):
    con = warehouse.connect(small_warehouse, read_only=True)
    t = incidence(con, Selection.build({"iccc_sub": ["XIIa"]}), by=["country"]).table
    assert (t["cases"] == 0).all() and (t["asr"] == 0).all()
    assert (t["asr_upper"] > 0).all()


def test_apc_recovers_a_known_trend():
    years = np.arange(2000, 2020)
    rates = 100 * 1.02 ** (years - 2000)
    a, lo, hi = apc(years, rates)
    assert a == pytest.approx(2.0, rel=1e-9)
    assert lo == pytest.approx(2.0, rel=1e-6) and hi == pytest.approx(2.0, rel=1e-6)
    assert np.isnan(apc([2000, 2001], [1.0, 2.0])[0])


def test_demo_trend_is_positive_as_built(demo_warehouse):
    con = warehouse.connect(demo_warehouse, read_only=True)
    hic = ["USA", "CAN", "GBR", "FRA", "DEU", "ITA", "AUS"]
    t = trend(con, Selection.build({"country": hic}), ages="15-19")
    assert t.iloc[0]["apc"] == pytest.approx(1.5, abs=0.4)  # ACCIS: +1.5%/yr in adolescents


def test_selection_values_never_reach_sql_text():
    where, params = Selection.build({"country": ["fra"], "iccc_main": ["i"]}, (2000, 2010)).where("c")
    assert "FRA" not in where and "2000" not in where
    assert params["f_country_0"] == "FRA" and params["f_iccc_main_0"] == "I"
    with pytest.raises(SelectionError):
        Selection.build({"nope": ["x"]})


def test_rate_ratio_between_periods(tmp_path):
    """Two single-year 'periods' built from the typical scenario and twice its counts: RR = 2,
    with the log-normal interval computed from the two ASRs and variances."""
    db = scenario_warehouse(tmp_path, "typical", year=2010)
    con = warehouse.connect(db)
    rows = []
    for _, r in SCEN[SCEN["scenario"] == "typical"].iterrows():
        for k in range(2 * int(r["cases"])):
            rows.append(valid_row(case_id=f"y11-{r['age_band']}-{k}", country="FRA", birth_date="",
                                  age_years=AGE_OF_BAND[r["age_band"]], diagnosis_date="2011-06-01",
                                  last_contact_date="2012-01-01"))
    ingest_file(con, write_csv(tmp_path / "y2011.csv", rows))
    con.execute("DELETE FROM population WHERE country = 'FRA' AND year = 2011")
    for _, r in SCEN[SCEN["scenario"] == "typical"].iterrows():
        con.execute("INSERT INTO population VALUES ('FRA', 2011, 0, ?, ?, 'test')", [r["age_band"], float(r["person_years"])])
    from analytics.incidence import rate_ratio

    rr = rate_ratio(con, Selection(), (2010, 2010), (2011, 2011), ages="0-19")
    s = scenario("typical", "0-19")
    w = np.array([weights(None, "segi", RANGES["0-19"])[b] for b in RANGES["0-19"]])
    y1, _, _, v1 = direct_asr(s["cases"], s["person_years"], w)
    y2, _, _, v2 = direct_asr(2 * s["cases"], s["person_years"], w)
    se = np.sqrt(v1 / y1 ** 2 + v2 / y2 ** 2)
    assert rr["rate_ratio"] == pytest.approx(2.0, rel=1e-12)
    assert rr["lower"] == pytest.approx(2.0 * np.exp(-1.959963984540054 * se), rel=1e-12)
    assert rr["upper"] == pytest.approx(2.0 * np.exp(1.959963984540054 * se), rel=1e-12)


@pytest.mark.parametrize("filters,years", [({"year": ["2005"]}, (2005, 2005)),
                                          ({"period": ["2005-2009"]}, (2005, 2009))])
def test_a_year_or_period_filter_narrows_the_person_years_too(small_warehouse, filters, years):
    con = warehouse.connect(small_warehouse, read_only=True)
    by_filter = incidence(con, Selection.build(filters), ["country"], min_cases=1).table
    by_years = incidence(con, Selection.build({}, years), ["country"], min_cases=1).table
    con.close()
    pd.testing.assert_frame_equal(by_filter, by_years)
