"""Survival against R's survival package (fixtures and the script that made them are in
tests/fixtures/survival/): Kaplan-Meier with all three CI types, survival at times and numbers
at risk, medians and their CIs, log-rank (plain and stratified) and Cox hazard ratios."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.survival import (KaplanMeier, cox_fit, event_table_from_rows, kaplan_meier, logrank)
from tests.conftest import ROOT

FIX = ROOT / "tests" / "fixtures" / "survival"
DATASETS = ["ties", "edge", "trial", "lung", "relsurv"]
TOL = 1e-6


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / f"{name}.csv", dtype={"group": str})


def fit(name: str, group: str, conf_type: str) -> KaplanMeier:
    d = data(name)
    g = d[d["group"] == group]
    et = event_table_from_rows(g, "time_days", "status")
    return KaplanMeier(conf_type).fit(et.table["days"], et.table["n_event"], et.table["n_censor"])


def close(a, b, tol=TOL):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | np.isclose(a, b, rtol=tol, atol=1e-12)))


def cases(prefix: str):
    out = []
    for name in DATASETS:
        ref = pd.read_csv(FIX / f"{prefix}_{name}.csv", dtype={"group": str})
        for (group, ct), _ in ref.groupby(["group", "conf_type"]):
            out.append(pytest.param(name, group, ct, id=f"{name}-{group}-{ct}"))
    return out


@pytest.mark.parametrize("name,group,conf_type", cases("km"))
def test_step_function_matches_survfit(name, group, conf_type):
    ref = pd.read_csv(FIX / f"km_{name}.csv", dtype={"group": str})
    ref = ref[(ref["group"] == group) & (ref["conf_type"] == conf_type)]
    got = fit(name, group, conf_type).table
    assert len(got) == len(ref)
    assert close(got["time_years"], ref["time"], 1e-12)
    assert (got["n_at_risk"].to_numpy() == ref["n.risk"].to_numpy()).all()
    assert (got["n_events"].to_numpy() == ref["n.event"].to_numpy()).all()
    assert (got["n_censored"].to_numpy() == ref["n.censor"].to_numpy()).all()
    assert close(got["survival"], ref["surv"])
    assert close(got["std_err"], ref["std.err"])
    assert close(got["lower"], ref["lower"]), (got["lower"].to_numpy()[:5], ref["lower"].to_numpy()[:5])
    assert close(got["upper"], ref["upper"])


@pytest.mark.parametrize("name,group,conf_type", cases("km_times"))
def test_survival_at_times_and_numbers_at_risk_match_summary(name, group, conf_type):
    ref = pd.read_csv(FIX / f"km_times_{name}.csv", dtype={"group": str})
    ref = ref[(ref["group"] == group) & (ref["conf_type"] == conf_type)]
    got = fit(name, group, conf_type).at(ref["time"].to_numpy())
    assert (got["n_at_risk"].to_numpy() == ref["n.risk"].to_numpy()).all()
    assert close(got["survival"], ref["surv"])
    assert close(got["std_err_surv"], ref["std.err.surv"])
    assert close(got["lower"], ref["lower"])
    assert close(got["upper"], ref["upper"])


@pytest.mark.parametrize("name,group,conf_type", cases("median"))
def test_median_and_ci_match_quantile_survfit(name, group, conf_type):
    ref = pd.read_csv(FIX / f"median_{name}.csv", dtype={"group": str})
    r = ref[(ref["group"] == group) & (ref["conf_type"] == conf_type)].iloc[0]
    m, lo, hi = fit(name, group, conf_type).median()
    assert close([m, lo, hi], [r["quantile_median"], r["quantile_lower"], r["quantile_upper"]])


@pytest.mark.parametrize("name", DATASETS)
def test_logrank_matches_survdiff(name):
    ref = pd.read_csv(FIX / f"logrank_{name}.csv")
    r = ref[ref["rho"] == 0].iloc[0]
    et = event_table_from_rows(data(name), "time_days", "status", by=["group"])
    res = logrank(et, "group")
    assert res["df"] == r["df"]
    assert res["chisq"] == pytest.approx(r["chisq"], rel=TOL)
    assert res["p"] == pytest.approx(r["p"], rel=TOL)
    groups = pd.read_csv(FIX / f"logrank_groups_{name}.csv", dtype={"group": str})
    g = groups[groups["rho"] == 0].set_index("group")
    for lv, o, e in zip(res["levels"], res["observed"], res["expected"]):
        assert o == pytest.approx(g.loc[str(lv), "observed"]) and e == pytest.approx(g.loc[str(lv), "expected"], rel=TOL)


def test_stratified_logrank_matches_survdiff():
    ref = pd.read_csv(FIX / "logrank_veteran_stratified.csv").iloc[0]
    d = data("trial")
    d["trt"] = d["trt"].astype(str)
    et = event_table_from_rows(d, "time_days", "status", by=["trt", "celltype"])
    res = logrank(et, "trt", strata="celltype")
    assert res["chisq"] == pytest.approx(ref["chisq"], rel=TOL)
    assert res["p"] == pytest.approx(ref["p"], rel=TOL)
    assert res["df"] == ref["df"]


COX = {
    "trial": (["trt", "celltype", "age_years", "karno"], {"age_years", "karno"}),
    "lung": (["sex", "age_years", "ph_ecog"], {"age_years", "ph_ecog"}),
    "ties": (["group", "age_years"], {"age_years"}),
}


def cox_data(name: str):
    """A fixture dataset ready for the Cox formula R used: age in years, factors as text."""
    covariates, numeric = COX[name]
    d = data(name)
    if "age_years" not in d.columns:
        d["age_years"] = d["age_days"] / 365.25
    for c in covariates:
        if c not in numeric:
            d[c] = d[c].astype(str)
    return d, covariates, numeric


@pytest.mark.parametrize("name", list(COX))
def test_cox_efron_matches_coxph(name):
    d, covariates, numeric = cox_data(name)
    ref = pd.read_csv(FIX / f"cox_{name}.csv")
    ref = ref[ref["ties_method"] == "efron"].set_index("term")
    got = cox_fit(d, "time_days", "status", covariates, numeric).set_index("term")
    assert list(got.index) == list(ref.index)
    for col, rcol in [("hr", "hr"), ("hr_lower", "hr_lower"), ("hr_upper", "hr_upper"), ("p", "p")]:
        assert close(got[col], ref[rcol]), (col, got[col].to_numpy(), ref[rcol].to_numpy())


def test_groups_below_threshold_are_suppressed():
    d = data("edge")
    et = event_table_from_rows(d, "time_days", "status", by=["group"])
    res = kaplan_meier(et, min_cases=16)
    shown = {k[0] for k in res.curves}
    assert shown == {"nodeaths", "normal"}  # single (1), allzero (10), half (4) suppressed
    assert set(res.medians["group"]) == shown


def test_conditional_survival():
    km = fit("relsurv", "G1", "log-log")
    s5 = km.at([5]).iloc[0]["survival"]
    s1 = km.at([1]).iloc[0]["survival"]
    c, lo, hi = km.conditional(5, given=1)
    assert c == pytest.approx(s5 / s1)
    assert lo < c < hi


def test_age_standardised_survival_is_the_weighted_band_average():
    from analytics.survival import age_standardised

    d = data("relsurv")
    d["age_band"] = pd.cut(d["age_days"] / 365.25, [0, 5, 10, 15, 20], right=False,
                           labels=["0-4", "5-9", "10-14", "15-19"]).astype(str)
    et = event_table_from_rows(d, "time_days", "status", by=["group", "age_band"])
    res = age_standardised(et, times=[1, 5], weights="equal", min_cases=1)
    g1 = d[d["group"] == "G1"]
    expected = 0.0
    var = 0.0
    for band in ["0-4", "5-9", "10-14", "15-19"]:
        b = event_table_from_rows(g1[g1["age_band"] == band], "time_days", "status").table
        at = KaplanMeier().fit(b["days"], b["n_event"], b["n_censor"]).at([5]).iloc[0]
        expected += 0.25 * at["survival"]
        var += 0.0625 * at["std_err_surv"] ** 2
    row = res[(res["group"] == "G1") & (res["time_years"] == 5)].iloc[0]
    assert row["survival"] == pytest.approx(expected, rel=1e-12)
    assert row["lower"] < row["survival"] < row["upper"]
    cohort = age_standardised(et, times=[5], weights="cohort", min_cases=1)
    assert sum(cohort.attrs["weights"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("name", list(COX))
def test_proportional_hazards_check_matches_cox_zph(name):
    from analytics.survival import ph_test

    d, covariates, numeric = cox_data(name)
    got = ph_test(d, "time_days", "status", covariates, numeric).set_index("term")
    ref = pd.read_csv(FIX / f"coxzph_{name}.csv")
    ref = ref[ref["terms"]].set_index("term")
    assert list(got.index) == list(ref.index)
    assert close(got["chisq"], ref["chisq"]) and close(got["p"], ref["p"])
    assert (got["df"] == ref["df"]).all()


@pytest.mark.parametrize("by", [[], ["country"], ["stage", "sex"], ["country", "stage", "age_group"]])
def test_warehouse_event_table_equals_the_one_from_rows(small_warehouse, by):
    """The DuckDB path (Arrow, grouped and sorted in numpy, missing values as their own group)
    gives the same groups, in the same display order, as the table built from case rows."""
    from analytics import warehouse
    from analytics.survival import event_table

    con = warehouse.connect(small_warehouse, read_only=True)
    rows = con.execute(f"SELECT {''.join(b + ', ' for b in by)}followup_days, event, dco FROM cases").df()
    got = event_table(con, None, by)
    ref = event_table_from_rows(rows[~rows["dco"]], "followup_days", "event", by)
    assert (got.n_selected, got.n_dco) == (len(rows), int(rows["dco"].sum()))
    mine, theirs = list(got.groups()), list(ref.groups())
    def keys(groups):
        return [tuple(None if pd.isna(v) else v for v in k) for k, *_ in groups]  # missing: None or NaN

    assert keys(mine) == keys(theirs)
    for (_, *a), (_, *b) in zip(mine, theirs):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)
    con.close()


def test_empty_selection_gives_no_groups(small_warehouse):
    from analytics import warehouse
    from analytics.filters import Selection
    from analytics.survival import event_table

    con = warehouse.connect(small_warehouse, read_only=True)
    ev = event_table(con, Selection.build({"country": ["ISL"]}), ["country"])  # no Icelandic cases
    con.close()
    assert ev.n_selected == 0 and list(ev.groups()) == []
    assert kaplan_meier(ev).curves == {}


def test_logrank_leaves_out_unknown_group_values_as_survdiff_does():
    d = data("lung")
    known = event_table_from_rows(d, "time_days", "status", by=["group"])
    with_unknown = pd.concat([d, d.head(7).assign(group=None)])
    et = event_table_from_rows(with_unknown, "time_days", "status", by=["group"])
    got, ref = logrank(et, "group"), logrank(known, "group")
    assert got["n_excluded"] == 7 and ref["n_excluded"] == 0
    assert got["chisq"] == pytest.approx(ref["chisq"], rel=1e-12) and got["df"] == ref["df"]


def test_logrank_with_a_singular_variance_says_why():
    # level "b" only ever occurs alone in its stratum: no comparison carries information about it
    d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6, 7, 8], "e": [1, 0, 1, 1, 1, 0, 1, 1],
                      "g": ["a", "c", "a", "c", "b", "b", "a", "c"], "s": ["x", "x", "x", "x", "y", "y", "x", "x"]})
    res = logrank(event_table_from_rows(d, "t", "e", by=["g", "s"]), "g", strata="s")
    assert np.isnan(res["chisq"]) and "singular" in res["reason"]


@pytest.mark.parametrize("name", list(COX))
def test_cox_from_counts_per_pattern_and_day_is_the_rows_model(name):
    """The pages' Cox path (`cox_grouped`: deaths and cases per covariate pattern and day, Efron's
    sums vectorised over patterns and death times) gives lifelines' estimates on the rows (which
    match R's coxph above) on each fixture's categorical covariates, ties and all."""
    from analytics.survival import cox_grouped

    d, covariates, numeric = cox_data(name)
    cats = [c for c in covariates if c not in numeric]
    counts = (d.assign(n=1).groupby([*cats, "time_days"], as_index=False)
                .agg(deaths=("status", "sum"), n=("n", "sum")))
    got = cox_grouped(counts.assign(censored=counts["n"] - counts["deaths"]), "time_days", "deaths", "censored", cats)
    ref = cox_fit(d, "time_days", "status", cats, set())
    assert list(got["term"]) == list(ref["term"])
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)
    assert got.attrs["loglik"] == pytest.approx(ref.attrs["model"].log_likelihood_, rel=1e-12)
    assert (got.attrs["n"], got.attrs["events"]) == (ref.attrs["n"], ref.attrs["events"])


def test_the_warehouse_cox_model_from_counts_is_the_rows_model(small_warehouse):
    """`survival.cox` with categorical covariates fits counts grouped in DuckDB: the same hazard
    ratios as lifelines on the rows, the same levels left out, and the same deaths and record-key
    sums for the release layer; its proportional-hazards check reads the rows when asked."""
    from analytics import warehouse
    from analytics.survival import NUMERIC_COVARIATES, cox, cox_level_events, drop_small_levels, ph_test

    con = warehouse.connect(small_warehouse, read_only=True)
    covariates = ["country", "sex", "age_group"]
    got = cox(con, None, covariates, min_level=40, keys=True)  # age 0 (30 cases) left out
    rows = con.execute(f"SELECT followup_days, event::INTEGER AS event, {', '.join(covariates)}, record_key "
                       "FROM cases WHERE NOT dco").df()
    for c in covariates:
        rows[c] = rows[c].astype(str).where(rows[c].notna())
    rows, dropped = drop_small_levels(rows, covariates, NUMERIC_COVARIATES, 40)
    ref = cox_fit(rows, "followup_days", "event", covariates, set())
    assert dropped and got.attrs["dropped_levels"] == dropped
    np.testing.assert_allclose(got["coef"], ref["coef"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)
    events = cox_level_events(rows, covariates, NUMERIC_COVARIATES, "event", "record_key")
    for k, v in events.items():
        assert got.attrs[k] == v, k
    assert (got.attrs["n"], got.attrs["events"]) == (ref.attrs["n"], ref.attrs["events"])
    pd.testing.assert_frame_equal(got.attrs["ph"](), ph_test(rows, "followup_days", "event", covariates, set(), hr=got))
    con.close()


def test_a_model_that_cannot_be_estimated_is_refused_not_fitted(small_warehouse):
    """Nested covariates (ICCC-3 subgroup within main group) and covariates that add up to a
    constant are not identifiable: refused in plain words, as lifelines refuses the rows, never
    shown with hazard ratios of 1e28."""
    from analytics import warehouse
    from analytics.filters import SelectionError
    from analytics.survival import cox, cox_patterns

    con = warehouse.connect(small_warehouse, read_only=True)
    with pytest.raises(SelectionError, match="cannot be fitted"):
        cox(con, None, ["iccc_main", "iccc_sub"])
    con.close()
    # A and B: B = 'u' exactly when A = 'y', so A=y + B=v is 1 on every row (full rank without a constant)
    patterns = pd.DataFrame({"A": ["x", "y"], "B": ["u", "v"]})
    rng = np.random.default_rng(3)
    pinv, t = rng.integers(0, 2, 400), rng.integers(1, 50, 400).astype(float)
    d = rng.integers(0, 2, 400).astype(float)
    with pytest.raises(SelectionError, match="cannot be fitted"):
        cox_patterns(patterns, pinv, t, d, np.ones(400), ["A", "B"])
    with pytest.raises(ValueError, match="whole numbers"):
        cox_patterns(patterns, pinv, t, d / 2, np.ones(400), ["A"])


def test_a_level_without_deaths_stops_and_is_reported_as_such():
    """A level with cases but no deaths: its estimate runs off to minus infinity (R warns); the
    fit stops within a few steps instead of running to the step limit, and the level's deaths,
    0, make the release layer hide it."""
    from analytics.survival import cox_level_events, cox_patterns

    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"g": rng.choice(["a", "b", "c"], 600), "t": rng.integers(1, 300, 600).astype(float)})
    rows["d"] = np.where(rows["g"] == "c", 0.0, rng.integers(0, 2, 600).astype(float))
    patterns = pd.DataFrame({"g": ["a", "b", "c"]})
    pinv = rows["g"].map({"a": 0, "b": 1, "c": 2}).to_numpy()
    res = cox_patterns(patterns, pinv, rows["t"].to_numpy(), rows["d"].to_numpy(), np.ones(600), ["g"])
    assert res.set_index("term").loc["g=c", "coef"] < -10
    events = cox_level_events(rows.rename(columns={"d": "event"}), ["g"], set())
    assert events["term_events"]["g=c"] == 0


def test_level_events_use_the_models_reference_level(small_warehouse):
    """The release layer hides a term by its level's deaths and its reference level's: the
    reference is the model's (natural order: stage CNS1 before 0, age 5-9 before 10-14), not the
    first in text order, so every term has its deaths."""
    from analytics import warehouse
    from analytics.filters import Selection
    from analytics.survival import cox

    con = warehouse.connect(small_warehouse, read_only=True)
    sel = Selection.build({"age_group": ["5-9", "10-14", "15-19"]})
    res = cox(con, sel, ["age_group", "sex"], keys=True, min_level=1)
    assert res.attrs["reference"]["age_group"] == "5-9"
    assert set(res["term"]) == set(res.attrs["term_events"])
    assert set(res.attrs["reference_events"]) == {"age_group", "sex"}
    n_ref = con.execute("SELECT count(*) FILTER (WHERE event = 1) FROM cases WHERE NOT dco AND age_group = '5-9'"
                        " AND sex IS NOT NULL").fetchone()[0]
    assert res.attrs["reference_events"]["age_group"] == n_ref
    con.close()


def test_an_infinite_estimate_is_flagged_and_hidden_from_viewers():
    """A level whose cases all die before anyone else's first death: the likelihood keeps rising
    as its hazard ratio grows. The fit stops without a leap into overflow, names the term as
    infinite, and the viewer's table hides it with a note, whatever its deaths."""
    from analytics.release.curves import cox_table
    from analytics.survival import cox_patterns

    rng = np.random.default_rng(8)
    g = np.array(["a"] * 300 + ["b"] * 300 + ["c"] * 20)
    t = np.concatenate([rng.integers(100, 400, 600), rng.integers(1, 90, 20)]).astype(float)
    d = np.concatenate([rng.integers(0, 2, 600), np.ones(20)]).astype(float)
    patterns = pd.DataFrame({"g": ["a", "b", "c"]})
    pinv = pd.Series(g).map({"a": 0, "b": 1, "c": 2}).to_numpy()
    res = cox_patterns(patterns, pinv, t, d, np.ones(620), ["g"])
    assert res.attrs["infinite"] == ["g=c"]
    row = res.set_index("term").loc["g=b"]
    assert np.isfinite(row["hr"]) and 0.5 < row["hr"] < 2
    res.attrs.update({"term_events": {"g=b": 150, "g=c": 20}, "reference_events": {"g": 150},
                      "key": 0, "events_key": 0})
    shown = cox_table(res).set_index("term")
    assert np.isnan(shown.loc["g=c", "hr"]) and np.isfinite(shown.loc["g=b", "hr"])
    assert "infinite" in shown.attrs["note"]
