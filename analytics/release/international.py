"""What the International comparison page shows, released (docs/disclosure-control.md §3, §4, §7).

Per country: the tumours (a perturbed count of exactly the country's tumours in the selection,
so it reads as on the Overview and Incidence pages), the age-standardised rate from perturbed
counts by age band (`release.rates`), 5-year observed survival from the viewer's rounded
Kaplan-Meier curves (life tables for every country when a partner sent follow-up in months or
years: `analytics.lifetable`), 5-year net survival only where at least T deaths had occurred and T
children remained at risk at 5 years, and data-quality shares only where the numerator and its
complement are each 0 or at least T (`disclosure.shares`). Caveats and data-quality flags are
written from the released values only, so neither quotes a share that is not shown; their
cut-offs are `compare`'s (one place). What a chart cannot show is said in words
(`international()["not_shown"]`), from what the table already shows.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import compare, disclosure, labels, survival
from analytics import pooled as pool_tables
from analytics import quality as quality_exact
from analytics.release import quality as released_quality
from analytics.disclosure import policy, release_counts, shares
from analytics.filters import AGE_RANGES, Selection, SelectionError
from analytics.lifetable import method_name
from analytics.release.curves import net_at_times, viewer_events, viewer_km
from analytics.incidence import NoDenominators

#: Re-exported for the page (which reads no exact module).
FUNNEL_Z = compare.FUNNEL_Z
funnel_limits = compare.funnel_limits
#: The data-quality flag's cut-offs in words and their source (`compare.DCO_MAX` ...).
FLAG_RULES = compare.flag_rules()
QUALITY_SOURCE = compare.QUALITY_SOURCE
CASE_MIX_RULE = (f"the share of children under 5 differs from the pool's by more than "
                 f"{compare.UNDER5_MAX_DIFFERENCE * 100:g} points")

#: The shares this page shows, of `quality.SHARES` (numerator and denominator parts).
SHARE_PARTS = {c: quality_exact.SHARES[c] for c in ("dco_share", "mv_share", "excluded_share", "under5_share")}


def quality(con: duckdb.DuckDBPyConnection, selection: Selection, unit: str = "day") -> pd.DataFrame:
    """Per country: released tumours (`cases`), cases analysed for survival (`n_survival`), the
    data-quality shares, median follow-up (0.1 year, only for a released `n_survival`), and a
    `cases_key` column for the caller's `release_counts`. Shares are NaN where not releasable.

    Median follow-up is that of the reverse Kaplan-Meier method (issue 15, item 5: as beside
    every survival estimate; `survival.median_followup`), on the viewer's rounded event table of
    each country (`unit` 'month' or 'year': the reverse life table, every country alike); NaN
    where it is not reached."""
    pol = policy()
    q = compare.quality(con, selection, keys=True)
    out = q[["country", "cases", "cases_key"]].copy()
    for col, (num, den) in SHARE_PARTS.items():
        out[col] = shares(*quality_exact.part(q, num), *quality_exact.part(q, den), pol)
    analysed_ok, out["n_survival"] = released_quality.analysed(q, pol)
    events = viewer_events(survival.event_table(con, selection, ["country"], unit=unit), pol)
    fu = survival.median_followup(events, min_cases=pol.threshold)
    reverse_km = q["country"].map(dict(zip(fu["country"], fu["median_followup_years"]))).astype(float)
    out["median_followup_years"] = np.where(analysed_ok, reverse_km.round(1), np.nan)
    return out


def _survival(con, surv_sel: Selection, at_years: float, unit: str = "day",
              window=None) -> tuple[pd.DataFrame, float, list]:
    """5-year observed survival per country and pooled, from the viewer's rounded curves (`unit`
    'month' or 'year': life tables; `window`, a `period.Window`: the period analysis of that
    calendar window); NaN where the country's curve is suppressed or fewer than T remain at risk
    at `at_years`; and the event table's notes (aggregate partners left out)."""
    pol = policy()
    ev = survival.event_table(con, surv_sel, ["country"], unit=unit, window=window)
    km = viewer_km(ev, pol=pol, times=(at_years,))
    s = km.at_times.rename(columns={"survival": "surv5", "lower": "surv5_lower", "upper": "surv5_upper"})
    cols = ["surv5", "surv5_lower", "surv5_upper"]
    # shown where every step up to then had at least T at risk (with entries, early steps can have few)
    fewest = [km.curves[(c,)].fewest_at_risk([at_years])[0] for c in s["country"]]
    s.loc[np.asarray(fewest) < pol.threshold, cols] = np.nan
    counted = ["n_event", "n_censor"] + (["n_enter"] if ev.entries else [])
    pooled_ev = survival.EventTable(ev.table.groupby("days", as_index=False)[counted].sum(),
                                    [], ev.n_selected, ev.n_dco, unit=unit)
    pooled_km = viewer_km(pooled_ev, pol=pol, times=(at_years,))
    pooled = pooled_km.at_times
    ok = len(pooled) and pooled_km.curves[()].fewest_at_risk([at_years])[0] >= pol.threshold
    notes = pool_tables.released_notes([n for n in ev.notes if isinstance(n, pool_tables.TablesLeftOut)],
                                       lambda n, k: disclosure.count(n, k, pol))
    return s[["country", *cols]], float(pooled["survival"].iloc[0]) if ok else np.nan, notes


def _net(con, surv_sel: Selection, countries, at_years: float, window=None) -> tuple[pd.DataFrame, list[str]]:
    """5-year net survival (Pohar Perme) per country where a life table covers it, shown only
    where the country had at least T deaths by `at_years` and T still at risk then (§4.2),
    rounded to 0.001; the same age-standardised as CONCORD (`netsurvival.age_standardised`, equal
    weights over the selection's age bands: net5_std), shown only where every band passes that
    rule; and the countries without a life table for their years of follow-up. `window`: the
    period analysis of that calendar window (`period.Window`)."""
    from analytics.netsurvival import combined, net_survival, standardise
    from analytics.suppression import threshold

    pol = policy()
    cols = ["net5", "net5_lower", "net5_upper", "net5_std", "net5_std_lower", "net5_std_upper"]
    rows, missing = [], []
    for country in countries:
        one = Selection.build({**{k: list(v) for k, v in surv_sel.filters.items()}, "country": [country]},
                              surv_sel.years)
        try:  # the age bands once: standardised, and added up for the country (`combined`)
            bands = net_survival(con, one, ["country", "age_band"], times=(at_years,), min_cases=1,
                                 window=window, whole_curve=False)
        except SelectionError:
            missing.append(country)
            continue
        std = standardise(bands, one, (at_years,), weights="equal")
        parts = list(bands.curves.values())
        whole = [combined(parts)] if sum(c.n for c in parts) >= threshold() else []  # as net_survival suppresses
        row = {"country": country}
        for curve in whole:  # none when the country has fewer than T cases
            r = net_at_times(curve, (at_years,), pol).iloc[0]
            if not r["suppressed"]:
                row |= {"net5": r["survival"], "net5_lower": r["lower"], "net5_upper": r["upper"]}
        bands = std.attrs["bands"]
        if len(std) and not std["suppressed"].iloc[0] and len(bands) and \
                (bands["n_at_risk"] >= pol.threshold).all() and (bands["deaths_by"] >= pol.threshold).all():
            r = std.iloc[0]
            row |= {"net5_std": round(float(r["survival"]), 3), "net5_std_lower": round(float(r["lower"]), 3),
                    "net5_std_upper": round(float(r["upper"]), 3)}
        if len(row) > 1:
            rows.append(row)
    return pd.DataFrame(rows, columns=["country", *cols]), missing


def _names(codes, most: int = 10) -> str:
    """'Kenya, Uganda and South Africa' (country names; past `most`, '... and 4 more')."""
    names = [labels.country(c) for c in codes]
    if len(names) > most:
        names = names[:most - 1] + [f"{len(names) - most + 1} more"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _not_shown(table: pd.DataFrame, value: str, what: str, reason) -> str | None:
    """One sentence on the countries without a `value`, grouped by `reason(row)`: '3 of 12
    countries not shown: Canada and France (fewer than 16 tumours); Kenya (...).', or, when no
    country has one, 'No <what> to show for this selection: ...'. None when every country has one."""
    missing = table[table[value].isna()]
    if not len(missing):
        return None
    groups: dict[str, list] = {}
    for _, row in missing.iterrows():
        groups.setdefault(reason(row), []).append(row["country"])
    n = len(table)
    if len(missing) == n and len(groups) == 1:
        why, codes = next(iter(groups.items()))
        who = f"{_names(codes)} has" if n == 1 else f"each of the {n} countries ({_names(codes)}) has"
        return f"No {what} to show for this selection: {who} {why}."
    parts = "; ".join(f"{_names(codes)} ({why})" for why, codes in groups.items())
    if len(missing) == n:
        return f"No {what} to show for this selection: {parts}."
    return f"{len(missing)} of {n} countries not shown: {parts}."


def _net_text(table: pd.DataFrame, no_life_table: list[str], at_years: float,
              from_tables: list[str] = ()) -> str | None:
    """Which countries have a life table (net survival needs one), and why a covered country has
    no net survival shown; None when every country has it. `from_tables`: the aggregate partners
    (no records: no net survival), said apart."""
    text = _net_life_tables(table[~table["country"].isin(list(from_tables))], no_life_table, at_years)
    if not from_tables:
        return text
    tables = (f"No net survival for {_names(from_tables)}: {'it' if len(from_tables) == 1 else 'they'} sent "
              f"aggregate tables, not records, and {pool_tables.NET_NEEDS_ROWS}.")
    return f"{text} {tables}" if text else tables


def _net_life_tables(table: pd.DataFrame, no_life_table: list[str], at_years: float) -> str | None:
    pol = policy()
    if table.empty:
        return None
    covered = [c for c in table["country"] if c not in set(no_life_table)]
    hidden = table[table["country"].isin(covered) & table["net5"].isna()]
    if not no_life_table and not len(hidden):
        return None
    how = "(a data manager loads one with python -m analytics lifetable)"
    if not covered:
        return (f"Net survival is not shown: it needs a life table of the country's population for its "
                f"years of follow-up, and none is loaded for {'this country' if len(table) == 1 else 'these countries'} "
                f"{how}. Observed survival is shown instead.")
    if no_life_table:
        text = (f"Net survival needs a life table of the country's population for its years of follow-up: "
                f"loaded for {_names(covered)} only; the other {len(no_life_table)} "
                f"{'country has' if len(no_life_table) == 1 else 'countries have'} observed survival only {how}.")
    else:
        text = "Net survival: every country has a life table."
    small, short = hidden[hidden["suppressed"]], hidden[~hidden["suppressed"]]
    if len(small):
        text += f" Not shown for {_names(small['country'])}: {pol.fewer} tumours."
    if len(short):
        text += (f" Not shown for {_names(short['country'])}: {pol.fewer} deaths by {at_years:g} years or "
                 f"{pol.fewer} still at risk then.")
    return text


def international(con: duckdb.DuckDBPyConnection, selection: Selection, ages: str = "0-14",
                  standard: str = "segi", ci: str = "tiwari", at_years: float = 5.0,
                  window: str | None = None) -> dict:
    """The International page's table (released, stamped), pooled values, notes and texts, as
    `compare.international` returns them for the exact path. `window` ('2018-2022'): observed
    survival is the period analysis of that calendar window (`analytics.period`; Kaplan-Meier,
    rows only) instead of the cohort's; net survival stays the cohort's (said)."""
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
    # a partner whose follow-up is in months or years: every country by the life table, comparably
    cohort_unit = pool_tables.interval_unit(con, surv_sel, ["country"]) or "day"
    q = quality(con, surv_sel, cohort_unit)
    win = None
    if window is not None:
        from analytics.period import Window

        win = Window.parse(window)
    unit = "day" if win else cohort_unit
    surv, pooled_surv, surv_notes = _survival(con, surv_sel, at_years, unit, win)
    rate_cols = ["person_years", "asr", "asr_lower", "asr_upper"]
    table = (q.merge(inc_table[["country", *rate_cols]], on="country", how="left")
             .merge(surv, on="country", how="left"))
    table["incidence_suppressed"] = table["asr"].isna()
    no_population = set(table["country"]) - set(inc_table["country"])
    nets, no_life_table = _net(con, surv_sel, table["country"], at_years, win)
    from_tables = pool_tables.tables_only(con, table["country"])  # no records: no net survival, for another reason
    no_life_table = [c for c in no_life_table if c not in from_tables]
    table = table.merge(nets, on="country", how="left")
    stat_cols = [c for c in table.columns if c not in ("country", "cases", "cases_key", "incidence_suppressed")]
    table = release_counts(table, {"cases": "cases_key"}, dependent=stat_cols)
    pooled_under5 = _pooled_under5(con, surv_sel)
    table["caveat"] = table.apply(compare.caveats, axis=1, pooled_under5=pooled_under5).astype(object)
    table["quality_flag"] = (table.apply(compare.quality_flag, axis=1) if len(table) else pd.Series(dtype=object))
    table["flag"] = np.where(table["quality_flag"].fillna("") != "", "\u2691", "").astype(object)  # the table's marker
    table["country_name"] = [labels.country(c) for c in table["country"]]
    order = ["country", "country_name", "flag", "quality_flag", "cases", *rate_cols, "incidence_suppressed", "surv5", "surv5_lower", "surv5_upper",
             "n_survival", "net5", "net5_lower", "net5_upper", "net5_std", "net5_std_lower", "net5_std_upper",
             "dco_share", "mv_share", "median_followup_years",
             "excluded_share", "under5_share", "caveat", "suppressed"]
    table = disclosure.stamp(table[order])
    pooled = {**{k: pooled_inc[k] for k in ("asr", "asr_lower", "asr_upper")}, "surv5": pooled_surv}
    notes = [
        *inc_notes,
        f"{at_years:g}-year observed survival by {method_name(unit)} on deaths and censorings counted by "
        f"{'month' if unit == 'day' else unit} and rounded to blocks of {pol.km_base} (OpenSAFELY's method); not "
        f"shown where fewer than {pol.threshold} remain at risk at {at_years:g} years.",
        *([win.note() + " Net survival is the period's too; the data-quality columns remain those of the "
                        "cohort diagnosed in the years chosen."] if win else []),
        *surv_notes,
        f"Net survival (Pohar Perme) where life tables cover the country and at least {pol.threshold} deaths "
        f"and {pol.threshold} children at risk at {at_years:g} years; age-standardised as CONCORD reports it "
        f"(net survival in each five-year age band of the ages chosen, averaged with equal weights), where "
        f"every band has at least {pol.threshold} deaths and {pol.threshold} at risk.",
        "Data quality: DCO = death certificate only; microscopically verified = basis 5, 6 or 7 (cytology or "
        "histology) among cases with a known basis; median follow-up of the cases analysed by the reverse "
        "Kaplan-Meier method (Schemper & Smith 1996: how long they were, or would have been, followed had "
        f"none died){'' if cohort_unit == 'day' else f', by the reverse life table on completed {cohort_unit}s'}. "
        "Shares are shown "
        f"only where the group and the rest of the country's cases each hold at least {pol.threshold}.",
    ]
    fewer = f"{pol.fewer} tumours"

    def asr_reason(row):
        if row["suppressed"]:
            return fewer
        if row["country"] in no_population:
            return "no population figures for its years"
        return f"{pol.fewer} tumours in the years with population figures"

    def surv_reason(row):
        if row["suppressed"]:
            return fewer
        if pd.isna(row["n_survival"]):
            return f"{pol.fewer} cases analysed for survival"
        return f"{pol.fewer} still at risk at {at_years:g} years"

    not_shown = {
        "asr": _not_shown(table, "asr", "age-standardised incidence rate", asr_reason),
        "surv5": _not_shown(table, "surv5", f"{at_years:g}-year survival", surv_reason),
        "table": (None if not len(table) or not table["suppressed"].all() else
                  f"Nothing to show by country: {'the one country has' if len(table) == 1 else f'each of the {len(table)} countries has'} "
                  f"{fewer} in this selection."),
    }
    method = method_name(unit) + (f", period {win.label}" if win else "")
    return {"table": table, "pooled": pooled, "notes": notes, "survival_method": method, "window": window,
            "net_reason": _net_text(table, no_life_table, at_years, from_tables),
            "left_out": left_out or no_rate, "not_shown": not_shown}


def _pooled_under5(con, surv_sel: Selection) -> float | None:
    """The released share of children under 5 in the whole selection (for the case-mix caveat),
    aggregate partners' case counts included (as their own shares are)."""
    pol = policy()
    where, params = surv_sel.where()
    key, under5 = disclosure.key_sum_sql(column="key"), disclosure.key_sum_sql("age_band = '0-4'", column="key")
    n, k, u, uk = con.execute(f"""SELECT coalesce(sum(n), 0), {key},
        coalesce(sum(n) FILTER (WHERE age_band = '0-4'), 0), {under5}
        FROM {pool_tables.tumours_sql(surv_sel, [])} WHERE {where}""", params).fetchone()
    v = shares([u], [uk], [n], [k], pol)[0]
    return None if v != v else float(v)


def country_map(table: pd.DataFrame, measure: str, title: str, colorbar: str, notice: str | None = None,
                value_format: str = ".1f"):
    """The world map of the released comparison table (`measure`: asr or surv5), stamped. The
    colour scale never goes below 0, nor past 100% for a proportion (a percent `value_format`).
    Refuses a frame that is not released."""
    from analytics import maps

    if not disclosure.is_released(table):
        raise disclosure.DisclosureError("the comparison map needs a released table")
    percent = value_format.endswith("%")
    return disclosure.stamp(maps.choropleth(table, "country", measure, title, colorbar, notice=notice,
                                            value_format=value_format, bounds=(0, 1) if percent else (0, None),
                                            colorbar_format=".0%" if percent else None))
