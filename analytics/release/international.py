"""What the International comparison page shows, released (docs/disclosure-control.md §3, §4, §7).

Per country: the tumours (a perturbed count of exactly the country's tumours in the selection,
so it reads as on the Overview and Incidence pages), the age-standardised rate from perturbed
counts by age band (`release.rates`), 5-year observed survival from the viewer's rounded
Kaplan-Meier curves, 5-year net survival only where at least T deaths had occurred and T
children remained at risk at 5 years, and data-quality shares only where the numerator and its
complement are each 0 or at least T (`disclosure.shares`). Caveats are written from the released
values only, so a caveat never quotes a share that is not shown.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import compare, disclosure, survival
from analytics.disclosure import policy, release_counts, shares
from analytics.filters import AGE_RANGES, Selection, SelectionError
from analytics.release.curves import net_at_times, viewer_km
from analytics.incidence import NoDenominators

#: Re-exported for the page (which reads no exact module).
FUNNEL_Z = compare.FUNNEL_Z
funnel_limits = compare.funnel_limits

#: shown share -> (numerator part, denominator part) of `compare.QUALITY_PARTS` ("cases": all)
SHARE_PARTS = {"dco_share": ("dco", "cases"), "mv_share": ("mv", "basis_known"),
               "excluded_share": ("dco", "cases"), "under5_share": ("under5", "cases")}


def _part(q: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "cases":
        return q["cases"].to_numpy(), q["cases_key"].to_numpy()
    return q[f"n_{name}"].to_numpy(), q[f"{name}_key"].to_numpy()


def quality(con: duckdb.DuckDBPyConnection, selection: Selection) -> pd.DataFrame:
    """Per country: released tumours (`cases`), cases analysed for survival (`n_survival`), the
    data-quality shares, median follow-up (0.1 year, only for a released `n_survival`), and a
    `cases_key` column for the caller's `release_counts`. Shares are NaN where not releasable."""
    pol = policy()
    q = compare.quality(con, selection, keys=True)
    out = q[["country", "cases", "cases_key"]].copy()
    for col, (num, den) in SHARE_PARTS.items():
        out[col] = shares(*_part(q, num), *_part(q, den), pol)
    n, k = _part(q, "analysed")
    analysed_ok = np.asarray(disclosure.released_mask(n, k, pol)) & (n > 0)
    out["n_survival"] = np.where(analysed_ok, np.asarray(disclosure.perturb(n, k, pol), dtype=float), np.nan)
    out["median_followup_years"] = np.where(analysed_ok, q["median_followup_years"].round(1), np.nan)
    return out


def _survival(con, surv_sel: Selection, at_years: float) -> tuple[pd.DataFrame, float]:
    """5-year observed survival per country and pooled, from the viewer's rounded curves; NaN
    where the country's curve is suppressed or fewer than T remain at risk at `at_years`."""
    pol = policy()
    ev = survival.event_table(con, surv_sel, ["country"])
    s = viewer_km(ev, pol=pol, times=(at_years,)).at_times
    s = s.rename(columns={"survival": "surv5", "lower": "surv5_lower", "upper": "surv5_upper"})
    cols = ["surv5", "surv5_lower", "surv5_upper"]
    s.loc[s["n_at_risk"] < pol.threshold, cols] = np.nan
    pooled_ev = survival.EventTable(ev.table.groupby("days", as_index=False)[["n_event", "n_censor"]].sum(),
                                    [], ev.n_selected, ev.n_dco)
    pooled = viewer_km(pooled_ev, pol=pol, times=(at_years,)).at_times
    ok = len(pooled) and pooled["n_at_risk"].iloc[0] >= pol.threshold
    return s[["country", *cols]], float(pooled["survival"].iloc[0]) if ok else np.nan


def _net(con, surv_sel: Selection, countries, at_years: float) -> tuple[pd.DataFrame, str | None]:
    """5-year net survival (Pohar Perme) per country where a life table covers it, shown only
    where the country had at least T deaths by `at_years` and T still at risk then (§4.2),
    rounded to 0.001."""
    from analytics.netsurvival import net_survival

    pol = policy()
    rows, missing = [], []
    for country in countries:
        one = Selection.build({**{k: list(v) for k, v in surv_sel.filters.items()}, "country": [country]},
                              surv_sel.years)
        try:
            ns = net_survival(con, one, ["country"], times=(at_years,))
        except SelectionError:
            missing.append(country)
            continue
        for curve in ns.curves.values():  # none when the country has fewer than T cases
            r = net_at_times(curve, (at_years,), pol).iloc[0]
            if not r["suppressed"]:
                rows.append({"country": country, "net5": r["survival"], "net5_lower": r["lower"],
                             "net5_upper": r["upper"]})
    nets = pd.DataFrame(rows, columns=["country", "net5", "net5_lower", "net5_upper"])
    reason = None
    if missing:
        reason = (f"net survival not available for {', '.join(missing)}: no life table loaded for their "
                  f"years of follow-up (`python -m analytics lifetable FILE --country XXX --sex 1|2`)")
    return nets, reason


def international(con: duckdb.DuckDBPyConnection, selection: Selection, ages: str = "0-14",
                  standard: str = "segi", ci: str = "tiwari", at_years: float = 5.0) -> dict:
    """The International page's table (released, stamped), pooled values, notes and texts, as
    `compare.international` returns them for the exact path."""
    from analytics.release import rates

    pol = policy()
    no_rate = None
    try:
        inc = rates.by_country(con, selection, ages=ages, standard=standard, ci=ci)
        inc_table, pooled_inc, left_out, inc_notes = inc["table"], inc["pooled"], inc["left_out"], inc["notes"]
    except NoDenominators as e:
        inc_table = pd.DataFrame(columns=["country", "person_years", "asr", "asr_lower", "asr_upper"])
        pooled_inc = {"asr": np.nan, "asr_lower": np.nan, "asr_upper": np.nan}
        left_out, inc_notes, no_rate = None, [], f"No incidence rate: {e}."
    surv_sel = Selection.build({**{k: list(v) for k, v in selection.filters.items()},
                                "age_band": AGE_RANGES[ages]}, selection.years)
    q = quality(con, surv_sel)
    surv, pooled_surv = _survival(con, surv_sel, at_years)
    rate_cols = ["person_years", "asr", "asr_lower", "asr_upper"]
    table = (q.merge(inc_table[["country", *rate_cols]], on="country", how="left")
             .merge(surv, on="country", how="left"))
    table["incidence_suppressed"] = table["asr"].isna()
    nets, net_reason = _net(con, surv_sel, table["country"], at_years)
    table = table.merge(nets, on="country", how="left")
    stat_cols = [c for c in table.columns if c not in ("country", "cases", "cases_key", "incidence_suppressed")]
    table = release_counts(table, {"cases": "cases_key"}, dependent=stat_cols)
    pooled_under5 = _pooled_under5(con, surv_sel)
    table["caveat"] = table.apply(compare.caveats, axis=1, pooled_under5=pooled_under5)
    order = ["country", "cases", *rate_cols, "incidence_suppressed", "surv5", "surv5_lower", "surv5_upper",
             "n_survival", "net5", "net5_lower", "net5_upper", "dco_share", "mv_share", "median_followup_years",
             "excluded_share", "under5_share", "caveat", "suppressed"]
    table = disclosure.stamp(table[order])
    pooled = {**{k: pooled_inc[k] for k in ("asr", "asr_lower", "asr_upper")}, "surv5": pooled_surv}
    notes = [
        *inc_notes,
        f"{at_years:g}-year observed survival by Kaplan-Meier on deaths and censorings counted by month and "
        f"rounded to blocks of {pol.km_base} (OpenSAFELY's method); not shown where fewer than "
        f"{pol.threshold} remain at risk at {at_years:g} years.",
        f"Net survival (Pohar Perme) where life tables cover the country and at least {pol.threshold} deaths "
        f"and {pol.threshold} children at risk at {at_years:g} years.",
        "Data quality: DCO = death certificate only; microscopically verified = basis 5, 6 or 7 (cytology or "
        "histology) among cases with a known basis; median follow-up of the cases analysed. Shares are shown "
        f"only where the group and the rest of the country's cases each hold at least {pol.threshold}.",
    ]
    return {"table": table, "pooled": pooled, "notes": notes, "net_reason": net_reason,
            "left_out": left_out or no_rate}


def _pooled_under5(con, surv_sel: Selection) -> float | None:
    """The released share of children under 5 in the whole selection (for the case-mix caveat)."""
    pol = policy()
    where, params = surv_sel.where()
    n, k, u, uk = con.execute(f"""SELECT count(*), {disclosure.key_sum_sql()},
        count(*) FILTER (WHERE age_band = '0-4'), {disclosure.key_sum_sql("age_band = '0-4'")}
        FROM cases WHERE {where}""", params).fetchone()
    v = shares([u], [uk], [n], [k], pol)[0]
    return None if v != v else float(v)


def country_map(table: pd.DataFrame, measure: str, title: str, colorbar: str, notice: str | None = None,
                value_format: str = ".1f"):
    """The world map of the released comparison table (`measure`: asr or surv5), stamped.
    Refuses a frame that is not released."""
    from analytics import maps

    if not disclosure.is_released(table):
        raise disclosure.DisclosureError("the comparison map needs a released table")
    return disclosure.stamp(maps.choropleth(table, "country", measure, title, colorbar, notice=notice,
                                            value_format=value_format))
