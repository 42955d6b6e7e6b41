"""The viewer's survival and cohort results (analytics/release/curves.py; docs/disclosure-control.md,
section 4): curves only from the rounded event table, groups below the threshold hidden, the net
survival rule, the Cox level rule, and no count between 1 and T - 1 in anything released."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analytics import disclosure, figures, survival, warehouse
from analytics.filters import Selection, SelectionError
from analytics.ingest import ingest_file
from analytics.release import curves
from analytics.release.curves import Cohort
from tests.conftest import random_rows, valid_row, write_csv

COUNT_COLUMNS = {"n", "events", "n_at_risk", "cases", "deaths", "n_events", "n_censored", "shared_cases"}


@pytest.fixture(autouse=True)
def _default_threshold(monkeypatch):
    monkeypatch.delenv("CCOE_MIN_CELL", raising=False)


def isl_rows() -> list[dict]:
    """7 tumours in Iceland, 3 deaths."""
    return [valid_row(case_id=f"ISL{i}", country="ISL", birth_date="2001-06-01", diagnosis_date=f"{2005 + i}-03-01",
                      vital_status="2" if i < 3 else "1", last_contact_date=f"{2007 + i}-0{1 + i}-15")
            for i in range(7)]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """500 tumours in FRA and DEU (3 of unknown sex), 7 in ISL."""
    d = tmp_path_factory.mktemp("curves")
    rows = random_rows(500, seed=11, countries=("FRA", "DEU"))
    for r in rows[:3]:
        r["sex"] = "9"
    c = warehouse.connect(d / "w.duckdb")
    ingest_file(c, write_csv(d / "pool.csv", rows + isl_rows()), synthetic=True)
    yield c
    c.close()


def exact(con, sql: str) -> tuple[int, int]:
    """(count, key sum) of the cases meeting `sql`."""
    n, k = con.execute(f"SELECT count(*), {disclosure.key_sum_sql()} FROM cases WHERE {sql}").fetchone()
    return int(n), int(k)


def frames_of(res: dict):
    for v in res.values():
        if isinstance(v, pd.DataFrame):
            yield v
        elif isinstance(v, dict):
            yield from frames_of(v)


def small_counts(df: pd.DataFrame, t: int) -> list:
    out = []
    for c in df.columns:
        if c in COUNT_COLUMNS:
            v = pd.to_numeric(df[c], errors="coerce").dropna()
            out += [(c, int(x)) for x in v if 1 <= x < t]
    return out


# ------------------------------------------------------------------------------------------------
# Kaplan-Meier curves
# ------------------------------------------------------------------------------------------------

def test_curves_are_the_rounded_curves_stopped_at_the_threshold(con):
    t = disclosure.policy().threshold
    res = curves.survival(con, Selection(), ["country"], min_at_risk=5)
    assert res["min_at_risk"] == t == curves.stop_at(5)  # a choice below T is clamped to T
    ev = survival.event_table(con, Selection(), ["country"])
    km = survival.kaplan_meier(survival.rounded_events(ev, t, survival.MONTH_DAYS), min_cases=t)
    assert set(res["curves"]) == {("DEU",), ("FRA",)}
    for key, tab in res["curves"].items():
        assert disclosure.is_released(tab)
        assert list(tab.columns) == curves.CURVE_COLUMNS
        want = survival.truncate(km.curves[key], t)
        pd.testing.assert_frame_equal(tab, want.assign(censored=want["n_censored"] > 0)[curves.CURVE_COLUMNS]
                                      .reset_index(drop=True))
        assert (want["n_at_risk"] >= t).all()
        months = tab["time_years"].to_numpy() * 12
        assert np.allclose(months, np.round(months))  # at month ends: no follow-up day
    # the exact curve has steps the rounded one does not
    exact_km = survival.kaplan_meier(ev)
    assert len(exact_km.curves[("FRA",)].table) > len(res["curves"][("FRA",)])
    ar = res["at_risk"]
    assert disclosure.is_released(ar)
    assert all(pd.isna(n) or n == 0 or n >= t for n in ar["n_at_risk"])


def test_a_higher_minimum_at_risk_stops_the_curves_earlier(con):
    low = curves.survival(con, Selection(), [], min_at_risk=5)
    high = curves.survival(con, Selection(), [], min_at_risk=200)
    assert high["min_at_risk"] == 200
    assert len(high["curves"][()]) < len(low["curves"][()])
    pd.testing.assert_frame_equal(high["at_times"], low["at_times"])  # tables stop at T, not at the choice


def test_group_below_the_threshold_is_hidden_everywhere(con):
    res = curves.survival(con, Selection(), ["country"])
    assert ("ISL",) in res["suppressed"] and ("ISL",) not in res["groups"]
    for name in ("at_risk", "at_times", "medians", "conditional"):
        assert "ISL" not in set(res[name]["country"]), name
    assert res["logrank"] is None and "fewer than 16" in res["logrank_note"]
    two = curves.survival(con, Selection.build({"country": ["FRA", "DEU"]}), ["country"])
    assert two["logrank"] is not None and two["logrank"]["p"] == two["logrank"]["p"]
    alone = curves.survival(con, Selection.build({"country": ["ISL"]}), [])
    assert alone["groups"] == [] and alone["curves"] == {} and not alone["empty"]
    assert f"{alone['selected']}" == "fewer than 16" and f"{alone['analysed']}" == "fewer than 16"


def test_counts_are_released_counts_of_their_own_cases(con):
    res = curves.survival(con, Selection(), ["country"])
    assert res["selected"] == disclosure.count(*exact(con, "true"))
    assert res["dco"] == disclosure.count(*exact(con, "dco"))
    assert res["analysed"].shown == disclosure.count(*exact(con, "NOT dco")).shown  # by key arithmetic
    med = res["medians"].set_index("country")
    for c in ("FRA", "DEU"):
        n, k = exact(con, f"country = '{c}' AND NOT dco")
        d, dk = exact(con, f"country = '{c}' AND NOT dco AND event = 1")
        assert med.loc[c, "n"] == disclosure.perturb(n, k)
        assert pd.isna(med.loc[c, "events"]) if disclosure.release(d, dk) is None else \
            med.loc[c, "events"] == disclosure.perturb(d, dk)


def test_survival_at_times_only_where_enough_remain_at_risk(con):
    t = disclosure.policy().threshold
    res = curves.survival(con, Selection(), ["country"])
    at = res["at_times"]
    shown = at["survival"].notna()
    assert (at.loc[shown, "n_at_risk"] >= t).all() and at.loc[~shown, "n_at_risk"].isna().all()
    assert (at["suppressed"] == ~shown).all()
    # the values come from the rounded curves
    ev = survival.event_table(con, Selection.build({"country": ["FRA"]}), [])
    km = survival.kaplan_meier(survival.rounded_events(ev, t, survival.MONTH_DAYS), min_cases=t).curves[()]
    want = km.at(curves.TIMES)
    fra = at[at["country"] == "FRA"].reset_index(drop=True)
    ok = fra["survival"].notna()
    assert np.allclose(fra.loc[ok, "survival"], want.loc[ok.to_numpy(), "survival"])


def test_figure_from_released_frames_is_stamped_and_labels_follow_the_policy(con, monkeypatch):
    res = curves.survival(con, Selection(), ["country"])
    fig = figures.survival_plot(res["curves"], res["at_risk"], ["country"], "t", "y")
    assert disclosure.is_released(fig)
    plain = {k: v.copy() for k, v in res["curves"].items()}
    for v in plain.values():
        v.attrs = {}
    assert not disclosure.is_released(figures.survival_plot(plain, res["at_risk"], ["country"], "t", "y"))
    monkeypatch.setenv("CCOE_MIN_CELL", "10")
    ar = pd.DataFrame({"time_years": [0.0, 1.0], "n_at_risk": pd.array([40, None], dtype="Int64")})
    tab = pd.DataFrame({"time_years": [0.5], "survival": [0.9], "lower": [0.8], "upper": [0.95], "censored": [False]})
    texts = [s for tr in figures.survival_plot({(): tab}, ar, [], "t", "y").data if tr.mode == "text" for s in tr.text]
    assert texts == ["40", "&lt;10"]
    assert "blocks of 10" in curves.km_note() and "at most 5 deaths' worth" in curves.km_note()


def test_age_standardised_needs_every_band_released(con):
    t = disclosure.policy().threshold
    res = curves.age_standardised(con, Selection(), ["country"])
    # no exact attribute (the band weights) reaches a viewer; the notes on partners left out are released
    assert disclosure.is_released(res) and res.attrs == {"release": disclosure.RELEASED, "notes": []}
    assert "ISL" not in set(res.loc[res["survival"].notna(), "country"])
    for c in res.loc[res["survival"].notna(), "country"].unique():
        for band in survival.AGE_BANDS:
            n, k = exact(con, f"country = '{c}' AND NOT dco AND age_band = '{band}'")
            assert n >= t and disclosure.count(n, k).released
    assert (res["suppressed"] == res["survival"].isna()).all()


def test_no_small_count_in_any_released_frame(con):
    t = disclosure.policy().threshold
    results = [curves.survival(con, Selection(), by) for by in ([], ["country"], ["sex"], ["age_group"])]
    results.append({"asd": curves.age_standardised(con, Selection(), ["sex"])})
    results.append({"cox": curves.cox_table(curves.cox_model(con, Selection(), ["sex", "country", "age_group"]))})
    results.append(curves.cohorts(con, [Cohort("France", Selection.build({"country": ["FRA"]})),
                                        Cohort("Iceland", Selection.build({"country": ["ISL"]}))]))
    for res in results:
        for df in frames_of(res):
            assert disclosure.is_released(df)
            assert not small_counts(df, t), small_counts(df, t)[:5]


# ------------------------------------------------------------------------------------------------
# Net survival
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def usa(tmp_path_factory):
    from tests.test_netsurvival import usa_rows

    d = tmp_path_factory.mktemp("usa")
    c = warehouse.connect(d / "w.duckdb")
    ingest_file(c, write_csv(d / "usa.csv", usa_rows(400, seed=5)))
    yield c
    c.close()


@pytest.mark.parametrize("min_cell", ["16", "40"])
@pytest.mark.parametrize("method", ["pohar-perme", "ederer2"])
def test_net_survival_values_only_where_deaths_and_at_risk_reach_the_threshold(usa, monkeypatch, min_cell, method):
    from analytics.netsurvival import net_survival

    monkeypatch.setenv("CCOE_MIN_CELL", min_cell)
    t = int(min_cell)
    res = curves.survival(usa, Selection(), [], method=method)
    assert res["curves"] == {} and res["medians"] is None and res["conditional"] is None
    at = res["at_times"]
    assert disclosure.is_released(at) and "n_at_risk" not in at and "n_events" not in at
    ex = net_survival(usa, None, [], method=method).curves[()].at(curves.TIMES)
    ok = (ex["n_events"].cumsum() >= t) & (ex["n_at_risk"] >= t)
    assert (at["survival"].notna() == ok).all()
    assert np.allclose(at.loc[ok, "survival"], ex.loc[ok, "survival"].round(3))
    assert (at["survival"].dropna() == at["survival"].dropna().round(3)).all()
    if t == 40:
        assert ok.any() and not ok.all()  # both sides of the rule are exercised
    text = " ".join(res["notes"])
    assert not re.search(r"\b[1-9]\b (of unknown sex|with no follow-up|cases without birth)", text)
    assert f"fewer than {t} of unknown sex" in text


# ------------------------------------------------------------------------------------------------
# Cox
# ------------------------------------------------------------------------------------------------

def test_cox_leaves_out_small_levels_and_hides_terms_with_few_deaths(con):
    t = disclosure.policy().threshold
    model = curves.cox_model(con, Selection(), ["sex", "country"])
    assert ("sex", "9") in model.attrs["dropped_levels"] and ("country", "ISL") in model.attrs["dropped_levels"]
    assert "sex=9" not in set(model["term"]) and "country=ISL" not in set(model["term"])
    hr = curves.cox_table(model)
    assert disclosure.is_released(hr) and set(hr.attrs) == {"release", "note"}
    assert "Sex: Unknown" in hr.attrs["note"] and "Country: Iceland" in hr.attrs["note"]
    assert not re.search(r"\d+ cases", hr.attrs["note"].replace(f"{t} cases", ""))
    n, k = model.attrs["n"], model.attrs["key"]
    assert (hr["n"] == disclosure.perturb(n, k)).all()
    for term, d in model.attrs["term_events"].items():
        row = hr[hr["term"] == term].iloc[0]
        ref = model.attrs["reference_events"][term.split("=")[0]]
        assert pd.isna(row["hr"]) == (d < t or ref < t), term
    # the exact model (no min_level) still has the small levels
    assert "sex=9" in set(survival.cox(con, Selection(), ["sex"])["term"])


def test_cox_refusal_quotes_no_count(con):
    with pytest.raises(SelectionError) as e:
        curves.cox_model(con, Selection.build({"country": ["ISL"]}), ["sex"])
    assert "n =" not in str(e.value) and not re.search(r"\b7\b", str(e.value))
    with pytest.raises(SelectionError, match=r"\(n = 7\)"):
        survival.cox(con, Selection.build({"country": ["ISL"]}), ["sex"])  # the exact path keeps it


# ------------------------------------------------------------------------------------------------
# Cohorts
# ------------------------------------------------------------------------------------------------

def test_cohorts_hide_a_small_cohort(con):
    res = curves.cohorts(con, [Cohort("France", Selection.build({"country": ["FRA"]})),
                               Cohort("Iceland", Selection.build({"country": ["ISL"]}))])
    assert list(res["curves"]) == [("France",)] and res["suppressed"] == [("Iceland",)]
    assert not res["sizes"]["Iceland"].released and res["sizes"]["France"].released
    summary = res["characteristics"]["summary"].set_index("cohort")
    assert pd.isna(summary.loc["Iceland", "n"]) and summary.loc["Iceland", ["age_median", "age_q1"]].isna().all()
    assert res["characteristics"]["mix"]["share Iceland"].isna().all()
    assert res["characteristics"]["tests"].empty  # one cohort shown: no chi-square, no Kruskal-Wallis
    assert res["logrank"] is None
    assert res["cox"] is None and "fewer than two cohorts" in res["cox_error"]
    assert res["overlap"] == []


def test_cohort_overlap_and_shares_are_released(con):
    fra = Selection.build({"country": ["FRA"]})
    both = Selection.build({"country": ["FRA", "ISL"]})
    res = curves.cohorts(con, [Cohort("France", fra), Cohort("France and Iceland", both),
                               Cohort("Germany", Selection.build({"country": ["DEU"]}))])
    (a, b, shared), = res["overlap"]
    assert (a, b) == ("France", "France and Iceland")
    assert shared == disclosure.count(*exact(con, "country = 'FRA'"))
    mix = res["characteristics"]["mix"]
    country = mix[mix["characteristic"] == "country"].set_index("level")
    # in the FRA+ISL cohort neither country's share is shown: ISL's is small, FRA's complement is
    assert country.loc[["FRA", "ISL"], "share France and Iceland"].isna().all()
    assert country.loc["FRA", "share France"] == 1.0 and country.loc["ISL", "share France"] == 0.0
    sex = mix[mix["characteristic"] == "sex"].set_index("level")["share Germany"].dropna()
    nd, kd = exact(con, "country = 'DEU'")
    assert len(sex)
    for level, value in sex.items():
        n1, k1 = exact(con, f"country = 'DEU' AND sex = {level}")
        assert value == pytest.approx(round(disclosure.perturb(n1, k1) / disclosure.perturb(nd, kd), 3))
    tests = res["characteristics"]["tests"]
    assert {"Kruskal-Wallis", "chi-square"} <= set(tests["test"])
    # the country mix holds ISL's hidden cell: no statistic that could be solved for it
    by_char = tests.set_index("characteristic")
    assert by_char.loc["country", "test"].startswith("not shown") and pd.isna(by_char.loc["country", "statistic"])
    assert res["logrank"] is not None and res["cox"] is not None
    assert disclosure.is_released(res["cox"])


def test_safe_message_and_stop_at():
    assert curves.safe_message(SelectionError("too few cases or no deaths for a Cox model (n = 7)")) == \
        "too few cases or no deaths for a Cox model"
    assert curves.stop_at(50) == 50 and curves.stop_at(5) == disclosure.policy().threshold


def test_restricted_mean_and_follow_up_come_from_the_rounded_curves(con):
    """The Survival page's restricted mean survival time (issue 15, item 4) is that of the rounded
    curve shown, hidden where fewer than T remain at risk at tau; the difference from the first
    group adds the variances; the median follow-up is the reverse Kaplan-Meier of the rounded
    counts (item 5). Net survival and the life table have none."""
    pol = disclosure.policy()
    res = curves.survival(con, Selection(), ["sex"])
    rm, diff, fu = res["rmst"], res["rmst_difference"], res["followup"]
    assert all(disclosure.is_released(f) for f in (rm, diff, fu))
    km = curves.viewer_km(survival.event_table(con, Selection(), ["sex"]), pol=pol)
    for r in rm.itertuples():
        full = km.curves[(r.sex,)]
        shown = full.at([r.tau_years])["n_at_risk"].iloc[0] >= pol.threshold
        assert r.suppressed == (not shown)
        if shown:
            assert (r.rmst_years, r.std_err) == pytest.approx(full.rmst(r.tau_years))
    ref = res["groups"][0][0]
    for d in diff.itertuples():
        a = rm[(rm["sex"] == d.sex) & (rm["tau_years"] == d.tau_years)].iloc[0]
        b = rm[(rm["sex"] == ref) & (rm["tau_years"] == d.tau_years)].iloc[0]
        assert d.reference == ref and d.difference_years == pytest.approx(a.rmst_years - b.rmst_years, nan_ok=True)
    assert set(fu["sex"]) == {k[0] for k in res["groups"]}
    assert list(fu.columns) == ["sex", "median_followup_years", "lower", "upper"]
    assert curves.survival(con, Selection(), ["sex"], method="actuarial")["rmst"] is None


def test_death_by_cause_is_released_from_rounded_counts(con):
    """Issue 15, item 2 on the page: cumulative incidence by cause from the cause table rounded
    as the Kaplan-Meier one (no count below T), groups with a released number of cases, hidden
    where fewer than T remain at risk; with base 1 and one-day bins the rounded table is the exact
    one; Gray's test on the exact table."""
    from analytics import competing

    t = disclosure.policy().threshold
    res = curves.cumulative_incidence(con, Selection(), ["sex"])
    assert res["groups"] and disclosure.is_released(res["at_times"]) and disclosure.is_released(res["at_risk"])
    assert set(res["curves"]) == {"cancer", "other", "unknown"}
    for by_cause in res["curves"].values():
        for frame in by_cause.values():
            assert disclosure.is_released(frame) and frame["survival"].between(0, 1).all()
    assert not small_counts(res["at_risk"], t)
    at = res["at_times"]
    assert (at["suppressed"] == at["cif"].isna()).all()
    exact = competing.cause_table(con, Selection(), ["sex"])
    same = competing.rounded_causes(exact, 1, 1)
    cols = ["sex", "days", "n_cancer", "n_other", "n_unknown", "n_censor"]
    a = exact.table[cols].sort_values(["sex", "days"]).reset_index(drop=True)
    b = same.table[cols].sort_values(["sex", "days"]).reset_index(drop=True)
    assert (a.astype(float).to_numpy() == b.astype(float).to_numpy()).all()
    if res["test"] is not None:
        assert list(res["test"]["cause"]) == ["cancer", "other", "unknown"]


def test_grays_test_is_not_shown_for_a_cause_with_few_deaths_in_a_group(tmp_path):
    """Gray's statistic for a cause is a function of its deaths in each group: with one 'other'
    death it reads 1.0000 exactly, which would tell the count. Shown only where every group has a
    released number of deaths of that cause (reviewer's finding)."""
    from tests.conftest import valid_row, write_csv

    rows = []
    for i in range(400):
        sex = "12"[i % 2]
        dead = i % 3 == 0
        cause = "1" if dead else ""
        if i == 5:
            cause = "2"
        rows.append(valid_row(case_id=f"G{i}", sex=sex, vital_status="2" if dead or i == 5 else "1",
                              cause_of_death=cause, last_contact_date=f"201{6 + i % 4}-0{1 + i % 9}-15"))
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "g.csv", rows))
    res = curves.cumulative_incidence(con, Selection(), ["sex"])
    test = res["test"].set_index("cause")
    assert test.loc["other", "statistic"] != test.loc["other", "statistic"]  # hidden
    assert test.loc["cancer", "statistic"] == test.loc["cancer", "statistic"]  # many deaths: shown
    assert "Gray's test not shown for other" in res["test_note"]
    for key, frame in res["curves"]["other"].items():  # every cause's curve runs on, flat, to where the risk set
        assert frame["time_years"].iloc[-1] == res["curves"]["cancer"][key]["time_years"].iloc[-1]  # stops them
