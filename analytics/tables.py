"""Tables as people read them in papers: estimates with their confidence intervals in one cell
("93.4 (92.6–94.1)"), survival at 1, 3, 5 and 10 years as columns, codes in words
(`analytics.labels`). Formatting only: the numbers come released from `analytics.release`, and
a released frame stays released (`analytics.disclosure.stamp`)."""
from __future__ import annotations

import pandas as pd

from analytics import disclosure, labels

#: What an estimate that is not shown reads as (suppressed, not estimable, past the curve's end).
NOT_SHOWN = "–"

#: Columns whose codes are shown in words (the CSV download keeps the codes).
WORD_COLUMNS = labels.WORDED  # the columns shown in words (one list: `labels.WORDED`)


def estimate(value: float, lower: float, upper: float, percent: bool = True, digits: int = 1) -> str:
    """'93.4 (92.6–94.1)': a proportion as a percentage (or a value as is) with its 95% CI;
    `NOT_SHOWN` when the value is missing. A CI with a negative limit (a difference) reads
    '(-0.05 to 0.01)', as a dash beside a minus sign would not."""
    if value is None or pd.isna(value):
        return NOT_SHOWN
    k = 100 if percent else 1
    if lower is None or upper is None or pd.isna(lower) or pd.isna(upper):
        return f"{value * k:.{digits}f}"
    sep = " to " if lower < 0 or upper < 0 else "–"
    return f"{value * k:.{digits}f} ({lower * k:.{digits}f}{sep}{upper * k:.{digits}f})"


def years_label(t: float) -> str:
    """1 -> '1 year', 5 -> '5 years', 2.5 -> '2.5 years'."""
    t = float(t)
    n = f"{t:g}"
    return f"{n} year" if t == 1 else f"{n} years"


def conditional_label(row) -> str:
    """The column of a conditional-survival estimate: '5 years if alive at 1, % (95% CI)'."""
    return f"{years_label(row['years'])} if alive at {row['given_alive_at']:g}, % (95% CI)"


def survival_wide(at_times: pd.DataFrame, by: list[str], value: str = "survival", lower: str = "lower",
                  upper: str = "upper", column=None, percent: bool = True, digits: int = 1) -> pd.DataFrame:
    """Survival at fixed times with one row per group and one column per time, each cell
    'survival % (95% CI)' — the layout of survival tables in papers and in SEER*Explorer.
    Groups keep their order in `at_times`; a hidden estimate reads `NOT_SHOWN`. `column`: a
    row -> column-label function (default: the row's `time_years`; `conditional_label` for
    conditional survival). `percent`, `digits`: as `estimate` (years to two decimals, say)."""
    d = at_times.copy()
    d["_cell"] = [estimate(v, lo, hi, percent, digits) for v, lo, hi in zip(d[value], d[lower], d[upper])]
    d["_col"] = ([column(r) for _, r in d.iterrows()] if column else
                 d["time_years"].map(lambda t: f"{years_label(t)}, % (95% CI)"))
    cols = list(dict.fromkeys(d["_col"]))
    if by:
        keys = list(dict.fromkeys(map(tuple, d[by].astype(object).itertuples(index=False))))
        wide = d.pivot_table(index=by, columns="_col", values="_cell", aggfunc="first", dropna=False, sort=False)
        wide = wide.reindex(pd.MultiIndex.from_tuples(keys, names=by) if len(by) > 1 else [k[0] for k in keys])
        out = wide[cols].reset_index()
    else:
        out = pd.DataFrame({c: [d.loc[d["_col"] == c, "_cell"].iloc[0]] for c in cols})
    out.columns.name = None
    return disclosure.stamp(out) if disclosure.is_released(at_times) else out


def in_words(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` for the screen with country, sex, age-group and stage codes in words
    ('Kenya', 'Female', 'Under 1 year', 'L1: neuroblastoma INRGSS L1'); a missing value reads
    'Unknown'. The frame's release stamp is kept."""
    out = df.copy()
    for col in WORD_COLUMNS:
        if col in out.columns and out[col].dtype.kind not in "fc":
            out[col] = [labels.level(col, v) for v in out[col]]
    if {"characteristic", "level"} <= set(out.columns):  # a cohort's mix: the level of each characteristic
        out["level"] = [labels.level(c, v) if c in WORD_COLUMNS else v
                        for c, v in zip(out["characteristic"], out["level"])]
    if "characteristic" in out.columns:
        out["characteristic"] = [labels.COLUMN.get(c, str(c).capitalize()) for c in out["characteristic"]]
    return out


def rmst_label(row) -> str:
    """The column of a restricted mean: 'To 5 years, years (95% CI)'."""
    return f"To {years_label(row['tau_years'])}, years (95% CI)"


def followup_cells(followup: pd.DataFrame) -> pd.DataFrame:
    """Median follow-up as read in papers: the group and one cell 'median (95% CI)' in years to
    one decimal; 'not reached' where fewer than half were censored (or a limit is not reached)."""
    def years(v) -> str:
        return "not reached" if pd.isna(v) else f"{v:.1f}"

    by = [c for c in followup.columns if c not in ("median_followup_years", "lower", "upper")]
    out = followup[by].copy()
    out["Median follow-up, years (95% CI)"] = [
        years(m) if pd.isna(m) else f"{years(m)} ({years(lo)}–{years(hi)})"
        for m, lo, hi in zip(followup["median_followup_years"], followup["lower"], followup["upper"])]
    return disclosure.stamp(out) if disclosure.is_released(followup) else out


def median_cells(medians: pd.DataFrame) -> pd.DataFrame:
    """Median survival as read in papers: the group, its cases and deaths, and one cell 'median
    (95% CI)' in years to two decimals; 'not reached' where survival (or a confidence limit)
    stays above 50%. The release stamp is kept."""
    def years(v) -> str:
        return "not reached" if pd.isna(v) else f"{v:.2f}"

    out = medians.drop(columns=["median", "median_lower", "median_upper"]).copy()
    out["median_ci"] = [years(m) if pd.isna(m) else f"{years(m)} ({years(lo)}–{years(hi)})"
                        for m, lo, hi in zip(medians["median"], medians["median_lower"], medians["median_upper"])]
    return out
