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


def _cox_on_rows(con, cohorts, adjust, min_level):
    """The model as it was fitted before issue 16: every row into pandas, lifelines on them."""
    import pandas as pd

    from analytics import pooled

    frames = []
    for i, c in enumerate(cohorts):
        source, params = pooled.followup_rows_sql(c.selection, adjust)
        d = con.execute(f"SELECT followup_days, event, {', '.join(adjust)}, record_key FROM {source}", params).df()
        frames.append(d.assign(cohort=f"{i + 1}:{c.name}"))
    df = pd.concat(frames, ignore_index=True)
    for col in adjust:
        df[col] = df[col].astype(str).where(df[col].notna())
    covariates = ["cohort", *adjust]
    df, dropped = survival.drop_small_levels(df, covariates, set(), min_level)
    return (survival.cox_fit(df, "followup_days", "event", covariates, set()),
            survival.cox_level_events(df, covariates, set(), "event", "record_key"), dropped)


def test_cox_by_cohort_from_counts_is_the_rows_model(con):
    """Overlapping cohorts (ALL FRA lies inside Leukaemia FRA), small levels left out: the model
    fitted from counts per cohort, pattern and day has lifelines' estimates on the rows, the same
    levels left out, and the same deaths and record-key sums per level for the release layer."""
    cohorts, adjust = [COHORTS[2], COHORTS[0], COHORTS[1]], ("age_group", "sex", "period")
    got = cox_by_cohort(con, cohorts, adjust, min_level=100, keys=True)
    ref, events, dropped = _cox_on_rows(con, cohorts, list(adjust), 100)
    assert dropped and [(c, v) for c, v in dropped if c != "cohort"] == \
        [(c, v) for c, v in got.attrs["dropped_levels"] if c != "cohort"]
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-7)
    assert (got.attrs["n"], got.attrs["events"]) == (ref.attrs["n"], ref.attrs["events"])
    assert (got.attrs["key"], got.attrs["events_key"]) == (events["key"], events["events_key"])
    assert got.attrs["reference_events"] == events["reference_events"]


def test_a_cox_model_with_one_cohort_left_is_refused(con):
    """An empty second cohort leaves nothing to compare the first with: no model of the
    adjustments alone is shown as if it compared cohorts."""
    empty = Cohort("Nobody", Selection.build({"iccc_sub": ["Ia"], "country": ["FRA"]}, (1900, 1901)))
    with pytest.raises(SelectionError, match="fewer than two cohorts"):
        cox_by_cohort(con, [COHORTS[0], empty])
