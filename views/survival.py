"""Survival: Kaplan-Meier curves with CI bands and numbers at risk, survival at 1/3/5/10 years,
medians, log-rank test, Cox hazard ratios."""
import streamlit as st

from analytics import figures, labels, tables
from analytics.disclosure import policy
from analytics.filters import SelectionError
from analytics.safe_text import markdown_text
from ui import (METHOD_HELP, AnalysisPage, cached_age_standardised, cached_cox, cached_cumulative_incidence,
                cached_period_windows, cached_ph_test, cached_survival, chart, checked_filters, snapshot, logrank_line, p_text, survival_tables,
                estimate_widget, table, tumour_filter, year_range_widget)

STRATA = {"": "No stratification", "country": "Country", "sex": "Sex", "age_group": "Age group",
          "period": "Period of diagnosis", "stage": "Stage (Toronto)", "iccc_main": "ICCC-3 main group",
          "iccc_sub": "ICCC-3 subgroup"}
CI = {"log-log": "log-log (default)", "log": "log", "plain": "plain"}
MEASURES = {"km": "Observed (Kaplan-Meier)", "actuarial": "Observed (actuarial life table)",
            "pohar-perme": "Net survival (Pohar-Perme)", "ederer2": "Relative survival (Ederer II)"}
OBSERVED = ("km", "actuarial")
#: Causes of death (analytics.competing.CAUSES), as the page names them.
CAUSE_WORDS = {"cancer": "the cancer (or its treatment)", "other": "another cause", "unknown": "an unknown cause"}

page = AnalysisPage("Survival", "survival")
info, state, tumours = page.info, page.state, page.tumours

with st.sidebar:
    st.header("Selection")
    page.tumour_widget(default="I")
    page.countries_widget()
    year_range_widget(state, "years", page.y_lo, page.y_hi)
    k = state.choice("by", list(STRATA), "country")
    st.selectbox("Stratify by", list(STRATA), format_func=STRATA.get, key=k)
    # a partner who sent follow-up in months or years is pooled only by the life table: the default then
    k = state.choice("measure", list(MEASURES), "actuarial" if info.get("interval_unit") else "km")
    st.radio("Measure", list(MEASURES), format_func=MEASURES.get, key=k, help=METHOD_HELP["measure"])
    # period analysis (analytics.period): the windows the pool's follow-up covers, most recent first
    estimate_widget(state, cached_period_windows(snapshot()), "Estimate")
    k = state.choice("ci", list(CI), "log-log")
    st.selectbox("Confidence interval", list(CI), format_func=CI.get, key=k, help=METHOD_HELP["ci_surv"])
    k = state.choice("bands", ["on", "off"], "on")
    st.radio("CI bands", ["on", "off"], key=k, horizontal=True)
    k = state.choice("ticks", ["off", "on"], "off")
    st.radio("Censor ticks", ["off", "on"], key=k, horizontal=True)
    k = state.choice("min_at_risk", [5, 10, 20, 50], 10, parse=int)
    st.selectbox("Stop curves when fewer remain at risk than", [5, 10, 20, 50], key=k)
# Widgets further down the page, declared here so that one write-back puts them in the URL too
COX_OPTIONS = [c for c in STRATA if c]
k_weights = state.choice("std_weights", ["cohort", "equal"], "cohort")
k_cox = state.multi("cox", COX_OPTIONS, list(dict.fromkeys(c for c in [state.get("by"), "sex", "age_group"] if c)))
k_highlight = state.text("highlight", "", max_len=20)  # a group (its code) drawn in colour over the others
k_cause = state.choice("cause", list(CAUSE_WORDS), "cancer")
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, years, by = state.get("tumour"), tuple(state.get("years")), state.get("by")
fkey = checked_filters({"country": state.get("countries"), **tumour_filter(tumour)}, years)
measure = state.get("measure")
window = None if state.get("estimate") == "cohort" else state.get("estimate")
if window and measure == "actuarial":
    st.info("Period analysis needs each tumour's date of diagnosis, which partners who send life-table "
            "intervals do not send: showing the cohort's life table (choose Kaplan-Meier for the period).")
    window = None
with st.spinner("Estimating survival…"):
    try:
        res = cached_survival(snapshot(), fkey, years, (by,) if by else (), state.get("ci"),
                              method=measure, min_at_risk=state.get("min_at_risk"), window=window)
    except SelectionError as e:
        st.info(f"{MEASURES[measure]} is not available for this selection: {markdown_text(e)}. Showing observed survival.")
        measure, window = "km", None
        res = cached_survival(snapshot(), fkey, years, (by,) if by else (), state.get("ci"),
                              min_at_risk=state.get("min_at_risk"))

what = tumours[tumour].strip() if tumour else "All tumours"
pol = policy()
# Counts reach this page as released Counts (analytics.release.curves): '1,234' or 'fewer than T'
st.caption(f"**{what}**, diagnosed {years[0]}–{years[1]}: {res['analysed']} analysed of {res['selected']} "
           f"selected ({res['dco']} death-certificate-only registrations excluded: no survival time). Counts on "
           "this site are changed slightly for confidentiality and need not add up.")
period_text = f"period {window.replace('-', '–')}" if window else ""
if window:
    st.caption(f"**Period analysis, {window.replace('-', '–')}**: the survival experienced during those calendar "
               f"years by the children followed in them, of those diagnosed {years[0]}–{years[1]} "
               f"({res['in_window']} had follow-up in the window): an up-to-date estimate of what a child diagnosed "
               "now can expect. Each time since diagnosis uses only the years of follow-up that fell in the "
               "window (Brenner's method); deaths on the window's first day or on the day of diagnosis are not "
               "counted (follow-up must run into the window).")
    if years[1] < int(window[:4]):
        st.warning(f"The years of diagnosis chosen end before the window opens: no child diagnosed in it, so "
                   f"nobody is at risk in the first years after diagnosis. Choose years up to {window[-4:]}.")
    if res.get("window_empty"):
        st.info(f"No child of this selection was followed during {window.replace('-', '–')}: choose another "
                "window, or the cohort estimate.")
        st.stop()
if not res["groups"]:
    st.info("No cases with a survival time match this selection." if res["empty"] else
            "No group in this selection has enough cases to show survival "
            f"({len(res['suppressed'])} group(s) suppressed, fewer than the minimum number of cases"
            + (", or too few at risk early in the window" if res.get("early_stop") else "") + ").")
    st.stop()

# groups in their natural order (age groups by age, ICCC-3 groups by number), named in words
groups = sorted(res["groups"], key=lambda k: labels.sort_key(by)(k[0]) if k else 0)
names = {k: labels.level(by, k[0]) if k else "All" for k in groups}
short = {k: labels.level(by, k[0], short=by in ("iccc_main", "iccc_sub", "stage")) if k else "All" for k in groups}
method_text = (f"Kaplan-Meier, 95% CI {state.get('ci')} (Greenwood)" + (
                f"; period analysis, survival during {window} (n = {res['in_window']} in the window)" if window else "")
               if measure == "km" else
               f"actuarial life table, {res['unit']}ly intervals, 95% CI {state.get('ci')} (Greenwood)"
               if measure == "actuarial" else
               f"{MEASURES[measure]} with population life tables, 95% CI log (relsurv rs.surv)" + (
                f"; period analysis, survival during {window} (n = {res['in_window']} in the window)" if window else ""))
stop = (f"curves stop when fewer than {res['min_at_risk']} remain at risk" if measure in OBSERVED
        else "values at 1, 3, 5 and 10 years only")
foot = page.footnote(f"{what}; diagnosed {years[0]}-{years[1]}; n = {res['analysed']} analysed ({res['dco']} DCO "
                     f"excluded); {method_text}; {stop}.\n{res['footnote']}")
if measure in OBSERVED:
    # many curves: one can be drawn in colour over the others in grey; the control sits under the
    # figure (its value is read first, from the session), so that the figure opens the page
    codes = {str(k[0]): k for k in groups} if len(groups) > 4 else {}
    if st.session_state.get(k_highlight) not in codes:
        st.session_state[k_highlight] = ""
    highlight = codes.get(st.session_state[k_highlight])
    fig = figures.survival_plot({k: res["curves"][k] for k in groups}, res["at_risk"], [by] if by else [],
                                f"Observed survival{', ' + period_text if window else ''}: {what}"
                                + (" (actuarial life table)" if measure == "actuarial" else ""),
                                "Survival probability", footnote=foot,
                                ci_bands=state.get("bands") == "on", censor_ticks=state.get("ticks") == "on",
                                labels=names, short_labels=short, suppressed_label=pol.below,
                                legend_title=labels.COLUMN.get(by), highlight=highlight)
    chart(fig, "survival")
    if codes:
        st.selectbox("Highlight one group against the others", ["", *codes], key=k_highlight,
                     format_func=lambda c: names[codes[c]] if c else "None: every group in colour")
    if state.get("min_at_risk") < res["min_at_risk"]:
        st.caption(f"Curves stop where fewer than {res['min_at_risk']} remain at risk, the smallest number at "
                   f"risk this site shows ({state.get('min_at_risk')} chosen).")
else:
    st.caption(markdown_text(res["footnote"]))
if res["suppressed"]:
    st.caption(f"{len(res['suppressed'])} group(s) not shown: {pol.fewer} cases"
               + (", or too few at risk early in the window (few diagnosed in it)" if res.get("early_stop") else "")
               + ".")

lr = res["logrank"]
if lr is not None:
    logrank_line(lr, STRATA[by].lower())
elif res["logrank_note"]:
    st.caption(res["logrank_note"])

# the curve answers the question on the first screen; the rest, one tab each
tab_times, tab_mean, tab_cause, tab_std, tab_cox, tab_methods = st.tabs(
    ["Survival at 1, 3, 5, 10 years", "Mean survival & follow-up", "Death by cause", "Age-standardised",
     "Hazard ratios (Cox)", "Methods"])
with tab_times:
    survival_tables(res, "", foot)

with tab_mean:
    if res["rmst"] is None:
        st.info("Restricted mean survival time and median follow-up are computed on Kaplan-Meier curves "
                "(follow-up in days): choose the measure 'Observed (Kaplan-Meier)'.")
    elif window:
        st.markdown(f"**Restricted mean survival time**, years (95% CI), {period_text}: the average number of "
                    "years lived in the first 5 (or 10) years after diagnosis, the area under the period survival "
                    "curve up to then.")
        table(tables.survival_wide(res["rmst"], [by] if by else [], value="rmst_years", column=tables.rmst_label,
                                   percent=False, digits=2), "restricted_mean_survival.csv", footnote=foot,
              csv=res["rmst"])
        st.caption(f"{tables.NOT_SHOWN}: not shown where fewer than {pol.threshold} remain at risk at that time. "
                   "Median follow-up describes a cohort: choose the estimate 'Cohort' to see it and the "
                   "differences between groups.")
    else:
        st.markdown("**Restricted mean survival time**, years (95% CI): the average number of years lived "
                    "in the first 5 (or 10) years after diagnosis, the area under the survival curve up to then.")
        table(tables.survival_wide(res["rmst"], [by] if by else [], value="rmst_years", column=tables.rmst_label,
                                   percent=False, digits=2), "restricted_mean_survival.csv", footnote=foot,
              csv=res["rmst"])
        diff = res["rmst_difference"]
        if diff is not None and len(diff):
            ref = names.get((diff["reference"].iloc[0],), str(diff["reference"].iloc[0]))
            st.markdown(f"**Difference from {ref}**, years (95% CI): a group's restricted mean minus that of "
                        f"{ref}; below 0, fewer years lived on average.")
            table(tables.survival_wide(diff.drop(columns="reference"), [by], value="difference_years",
                                       column=tables.rmst_label, percent=False, digits=2),
                  "restricted_mean_difference.csv", footnote=foot, csv=diff)
        st.caption(f"{tables.NOT_SHOWN}: not shown where fewer than {pol.threshold} remain at risk at that time. "
                   "Variance as R's survival (summary of survfit, rmean); the difference's CI adds the two "
                   "groups' variances.")
        st.markdown("**Median follow-up**, years (95% CI): how long the children were followed. A death ends "
                    "follow-up early, so it counts as censored here (the reverse Kaplan-Meier method).")
        table(tables.followup_cells(res["followup"]), "median_followup.csv", footnote=foot, csv=res["followup"])
        st.caption("Reverse Kaplan-Meier (Schemper & Smith 1996): Kaplan-Meier with those still alive at "
                   "their last contact as the events and deaths as censored; 95% CI log-log. Short follow-up "
                   "means the later survival estimates rest on few children.")

with tab_cause:
    if window:
        st.info(f"Death by cause is estimated for the cohort diagnosed {years[0]}–{years[1]} (period analysis of "
                "competing risks is not built): the curves below are not a period estimate.")
    cif = cached_cumulative_incidence(snapshot(), fkey, years, (by,) if by else (), state.get("min_at_risk"))
    st.radio("Cause of death", list(CAUSE_WORDS), key=k_cause, horizontal=True,
             format_func=lambda c: c.capitalize() if c != "cancer" else "The cancer")
    cause = state.get("cause")
    if not cif["groups"]:
        st.info("No group in this selection has enough cases with a survival time to show death by cause.")
    else:
        c_groups = sorted(cif["groups"], key=lambda k: labels.sort_key(by)(k[0]) if k else 0)
        c_names = {k: labels.level(by, k[0]) if k else "All" for k in c_groups}
        c_short = {k: labels.level(by, k[0], short=by in ("iccc_main", "iccc_sub", "stage")) if k else "All"
                   for k in c_groups}
        tops = [float(f["upper"].max()) for f in cif["curves"][cause].values() if f["upper"].notna().any()]
        c_foot = page.footnote(f"{what}; diagnosed {years[0]}-{years[1]}; n = {cif['analysed']} analysed; cumulative "
                               f"incidence by cause (Aalen-Johansen), 95% CI log(-log); curves stop when fewer than "
                               f"{cif['min_at_risk']} remain at risk.\n{cif['footnote']}")
        drawn = [k for k in c_groups if k in cif["curves"][cause]]
        if len(drawn) < len(c_groups):
            st.caption(f"Not drawn: {', '.join(c_names[k] for k in c_groups if k not in drawn)} "
                       f"({pol.fewer} deaths from {CAUSE_WORDS[cause]}).")
        chart(figures.survival_plot({k: cif["curves"][cause][k] for k in drawn}, cif["at_risk"],
                                    [by] if by else [], f"Cumulative incidence of death from {CAUSE_WORDS[cause]}: {what}",
                                    "Cumulative incidence", footnote=c_foot, ci_bands=state.get("bands") == "on",
                                    labels=c_names, short_labels=c_short, suppressed_label=pol.below,
                                    legend_title=labels.COLUMN.get(by), start=0.0,
                                    y_max=min(1.02, max(0.05, 1.15 * max(tops, default=0.0)))), "survival-cause")
        st.markdown("**Cumulative incidence by cause** at 1, 3, 5 and 10 years, % (95% CI): the chance of having "
                    "died of each cause by then, the other causes competing.")
        at = cif["at_times"].assign(cause=lambda d: d["cause"].map(lambda c: c.capitalize() if c != "cancer"
                                                                   else "The cancer"))
        table(tables.survival_wide(at, ([by] if by else []) + ["cause"], value="cif"), "cumulative_incidence.csv",
              footnote=c_foot, csv=cif["at_times"])
        if cif["test"] is not None:
            tests = "; ".join(f"{CAUSE_WORDS[row.cause]}: χ² = {row.statistic:.2f}, df = {row.df}, "
                              f"p {'' if p_text(row.p).startswith('<') else '= '}{p_text(row.p)}"
                              for row in cif["test"].itertuples() if row.statistic == row.statistic)
            if tests:
                st.markdown(f"**Gray's test** across {STRATA[by].lower()}: {tests}.")
        if cif["test_note"]:
            st.caption(cif["test_note"])
        st.caption("The probability of having died of a cause by a time, when other causes of death compete "
                   "(Aalen-Johansen; R's cmprsk): unlike 1 - Kaplan-Meier on one cause, it does not count children "
                   "who died of something else as still at risk; in the exact figures the causes add up to 1 - "
                   "overall survival (here each cause's deaths are rounded on their own, so their sum can exceed "
                   "what the survival curve shows by a few blocks of deaths). "
                   "Late effects and second cancers are 'another cause'; a death whose cause the registry did "
                   "not send is 'unknown'. Each step of a curve stands for a block of deaths (rounded for "
                   "confidentiality), so a rare cause moves in coarse steps, least certain where few remain at risk. "
                   f"{tables.NOT_SHOWN}: fewer than {pol.threshold} remain at risk. Exact figures: "
                   "`python -m analytics cif`.")
        for note in cif["notes"][2:]:
            st.caption(markdown_text(note))

with tab_std:
    if by == "age_group":
        st.info("Age-standardised survival is not shown when the curves are by age group: each curve is one age group.")
    else:
        st.radio("Weights over the age bands 0-4, 5-9, 10-14, 15-19", ["cohort", "equal"], key=k_weights,
                 horizontal=True,
                 format_func={"cohort": "the pooled cohort's age distribution", "equal": "equal (1/4 each)"}.get)
        asd = cached_age_standardised(snapshot(), fkey, years, (by,) if by else (), state.get("std_weights"),
                                      state.get("ci"), unit=res["unit"] if measure == "actuarial" else "day",
                                      window=window)
        st.markdown(f"**Age-standardised survival**, % (95% CI){', ' + period_text if window else ''}")
        table(tables.survival_wide(asd, [by] if by else []), "age_standardised_survival.csv", footnote=foot, csv=asd)
        for note in asd.attrs.get("notes", []):
            st.caption(markdown_text(note))
        st.caption(f"{'Life-table' if measure == 'actuarial' else 'Kaplan-Meier'} survival in each age band "
                   "(from the rounded counts), averaged with the chosen "
                   "weights; the variance is the weighted sum of the bands' Greenwood variances. Not estimated "
                   f"when a group lacks an age band with at least {pol.threshold} cases, nor at a time when fewer "
                   f"than {pol.threshold} remain at risk in one of its bands.")

with tab_cox:
    if window:
        st.caption(f"Hazard ratios compare the cohort diagnosed {years[0]}–{years[1]} (not a period estimate).")
    covs = st.multiselect("Covariates", COX_OPTIONS, format_func=STRATA.get, key=k_cox)
    if not covs:
        st.info("Choose at least one covariate to fit a Cox model.")
    else:
        try:
            with st.spinner("Fitting the Cox model…"):
                hr = cached_cox(snapshot(), fkey, years, tuple(covs))
            chart(figures.forest_plot(hr, f"Hazard ratios: {what}", not_shown=f"not shown ({pol.fewer} deaths)",
                                      footnote=foot.split("\n")[0] + "\nCox proportional hazards, Efron ties, "
                                      "Wald 95% CI; each term against its covariate's reference level."), "survival-cox")
            table(hr, "hazard_ratios.csv", footnote=foot)
            if hr.attrs.get("note"):
                st.caption(markdown_text(hr.attrs["note"]))
            with st.expander("Proportional-hazards check", key="ph_check_open", on_change="rerun") as ph_box:
                if ph_box.open:  # computed only when asked for
                    with st.spinner("Testing proportional hazards…"):
                        table(cached_ph_test(snapshot(), fkey, years, tuple(covs)),
                              "proportional_hazards_check.csv", footnote=foot)
                st.caption("Score test per covariate and overall (GLOBAL), as R's cox.zph with the Kaplan-Meier "
                           "time transform (Grambsch & Therneau 1994): a small p suggests that covariate's hazard "
                           "ratio changes over follow-up, and the hazard ratio above is then an average.")
        except SelectionError as e:
            st.info(f"Cox model not available: {markdown_text(e)}")

with tab_methods:
    for note in res["notes"]:
        st.markdown(f"- {note}")
    st.markdown(f"- Numbers at risk: subjects still followed at each time (follow-up of at least t), from the "
                f"rounded counts; numbers below {pol.threshold} are shown as '{pol.below}'.")
    st.markdown(f"- Log-rank test shown only when every group has at least {pol.threshold} cases. "
                "Cox model: Efron ties, Wald 95% confidence intervals (lifelines, checked against R's survival); "
                f"levels with fewer than {pol.threshold} cases are left out of the model, and hazard ratios of "
                f"levels with fewer than {pol.threshold} deaths are not shown.")
    st.markdown("- Definitions of every term (DCO, Toronto stage, ICCC-3 groups ...): see **Help & methods**.")
