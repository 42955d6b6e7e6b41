"""Cohort comparison: overlap, characteristics and tests, survival and Cox by cohort."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics import survival, warehouse
from analytics.cohorts import Cohort, characteristics, combined_events, cox_by_cohort, overlap
from analytics.filters import Selection, SelectionError


@pytest.fixture(scope="module")
def con(demo_warehouse):
    return warehouse.connect(demo_warehouse, read_only=True)


COHORTS = [Cohort("ALL FRA", Selection.build({"iccc_sub": ["Ia"], "country": ["FRA"]})),
           Cohort("ALL KEN", Selection.build({"iccc_sub": ["Ia"], "country": ["KEN"]})),
           Cohort("Leukaemia FRA", Selection.build({"iccc_main": ["I"], "country": ["FRA"]}))]


def test_overlap_counts_shared_cases(con):
    o = overlap(con, COHORTS).set_index(["cohort_a", "cohort_b"])["shared_cases"]
    n_all_fra = con.execute("SELECT count(*) FROM cases WHERE iccc_sub = 'Ia' AND country = 'FRA'").fetchone()[0]
    assert o[("ALL FRA", "Leukaemia FRA")] == n_all_fra
    assert o[("ALL FRA", "ALL KEN")] == 0


def test_characteristics_and_tests(con):
    ch = characteristics(con, COHORTS[:2])
    s = ch["summary"].set_index("cohort")
    ages = con.execute("SELECT country, age_years FROM cases WHERE iccc_sub = 'Ia' AND country IN ('FRA', 'KEN')").df()
    assert s.loc["ALL FRA", "age_median"] == np.median(ages[ages["country"] == "FRA"]["age_years"])
    h, p = stats.kruskal(ages[ages["country"] == "FRA"]["age_years"], ages[ages["country"] == "KEN"]["age_years"])
    row = ch["tests"].set_index("characteristic").loc["age"]
    assert row["statistic"] == pytest.approx(h, rel=1e-9) and row["p"] == pytest.approx(p, rel=1e-6)
    sex = ch["mix"][ch["mix"]["characteristic"] == "sex"]
    shares = sex.groupby("cohort")["share"].sum()  # suppressed small cells are missing
    for cohort, total in shares.items():
        complete = sex[sex["cohort"] == cohort]["share"].notna().all()
        assert total == pytest.approx(1.0) if complete else total < 1.0
    assert (sex["n"].dropna().pipe(lambda n: (n == 0) | (n >= 16))).all()


def test_survival_and_cox_by_cohort(con):
    ev = combined_events(con, COHORTS[:2])
    km = survival.kaplan_meier(ev)
    direct = survival.kaplan_meier(survival.event_table(con, COHORTS[0].selection, []))
    assert np.allclose(km.curves[("ALL FRA",)].table["survival"], direct.curves[()].table["survival"])
    assert survival.logrank(ev, "cohort")["p"] < 1e-6  # FRA vs KEN differ by construction
    hr = cox_by_cohort(con, COHORTS[:2]).set_index("term")
    assert hr.loc["cohort=ALL KEN", "hr"] > 2  # reference: the first cohort


def test_cohort_definitions_are_checked(con):
    with pytest.raises(SelectionError):
        characteristics(con, COHORTS[:1])
    with pytest.raises(SelectionError):
        combined_events(con, [COHORTS[0], COHORTS[0]])
