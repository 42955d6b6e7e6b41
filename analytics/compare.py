"""International comparison: per country, age-standardised incidence and 5-year survival with
their CIs, the pooled values, funnel-plot limits, and each country's data-quality context.

Every number comes from the same estimators as the Incidence and Survival pages
(`incidence.incidence`, `survival.kaplan_meier`, `netsurvival.net_survival`), so a country's
figures here equal those pages' figures for the same selection (tests/test_compare.py).
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import quality as _quality
from analytics import pooled as pooled_tables
from analytics import survival
from analytics.lifetable import method_name
# The data-quality indicators, their cut-offs and flags are defined once, in analytics.quality;
# re-exported here for this module's callers (the International comparison's release layer).
from analytics.quality import (DCO_MAX, FOLLOWUP_MIN_YEARS, MV_MIN, QUALITY_SOURCE,  # noqa: F401
                               UNDER5_MAX_DIFFERENCE, caveats, flag_rules, quality_flag)
from analytics.filters import AGE_RANGES, Selection, SelectionError
from analytics.incidence import NoDenominators, incidence
from analytics.suppression import threshold

#: Funnel-plot control limits (two-sided normal quantiles): 95% and 99.8%.
FUNNEL_Z = {"95%": 1.959963984540054, "99.8%": 3.090232306167813}
#: The same cut-offs by column.
CAVEATS = {**_quality.CUTOFFS, "under5_difference": UNDER5_MAX_DIFFERENCE}
#: The parts of each data-quality share, as SQL conditions (`quality.PARTS`).
QUALITY_PARTS = _quality.PARTS
_COLUMNS = ["country", "cases", "dco_share", "mv_share", "median_followup_years", "excluded_share",
            "under5_share"]


def quality(con: duckdb.DuckDBPyConnection, selection: Selection, keys: bool = False) -> pd.DataFrame:
    """Per country (`quality.indicators`): cases, share DCO, share microscopically verified
    (basis 5, 6, 7 among cases with a known basis), median follow-up in years of the cases
    analysed for survival, the share excluded from survival (DCO) and the share under 5.

    With `keys`, every column of `quality.indicators(keys=True)`: also the count and the
    record-key sum (`analytics.disclosure`) of all cases (`cases_key`) and of each part of
    `QUALITY_PARTS` (`n_dco`, `dco_key`, ...)."""
    q = _quality.indicators(con, selection, ["country"], keys=keys)
    return q if keys else q[_COLUMNS]


def international(con: duckdb.DuckDBPyConnection, selection: Selection, ages: str = "0-14",
                  standard: str = "segi", ci: str = "tiwari", net: bool = True,
                  at_years: float = 5.0) -> dict:
    """The comparison table (one row per country) and the pooled values.

    Returns {"table": frame, "pooled": dict, "notes": list, "net_reason": str | None,
    "left_out": str | None}. A country without person-years for its years keeps its row (survival
    and data quality) with no incidence rate and a caveat; `left_out` is the incidence note saying
    which cases were left out of the rates (as `incidence.IncidenceResult`)."""
    no_rate = None
    try:
        inc = incidence(con, selection, ["country"], ages=ages, standard=standard, ci=ci)
        pooled_inc = incidence(con, selection, [], ages=ages, standard=standard, ci=ci).table.iloc[0]
        inc_table, inc_notes, left_out = inc.table, inc.notes, inc.left_out
    except NoDenominators as e:  # no selected country-year has person-years: survival only
        inc_table = pd.DataFrame({"country": pd.Series(dtype=object), "cases": pd.Series(dtype=float),
                                  "person_years": np.nan, "asr": np.nan, "asr_lower": np.nan,
                                  "asr_upper": np.nan, "suppressed": pd.Series(dtype=bool)})
        pooled_inc = pd.Series({"asr": np.nan, "asr_lower": np.nan, "asr_upper": np.nan, "cases": 0})
        inc_notes, left_out = [], None
        no_rate = f"No incidence rate: {e}."
    # survival over the same ages as the incidence
    surv_sel = Selection.build({**{k: list(v) for k, v in selection.filters.items()},
                                "age_band": AGE_RANGES[ages]}, selection.years)
    # a partner whose follow-up is in months or years: every country by the life table, comparably
    unit = pooled_tables.interval_unit(con, surv_sel, ["country"]) or "day"
    ev = survival.event_table(con, surv_sel, ["country"], unit=unit)
    km = survival.kaplan_meier(ev, times=(at_years,))
    pooled_events = survival.EventTable(ev.table.groupby("days", as_index=False)[["n_event", "n_censor"]].sum(),
                                        [], ev.n_selected, ev.n_dco, unit=unit)  # the countries' tables summed
    km_pooled = survival.kaplan_meier(pooled_events, times=(at_years,))
    s = km.at_times.rename(columns={"survival": "surv5", "lower": "surv5_lower", "upper": "surv5_upper",
                                    "n_at_risk": "at_risk5"})[["country", "surv5", "surv5_lower", "surv5_upper"]]
    n_surv = pd.DataFrame([(k[0], c.n) for k, c in km.curves.items()], columns=["country", "n_survival"])
    rates = (inc_table[["country", "cases", "person_years", "asr", "asr_lower", "asr_upper", "suppressed"]]
             .rename(columns={"suppressed": "incidence_suppressed"}))
    q = quality(con, selection)
    # every country with cases keeps its row, also one left out of the rates (no person-years)
    countries = pd.DataFrame({"country": sorted(set(rates["country"]) | set(q["country"]))})
    table = (countries.merge(rates, on="country", how="left")
             .merge(s, on="country", how="left").merge(n_surv, on="country", how="left"))
    table["no_population"] = ~table["country"].isin(rates["country"])
    table["incidence_suppressed"] = table["incidence_suppressed"].astype("boolean").fillna(False).astype(bool)
    net_reason = None
    if net:
        from analytics.netsurvival import net_survival

        covered, missing = [], []
        for country in table["country"]:  # net survival where a life table covers the country
            one = Selection.build({**{k: list(v) for k, v in surv_sel.filters.items()}, "country": [country]},
                                  surv_sel.years)
            try:
                ns = net_survival(con, one, ["country"], times=(at_years,), whole_curve=False)
                covered.append(ns.at_times)
            except SelectionError:
                missing.append(country)
        cols = ["country", "net5", "net5_lower", "net5_upper"]
        nets = (pd.concat(covered).rename(columns={"survival": "net5", "lower": "net5_lower", "upper": "net5_upper"})[cols]
                if covered else pd.DataFrame(columns=cols))
        table = table.merge(nets, on="country", how="left")
        if missing:
            net_reason = (f"net survival shown for {len(covered)} of {len(table)} countries; not for "
                          f"{', '.join(missing)}: no life table loaded for their years of follow-up "
                          f"(`python -m analytics lifetable FILE --country XXX --sex 1|2`)")
    pooled_under5 = float((q["under5_share"] * q["cases"]).sum() / q["cases"].sum()) if len(q) else None
    table = table.merge(q.drop(columns="cases"), on="country", how="left")
    table["caveat"] = table.apply(caveats, axis=1, pooled_under5=pooled_under5)
    pooled_s = km_pooled.at_times.iloc[0] if len(km_pooled.at_times) else None
    pooled = {"asr": pooled_inc["asr"], "asr_lower": pooled_inc["asr_lower"], "asr_upper": pooled_inc["asr_upper"],
              "surv5": float(pooled_s["survival"]) if pooled_s is not None else np.nan,
              "cases": pooled_inc["cases"]}
    if left_out is not None:
        inc_notes = inc_notes[1:]  # its first note is `left_out`'s, returned on its own
    # aggregate partners survival leaves out (years that split a period, say), in words
    left_out_survival = [str(n) for n in ev.notes if isinstance(n, pooled_tables.TablesLeftOut)]
    notes = inc_notes[:2] + km.notes[:1] + [
        f"{at_years:g}-year survival by {method_name(unit)} for every country"
        + ("; net survival (Pohar-Perme) where life tables cover the country." if net else "."),
        "Data quality: DCO = death certificate only; microscopically verified = basis 5, 6 or 7 "
        "(cytology or histology) among cases with a known basis; median follow-up of the cases analysed.",
    ]
    return {"table": table.drop(columns="no_population"), "pooled": pooled, "notes": notes + left_out_survival,
            "survival_method": method_name(unit),
            "net_reason": net_reason, "left_out": left_out.note() if left_out else no_rate}


def funnel_limits(p0: float, n_max: float, points: int = 200) -> pd.DataFrame:
    """Control limits p0 -/+ z sqrt(p0 (1 - p0) / n) for the funnel plot of a proportion
    (5-year survival) against the number of cases n (Spiegelhalter 2005)."""
    n = np.linspace(max(threshold(), 5), max(n_max * 1.05, 20), points)
    out = {"n": n}
    for label, z in FUNNEL_Z.items():
        half = z * np.sqrt(p0 * (1 - p0) / n)
        out[f"lower_{label}"] = np.clip(p0 - half, 0, 1)
        out[f"upper_{label}"] = np.clip(p0 + half, 0, 1)
    return pd.DataFrame(out)
