"""Released tables on screen: readable headers, percentages and p-values as read in papers, each
with a CSV download of the same rows; the survival pages' medians, survival-at-times tables and
log-rank sentence."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import disclosure, iccc, suppression, tables
from analytics.safe_text import csv_comment, csv_frame
from ui.cache import pool_summary
from ui.connection import snapshot
from ui.page import SYNTHETIC_NOTICE


#: Display names of result columns (CSV downloads keep the machine-readable names).
LABELS = {
    "iccc_main": "ICCC-3 group", "name": "Name", "cases": "Tumours (n)", "country": "Country",
    "first_year": "First year", "last_year": "Last year", "person_years": "Person-years",
    "submission_id": "Submission", "file_name": "File", "kind": "Kind of file", "sent_as": "Sent as", "rows_read": "Rows read",
    "rows_loaded": "Loaded", "rows_rejected": "Rejected", "rows_unclassified": "Unclassified",
    "synthetic": "Synthetic", "loaded_at": "Loaded at (UTC)", "sha256_prefix": "SHA-256 (start)",
    "schema_version": "Schema", "iccc_version": "ICCC version", "reason": "Reason", "rows": "Rows",
    "iccc_sub": "ICCC-3 subgroup", "iccc_main_name": "Group name", "iccc_sub_name": "Subgroup name", "sex": "Sex", "age_group": "Age group", "age_band": "Age group",
    "year": "Year", "period": "Period", "crude_rate": "Crude rate", "crude_lower": "Crude lower 95%",
    "crude_upper": "Crude upper 95%", "asr": "Age-standardised rate", "asr_lower": "ASR lower 95%",
    "asr_upper": "ASR upper 95%", "rate": "Rate", "lower": "Lower 95%", "upper": "Upper 95%",
    "apc": "APC (%/year)", "apc_lower": "APC lower 95%", "apc_upper": "APC upper 95%",
    "time_years": "Years", "n_at_risk": "At risk", "survival": "Survival", "std_err_surv": "SE",
    "n": "Cases", "events": "Deaths", "median": "Median (years)", "median_lower": "Median lower 95%",
    "median_upper": "Median upper 95%", "median_ci": "Median, years (95% CI)", "term": "Term", "label": "Term", "hr": "Hazard ratio", "hr_lower": "HR lower 95%",
    "hr_upper": "HR upper 95%", "p": "p",
    "incidence_suppressed": "Incidence suppressed", "surv5": "5-year survival", "surv5_lower": "5-year lower 95%",
    "surv5_upper": "5-year upper 95%", "n_survival": "Cases analysed (survival)", "net5": "5-year net survival",
    "net5_lower": "Net lower 95%", "net5_upper": "Net upper 95%",
    "net5_std": "5-year net survival, age-standardised", "net5_std_lower": "Age-std. net lower 95%",
    "net5_std_upper": "Age-std. net upper 95%", "dco_share": "DCO share",
    "mv_share": "Microscopically verified", "median_followup_years": "Median follow-up (years)",
    "excluded_share": "Excluded from survival", "under5_share": "Under 5 years", "caveat": "Caveat", "given_alive_at": "Given alive at (years)",
    "years": "Years", "cohort": "Cohort", "age_median": "Median age (years)", "age_q1": "Age, 1st quartile",
    "age_q3": "Age, 3rd quartile", "characteristic": "Characteristic", "level": "Level", "test": "Test",
    "statistic": "Statistic", "df": "df", "share": "Share",
    "countries": "Countries", "flag": "Flag", "age_unknown_share": "Age unknown",
    "sex_unknown_share": "Sex unknown", "stage_unknown_share": "Stage unknown",
    "followup_completeness_share": "Follow-up completeness", "followup_to": "Follow-up to",
}


def _with_names(df: pd.DataFrame) -> pd.DataFrame:
    """Every ICCC-3 code column gets its plain-language name beside it."""
    out = df
    for col, names in (("iccc_main", iccc.MAIN_GROUPS), ("iccc_sub", iccc.subgroup_names())):
        if col in out.columns and f"{col}_name" not in out.columns:
            out = out.copy()
            out.insert(out.columns.get_loc(col) + 1, f"{col}_name", out[col].map(names))
    return out


def p_text(p: float) -> str:
    """A p-value as read in papers: "<0.001" below 0.001, else three decimals; blank if missing."""
    return "" if pd.isna(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def _percent_columns(df: pd.DataFrame) -> list[str]:
    """Columns holding proportions: survival probabilities and their CI limits and standard
    error (in a table with a `survival` column), 5-year observed and net survival (surv5, net5
    and their limits), and shares (dco_share, share, ...)."""
    survival = {"survival", "lower", "upper", "std_err_surv"} if "survival" in df.columns else set()
    return [c for c in df.columns if df[c].dtype.kind == "f" and (
        c in survival or c.startswith(("surv5", "net5")) or c == "share" or c.endswith("_share"))]


def table(df: pd.DataFrame, file_name: str, footnote: str | None = None, percent: list[str] = (),
          csv: pd.DataFrame | None = None, widths: dict[str, str] | None = None, **kw) -> None:
    """A table with readable headers and a CSV download of the same rows (machine-readable
    headers, full precision; the footnote and the synthetic-data notice as '#' header comments,
    which pandas' comment='#' skips; text that a spreadsheet would run as a formula starts with
    a single quote: `analytics.safe_text`). ICCC-3 codes carry their names; suppressed cells read
    "suppressed, fewer than N cases" in a note column. On screen, proportions (`percent`, and
    the columns `_percent_columns` recognises) read as percentages and p-values as "<0.001".

    Only frames released by `analytics.release` (stamped, `disclosure.is_released`) are shown:
    anything else raises DisclosureError, so a page that forgets disclosure control fails closed.
    `widths` sets a column's width by its name."""
    if not disclosure.is_released(df) or (csv is not None and not disclosure.is_released(csv)):
        raise disclosure.DisclosureError(f"{file_name}: this table did not come out of analytics.release")
    df = _with_names(df)
    shown = df
    if "suppressed" in df.columns:
        shown = df.drop(columns="suppressed")
        if df["suppressed"].any():
            shown = shown.assign(note=df["suppressed"].map({True: suppression.notice(), False: ""}))
    shown = tables.in_words(shown)  # countries, sex, age groups and stages in words, as the figures name them
    if "label" in shown.columns and "term" in shown.columns:  # a model's terms in words only
        shown = shown.drop(columns="term")
    named = [c for c in percent if c in shown.columns]  # the caller's columns (cohort names, say): as named
    # a column already named in words (e.g. '5 years, % (95% CI)') keeps its name
    label = {c: c if c in named or " " in c else LABELS.get(c, c.replace("_", " ").capitalize()) for c in shown.columns}
    config = {c: st.column_config.Column(label[c]) for c in shown.columns}
    percent = [*named, *(c for c in _percent_columns(shown) if c not in named)]
    if "p" in shown.columns and "p" not in named:
        shown = shown.assign(p=shown["p"].map(p_text))
    for c in shown.columns:
        if c in percent:
            config[c] = st.column_config.NumberColumn(label[c], format="%.1f%%")
        elif c in ("cases", "person_years", "rows", "rows_read", "rows_loaded", "rows_rejected", "n", "events",
                   "n_at_risk", "n_survival"):
            config[c] = st.column_config.NumberColumn(label[c], format="localized")
        elif shown[c].dtype.kind == "f":  # whole numbers (1, 5 and 10 years; counts with gaps) without decimals
            whole = bool(((shown[c] % 1 == 0) | shown[c].isna()).all())
            # released to one decimal (a median follow-up in years): shown so, not padded to two
            tenths = bool(((shown[c].round(1) == shown[c]) | shown[c].isna()).all())
            config[c] = st.column_config.NumberColumn(label[c], format="%d" if whole else "%.1f" if tenths else "%.2f")
    if percent:  # shown as percentages, one decimal (93.2%), as SEER*Explorer shows survival
        shown = shown.assign(**{c: shown[c] * 100 for c in percent})
    shown = shown.copy(deep=False)
    shown.attrs = {}  # analytics' side results (a fitted model, weights) are not for the browser
    below = disclosure.policy().below
    for c in [c for c in shown.columns if str(shown[c].dtype) == "Int64" and shown[c].isna().any()]:
        # a hidden count reads "<T" (the policy's label) rather than "None": the column becomes text
        shown[c] = shown[c].map(lambda v: below if pd.isna(v) else f"{int(v):,}").astype(object)
        config[c] = st.column_config.TextColumn(label[c])
    first = shown.columns[0] if len(shown.columns) else None
    if first is not None and len(shown.columns) > 5 and shown[first].dtype == object:  # the row's name stays in view when a wide table scrolls
        config[first] = st.column_config.Column(label[first], pinned=True)
    # every row in view up to 40 rows (no ten-row window); longer tables scroll inside 40 rows
    kw.setdefault("height", "content" if len(shown) <= 40 else 35 * 41 + 3)
    for c in [c for c in shown.columns if shown[c].dtype.kind == "f" and shown[c].isna().any()]:
        # a value not shown reads as a dash, not "None": the column becomes text in its format
        num_format = (config[c].get("type_config") or {}).get("format")
        fmt = "{:.1f}%" if c in percent else "{:,.0f}" if num_format == "%d" else "{:.1f}" if num_format == "%.1f" \
            else "{:.2f}"
        shown[c] = shown[c].map(lambda v, f=fmt: tables.NOT_SHOWN if pd.isna(v) else f.format(v)).astype(object)
        config[c] = st.column_config.TextColumn(label[c])
    for c, w in (widths or {}).items():  # a column of words read whole ("small", "medium", "large")
        if c in config:
            config[c] = {**config[c], "width": w}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kw)
    info = pool_summary(snapshot())
    lines = [ln for ln in (footnote or "").split("\n") if ln and "Synthetic demonstration" not in ln]
    lines += [SYNTHETIC_NOTICE] if info["synthetic"] else []
    header = "".join(f"{csv_comment(ln)}\n" for ln in lines)
    st.download_button("Download CSV", header + csv_frame(df if csv is None else csv).to_csv(index=False),
                       file_name=file_name,
                       mime="text/csv", key=f"dl-{file_name}")


def logrank_line(lr: dict, across: str) -> None:
    """The log-rank result in one sentence (p below 0.001 shown as such), with the cases left out
    for an unknown value (a released `Count`), or why there is no test."""
    left_out = (f" ({lr['n_excluded']} cases with unknown {across} left out of the test)"
                if lr.get("n_excluded") is not None else "")
    if lr.get("reason") or pd.isna(lr["chisq"]):
        st.caption(f"Log-rank test across {across} not available: {lr.get('reason') or 'no test statistic'}.")
        return
    p = "p < 0.001" if lr["p"] < 0.001 else f"p = {lr['p']:.3f}"
    st.markdown(f"**Log-rank test** across {across}: χ² = {lr['chisq']:.2f}, df = {lr['df']}, {p}{left_out}")


def survival_tables(res: dict, prefix: str, footnote: str) -> None:
    """Survival at 1/3/5/10 years as read in papers (a row per group, a column per time, each
    cell 'survival % (95% CI)'; the CSV keeps one row per group and time with every column)
    beside the medians, each with its CSV download (released frames of
    `analytics.release.curves`; net survival has no medians)."""
    at = res["at_times"]
    by = list(at.columns[:list(at.columns).index("time_years")])
    wide = tables.survival_wide(at, by)
    what = "Net survival" if res.get("medians") is None else "Survival"
    st.markdown(f"**{what} at 1, 3, 5 and 10 years**, % (95% CI)")
    table(wide, f"{prefix}survival_at_times.csv", footnote=footnote, csv=at)
    if (at["survival"].isna()).any():
        st.caption(f"{tables.NOT_SHOWN}: not shown, because fewer than {disclosure.policy().threshold} remain at "
                   "risk by then (or the group is too small to show).")
    if res.get("conditional") is not None:
        st.markdown("**Conditional survival**: the chance of reaching a later year for those alive at an "
                    "earlier one, % (95% CI)")
        table(tables.survival_wide(res["conditional"], by, column=tables.conditional_label),
              f"{prefix}conditional_survival.csv", footnote=footnote, csv=res["conditional"])
        st.caption("S(t) / S(s), with a CI from the Greenwood variance of the interval.")
    if res.get("medians") is not None:
        st.markdown("**Median survival** (years)")
        table(tables.median_cells(res["medians"]), f"{prefix}median_survival.csv", footnote=footnote,
              csv=res["medians"])
        st.caption(f"Not reached: survival (or its confidence limit) stays above 50% while at least "
                   f"{disclosure.policy().threshold} remain at risk.")
