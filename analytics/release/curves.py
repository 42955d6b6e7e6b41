"""What the Survival and Compare cohorts pages show, released (docs/disclosure-control.md, section 4).

Every survival figure a viewer sees comes from the *rounded* Kaplan-Meier curves: follow-up
counted in months, cumulative deaths and censorings rounded to blocks of T with OpenSAFELY's
mid-point rule (`survival.rounded_events`), and each curve stopped where the rounded risk set
falls below max(T, the page's minimum at risk). Survival at 1/3/5/10 years and its numbers at
risk, medians, conditional and age-standardised survival come from the same rounded curves, and
only where at least T remain at risk. A group is shown only when its number of cases is
released (`disclosure.count`: n >= T and the perturbed n' >= T) and its rounded curve exists.
Group sizes and deaths in tables are released counts (perturbed on their own key sums), not the
rounded N'.

Net and relative survival: no curves for viewers; values at 1/3/5/10 years, rounded to 0.001,
only where the group's deaths by t and its number still at risk at t are both at least T.

Log-rank: only when every compared group's number of cases is released. Cox: levels with fewer
than T cases are left out of the model (said), hazard ratios of levels (and of covariates whose
reference level) with fewer than T deaths are not shown, n and deaths are released counts.
Cohorts: shared cases and cohort sizes as `Count`s, age statistics only for released cohorts,
shares through `disclosure.shares`, chi-square tests on the perturbed tables and Kruskal-Wallis
only when every cohort is released.

The exact estimates stay on the command line (`python -m analytics survival`), and the exact
functions (`analytics.survival`, `netsurvival`, `cohorts`) are called here with key sums only.
"""
from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd

from analytics import disclosure, labels, pooled
from analytics import survival as S
from analytics.cohorts import Cohort
from analytics.disclosure import Count, Policy, count, policy, release_counts, stamp
from analytics.filters import Selection, SelectionError

#: Confidence-interval types and age-standardisation weights (re-exported for the pages).
CONF_TYPES = S.CONF_TYPES
STANDARD_WEIGHTS = S.STANDARD_WEIGHTS
#: The times (years) of the survival tables.
TIMES = (1, 3, 5, 10)
#: Conditional survival: (t, given alive at s), years.
CONDITIONAL = ((5, 1), (10, 5))
#: Restricted mean survival time: to these horizons (years).
RMST_TAUS = (5, 10)
#: Columns of a curve as the figure needs it: no count, only whether a (rounded) censoring falls
#: in the month (the figure's censor ticks).
CURVE_COLUMNS = ["time_years", "survival", "lower", "upper", "censored"]

#: Why net survival reads rows only (`analytics.pooled`).
NET_NEEDS_ROWS = pooled.NET_NEEDS_ROWS


# ------------------------------------------------------------------------------------------------
# Policy texts
# ------------------------------------------------------------------------------------------------

def stop_at(min_at_risk: int | None, pol: Policy | None = None) -> int:
    """The number at risk below which a viewer's curve stops: the page's choice, at least T."""
    pol = pol or policy()
    return max(pol.threshold, int(min_at_risk or 0))


def km_note(pol: Policy | None = None, unit: str = "day") -> str:
    """The footnote of every viewer survival figure and table (from the policy); `unit`: that of
    the event table ('month' or 'year': the actuarial life table's intervals)."""
    pol = pol or policy()
    what = "the Kaplan-Meier estimator" if unit == "day" else "the actuarial life table"
    bins = "month" if unit == "day" else unit
    return (f"Curves for this web page: deaths and censorings counted by {bins} and rounded to blocks of "
            f"{pol.km_base} before {what} (OpenSAFELY's method), so each step stands "
            f"for about {pol.km_base} deaths; curves stop where fewer than {pol.threshold} remain at risk. "
            f"Estimates may differ from the exact ones by at most {pol.km_base // 2} deaths' worth; "
            f"exact figures: `python -m analytics survival`.")


def net_note(pol: Policy | None = None, times=TIMES) -> str:
    """What a viewer gets of net and relative survival (from the policy)."""
    pol = pol or policy()
    years = ", ".join(str(t) for t in times[:-1]) + f" and {times[-1]}"
    return (f"Net and relative survival are shown at {years} years only (no curves on this site), rounded "
            f"to 0.1 percentage point, where at least {pol.threshold} deaths had occurred by that time "
            f"and at least {pol.threshold} remained at risk; exact figures: `python -m analytics survival`.")


def net_refusal(message: str) -> str:
    """A net-survival refusal as a viewer may read it: the calendar years of follow-up that lack a
    life table come from the years the selection's tumours were diagnosed (a small partner's first
    year, say), so only the countries are named; the command line gives the years."""
    m = re.search(r"calendar years of follow-up: (.*?) missing", message)
    if m:
        countries = ", ".join(sorted(set(re.findall(r"\b[A-Z]{3}\b", m.group(1)))))
        message = message.replace(m.group(0), f"some calendar years of follow-up of {countries} "
                                               f"(`python -m analytics survival --method pohar-perme` "
                                               f"lists them)")
    return message


def safe_message(e: Exception) -> str:
    """An exception's message without a count of cases ('(n = 7)' is dropped)."""
    return re.sub(r"\s*\(n = [\d,]+\)", "", str(e))


# ------------------------------------------------------------------------------------------------
# Groups and their counts
# ------------------------------------------------------------------------------------------------

def _norm(key) -> tuple:
    """A group key with every missing value as None (NaN is not equal to itself)."""
    return tuple(None if (v is None or (not isinstance(v, str) and pd.isna(v))) else v for v in key)


def _group_sums(t: pd.DataFrame, by: list[str], cols: list[str]) -> dict[tuple, pd.Series]:
    """Per group of `by` (its `_norm`ed key; missing values a group of their own): the sums of
    `cols` over the group's rows, in one pass."""
    if not len(t):
        return {}
    parts = t.groupby(by, sort=False, dropna=False)[cols].sum() if by else t[cols].sum().to_frame().T
    return {_norm(() if not by else key if isinstance(key, tuple) else (key,)): r for key, r in parts.iterrows()}


def _group_counts(events: S.EventTable) -> dict[tuple, tuple[int, int, int, int]]:
    """Per group of an event table read with keys: (cases, their key sum, deaths, their key sum)."""
    m = disclosure.KEY_MODULUS
    sums = _group_sums(events.table, events.by, ["n_event", "n_censor", "key_event", "key_censor"])
    return {key: (int(r["n_event"] + r["n_censor"]), int(r["key_event"] + r["key_censor"]) % m,
                  int(r["n_event"]), int(r["key_event"]) % m) for key, r in sums.items()}


def _released(counts, pol: Policy) -> bool:
    return counts is not None and counts[0] > 0 and count(counts[0], counts[1], pol).released


def viewer_events(events: S.EventTable, pol: Policy) -> S.EventTable:
    """The event table binned (days by the month; completed months or years as they are) and
    rounded for a viewer (`survival.rounded_events`)."""
    return S.rounded_events(events, pol.km_base, pol.bin_days if events.unit == "day" else 1)


def viewer_km(events: S.EventTable, conf_type: str = "log-log", pol: Policy | None = None,
              times=TIMES) -> S.SurvivalResult:
    """Kaplan-Meier (or, on completed months or years, the actuarial life table) per group on the
    rounded, binned event table (groups whose rounded size is below T are suppressed there):
    every survival estimate a viewer sees starts here."""
    pol = pol or policy()
    return S.kaplan_meier(viewer_events(events, pol), times=times, conf_type=conf_type, min_cases=pol.threshold)


def _cut(km: S.KaplanMeier, m: int) -> S.KaplanMeier:
    """The curve up to (not including) the first time with fewer than `m` at risk."""
    n = km.arrays["n"]
    low = np.flatnonzero(n < m)
    k = low[0] if len(low) else len(n)
    out = copy.copy(km)  # a Kaplan-Meier curve or a life table (analytics.lifetable)
    out.arrays, out._table = {c: v[:k] for c, v in km.arrays.items()}, None
    return out


def _ticks(kms) -> list[int]:
    """Axis ticks (years) of the at-risk row, as before: every year up to 10, then every 2."""
    return _tick_years(max((float(k.arrays["t"][-1]) for k in kms if len(k.arrays["t"])), default=10.0))


def _tick_years(max_t: float) -> list[int]:
    """Ticks from 0 to the last follow-up (at most 20 years): every year up to 10, then every 2."""
    top = int(min(max_t, 20))
    step = 1 if top <= 10 else 2 if top <= 20 else 5
    return list(range(0, top + 1, step))


def _km_outputs(km: S.SurvivalResult, shown: list[tuple], counts: dict, by: list[str], m: int,
                pol: Policy, times=TIMES) -> dict:
    """Curves, numbers at risk, survival at times, medians and conditional survival of the shown
    groups of a rounded Kaplan-Meier result, released."""
    t_min = pol.threshold
    curves = {}
    for key in shown:
        tab = S.truncate(km.curves[key], m)
        tab = tab.assign(censored=tab["n_censored"] > 0)[CURVE_COLUMNS].reset_index(drop=True)
        curves[key] = stamp(tab)
    at_risk = S.at_risk_table(
        S.SurvivalResult(by, {k: km.curves[k] for k in shown}, None, None, 0, 0, []),
        _ticks([km.curves[k] for k in shown]), min_shown=t_min)
    at_rows, med_rows, cond_rows = [], [], []
    for key in shown:
        full = km.curves[key]
        visible = _cut(full, t_min)
        a = full.at(times)
        a["n_at_risk"] = full.risk_at(times)  # with entries: entered before t, followed to t
        hide = full.fewest_at_risk(times) < t_min  # a value rests on every step before it
        a["n_at_risk"] = pd.array(a["n_at_risk"], dtype="Int64")
        a.loc[hide, "n_at_risk"] = pd.NA
        a.loc[hide, ["survival", "std_err_surv", "lower", "upper"]] = np.nan
        a["suppressed"] = hide
        at_rows.append(a.assign(**dict(zip(by, key))))
        n, n_key, d, d_key = counts[_norm(key)]
        med, lo, hi = visible.median()
        med_rows.append(dict(zip(by, key)) | {"n": n, "n_key": n_key, "events": d, "events_key": d_key,
                                              "median": med, "median_lower": lo, "median_upper": hi})
        risk = full.fewest_at_risk([t for t, _ in CONDITIONAL])
        for (t, given), r in zip(CONDITIONAL, risk):
            s, lo, hi = visible.conditional(t, given) if r >= t_min else (np.nan,) * 3
            cond_rows.append(dict(zip(by, key)) | {"years": t, "given_alive_at": given,
                                                   "survival": s, "lower": lo, "upper": hi})
    at_cols = by + ["time_years", "n_at_risk", "survival", "std_err_surv", "lower", "upper", "suppressed"]
    at_times = pd.concat(at_rows)[at_cols].reset_index(drop=True) if at_rows else pd.DataFrame(columns=at_cols)
    med = pd.DataFrame(med_rows, columns=by + ["n", "n_key", "events", "events_key", "median", "median_lower",
                                               "median_upper"])
    slices = [by] if by else None  # every group its own slice: hidden groups are not rows here
    medians = release_counts(med, {"n": "n_key", "events": "events_key"}, groups=slices, pol=pol)
    medians = medians.drop(columns="suppressed")
    cond = pd.DataFrame(cond_rows, columns=by + ["years", "given_alive_at", "survival", "lower", "upper"])
    return {"curves": curves, "at_risk": stamp(at_risk), "at_times": stamp(at_times),
            "medians": stamp(medians), "conditional": stamp(cond)}


def _rmst(km: S.SurvivalResult, shown: list[tuple], by: list[str], pol: Policy) -> dict:
    """Restricted mean survival time to each of `RMST_TAUS` of the shown groups, from the rounded
    curves, where at least T remain at risk at tau (else not shown); and, with one `by` column,
    each group's difference from the first shown group (the reference), 95% CI from the sum of
    the two variances (independent groups)."""
    rows, diffs = [], []
    for tau in RMST_TAUS:
        values = {}
        for key in shown:
            full = km.curves[key]
            ok = full.fewest_at_risk([tau])[0] >= pol.threshold
            m, se = full.rmst(tau) if ok else (np.nan, np.nan)
            values[key] = (m, se)
            rows.append(dict(zip(by, key)) | {"tau_years": float(tau), "rmst_years": m, "std_err": se,
                                              "lower": m - S.Z95 * se, "upper": m + S.Z95 * se, "suppressed": not ok})
        if len(by) == 1 and len(shown) >= 2:
            m0, se0 = values[shown[0]]
            for key in shown[1:]:
                m1, se1 = values[key]
                d, se = m1 - m0, np.sqrt(se1 ** 2 + se0 ** 2)
                diffs.append({by[0]: key[0], "reference": shown[0][0], "tau_years": float(tau),
                              "difference_years": d, "lower": d - S.Z95 * se, "upper": d + S.Z95 * se})
    rmst = pd.DataFrame(rows, columns=by + ["tau_years", "rmst_years", "std_err", "lower", "upper", "suppressed"])
    diff = pd.DataFrame(diffs, columns=by[:1] + ["reference", "tau_years", "difference_years", "lower", "upper"]) \
        if len(by) == 1 else None
    return {"rmst": stamp(rmst), "rmst_difference": stamp(diff) if diff is not None else None}


def _logrank(events: S.EventTable, counts: dict, group: str, pol: Policy) -> tuple[dict | None, str | None]:
    """The log-rank test across the levels of `group` when every compared level's number of cases
    is released (else None and why), with the cases of an unknown level as a `Count`."""
    known = {k: c for k, c in counts.items() if k[0] is not None}
    if not all(_released(c, pol) for c in known.values()):
        return None, f"Log-rank test not shown: a group has {pol.fewer} cases."
    lr = S.logrank(events, group)
    missing = [c for k, c in counts.items() if k[0] is None]
    n_missing = sum(c[0] for c in missing)
    key_missing = sum(c[1] for c in missing)
    out = {"chisq": lr["chisq"], "df": lr["df"], "p": lr["p"], "reason": lr["reason"],
           "n_excluded": count(n_missing, key_missing, pol) if n_missing else None}
    return out, None


# ------------------------------------------------------------------------------------------------
# The Survival page
# ------------------------------------------------------------------------------------------------

def survival(con, sel: Selection | None, by: list[str], conf_type: str = "log-log", method: str = "km",
             min_at_risk: int = 10, pol: Policy | None = None, window: str | None = None) -> dict:
    """Everything the Survival page shows of its curves, released. `method`: 'km', 'actuarial'
    (the life table on completed months, or years when a partner sent years: every partner's
    survival events pooled; `analytics.lifetable`), 'pohar-perme' or 'ederer2'.

    Keys: `selected`, `dco`, `analysed` (Counts; analysed = selected minus DCO by key-sum
    arithmetic), `empty` (no case with a survival time), `groups` (keys of the groups shown),
    `suppressed` (keys of the groups not shown), `curves` (key -> stamped frame, Kaplan-Meier
    only; {} for net survival), `at_risk`, `at_times`, `medians` (None for net survival),
    `conditional` (None for net survival), `rmst` (restricted mean survival time to 5 and 10
    years) and `rmst_difference` (each group against the first, with one `by` column), `followup`
    (median follow-up by reverse Kaplan-Meier), each None for the life table and net survival,
    `logrank` (None, or chisq, df, p, reason and
    n_excluded as a Count), `logrank_note` (why there is no test, or None), `notes` (texts with
    Counts only), `min_at_risk` (where the curves stop: at least T), `footnote` (the policy
    note for figures and tables), `threshold`.

    `window` ('2018-2022'): the period analysis of that calendar window (`analytics.period`;
    Kaplan-Meier only), rounded as the cohort curves are (`survival._rounded_entries_group`);
    `in_window` then counts the tumours with follow-up inside it (a Count), group sizes are those,
    and there is no log-rank test (R's survdiff takes no delayed entry) and no median follow-up
    (that of the cohort)."""
    pol = pol or policy()
    sel = sel or Selection()
    by = list(by)
    m = stop_at(min_at_risk, pol)
    observed = method in ("km", "actuarial")
    win = _window(window, method)
    unit = (pooled.interval_unit(con, sel, by) or "month") if method == "actuarial" else "day"
    events = S.event_table(con, sel, by, keys=True, rows_only=None if observed else NET_NEEDS_ROWS, unit=unit,
                           window=win)
    counts = _group_counts(events)
    selected = count(events.n_selected, events.key_selected, pol)
    dco = count(events.n_dco, events.key_dco, pol)
    analysed = selected.minus(dco)
    out = {"selected": selected, "dco": dco, "analysed": analysed, "empty": events.n_analysed == 0,
           "min_at_risk": m, "threshold": pol.threshold, "logrank": None, "logrank_note": None,
           "rmst": None, "rmst_difference": None, "followup": None, "window": window, "in_window": None}
    out["unit"] = unit
    if win is not None:
        out["window_empty"] = events.n_window == 0  # nobody followed in it: said as such on the page
        out["in_window"] = count(sum(c[0] for c in counts.values()),
                                 sum(c[1] for c in counts.values()) % disclosure.KEY_MODULUS, pol)
    if observed:
        rounded = viewer_events(events, pol)
        km = S.kaplan_meier(rounded, times=TIMES, conf_type=conf_type, min_cases=pol.threshold)  # = viewer_km
        shown = [k for k in km.curves if _released(counts.get(_norm(k)), pol)]
        if win is not None:  # a period curve can stop at once: few diagnosed in the window at risk early on
            early = [k for k in shown if not len(_cut(km.curves[k], m).arrays["t"])]
            shown = [k for k in shown if k not in early]
            if early:
                out["early_stop"] = len(early)
        out.update(_km_outputs(km, shown, counts, by, m, pol))
        if unit == "day":  # the life table has neither (its curve is known at interval ends only)
            out.update(_rmst(km, shown, by, pol))
        if unit == "day" and win is None:  # follow-up is the cohort's
            follow = S.median_followup(rounded, min_cases=pol.threshold)
            keep = np.array([_norm(tuple(r)) in {_norm(k) for k in shown} for r in follow[by].itertuples(index=False)]
                            if by else [bool(shown)] * len(follow), dtype=bool)
            out["followup"] = stamp(follow.loc[keep].drop(columns="n").reset_index(drop=True))
        out["footnote"] = km_note(pol, unit)
        notes = [S.method_note(unit, conf_type), km_note(pol, unit)]
        if win is not None:  # the window's method note comes with the event table's notes
            notes.append(f"{out['in_window']} of the {analysed} analysed had follow-up inside the window; the others "
                         f"were followed up to before it or diagnosed after it.")
        if len(by) == 1 and len(shown) >= 2 and win is not None:
            out["logrank_note"] = ("Log-rank test not shown for period analysis (it takes no delayed entry): "
                                   "choose the cohort estimate to compare groups.")
        elif len(by) == 1 and len(shown) >= 2 and unit == "day":
            out["logrank"], out["logrank_note"] = _logrank(events, counts, by[0], pol)
        elif len(by) == 1 and len(shown) >= 2:
            out["logrank_note"] = ("Log-rank test not shown for the life table: it needs follow-up in days "
                                   "(choose Kaplan-Meier).")
    else:
        out.update(_net(con, sel, by, method, counts, selected, dco, pol, window=win, in_window=out["in_window"]))
        out["footnote"] = net_note(pol)
        shown = out.pop("_shown")
        notes = out.pop("_notes")
    out["groups"] = shown
    normal_shown = {_norm(k) for k in shown}
    out["suppressed"] = [k for k in counts if k not in normal_shown]
    if observed:
        notes.append(f"{analysed} analysed of {selected} selected: {dco} death-certificate-only registrations "
                     f"excluded (no survival time).")
    if out["suppressed"]:
        notes.append(f"{len(out['suppressed'])} group(s) not shown: too few cases (fewer than {pol.threshold}, "
                     f"or fewer once changed or rounded for this site"
                     + (", or fewer than that at risk early in the window: few diagnosed in it)."
                        if out.get("early_stop") else ")."))
    out["notes"] = notes + pooled.released_notes(events.notes, lambda n, k: count(n, k, pol))  # partners left out
    return out


def _window(window: str | None, method: str):
    """The `period.Window` of a window label, or None; period analysis is Kaplan-Meier only."""
    if window is None:
        return None
    from analytics.period import Window

    if method == "actuarial":
        raise SelectionError("period analysis needs each tumour's date of diagnosis, which the life table's "
                             "partners do not send (choose 'Observed (Kaplan-Meier)')")
    return Window.parse(window)


def cumulative_incidence(con, sel: Selection | None, by: list[str], min_at_risk: int = 10,
                         pol: Policy | None = None) -> dict:
    """What the Survival page shows of death by cause (competing risks; `analytics.competing`),
    released: from the cause table rounded as the Kaplan-Meier one is (`competing.rounded_causes`:
    counts by month in blocks of the policy's base), for groups whose number of cases is
    released. Keys: `groups` (shown), `suppressed`, `curves` (cause name -> group key -> frame
    time_years, survival (the cumulative incidence, as the figure reads it), lower, upper,
    censored; stopped where fewer than max(T, `min_at_risk`) remain at risk; none for a group
    with fewer than T deaths of the cause, whose rounded curve would be rounding alone),
    `at_risk` (the numbers at risk under the figure), `at_times` (by, cause, time_years, cif,
    lower, upper, suppressed: at 1, 3, 5, 10 years, hidden where fewer than T remain at risk or
    the group has fewer than T deaths of the cause), `test` (Gray's
    test per cause on the exact table, when every group with a known level is released, else
    None) and `test_note`, `analysed` (a Count), `notes` (texts with released counts only),
    `footnote`, `min_at_risk`."""
    from analytics import competing

    pol = pol or policy()
    sel = sel or Selection()
    by = list(by)
    m = stop_at(min_at_risk, pol)
    exact = competing.cause_table(con, sel, by, keys=True)
    t = exact.table
    groups = {}
    for key, g in exact.groups():
        n = int(g[[*competing._COUNTS, "n_censor"]].to_numpy().sum())
        groups[_norm(key)] = (key, n, int(g["key"].sum()) % disclosure.KEY_MODULUS)
    shown = [key for key, n, k in groups.values() if count(n, k, pol).released]
    rounded = competing.rounded_causes(exact, pol.km_base, pol.bin_days)
    fits = competing.fits(rounded, min_cases=pol.threshold)
    shown = [k for k in shown if k in fits]
    deaths = _cause_deaths(t, by)
    curves = {name: {} for name in competing.CAUSES.values()}
    at_rows, risk_rows = [], []
    ticks = _tick_years(max(fits[k].last_years for k in shown)) if shown else []
    for key in shown:
        fit = fits[key]
        risk = fit.risk[fit.risk["n_at_risk"] >= m]
        end = float(risk["time_years"].iloc[-1]) if len(risk) else 0.0  # the last time with m at risk
        for name, c in fit.curves.items():
            if not _released(deaths[_norm(key)][name], pol):
                continue  # fewer than T deaths of the cause: its rounded curve would be rounding alone
            c = c[c["time_years"] <= end]
            if not len(c) or c["time_years"].iloc[-1] < end:  # flat to where the curve stops, as the KM ones
                last = c.iloc[-1:] if len(c) else pd.DataFrame({"cif": [0.0], "variance": [0.0]})
                c = pd.concat([c, last.assign(time_years=end)], ignore_index=True)
            lo, hi = competing._loglog_ci(c["cif"].to_numpy(), np.sqrt(c["variance"].to_numpy()))
            curves[name][key] = stamp(pd.DataFrame({"time_years": c["time_years"].to_numpy(), "survival": c["cif"].to_numpy(),
                                                    "lower": lo, "upper": hi, "censored": False}))
        a = fit.at(TIMES)
        risk = np.tile(fit.at_risk(TIMES), len(competing.CAUSES))
        few = [name for name in competing.CAUSES.values() if not _released(deaths[_norm(key)][name], pol)]
        hide = (risk < pol.threshold) | a["cause"].isin(few).to_numpy()
        a.loc[hide, ["cif", "std_err", "lower", "upper"]] = np.nan
        at_rows.append(a.assign(suppressed=hide, **dict(zip(by, key))))
        n_risk = fit.at_risk(ticks)
        risk_rows += [dict(zip(by, key)) | {"time_years": float(x), "n_at_risk": int(n) if n >= pol.threshold or n == 0
                                            else None} for x, n in zip(ticks, n_risk)]
    at_cols = by + ["cause", "time_years", "cif", "std_err", "lower", "upper", "suppressed"]
    at_times = pd.concat(at_rows, ignore_index=True)[at_cols] if at_rows else pd.DataFrame(columns=at_cols)
    at_risk = pd.DataFrame(risk_rows, columns=by + ["time_years", "n_at_risk"])
    at_risk["n_at_risk"] = at_risk["n_at_risk"].astype("Int64")
    test, test_note = None, None
    known = [g for nk, g in groups.items() if nk and nk[0] is not None]
    if len(by) == 1 and len(known) >= 2:
        if all(count(n, k, pol).released for _, n, k in known):
            test = competing.gray_test(exact, by[0])
            # a cause's statistic is a function of its deaths in each group: shown only where every
            # group has a released number of them (else a rare cause's exact count could be read off)
            few = [name for name in competing.CAUSES.values()
                   if not all(_released(deaths[_norm(g[0])][name], pol) for g in known)]
            test.loc[test["cause"].isin(few), ["statistic", "p"]] = np.nan
            test = stamp(test)
            if few:
                test_note = (f"Gray's test not shown for {', '.join(few)} causes: a group has {pol.fewer} "
                             "deaths of that cause.")
        else:
            test_note = f"Gray's test not shown: a group has {pol.fewer} cases."
    analysed = count(exact.n_analysed, int(t["key"].sum()) if len(t) else 0, pol)
    foot = km_note(pol).replace("before the Kaplan-Meier estimator", "before the cumulative incidence")
    notes = [competing.method_notes(exact)[0], foot,
             f"{analysed} analysed (records with a survival time)."]
    notes += pooled.released_notes([n for n in exact.notes if isinstance(n, pooled.TablesLeftOut)],
                                   lambda n, k: count(n, k, pol))
    return {"groups": shown, "suppressed": [g[0] for nk, g in groups.items() if g[0] not in shown],
            "curves": curves, "at_risk": stamp(at_risk), "at_times": stamp(at_times), "test": test,
            "test_note": test_note, "analysed": analysed, "notes": notes,
            "footnote": foot, "min_at_risk": m}


def _cause_deaths(t: pd.DataFrame, by: list[str]) -> dict[tuple, dict[str, tuple[int, int]]]:
    """Per group (its `_norm`ed key of `by` values) of a cause table read with keys: cause name ->
    (deaths of that cause, their record-key sum). One pass over the table."""
    from analytics.competing import CAUSES

    sums = _group_sums(t, by, [f"{p}_{name}" for name in CAUSES.values() for p in ("n", "key")])
    return {key: {name: (int(r[f"n_{name}"]), int(r[f"key_{name}"]) % disclosure.KEY_MODULUS)
                  for name in CAUSES.values()} for key, r in sums.items()}


def net_at_times(curve, times, pol: Policy) -> pd.DataFrame:
    """One group's net (or relative) survival at `times` as a viewer may see it (section 4.2):
    survival, its standard error and CI rounded to 0.001, missing (`suppressed`) where fewer than T
    deaths had occurred by that time or fewer than T remained at risk."""
    a = curve.at(times)
    deaths_by = a["n_events"].cumsum().to_numpy()
    # at risk at t, and at every time before it: in a period analysis (entries) early times can have few
    steps_t, steps_n = curve.table["time_years"].to_numpy(), curve.table["n_at_risk"].to_numpy()
    fewest = np.array([min([n, *steps_n[steps_t <= t + 1e-12]]) for n, t in zip(a["n_at_risk"], a["time_years"])])
    ok = (deaths_by >= pol.threshold) & (fewest >= pol.threshold)
    values = a[["survival", "std_err_surv", "lower", "upper"]].astype(float).round(3)
    values.loc[~ok, :] = np.nan
    return pd.concat([a[["time_years"]], values], axis=1).assign(suppressed=~ok)


def _net(con, sel: Selection, by: list[str], method: str, counts: dict, selected: Count, dco: Count,
         pol: Policy, times=TIMES, window=None, in_window: Count | None = None) -> dict:
    """Net (Pohar-Perme) or relative (Ederer II) survival at `times` for viewers (section 4.2);
    `window` (a `period.Window`): its period analysis, `in_window` the released count of the
    tumours with follow-up inside it (`survival()` made it from the event table's counts)."""
    from analytics.netsurvival import net_survival

    t_min = pol.threshold
    try:
        res = net_survival(con, sel, by, method=method, times=times, min_cases=t_min, window=window,
                           whole_curve=False)
    except SelectionError as e:
        raise SelectionError(net_refusal(str(e))) from e
    shown = [k for k in res.curves if _released(counts.get(_norm(k)), pol)]
    rows = [net_at_times(res.curves[key], times, pol).assign(**dict(zip(by, key))) for key in shown]
    cols = by + ["time_years", "survival", "std_err_surv", "lower", "upper", "suppressed"]
    at_times = pd.concat(rows)[cols].reset_index(drop=True) if rows else pd.DataFrame(columns=cols)

    where, params = sel.where()
    conditions = {"sex9": "NOT dco AND NOT coalesce(sex IN (1, 2), false)",
                  "zero": "NOT dco AND coalesce(sex IN (1, 2), false) AND followup_days <= 0",
                  "assumed": "NOT dco AND coalesce(sex IN (1, 2), false) AND followup_days > 0 "
                             "AND birth_date IS NULL"}
    select = ", ".join(f"count(*) FILTER (WHERE {c}), {disclosure.key_sum_sql(c)}" for c in conditions.values())
    row = con.execute(f"SELECT {select} FROM cases WHERE {where}", params).fetchone()
    c = {name: count(row[2 * i], row[2 * i + 1], pol) for i, name in enumerate(conditions)}
    analysed = selected.minus(dco).minus(c["sex9"]).minus(c["zero"])
    if window is None:
        notes = [res.notes[0],
                 f"{analysed} analysed of {selected} selected: {dco} death-certificate-only registrations, "
                 f"{c['sex9']} of unknown sex (no life table to match) and {c['zero']} with no follow-up time "
                 f"(follow-up of 0 days, as relsurv) excluded."]
    else:  # the period's method sentence, and the tumours in its window
        notes = [res.notes[0], res.notes[2],
                 f"{in_window} of the {selected.minus(dco)} analysed had follow-up inside the window "
                 f"({c['sex9']} of unknown sex among the selected: no life table to match)."]
    notes += [n for n in res.notes if n.startswith("References")]
    if c["assumed"].shown != 0:
        notes.append(f"{c['assumed']} cases without birth date: age at diagnosis taken as the middle of the "
                     f"year of age (age_years * 365.241 + 182 days).")
    notes.append(net_note(pol, times))
    return {"curves": {}, "at_risk": None, "at_times": stamp(at_times), "medians": None, "conditional": None,
            "_shown": shown, "_notes": notes}


def age_standardised(con, sel: Selection | None, by: list[str], weights: str = "cohort",
                     conf_type: str = "log-log", times=TIMES, pol: Policy | None = None,
                     unit: str = "day", window: str | None = None) -> pd.DataFrame:
    """Age-standardised survival from the rounded curves of each age band: a group gets no estimate
    unless each of its age bands holds a released number of cases, and none at a time where a
    band has fewer than T at risk (rounded). `unit` 'month' or 'year': from life tables on those
    intervals (`analytics.lifetable`), every partner's survival events pooled. `window`: the
    period analysis of that calendar window (as `survival`). `attrs["notes"]`: the aggregate
    partners left out, their tumours as released counts."""
    pol = pol or policy()
    t_min = pol.threshold
    by = list(by)
    win = _window(window, "km" if unit == "day" else "actuarial")
    events = S.event_table(con, sel or Selection(), [*by, "age_band"], keys=True, unit=unit, window=win)
    counts = _group_counts(events)
    rounded = viewer_events(events, pol)
    res = S.age_standardised(rounded, times=times, weights=weights, conf_type=conf_type, min_cases=t_min)
    # the rounded risk set of each (group, band) at each time
    risk = {}
    for key, days, d, c, *e in rounded.groups(enter=rounded.entries):
        at = S.estimator(unit, conf_type)().fit(days, d, c, *e).fewest_at_risk(times)
        risk[_norm(key)] = at
    ok = np.zeros(len(res), bool)
    for i, r in enumerate(res.itertuples(index=False)):
        g = tuple(getattr(r, b) for b in by)
        t_idx = list(times).index(r.time_years) if r.time_years in times else None
        bands = [_norm(g + (b,)) for b in S.AGE_BANDS]
        ok[i] = (not r.suppressed and t_idx is not None
                 and all(_released(counts.get(b), pol) for b in bands)
                 and all(b in risk and risk[b][t_idx] >= t_min for b in bands))
    out = res.copy()
    out.attrs = {"notes": pooled.released_notes([n for n in events.notes if isinstance(n, pooled.TablesLeftOut)],
                                                lambda n, k: count(n, k, pol))}  # partners left out, released
    out.loc[~ok, ["survival", "lower", "upper"]] = np.nan
    out["suppressed"] = ~ok
    return stamp(out)


# ------------------------------------------------------------------------------------------------
# Cox
# ------------------------------------------------------------------------------------------------

def cox_model(con, sel: Selection | None, covariates: list[str], max_terms: int | None = None,
              pol: Policy | None = None) -> pd.DataFrame:
    """The model a viewer's hazard ratios come from: levels with fewer than T cases left out, key
    sums of its rows. Exact (not for display): `cox_table` and `ph_table` release it. A refusal
    never quotes a number of cases."""
    pol = pol or policy()
    try:
        return S.cox(con, sel or Selection(), list(covariates), max_terms=max_terms,
                            min_level=pol.threshold, keys=True)
    except SelectionError as e:
        raise SelectionError(_cox_refusal(e, pol)) from None


def _cox_refusal(e: Exception, pol: Policy) -> str:
    """Why there is no Cox model, without a number of cases, saying that small levels were left out."""
    msg = safe_message(e)
    if msg.startswith(("no cases with deaths", "too few cases", "fewer than two cohorts left")) or "single value" in msg:
        msg += f" (levels with {pol.fewer} cases are left out of the model)"
    return msg


def cox_table(model: pd.DataFrame, pol: Policy | None = None) -> pd.DataFrame:
    """Hazard ratios for viewers: term, hr, hr_lower, hr_upper, p, n and events (released counts
    of the model's cases and deaths). A term whose level, or whose covariate's reference level,
    has fewer than T deaths is shown as missing. `attrs["note"]`: what was left out and hidden,
    in words (levels by name, no counts)."""
    pol = pol or policy()
    t_min = pol.threshold
    out = model.drop(columns=[c for c in ("coef", "se") if c in model.columns]).reset_index(drop=True)
    term_events = model.attrs.get("term_events", {})
    ref_events = model.attrs.get("reference_events", {})
    hide = np.array([term_events.get(t, t_min) < t_min or ref_events.get(t.split("=", 1)[0], t_min) < t_min
                     for t in out["term"]], dtype=bool)
    infinite = np.isin(out["term"], model.attrs.get("infinite", []))  # no finite estimate to show
    few = hide.copy()
    hide |= infinite
    out[["hr", "hr_lower", "hr_upper", "p"]] = out[["hr", "hr_lower", "hr_upper", "p"]].astype(float)
    out.loc[hide, ["hr", "hr_lower", "hr_upper", "p"]] = np.nan
    n = count(model.attrs["n"], model.attrs["key"], pol)
    d = count(model.attrs["events"], model.attrs["events_key"], pol)
    out["n"] = pd.array([n.shown] * len(out), dtype="Int64")
    out["events"] = pd.array([d.shown] * len(out), dtype="Int64")
    notes = []
    dropped = model.attrs.get("dropped_levels", [])
    if dropped:
        levels = "; ".join(labels.term(c, v) for c, v in dropped)
        notes.append(f"Left out of the model ({pol.fewer} cases each): {levels}.")
    for c in model.attrs.get("left_out", []):
        notes.append(f"{labels.COLUMN.get(c, c)} left out of the model: it is fixed within the cohorts (they are "
                     f"defined by it), so its effect cannot be told apart from theirs.")
    if few.any():
        notes.append(f"Hazard ratios not shown where a level, or the reference level of its covariate, has "
                     f"{pol.fewer} deaths: {', '.join(labels.term(*labels.split_term(t)) for t in out.loc[few, 'term'])}.")
    if (infinite & ~few).any():
        notes.append("Hazard ratios not shown where the estimate is infinite (the deaths of a level all come "
                     "before, or none during, the others' follow-up, so no finite ratio fits them): "
                     f"{', '.join(labels.term(*labels.split_term(t)) for t in out.loc[infinite & ~few, 'term'])}.")
    notes += pooled.released_notes(model.attrs.get("notes", []), lambda n, k: count(n, k, pol))  # partners left out
    refs = model.attrs.get("reference", {})
    out.insert(1, "label", [labels.term(cov, value, refs.get(cov)) for cov, value in map(labels.split_term, out["term"])])
    out.attrs = {}
    out.attrs["note"] = " ".join(notes)
    return stamp(out)


def ph_table(model: pd.DataFrame) -> pd.DataFrame:
    """The proportional-hazards check (score tests: no counts) of a `cox_model`, stamped."""
    return stamp(model.attrs["ph"]().copy())


# ------------------------------------------------------------------------------------------------
# The Compare cohorts page
# ------------------------------------------------------------------------------------------------

def cohorts(con, cohorts: list[Cohort], conf_type: str = "log-log", min_at_risk: int = 10,
                   pol: Policy | None = None) -> dict:
    """Everything the Compare cohorts page shows, released.

    Keys: `sizes` (cohort name -> Count of cases analysed), `counts` (name -> (selected, dco,
    analysed) Counts), `overlap` (list of (cohort a, cohort b, Count of shared cases) where they
    share any), `curves`, `at_risk`, `at_times`, `medians`, `conditional` (as `survival`),
    `suppressed` (keys of cohorts not shown), `logrank`, `logrank_note`, `characteristics`
    (`summary`, `mix` wide with one `share <cohort>` column per cohort, `share_columns`,
    `tests`), `cox` (released hazard ratios or None), `cox_error`, `notes`, `min_at_risk`,
    `footnote`."""
    from analytics import cohorts as C

    pol = pol or policy()
    m = stop_at(min_at_risk, pol)
    events = C.combined_events(con, cohorts, keys=True)
    counts = _group_counts(events)
    km = viewer_km(events, conf_type, pol)
    shown = [k for k in km.curves if _released(counts.get(_norm(k)), pol)]
    out = _km_outputs(km, shown, counts, ["cohort"], m, pol)
    out["sizes"] = {c.name: count(*counts.get((c.name,), (0, 0, 0, 0))[:2], pol) for c in cohorts}
    out["counts"] = {}
    for name, (n_sel, k_sel, n_dco, k_dco) in events.cohort_counts.items():
        sel_c, dco_c = count(n_sel, k_sel, pol), count(n_dco, k_dco, pol)
        out["counts"][name] = (sel_c, dco_c, sel_c.minus(dco_c))
    out["suppressed"] = [k for k in counts if k not in {_norm(s) for s in shown}]
    ov = C.overlap(con, cohorts, keys=True)
    out["overlap"] = [(r.cohort_a, r.cohort_b, count(r.shared_cases, r.shared_key, pol))
                      for r in ov.itertuples() if r.shared_cases > 0]
    out["characteristics"] = _characteristics(con, cohorts, pol)
    out["logrank"], out["logrank_note"] = None, None
    if len(shown) >= 2:
        out["logrank"], out["logrank_note"] = _logrank(events, counts, "cohort", pol)
    out["cox"], out["cox_error"] = None, None
    try:
        model = C.cox_by_cohort(con, cohorts, min_level=pol.threshold, keys=True)
        if not model["term"].str.startswith("cohort=").any():
            raise SelectionError(f"fewer than two cohorts hold at least {pol.threshold} cases with a survival time")
        out["cox"] = cox_table(model, pol)
    except SelectionError as e:
        out["cox_error"] = _cox_refusal(e, pol)
    out["min_at_risk"] = m
    out["footnote"] = km_note(pol)
    out["notes"] = [f"Kaplan-Meier; 95% CI {conf_type} (Greenwood variance). Time from diagnosis in years; "
                    f"at risk at time t = follow-up of at least t.", km_note(pol)]
    if out["suppressed"]:
        out["notes"].append(f"{len(out['suppressed'])} cohort(s) not shown: too few cases (fewer than "
                            f"{pol.threshold}, or fewer once changed or rounded for this site).")
    # aggregate partners: left out of a curve, of the characteristics or of the model, and why
    out["notes"] += [n for n in pooled.released_notes(events.notes, lambda n, k: count(n, k, pol))
                     + out["characteristics"]["notes"] if n not in out["notes"]]
    return out


def _characteristics(con, cohorts: list[Cohort], pol: Policy) -> dict:
    """Cohort characteristics for viewers (design section 4.3)."""
    from scipy import stats

    from analytics import cohorts as C
    from analytics.suppression import complementary_mask

    ch = C.characteristics(con, cohorts, keys=True)
    names = [c.name for c in cohorts]
    summ = ch["summary"]
    den = {r.cohort: (int(r.n), int(r.n_key)) for r in summ.itertuples()}
    released = {name: _released(den[name], pol) for name in names}
    summary = release_counts(summ, {"n": "n_key"}, dependent=["age_median", "age_q1", "age_q3"],
                             groups=[["cohort"]], pol=pol)

    # shares of each level in each cohort: every level for every cohort (0 where it has none)
    cells = ch["cells"]
    grid = cells[["characteristic", "level"]].drop_duplicates().merge(pd.DataFrame({"cohort": names}), how="cross")
    mix = grid.merge(cells, on=["characteristic", "level", "cohort"], how="left").fillna({"n": 0, "n_key": 0})
    mix["n"], mix["n_key"] = mix["n"].astype("int64"), mix["n_key"].astype("int64")
    mix["share"] = disclosure.shares(mix["n"], mix["n_key"], mix["cohort"].map(lambda c: den[c][0]),
                                     mix["cohort"].map(lambda c: den[c][1]), pol)
    mix = mix.reset_index(drop=True)
    hidden = mix["share"].isna().to_numpy()
    if hidden.any():  # a single hidden level of a cohort's mix is joined by the next smallest
        size = mix["n"].where(mix["n"] > 0, np.iinfo(np.int64).max)  # a level a cohort lacks is no complement
        hidden = complementary_mask(mix, hidden, size, [["characteristic", "cohort"]])
        mix.loc[hidden, "share"] = np.nan
    order = {c: i for i, c in enumerate(names)}
    wide = (mix.assign(_o=mix["cohort"].map(order))
               .pivot(index=["characteristic", "level"], columns="cohort", values="share")
               .reindex(columns=names))
    wide.columns = [f"share {c}" for c in wide.columns]
    wide = wide.reset_index().sort_values(["characteristic", "level"], kind="stable").reset_index(drop=True)

    # tests: chi-square on the perturbed tables of the released cohorts, where every cell is
    # released; Kruskal-Wallis (age) only when every cohort is released
    tests = []
    ok = [n for n in names if released[n]]
    if all(released.values()):
        tests += [r for r in ch["tests"].to_dict("records") if r["characteristic"] == "age"]
    if len(ok) >= 2:
        for char in ["sex", "period", "country", "stage known"]:
            d = mix[(mix["characteristic"] == char) & mix["cohort"].isin(ok)]
            # only over tables whose every cell is released: a statistic over a hidden cell can be
            # solved for it (a 2 x 2 table of "X and P" against "X" gives P's count exactly)
            if not np.asarray(disclosure.released_mask(d["n"].to_numpy(), d["n_key"].to_numpy(), pol)).all():
                tests.append({"characteristic": char, "test": f"not shown: a cell has fewer than {pol.threshold}",
                              "statistic": np.nan, "df": np.nan, "p": np.nan})
                continue
            d = d.assign(p=np.asarray(disclosure.perturb(d["n"].to_numpy(), d["n_key"].to_numpy(), pol)))
            tab = d.pivot(index="level", columns="cohort", values="p").reindex(columns=ok).fillna(0)
            tab = tab[tab.sum(axis=1) > 0]
            if tab.shape[0] >= 2 and (tab.sum(axis=0) > 0).all():
                chi, p, df, _ = stats.chi2_contingency(tab.to_numpy(), correction=False)
                tests.append({"characteristic": char, "test": "chi-square", "statistic": chi, "df": int(df), "p": p})
    tests = pd.DataFrame(tests, columns=["characteristic", "test", "statistic", "df", "p"])
    return {"summary": summary, "mix": stamp(wide), "share_columns": list(wide.columns[2:]),
            "tests": stamp(tests), "notes": pooled.released_notes(ch["notes"], lambda n, k: count(n, k, pol))}

