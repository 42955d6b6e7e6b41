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

from analytics import survival
from analytics.filters import AGE_RANGES, Selection, SelectionError
from analytics.incidence import NoDenominators, incidence
from analytics.suppression import threshold

#: Funnel-plot control limits (two-sided normal quantiles): 95% and 99.8%.
FUNNEL_Z = {"95%": 1.959963984540054, "99.8%": 3.090232306167813}
#: Data-quality indicators and the cut-offs at which a country is flagged, in ONE place (the
#: caveats, the flags on the International page's charts and their legend all read these).
#: The indicators are the usual validity and follow-up indicators of a cancer registry: Bray F,
#: Parkin DM. Evaluation of data quality in the cancer registry: principles and methods. Part I:
#: comparability, validity and timeliness. Eur J Cancer 2009;45:747-55 (as CI5 uses them: Bray F,
#: Ferlay J, CI5 Vol. XI, chapter 5). That review sets no pass marks; the cut-offs are this
#: project's screening values, to flag a country for reading, not to exclude it:
#: - DCO (death certificate only) share above 5%: incidence may be incomplete, and survival is
#:   over-estimated (DCO tumours have no survival time and are left out of it);
DCO_MAX = 0.05
#: - microscopically verified (cytology or histology) share below 80%: diagnoses less certain;
MV_MIN = 0.80
#: - median follow-up of the cases analysed under 5 years: 5-year survival partly extrapolated;
FOLLOWUP_MIN_YEARS = 5.0
#: - case mix: share of children under 5 more than 10 points from the pool's (survival here is
#:   not age-standardised, and the youngest children fare differently). A caveat, not a flag.
UNDER5_MAX_DIFFERENCE = 0.10
#: The source, as the page cites it.
QUALITY_SOURCE = "Bray F, Parkin DM. Eur J Cancer 2009;45:747-55"
#: The same cut-offs by column (kept for callers of the earlier name).
CAVEATS = {"dco_share": DCO_MAX, "mv_share": MV_MIN, "median_followup_years": FOLLOWUP_MIN_YEARS,
           "under5_difference": UNDER5_MAX_DIFFERENCE}


#: The parts of each data-quality share, as SQL conditions (numerator, denominator; None = all
#: the country's cases). `quality(keys=True)` returns their counts and key sums, from which the
#: viewer's shares are released (analytics/release/international.py).
QUALITY_PARTS = {
    "dco": "dco", "mv": "basis IN (5, 6, 7)", "basis_known": "basis IS NOT NULL AND basis <> 9",
    "under5": "age_band = '0-4'", "analysed": "NOT dco",
}


def quality(con: duckdb.DuckDBPyConnection, selection: Selection, keys: bool = False) -> pd.DataFrame:
    """Per country: cases, share DCO, share microscopically verified (basis 5, 6, 7 among cases
    with a known basis), median follow-up in years of the cases analysed for survival, and the
    share excluded from survival (DCO).

    With `keys`, also the count and the record-key sum (`analytics.disclosure`) of all cases
    (`cases_key`) and of each part of `QUALITY_PARTS` (`n_dco`, `dco_key`, ...)."""
    from analytics.disclosure import key_sum_sql

    where, params = selection.where()
    extra = "".join(f", count(*) FILTER (WHERE {cond}) AS n_{name}, {key_sum_sql(cond)} AS {name}_key"
                    for name, cond in QUALITY_PARTS.items()) + f", {key_sum_sql()} AS cases_key" if keys else ""
    return con.execute(f"""
        SELECT country, count(*) AS cases,
               avg(dco::INT) AS dco_share,
               avg(CASE WHEN basis IN (5, 6, 7) THEN 1.0 WHEN basis IS NULL OR basis = 9 THEN NULL ELSE 0.0 END)
                 AS mv_share,
               median(followup_years) FILTER (WHERE NOT dco) AS median_followup_years,
               avg(dco::INT) AS excluded_share,
               avg((age_band = '0-4')::INT) AS under5_share{extra}
        FROM cases WHERE {where} GROUP BY country ORDER BY country""", params).df()


def flag_rules() -> str:
    """The flag's cut-offs in words: 'DCO > 5%, microscopically verified < 80% or median
    follow-up < 5 years'."""
    return (f"DCO > {DCO_MAX:.0%}, microscopically verified < {MV_MIN:.0%} or median follow-up "
            f"< {FOLLOWUP_MIN_YEARS:g} years")


def _num(row, col) -> float | None:
    v = row.get(col) if hasattr(row, "get") else None
    return None if v is None or pd.isna(v) else float(v)


def quality_flag(row: pd.Series) -> str:
    """A short flag for a chart row or table cell: 'DCO 7.3%, follow-up 2.1 y' for the
    indicators beyond their cut-off (empty when none is; a missing value never flags)."""
    parts = []
    dco, mv, fu = _num(row, "dco_share"), _num(row, "mv_share"), _num(row, "median_followup_years")
    if dco is not None and dco > DCO_MAX:
        parts.append(f"DCO {dco:.1%}")
    if mv is not None and mv < MV_MIN:
        parts.append(f"MV {mv:.0%}")
    if fu is not None and fu < FOLLOWUP_MIN_YEARS:
        parts.append(f"follow-up {fu:.1f} y")
    return ", ".join(parts)


def caveats(row: pd.Series, pooled_under5: float | None = None) -> str:
    """Plain words for a country's data-quality and case-mix flags (empty when none)."""
    notes = []
    if bool(row.get("no_population", False)):  # first: it explains the empty incidence columns
        notes.append("no population (person-years) for its years: no incidence rate")
    u5 = _num(row, "under5_share")
    if pooled_under5 is not None and u5 is not None and abs(u5 - pooled_under5) > UNDER5_MAX_DIFFERENCE:
        notes.append(f"case mix: {u5:.0%} under 5 years vs {pooled_under5:.0%} in the pool")
    dco, mv, fu = _num(row, "dco_share"), _num(row, "mv_share"), _num(row, "median_followup_years")
    if dco is not None and dco > DCO_MAX:
        notes.append(f"{dco:.1%} registered from death certificates only (flag above {DCO_MAX:.0%}): "
                     f"incidence may be incomplete and survival over-estimated")
    if mv is not None and mv < MV_MIN:
        notes.append(f"only {mv:.0%} microscopically verified (flag below {MV_MIN:.0%})")
    if fu is not None and fu < FOLLOWUP_MIN_YEARS:
        notes.append(f"median follow-up {fu:.1f} years (flag under {FOLLOWUP_MIN_YEARS:g}): "
                     f"5-year survival partly extrapolated")
    return "; ".join(notes)


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
    ev = survival.event_table(con, surv_sel, ["country"])
    km = survival.kaplan_meier(ev, times=(at_years,))
    pooled_events = survival.EventTable(ev.table.groupby("days", as_index=False)[["n_event", "n_censor"]].sum(),
                                        [], ev.n_selected, ev.n_dco)  # the countries' tables summed
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
                ns = net_survival(con, one, ["country"], times=(at_years,))
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
    notes = inc_notes[:2] + km.notes[:1] + [
        f"{at_years:g}-year survival by Kaplan-Meier for every country"
        + ("; net survival (Pohar-Perme) where life tables cover the country." if net else "."),
        "Data quality: DCO = death certificate only; microscopically verified = basis 5, 6 or 7 "
        "(cytology or histology) among cases with a known basis; median follow-up of the cases analysed.",
    ]
    return {"table": table.drop(columns="no_population"), "pooled": pooled, "notes": notes,
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
