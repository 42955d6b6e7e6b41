"""Calibration check of the synthetic demo pool: does it reproduce the figures it was built from?

    python -m analytics calibration [--db PATH]

Incidence: world (Segi) standardised rates per million for ages 0-14 and 15-19, high-income demo
countries, diagnoses 2001-2010, against the verified IICC-3 figures (`demo_params.WSR_TARGETS`).
Survival: 5-year Kaplan-Meier survival by ICCC-3 main group, high-income countries, diagnoses
2010-2014 (the period the survival parameters describe), DCO excluded, against the target implied
by the cited subgroup figures (`demo_params.CASE_MIX`) weighted by the pool's own subgroup mix.
Survival by age: the same, for each subgroup with a published age gradient (`demo_params.AGE_SURVIVAL`)
and each age group (<1, 1-4, 5-9, 10-14, 15-19), against the age-specific target the generator aims
at (`demo.age_s5`: the published gradient rescaled to the subgroup's target), weighted by the pool's
own single-year age mix; the published figure the target comes from is shown beside it.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from analytics import demo_params as P
from analytics.demo import age_s5, subgroup_s5
from analytics.schema import AGE_GROUPS

HIGH_INCOME = [c for c, p in P.COUNTRIES.items() if p["income"] == "high"]
AGE_RANGES = {"0-14": ["0-4", "5-9", "10-14"], "15-19": ["15-19"]}
#: Tolerances: relative for incidence rates; for 5-year survival 3 percentage points, or 2.5
#: binomial standard errors where a group is too small for that (rare groups at small scales).
WSR_TOLERANCE = 0.03
SURVIVAL_TOLERANCE = 0.03
#: By age group the groups are small (infants, adolescents with embryonal tumours): 3 percentage
#: points, or 3 binomial standard errors; age groups with fewer cases than this are not checked.
AGE_SURVIVAL_SE = 3.0
AGE_MIN_CASES = 50


def incidence_check(con: duckdb.DuckDBPyConnection, years=(2001, 2010)) -> pd.DataFrame:
    """Target vs achieved world-standardised incidence (Segi) in the high-income demo countries."""
    counts = con.execute("""
        SELECT coalesce(iccc_main, '?') AS grp, age_band, count(*) AS cases FROM cases
        WHERE list_contains($c, country) AND year BETWEEN $y0 AND $y1 GROUP BY ALL""",
                         {"c": HIGH_INCOME, "y0": years[0], "y1": years[1]}).df()
    py = con.execute("""
        SELECT age_group AS age_band, sum(person_years) AS py FROM population
        WHERE sex = 0 AND list_contains($c, country) AND year BETWEEN $y0 AND $y1 GROUP BY ALL""",
                     {"c": HIGH_INCOME, "y0": years[0], "y1": years[1]}).df().set_index("age_band")["py"]
    segi = con.execute("SELECT age_group, weight FROM standard_population WHERE standard = 'segi'"
                       ).df().set_index("age_group")["weight"]
    rows = []
    for (grp, ages), target in P.WSR_TARGETS.items():
        bands = AGE_RANGES[ages]
        sel = counts if grp == "all" else counts[counts["grp"] == grp]
        c = sel.groupby("age_band")["cases"].sum().reindex(bands, fill_value=0)
        w = segi[bands] / segi[bands].sum()
        achieved = float((c / py[bands] * 1e6 * w).sum())
        rows.append({"measure": f"WSR {ages}, ICCC {grp}", "target": target, "achieved": achieved,
                     "cases": int(c.sum()), "tolerance": f"±{WSR_TOLERANCE:.0%} relative",
                     "ok": abs(achieved / target - 1) <= WSR_TOLERANCE})
    return pd.DataFrame(rows)


def survival_check(con: duckdb.DuckDBPyConnection, years=(2010, 2014)) -> pd.DataFrame:
    """Target vs achieved 5-year Kaplan-Meier survival by main group, high-income countries."""
    s5 = subgroup_s5()
    events = con.execute("""
        SELECT iccc_main, iccc_sub, followup_years, event, count(*) AS n FROM cases
        WHERE list_contains($c, country) AND year BETWEEN $y0 AND $y1 AND NOT dco
          AND iccc_main IS NOT NULL
        GROUP BY ALL""", {"c": HIGH_INCOME, "y0": years[0], "y1": years[1]}).df()
    rows = []
    for grp in P.CASE_MIX:
        e = events[events["iccc_main"] == grp]
        if e.empty:
            continue
        mix = e.groupby("iccc_sub")["n"].sum()
        target = float((mix * mix.index.map(s5)).sum() / mix.sum())
        km = KaplanMeierFitter().fit(e["followup_years"], e["event"], weights=e["n"])
        achieved = float(km.survival_function_at_times(5.0).iloc[0])
        n = int(e["n"].sum())
        tol = max(SURVIVAL_TOLERANCE, 2.5 * np.sqrt(target * (1 - target) / n))
        rows.append({"measure": f"5-year survival, ICCC {grp}", "target": target, "achieved": achieved,
                     "cases": n, "tolerance": f"±{tol * 100:.1f} points",
                     "ok": abs(achieved - target) <= tol})
    return pd.DataFrame(rows)


def _published(subgroup: str, first: int, last: int) -> str:
    """The published figure(s) of `AGE_SURVIVAL` for an age group, e.g. '90%' or 'HR 0.18'."""
    kind, ranges, _ = P.AGE_SURVIVAL[subgroup]
    vals = [v for a, b, v in ranges if a <= last and b >= first]
    return "/".join(f"{v:g}%" if kind == "s5" else f"HR {v:g}" for v in vals)


def age_survival_check(con: duckdb.DuckDBPyConnection, years=(2010, 2014)) -> pd.DataFrame:
    """Target vs achieved 5-year Kaplan-Meier survival by age group, high-income countries, for the
    subgroups with a published age gradient."""
    events = con.execute("""
        SELECT iccc_sub, age_years, followup_years, event, count(*) AS n FROM cases
        WHERE list_contains($c, country) AND year BETWEEN $y0 AND $y1 AND NOT dco
          AND list_contains($subs, iccc_sub)
        GROUP BY ALL""", {"c": HIGH_INCOME, "y0": years[0], "y1": years[1],
                          "subs": list(P.AGE_SURVIVAL)}).df()
    rows = []
    for sub in P.AGE_SURVIVAL:
        for label, first, last in AGE_GROUPS:
            e = events[(events["iccc_sub"] == sub) & events["age_years"].between(first, last)]
            n = int(e["n"].sum())
            if n < AGE_MIN_CASES:
                continue
            target = float((e["n"] * age_s5(sub)[e["age_years"].to_numpy(int)]).sum() / n)
            km = KaplanMeierFitter().fit(e["followup_years"], e["event"], weights=e["n"])
            achieved = float(km.survival_function_at_times(5.0).iloc[0])
            tol = max(SURVIVAL_TOLERANCE, AGE_SURVIVAL_SE * np.sqrt(target * (1 - target) / n))
            rows.append({"measure": f"5-year survival, ICCC {sub}, age {label}", "target": target,
                         "achieved": achieved, "cases": n, "tolerance": f"±{tol * 100:.1f} points",
                         "ok": abs(achieved - target) <= tol, "published": _published(sub, first, last)})
    return pd.DataFrame(rows)


def report(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return pd.concat([incidence_check(con), survival_check(con), age_survival_check(con)],
                     ignore_index=True)
