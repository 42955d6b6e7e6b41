"""Survival: Kaplan-Meier curves with CI bands and numbers at risk, survival at 1/3/5/10 years,
medians, log-rank test, Cox hazard ratios."""
import pandas as pd
import streamlit as st

from analytics import figures, iccc, overview
from analytics.filters import Selection, SelectionError
from ui import (METHOD_HELP, cached_age_standardised, cached_cox, cached_survival, chart, connection, db_path, page_header,
                table, tumour_options, year_range_widget)
from ui.state import PageState

STRATA = {"": "No stratification", "country": "Country", "sex": "Sex", "age_group": "Age group",
          "period": "Period of diagnosis", "stage": "Stage (Toronto)", "iccc_main": "ICCC-3 main group",
          "iccc_sub": "ICCC-3 subgroup"}
CI = {"log-log": "log-log (default)", "log": "log", "plain": "plain"}
SEX = {1: "Male", 2: "Female", 9: "Unknown"}
MEASURES = {"km": "Observed (Kaplan-Meier)", "pohar-perme": "Net survival (Pohar-Perme)",
            "ederer2": "Relative survival (Ederer II)"}

info = page_header("Survival")
if info["cases"] == 0:
    st.info("The warehouse holds no cases yet.")
    st.stop()
con = connection()
all_countries = overview.countries(con)
y_lo, y_hi = overview.year_span(con)
state = PageState("survival")
tumours = tumour_options()

with st.sidebar:
    st.header("Selection")
    k = state.choice("tumour", list(tumours), "I")
    st.selectbox("Tumour type (ICCC-3)", list(tumours), format_func=tumours.get, key=k)
    k = state.multi("countries", all_countries, all_countries)
    st.multiselect("Countries", all_countries, key=k)
    year_range_widget(state, "years", y_lo, y_hi)
    k = state.choice("by", list(STRATA), "country")
    st.selectbox("Stratify by", list(STRATA), format_func=STRATA.get, key=k)
    k = state.choice("measure", list(MEASURES), "km")
    st.radio("Measure", list(MEASURES), format_func=MEASURES.get, key=k, help=METHOD_HELP["measure"])
    k = state.choice("ci", list(CI), "log-log")
    st.selectbox("Confidence interval", list(CI), format_func=CI.get, key=k, help=METHOD_HELP["ci_surv"])
    k = state.choice("bands", ["on", "off"], "on")
    st.radio("CI bands", ["on", "off"], key=k, horizontal=True)
    k = state.choice("ticks", ["off", "on"], "off")
    st.radio("Censor ticks", ["off", "on"], key=k, horizontal=True)
    k = state.choice("min_at_risk", [5, 10, 20, 50], 10, parse=int)
    st.selectbox("Stop curves when fewer remain at risk than", [5, 10, 20, 50], key=k)
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, chosen = state.get("tumour"), state.get("countries")
if not chosen:
    st.warning("Choose at least one country.")
    st.stop()
filters = {"country": chosen}
if tumour:
    filters["iccc_main" if tumour in iccc.MAIN_GROUPS else "iccc_sub"] = [tumour]
years = tuple(state.get("years"))
by = state.get("by")
try:
    Selection.build(filters, years)
except SelectionError as e:
    st.error(f"This selection cannot be used: {e}")
    st.stop()
fkey = tuple((k, tuple(v)) for k, v in filters.items())
measure = state.get("measure")
with st.spinner("Estimating survival…"):
    try:
        res = cached_survival(str(db_path()), fkey, years, (by,) if by else (), state.get("ci"),
                              method=measure, min_at_risk=state.get("min_at_risk"))
    except SelectionError as e:
        st.info(f"{MEASURES[measure]} is not available for this selection: {e}. Showing observed survival.")
        measure = "km"
        res = cached_survival(str(db_path()), fkey, years, (by,) if by else (), state.get("ci"),
                              min_at_risk=state.get("min_at_risk"))

what = tumours[tumour].strip() if tumour else "All tumours"
n_analysed = res["n_selected"] - res["n_dco"]
st.caption(f"**{what}**, diagnosed {years[0]}–{years[1]}: {n_analysed:,} analysed of {res['n_selected']:,} "
           f"selected ({res['n_dco']:,} death-certificate-only registrations excluded: no survival time).")
if not res["curves"]:
    st.info("No group in this selection has enough cases to show survival "
            f"({len(res['suppressed'])} group(s) suppressed, fewer than the minimum number of cases).")
    st.stop()

labels = {}
for key in res["curves"]:
    v = key[0] if key else None
    labels[key] = ("All" if not key else "Unknown" if pd.isna(v) else SEX.get(v, v) if by == "sex"
                   else figures.group_label(v) if by in ("iccc_main", "iccc_sub") else str(v))
method_text = (f"Kaplan-Meier, 95% CI {state.get('ci')} (Greenwood)" if measure == "km" else
               f"{MEASURES[measure]} with population life tables, 95% CI log (relsurv rs.surv)")
n_analysed = res["n_selected"] - res["n_dco"]
foot = (f"{what}; diagnosed {years[0]}-{years[1]}; n = {n_analysed:,} analysed ({res['n_dco']:,} DCO excluded); "
        f"{method_text}; curves stop when fewer than {state.get('min_at_risk')} remain at risk.")
foot += "\n" + info["data_version"]
if info["synthetic"]:
    foot += "\nSynthetic demonstration data: not real patients or outcomes."
fig = figures.survival_plot(res["curves"], res["at_risk"], [by] if by else [],
                            f"{MEASURES[measure].split(' (')[0]} survival: {what}".replace("survival survival", "survival"),
                            "Net survival" if measure == "pohar-perme" else "Relative survival" if measure == "ederer2"
                            else "Survival probability", footnote=foot, ci_bands=state.get("bands") == "on",
                            censor_ticks=state.get("ticks") == "on", labels=labels)
chart(fig, "survival")
if res["suppressed"]:
    st.caption(f"{len(res['suppressed'])} group(s) not shown: fewer than the minimum number of cases.")

lr = res["logrank"]
if lr is not None:
    if min(res["group_sizes"].values()) >= 10:
        st.markdown(f"**Log-rank test** across {STRATA[by].lower()}: χ² = {lr['chisq']:.2f}, "
                    f"df = {lr['df']}, " + ("p < 0.001" if lr["p"] < 0.001 else f"p = {lr['p']:.3f}"))
    else:
        st.caption("Log-rank test not shown: a group has fewer than 10 cases.")

left, right = st.columns(2)
with left:
    st.subheader("Survival at 1, 3, 5 and 10 years")
    table(res["at_times"], "survival_at_times.csv", footnote=foot)
with right:
    st.subheader("Median survival (years)")
    med = res["medians"].copy()
    for c in ("median", "median_lower", "median_upper"):
        med[c] = med[c].map(lambda v: "not reached" if v != v else f"{v:.2f}")
    table(med, "median_survival.csv", footnote=foot)
    st.caption("Not reached: survival (or its confidence limit) stays above 50%.")

if by not in ("age_group",):
    st.subheader("Age-standardised survival")
    k = state.choice("std_weights", ["cohort", "equal"], "cohort")
    st.radio("Weights over the age bands 0-4, 5-9, 10-14, 15-19", ["cohort", "equal"], key=k, horizontal=True,
             format_func={"cohort": "the pooled cohort's age distribution", "equal": "equal (1/4 each)"}.get)
    asd = cached_age_standardised(str(db_path()), fkey, years, (by,) if by else (), state.get("std_weights"),
                                  state.get("ci"))
    table(asd, "age_standardised_survival.csv", footnote=foot)
    st.caption("Kaplan-Meier survival in each age band, averaged with the chosen weights; the variance is the "
               "weighted sum of the bands' Greenwood variances. Not estimated when a group lacks an age band or "
               "has too few cases.")
    state.write_back(ranges=("years",))

if res["conditional"] is not None:
    st.subheader("Conditional survival")
    table(res["conditional"], "conditional_survival.csv", footnote=foot)
    st.caption("Probability of surviving to the given year for those alive at the earlier one: S(t) / S(s), "
               "with a CI from the Greenwood variance of the interval.")

st.subheader("Hazard ratios (Cox model)")
default_cov = [c for c in [by, "sex", "age_group"] if c]
covs = st.multiselect("Covariates", [c for c in STRATA if c], default=list(dict.fromkeys(default_cov)),
                      format_func=STRATA.get, key="survival:cox")
if covs:
    try:
        hr = cached_cox(str(db_path()), fkey, years, tuple(covs))
        chart(figures.forest_plot(hr, f"Hazard ratios: {what}", footnote=foot.split("\n")[0] +
                                            "\nCox proportional hazards, Efron ties; reference: first level of each covariate."), "survival")
        table(hr, "hazard_ratios.csv", footnote=foot)
    except SelectionError as e:
        st.info(f"Cox model not available: {e}")

with st.expander("Methods and definitions"):
    for note in res["notes"]:
        st.markdown(f"- {note}")
    st.markdown("- Numbers at risk: subjects still followed at each time (follow-up of at least t); "
                "counts below the minimum are shown as '<16'.")
    st.markdown("- Log-rank test shown only when every group has at least 10 cases. "
                "Cox model: Efron ties, Wald 95% confidence intervals (lifelines, checked against R's survival).")
