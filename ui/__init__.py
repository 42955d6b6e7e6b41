"""Streamlit glue shared by the pages: the cached warehouse connection and the common notices.

Pages stay thin: widgets and URL state in, an `analytics` call, a figure or table out.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from analytics import disclosure, iccc, overview, suppression, warehouse
from analytics.safe_text import csv_comment, csv_frame, markdown_text
from analytics.filters import Selection

SYNTHETIC_NOTICE = ("Synthetic demonstration data: these cases are simulated (calibrated to published "
                    "figures) and are not real patients or real outcomes.")


def db_path() -> Path:
    """The warehouse the app reads: $CCOE_DB, else data/warehouse.duckdb."""
    return Path(os.environ.get("CCOE_DB") or warehouse.DEFAULT_DB)


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    return warehouse.connect(path, read_only=True)


def connection() -> duckdb.DuckDBPyConnection:
    """A cursor on the one cached read-only connection (a cursor per use keeps threads apart)."""
    return _connection(str(db_path())).cursor()


@st.cache_data(show_spinner=False, ttl=60)
def _pool_summary(path: str, threshold: int) -> dict:
    from analytics.release import pool

    return pool.summary(_connection(path).cursor())


def pool_summary(path: str) -> dict:
    """The pool in figures as a viewer sees it (`analytics.release.pool.summary`: the tumours as a
    released `Count`, `empty` for an empty warehouse, the data-version line), cached per
    warehouse and threshold."""
    from analytics.disclosure import policy

    return _pool_summary(path, policy().threshold)


def page_header(title: str) -> dict:
    """Title plus the notices every page carries; returns the pool summary."""
    st.title(title)
    path = db_path()
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Build it with `python -m analytics demo` "
                 f"(or start the app with `python3 dev.py run`, which does it for you).")
        st.stop()
    info = pool_summary(str(path))
    if st.query_params.get("present") == "on":
        presentation_mode()
    if info["synthetic"]:
        st.warning(SYNTHETIC_NOTICE, icon="⚠️")
    return info


_PRESENTATION_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stToolbar"],
[data-testid="stExpander"], [data-testid="stDownloadButton"] { display: none !important; }
html, [data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.25rem !important; }
[data-testid="stMetricValue"] { font-size: 3rem !important; }
h1 { font-size: 3.2rem !important; } h2, h3 { font-size: 2.2rem !important; }
</style>"""


def presentation_mode() -> None:
    """Controls hidden, fonts enlarged (URL: ?present=on), with a way back."""
    st.markdown(_PRESENTATION_CSS, unsafe_allow_html=True)
    if st.button("Exit presentation mode", icon=":material/close_fullscreen:"):
        del st.query_params["present"]
        st.rerun()


#: Display names of result columns (CSV downloads keep the machine-readable names).
LABELS = {
    "iccc_main": "ICCC-3 group", "name": "Name", "cases": "Tumours (n)", "country": "Country",
    "first_year": "First year", "last_year": "Last year", "person_years": "Person-years",
    "submission_id": "Submission", "file_name": "File", "rows_read": "Rows read",
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
    "median_upper": "Median upper 95%", "term": "Term", "hr": "Hazard ratio", "hr_lower": "HR lower 95%",
    "hr_upper": "HR upper 95%", "p": "p",
    "incidence_suppressed": "Incidence suppressed", "surv5": "5-year survival", "surv5_lower": "5-year lower 95%",
    "surv5_upper": "5-year upper 95%", "n_survival": "Cases analysed (survival)", "net5": "5-year net survival",
    "net5_lower": "Net lower 95%", "net5_upper": "Net upper 95%", "dco_share": "DCO share",
    "mv_share": "Microscopically verified", "median_followup_years": "Median follow-up (years)",
    "excluded_share": "Excluded from survival", "under5_share": "Under 5 years", "caveat": "Caveat", "given_alive_at": "Given alive at (years)",
    "years": "Years", "cohort": "Cohort", "age_median": "Median age (years)", "age_q1": "Age, 1st quartile",
    "age_q3": "Age, 3rd quartile", "characteristic": "Characteristic", "level": "Level", "test": "Test",
    "statistic": "Statistic", "df": "df", "share": "Share",
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
          **kw) -> None:
    """A table with readable headers and a CSV download of the same rows (machine-readable
    headers, full precision; the footnote and the synthetic-data notice as '#' header comments,
    which pandas' comment='#' skips; text that a spreadsheet would run as a formula starts with
    a single quote: `analytics.safe_text`). ICCC-3 codes carry their names; suppressed cells read
    "suppressed, fewer than N cases" in a note column. On screen, proportions (`percent`, and
    the columns `_percent_columns` recognises) read as percentages and p-values as "<0.001".

    Only frames released by `analytics.release` (stamped, `disclosure.is_released`) are shown:
    anything else raises DisclosureError, so a page that forgets disclosure control fails closed."""
    if not disclosure.is_released(df):
        raise disclosure.DisclosureError(f"{file_name}: this table did not come out of analytics.release")
    df = _with_names(df)
    shown = df
    if "suppressed" in df.columns:
        shown = df.drop(columns="suppressed")
        if df["suppressed"].any():
            shown = shown.assign(note=df["suppressed"].map({True: suppression.notice(), False: ""}))
    if "stage" in shown.columns and "stage" not in percent:  # as the figures label it
        shown = shown.assign(stage=shown["stage"].astype(object).where(shown["stage"].notna(), "Unknown"))
    named = [c for c in percent if c in shown.columns]  # the caller's columns (cohort names, say): as named
    label = {c: c if c in named else LABELS.get(c, c.replace("_", " ").capitalize()) for c in shown.columns}
    config = {c: st.column_config.Column(label[c]) for c in shown.columns}
    percent = [*named, *(c for c in _percent_columns(shown) if c not in named)]
    if "p" in shown.columns and "p" not in named:
        shown = shown.assign(p=shown["p"].map(p_text))
    for c in shown.columns:
        if c in percent:
            config[c] = st.column_config.NumberColumn(label[c], format="%.1f%%")
        elif c in ("cases", "person_years", "rows", "rows_read", "rows_loaded", "rows_rejected"):
            config[c] = st.column_config.NumberColumn(label[c], format="localized")
        elif shown[c].dtype.kind == "f":  # whole numbers (1, 5 and 10 years; counts with gaps) without decimals
            whole = bool(((shown[c] % 1 == 0) | shown[c].isna()).all())
            config[c] = st.column_config.NumberColumn(label[c], format="%d" if whole else "%.2f")
    if percent:  # shown as percentages, one decimal (93.2%), as SEER*Explorer shows survival
        shown = shown.assign(**{c: shown[c] * 100 for c in percent})
    shown = shown.copy(deep=False)
    shown.attrs = {}  # analytics' side results (a fitted model, weights) are not for the browser
    below = disclosure.policy().below
    for c in [c for c in shown.columns if str(shown[c].dtype) == "Int64" and shown[c].isna().any()]:
        # a hidden count reads "<T" (the policy's label) rather than "None": the column becomes text
        shown[c] = shown[c].map(lambda v: below if pd.isna(v) else f"{int(v):,}").astype(object)
        config[c] = st.column_config.TextColumn(label[c])
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kw)
    info = pool_summary(str(db_path()))
    lines = [ln for ln in (footnote or "").split("\n") if ln and "Synthetic demonstration" not in ln]
    lines += [SYNTHETIC_NOTICE] if info["synthetic"] else []
    header = "".join(f"{csv_comment(ln)}\n" for ln in lines)
    st.download_button("Download CSV", header + csv_frame(df).to_csv(index=False), file_name=file_name,
                       mime="text/csv", key=f"dl-{file_name}")


def tumour_options() -> dict[str, str]:
    """'' (all), the ICCC-3 main groups and subgroups, each with its name."""
    out = {"": "All tumours (ICCC-3 I-XII)"}
    d = iccc.definition()
    main_of = dict(zip(d["subgroup"], d["main_group"]))
    for g, name in iccc.MAIN_GROUPS.items():
        out[g] = f"{g}  {name}"
        out.update({s: f"    {s}  {n}" for s, n in iccc.subgroup_names().items()
                    if main_of[s] == g and s != g})
    return out


def _selection(filters: tuple, years: tuple) -> Selection:
    return Selection.build({k: list(v) for k, v in filters}, years)


def cached_incidence(db: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                     by: tuple = ()):
    """The Incidence page's released rates (`analytics.release.rates.incidence`: a `Rates`),
    cached per selection and disclosure policy (a change of CCOE_MIN_CELL is not served from the
    cache)."""
    from analytics.disclosure import policy

    return _cached_incidence(db, filters, years, ages, standard, ci, tuple(by), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=256)
def _cached_incidence(db: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                      by: tuple, pol):
    from analytics.release import rates

    return rates.incidence(_connection(db).cursor(), _selection(filters, years), list(by), ages=ages,
                           standard=standard, ci=ci, pol=pol)


def cached_trend(db: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                 by: tuple = ()) -> pd.DataFrame:
    """The released annual percent change (`analytics.release.rates.trend`), cached per selection
    and disclosure policy."""
    from analytics.disclosure import policy

    return _cached_trend(db, filters, years, ages, standard, ci, tuple(by), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=256)
def _cached_trend(db: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                  by: tuple, pol) -> pd.DataFrame:
    from analytics.release import rates

    return rates.trend(_connection(db).cursor(), _selection(filters, years), list(by), ages=ages,
                       standard=standard, ci=ci, pol=pol)


@st.cache_data(show_spinner=False, ttl=600, max_entries=128)
def _cached_survival(db: str, filters: tuple, years: tuple | None, by: tuple, conf_type: str, method: str,
                     min_at_risk: int, threshold: int) -> dict:
    from analytics.release import curves

    return curves.survival(_connection(db).cursor(), _selection(filters, years), list(by), conf_type,
                           method=method, min_at_risk=min_at_risk)


def cached_survival(db: str, filters: tuple, years: tuple | None, by: tuple, conf_type: str,
                    method: str = "km", min_at_risk: int = 10) -> dict:
    """What the Survival page shows of Kaplan-Meier (or net survival) per group, released
    (`analytics.release.curves.survival`: rounded, truncated curves, numbers at risk, survival at
    1/3/5/10 years, medians, notes, the log-rank test), cached per selection and threshold."""
    return _cached_survival(db, filters, years, by, conf_type, method, min_at_risk, disclosure.policy().threshold)


COX_MAX_TERMS = 25  # more hazard ratios than a forest plot can show, and minutes of fitting


@st.cache_resource(show_spinner=False, ttl=600, max_entries=16)
def _cox_model(db: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    """The fitted model (levels with fewer cases than the threshold left out) with its lazily
    computed proportional-hazards check (not picklable, so a resource: the same read-only result
    for every session). Exact: pages get it only through `cached_cox` and `cached_ph_test`."""
    from analytics.release import curves

    return curves.cox_model(_connection(db).cursor(), _selection(filters, years), list(covariates),
                            max_terms=COX_MAX_TERMS)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_cox(db: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    from analytics.release import curves

    return curves.cox_table(_cox_model(db, filters, years, covariates, threshold))


def cached_cox(db: str, filters: tuple, years: tuple | None, covariates: tuple) -> pd.DataFrame:
    """Hazard ratios as a viewer sees them (`analytics.release.curves.cox_table`; `attrs["note"]`
    says which levels were left out or hidden), cached per selection and threshold."""
    return _cached_cox(db, filters, years, covariates, disclosure.policy().threshold)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_ph_test(db: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    from analytics.release import curves

    return curves.ph_table(_cox_model(db, filters, years, covariates, threshold))


def cached_ph_test(db: str, filters: tuple, years: tuple | None, covariates: tuple) -> pd.DataFrame:
    """The proportional-hazards check of `cached_cox`'s model (computed when first asked for)."""
    return _cached_ph_test(db, filters, years, covariates, disclosure.policy().threshold)


def year_range_widget(state, name: str, lo: int, hi: int) -> None:
    """A years-of-diagnosis slider backed by the URL; a fixed caption when the pool has one year."""
    key = state.int_range(name, lo, hi, (lo, hi))
    if lo == hi:
        st.session_state[key] = (lo, hi)
        st.caption(f"Year of diagnosis: {lo} (the only year in the pool)")
    else:
        st.slider("Years of diagnosis", lo, hi, key=key)


def cached_rate_ratio(db: str, filters: tuple, ages: str, standard: str, period1: tuple,
                      period2: tuple) -> dict:
    """The released rate ratio of two periods (`analytics.release.rates.rate_ratio`), cached per
    selection and disclosure policy."""
    from analytics.disclosure import policy

    return _cached_rate_ratio(db, filters, ages, standard, tuple(period1), tuple(period2), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=128)
def _cached_rate_ratio(db: str, filters: tuple, ages: str, standard: str, period1: tuple,
                       period2: tuple, pol) -> dict:
    from analytics.release import rates

    return rates.rate_ratio(_connection(db).cursor(), _selection(filters, None), period1, period2,
                            ages=ages, standard=standard, pol=pol)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_age_standardised(db: str, filters: tuple, years: tuple | None, by: tuple, weights: str,
                             conf_type: str, threshold: int) -> pd.DataFrame:
    from analytics.release import curves

    return curves.age_standardised(_connection(db).cursor(), _selection(filters, years), list(by),
                                   weights=weights, conf_type=conf_type)


def cached_age_standardised(db: str, filters: tuple, years: tuple | None, by: tuple, weights: str,
                            conf_type: str) -> pd.DataFrame:
    """Age-standardised survival from the rounded curves (`analytics.release.curves`), cached per
    selection and threshold."""
    return _cached_age_standardised(db, filters, years, by, weights, conf_type, disclosure.policy().threshold)


def cached_international(db: str, filters: tuple, years: tuple | None, ages: str, standard: str,
                         ci: str) -> dict:
    """The International page, released (`analytics.release.international`), cached per
    selection and disclosure policy."""
    return _cached_international(db, filters, years, ages, standard, ci, disclosure.policy().threshold)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_international(db: str, filters: tuple, years: tuple | None, ages: str, standard: str,
                          ci: str, min_cell: int) -> dict:
    from analytics.release.international import international

    return international(_connection(db).cursor(), _selection(filters, years), ages=ages,
                         standard=standard, ci=ci)


def chart(fig, name: str, config: dict | None = None) -> None:
    """A Plotly figure whose camera button saves a slide-ready PNG: 1920 x 1080 pixels at double
    density (960 x 540 layout, scale 2), footnote and notices included (they are in the figure).
    Only figures released by `analytics.release` are shown (else DisclosureError: fail closed)."""
    if not disclosure.is_released(fig):
        raise disclosure.DisclosureError(f"{name}: this figure did not come out of analytics.release")
    cfg = {"displaylogo": False,
           "toImageButtonOptions": {"format": "png", "filename": name, "width": 960, "height": 540, "scale": 2}}
    cfg.update(config or {})
    if st.query_params.get("present") == "on":
        fig.update_layout(font_size=18, title_font_size=24)
    st.plotly_chart(fig, width="stretch", config=cfg)
    from analytics.export import figure_bytes

    title = str(fig.layout.title.text or name)
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:60] or name
    cols = st.columns([1, 1, 6])
    for col, fmt, mime in ((cols[0], "png", "image/png"), (cols[1], "svg", "image/svg+xml")):
        col.download_button(f"{fmt.upper()}", data=lambda f=fmt: figure_bytes(fig, f), file_name=f"{slug}.{fmt}",
                            mime=mime, key=f"export-{name}-{slug}-{fmt}", icon=":material/download:",
                            help="Slide-sized figure (1920 x 1080 PNG, or SVG) with its legend, footnote and notices")


def _cohorts(spec: tuple):
    from analytics.release.curves import Cohort

    return [Cohort(name, _selection(filters, years)) for name, filters, years in spec]


@st.cache_data(show_spinner=False, ttl=600, max_entries=32)
def _cached_cohorts(db: str, spec: tuple, conf_type: str, min_at_risk: int, threshold: int) -> dict:
    from analytics.release import curves

    return curves.cohorts(_connection(db).cursor(), _cohorts(spec), conf_type, min_at_risk)


def cached_cohorts(db: str, spec: tuple, conf_type: str, min_at_risk: int) -> dict:
    """Everything the cohort page shows, released (`analytics.release.curves.cohorts`), for cohorts
    given as (name, filters, years) tuples; cached per cohorts and threshold."""
    return _cached_cohorts(db, spec, conf_type, min_at_risk, disclosure.policy().threshold)


#: One-line explanations of each method, with its reference, for widget tooltips.
METHOD_HELP = {
    "standard": "Direct age standardisation: the rates by age band weighted by a standard population. "
                "Segi 1960 world standard as modified by Doll (1966), used by IICC-3; WHO world standard "
                "2000-2025 (Ahmad et al. 2001); European Standard Population 2013 (Eurostat).",
    "ci_rate": "95% CI of the age-standardised rate: Tiwari, Clegg & Zou, Stat Methods Med Res 2006 "
               "(SEER*Stat's default) or Fay & Feuer, Stat Med 1997 (gamma interval, as R's epitools).",
    "ci_surv": "Pointwise 95% CI of Kaplan-Meier survival from the Greenwood variance: log-log "
               "(Kalbfleisch & Prentice; stays within 0-1), log, or plain (S ± 1.96 SE).",
    "measure": "Observed: Kaplan-Meier (all deaths). Net: Pohar Perme, Stare & Esteve, Biometrics 2012 "
               "(cancer survival removing other causes with population life tables). Relative: Ederer II "
               "(Ederer & Heise 1959).",
    "ages": "Completed years at diagnosis; rates use the five-year bands 0-4, 5-9, 10-14, 15-19.",
}


# --- the common frame of the analysis pages -------------------------------------------------------

class AnalysisPage:
    """What every analysis page starts from: title and notices, the pool's countries and years,
    its URL-backed state, the tumour-type options. Stops the page on an empty warehouse."""

    def __init__(self, title: str, key: str):
        from ui.state import PageState

        self.info = page_header(title)
        if self.info["empty"]:
            st.info("The warehouse holds no cases yet.")
            st.stop()
        self.con = connection()
        self.countries = overview.countries(self.con)
        self.y_lo, self.y_hi = overview.year_span(self.con)
        self.state = PageState(key)
        self.tumours = tumour_options()

    def tumour_widget(self, name: str = "tumour", default: str = "", label: str = "Tumour type (ICCC-3)") -> None:
        k = self.state.choice(name, list(self.tumours), default)
        st.selectbox(label, list(self.tumours), format_func=self.tumours.get, key=k)

    def countries_widget(self, name: str = "countries", label: str = "Countries") -> None:
        k = self.state.multi(name, self.countries, self.countries)
        st.multiselect(label, self.countries, key=k)

    def footnote(self, text: str) -> str:
        """`text` plus the data version and, for synthetic pools, the notice (one per line)."""
        foot = f"{text}\n{self.info['data_version']}"
        if self.info["synthetic"]:
            foot += "\nSynthetic demonstration data: not real patients or outcomes."
        return foot


def tumour_filter(tumour: str) -> dict:
    """{'iccc_main': [..]} or {'iccc_sub': [..]} for a tumour-type code; {} for all tumours."""
    if not tumour:
        return {}
    return {"iccc_main" if tumour in iccc.MAIN_GROUPS else "iccc_sub": [tumour]}


def checked_filters(filters: dict, years: tuple | None = None, what: str = "This selection") -> tuple:
    """Validate a selection and return it as the hashable key the cached functions take; an empty
    or invalid one stops the page with a plain message."""
    from analytics.filters import SelectionError

    empty = [k for k, v in filters.items() if not v]
    if empty:
        st.warning(f"{what}: choose at least one value for {', '.join(empty)}.")
        st.stop()
    try:
        Selection.build(filters, years)
    except SelectionError as e:
        st.error(f"{what} cannot be used: {markdown_text(e)}")
        st.stop()
    return tuple((k, tuple(v)) for k, v in filters.items())


def median_text(df: pd.DataFrame) -> pd.DataFrame:
    """Medians in years to two decimals, 'not reached' where survival stays above 50% (a released
    frame stays stamped: a copy keeps its attrs)."""
    out = df.copy()
    for c in ("median", "median_lower", "median_upper"):
        out[c] = out[c].map(lambda v: "not reached" if v != v else f"{v:.2f}")
    return out


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
    """Survival at 1/3/5/10 years beside the medians, each with its CSV download (released frames
    of `analytics.release.curves`; net survival has no medians)."""
    if res.get("medians") is None:
        st.subheader("Survival at 1, 3, 5 and 10 years")
        table(res["at_times"], f"{prefix}survival_at_times.csv", footnote=footnote)
        return
    left, right = st.columns(2)
    with left:
        st.subheader("Survival at 1, 3, 5 and 10 years")
        table(res["at_times"], f"{prefix}survival_at_times.csv", footnote=footnote)
    with right:
        st.subheader("Median survival (years)")
        table(median_text(res["medians"]), f"{prefix}median_survival.csv", footnote=footnote)
        st.caption(f"Not reached: survival (or its confidence limit) stays above 50% while at least "
                   f"{disclosure.policy().threshold} remain at risk.")
