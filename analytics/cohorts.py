"""Cohort comparison: two to four named cohorts, each its own selection, compared on their
characteristics, Kaplan-Meier survival, the log-rank test and a Cox model with the cohort as the
factor adjusted for age group, sex and period of diagnosis.

Cohorts may overlap (a tumour can satisfy two definitions); overlap is counted and reported, and
the tests then compare overlapping samples, which they assume independent: the page says so.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics import pooled, survival
from analytics.filters import Selection, SelectionError
from analytics.suppression import threshold


@dataclass(frozen=True)
class Cohort:
    name: str
    selection: Selection


def _check(cohorts: list[Cohort]) -> None:
    if not 2 <= len(cohorts) <= 4:
        raise SelectionError("compare two to four cohorts")
    names = [c.name for c in cohorts]
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        raise SelectionError("give each cohort a different, non-empty name")


#: Why the cohort characteristics read records only.
CHARACTERISTICS_NEED_ROWS = "the characteristics of a cohort (age median and quartiles, stage known) need records"


def overlap(con: duckdb.DuckDBPyConnection, cohorts: list[Cohort], keys: bool = False) -> pd.DataFrame:
    """Cases shared by each pair of cohorts, aggregate partners' case counts included (a table's
    row lies in both cohorts or in neither; a column it lacks places none of it). With `keys=True`
    (the viewer's release layer), also the record-key sum of the shared cases (`shared_key`)."""
    from analytics.disclosure import key_sum_sql

    rows = []
    for i, a in enumerate(cohorts):
        for b in cohorts[i + 1:]:
            wa, pa = a.selection.where(prefix="a_")
            wb, pb = b.selection.where(prefix="b_")
            n, k = con.execute(f"SELECT coalesce(sum(n), 0), {key_sum_sql(column='key') if keys else 0} "
                               f"FROM {pooled.POOL_TUMOURS} WHERE ({wa}) AND ({wb})", pa | pb).fetchall()[0]
            rows.append({"cohort_a": a.name, "cohort_b": b.name, "shared_cases": int(n)}
                        | ({"shared_key": int(k)} if keys else {}))
    return pd.DataFrame(rows, columns=["cohort_a", "cohort_b", "shared_cases"] + (["shared_key"] if keys else []))


def characteristics(con: duckdb.DuckDBPyConnection, cohorts: list[Cohort], keys: bool = False) -> dict:
    """Per cohort: n, age median and IQR, sex, stage known, period and country mix (as % of the
    cohort), with Kruskal-Wallis (age) and chi-square (sex, period, country, stage known) tests
    across cohorts. Counts below the suppression threshold are not shown.

    With `keys=True` (the viewer's release layer), the summary gains `n_key` (the record-key sum
    of the cohort) and the result gains `cells`: every (characteristic, level, cohort) count with
    its key sum (`n`, `n_key`), small ones included, for the release layer to perturb.

    From records only (single-year age, stage known): `notes` (in the result) says whose
    aggregate tables each cohort leaves out (`analytics.pooled.TablesLeftOut`)."""
    from analytics.disclosure import key_sum_sql

    _check(cohorts)
    notes = [dataclasses.replace(n, why=f"{n.why}; cohort {c.name}") for c in cohorts
             for n in pooled.left_out(con, "agg_case_counts", c.selection, [], needs=CHARACTERISTICS_NEED_ROWS)]
    n_min = threshold()
    summary, dists = [], {"sex": [], "period": [], "country": [], "stage_known": []}
    ages = []
    cells = []
    for c in cohorts:
        where, params = c.selection.where()
        n, med, q1, q3, key = con.execute(f"""
            SELECT count(*), median(age_years), quantile_cont(age_years, 0.25), quantile_cont(age_years, 0.75),
                   {key_sum_sql() if keys else 0}
            FROM cases WHERE {where}""", params).fetchall()[0]
        summary.append({"cohort": c.name, "n": int(n), "age_median": med, "age_q1": q1, "age_q3": q3}
                       | ({"n_key": int(key)} if keys else {}))
        for col, expr in (("sex", "CAST(sex AS VARCHAR)"), ("period", "period"), ("country", "country"),
                          ("stage_known", "CASE WHEN stage IS NULL THEN 'unknown' ELSE 'known' END")):
            d = con.execute(f"SELECT {expr} AS level, count(*) AS n, {key_sum_sql() if keys else 0} AS n_key "
                            f"FROM cases WHERE {where} GROUP BY 1", params).df()
            if keys:
                cells.append(d.assign(cohort=c.name, characteristic=col.replace("_", " ")))
            dists[col].append(d.drop(columns="n_key").assign(cohort=c.name))
        ages.append(con.execute(f"SELECT age_years, count(*) FROM cases WHERE {where} GROUP BY 1",
                                params).fetchall())
    summary = pd.DataFrame(summary)
    tests = []
    valid = [i for i, s in enumerate(summary["n"]) if s > 0]
    if len(valid) >= 2:
        samples = [np.repeat([a for a, _ in ages[i]], [k for _, k in ages[i]]) for i in valid]
        if len({v for s in samples for v in np.unique(s)}) > 1:
            h, p = stats.kruskal(*samples)
            tests.append({"characteristic": "age", "test": "Kruskal-Wallis", "statistic": h,
                          "df": len(samples) - 1, "p": p})
        for col, frames in dists.items():
            tab = pd.concat(frames).pivot_table(index="level", columns="cohort", values="n", fill_value=0)
            tab = tab.loc[:, [c.name for i, c in enumerate(cohorts) if i in valid]]
            tab = tab[tab.sum(axis=1) > 0]
            if tab.shape[0] >= 2:
                chi, p, df, _ = stats.chi2_contingency(tab.to_numpy(), correction=False)
                tests.append({"characteristic": col.replace("_", " "), "test": "chi-square", "statistic": chi,
                              "df": int(df), "p": p})
    mix = []
    for col, frames in dists.items():
        d = pd.concat(frames)
        # every level for every cohort (0 where a cohort has none), so a missing share means suppressed
        grid = pd.MultiIndex.from_product([d["level"].unique(), [c.name for c in cohorts]], names=["level", "cohort"])
        d = d.set_index(["level", "cohort"])["n"].reindex(grid, fill_value=0).reset_index()
        d["share"] = d["n"] / d.groupby("cohort")["n"].transform("sum").replace(0, np.nan)
        d.loc[(d["n"] > 0) & (d["n"] < n_min), ["n", "share"]] = np.nan  # small cells not shown
        mix.append(d.assign(characteristic=col.replace("_", " ")))
    mix = pd.concat(mix)[["characteristic", "level", "cohort", "n", "share"]]
    mix["n"] = mix["n"].astype("Int64")
    summary.loc[summary["n"] < n_min, ["age_median", "age_q1", "age_q3"]] = np.nan
    out = {"summary": summary, "mix": mix.reset_index(drop=True), "tests": pd.DataFrame(tests), "notes": notes}
    if keys:
        out["cells"] = pd.concat(cells)[["characteristic", "level", "cohort", "n", "n_key"]].reset_index(drop=True)
    return out


def combined_events(con: duckdb.DuckDBPyConnection, cohorts: list[Cohort], keys: bool = False) -> survival.EventTable:
    """One event table with a `cohort` column (overlapping cases appear in each of their cohorts).

    With `keys=True` (the viewer's release layer): the rows' key sums (`key_event`, `key_censor`,
    as `survival.event_table(keys=True)`), and `cohort_counts`: per cohort name, its number
    selected, their key sum, its number of DCO registrations and their key sum."""
    _check(cohorts)
    parts, n_sel, n_dco, counts, notes = [], 0, 0, {}, []
    for c in cohorts:
        ev = survival.event_table(con, c.selection, [], keys=keys)
        parts.append(ev.table.assign(cohort=c.name))
        n_sel += ev.n_selected
        n_dco += ev.n_dco
        counts[c.name] = (ev.n_selected, ev.key_selected, ev.n_dco, ev.key_dco)
        notes += [dataclasses.replace(n, why=f"{n.why}; cohort {c.name}") if isinstance(n, pooled.TablesLeftOut)
                  else n for n in ev.notes if n not in notes]
    cols = ["cohort", "days", "n_event", "n_censor"] + (["key_event", "key_censor"] if keys else [])
    t = pd.concat(parts)[cols].reset_index(drop=True)
    order = {c.name: i for i, c in enumerate(cohorts)}
    t = t.assign(_o=t["cohort"].map(order)).sort_values(["_o", "days"]).drop(columns="_o").reset_index(drop=True)
    out = survival.EventTable(t, ["cohort"], n_sel, n_dco, notes)
    if keys:
        out.cohort_counts = counts
    return out


def _full_rank(df: pd.DataFrame, covariates: list[str]) -> bool:
    """Whether the dummy-coded design of `covariates` (rows with all of them known) has full
    column rank: no covariate is a combination of the others (e.g. age group within cohorts
    defined by age)."""
    X, names = survival.design(df.dropna(subset=covariates), covariates, set())
    ones = np.ones((len(X), 1))  # with a constant: Cox has no intercept, so covariates adding up to one are aliased
    return bool(names) and np.linalg.matrix_rank(np.hstack([ones, X.to_numpy(dtype=float)])) == len(names) + 1


def cox_by_cohort(con: duckdb.DuckDBPyConnection, cohorts: list[Cohort],
                  adjust: tuple[str, ...] = ("age_group", "sex", "period"), min_level: int | None = None,
                  keys: bool = False) -> pd.DataFrame:
    """Cox model: cohort as a factor (reference: the first cohort), adjusted for `adjust`; an
    adjustment nested in the cohorts (cohorts defined by age group, say) is left out and named
    in `attrs["left_out"]`.

    For the viewer's release layer (both off by default), as `survival.cox`: `min_level` leaves
    out the levels (cohorts included) with fewer cases (`attrs["dropped_levels"]`, cohorts by
    name), `keys` adds the record-key sums; either adds `survival.cox_level_events` to `attrs`
    (term names as in the result)."""
    _check(cohorts)
    frames, counts, notes = [], [], []
    for i, c in enumerate(cohorts):
        # the rows, and the children of aggregate partners' survival events (analytics.pooled), as
        # counts per covariate pattern and day (`survival.pattern_counts`: no rows in Python)
        source, params = pooled.followup_rows_sql(c.selection, adjust)
        patterns, (pinv, t, d, n) = survival.pattern_counts(con, source, params, list(adjust), keys)
        offset = sum(len(f) for f in frames)  # a tumour in two cohorts is in both, as a row of each
        frames.append(patterns.assign(cohort=f"{i + 1}:{c.name}"))  # numbered: the first cohort is the reference
        counts.append((pinv + offset, t, d, n))
        notes += [n for n in pooled.left_out(con, "agg_survival_events", c.selection, adjust, what="the Cox model")
                  if n not in notes]
    df = pd.concat(frames, ignore_index=True)  # one row per (cohort, pattern): its index is the pattern
    counts = tuple(np.concatenate(a) for a in zip(*counts))
    if df["n"].sum() < threshold() or df["event"].sum() == 0:
        raise SelectionError("too few cases or no deaths for a Cox model")
    covariates = ["cohort", *adjust]
    dropped = []
    if min_level:
        df, dropped = survival.drop_small_levels(df, covariates, set(), min_level, weight="n")
    if df.dropna(subset=covariates)["cohort"].nunique() < 2:  # nothing left to compare the first cohort with
        raise SelectionError("fewer than two cohorts left with cases for a Cox model")
    left_out = []
    while len(covariates) > 1 and not _full_rank(df, covariates):
        # an adjustment nested in the cohorts (cohorts defined by age, say): its effect and the
        # cohorts' cannot be told apart, so it is left out (the first whose removal mends it)
        c = next((c for c in covariates[1:] if _full_rank(df, [x for x in covariates if x != c])), covariates[-1])
        covariates.remove(c)
        left_out.append(c)
    res = survival.fit_patterns(df, counts, covariates)
    res.attrs["left_out"] = left_out
    res.attrs["notes"] = notes
    res.attrs["reference"] = {c: re.sub(r"^\d+:", "", v) if c == "cohort" else v
                              for c, v in res.attrs.get("reference", {}).items()}
    res["term"] = res["term"].str.replace(r"^cohort=\d+:", "cohort=", regex=True)
    if min_level or keys:
        unnumbered = lambda v: re.sub(r"^(cohort=)?\d+:", r"\1", v)  # noqa: E731
        res.attrs["dropped_levels"] = [(c, unnumbered(v) if c == "cohort" else v) for c, v in dropped]
        extra = survival.cox_level_events(df, covariates, set(), "event", "record_key" if keys else None,
                                          "event_key" if keys else None)
        extra["term_events"] = {unnumbered(t): d for t, d in extra["term_events"].items()}
        res.attrs.update(extra)
    return res
