"""Compare cohorts: two to four named cohorts, each its own selection, on one survival plot, with
their characteristics, tests and a Cox model adjusted for age group, sex and period.

Cohort names are the user's (or a shared link's) text: in markdown they go through
`markdown_text`; figures and CSV downloads escape them themselves."""
import streamlit as st

from analytics import figures, labels
from analytics.disclosure import policy
from analytics.safe_text import markdown_text
from analytics.schema import AGE_GROUPS, TORONTO_STAGES
from ui import (AnalysisPage, cached_cohorts, chart, checked_filters, snapshot, logrank_line, survival_tables, table,
                tumour_filter)

page = AnalysisPage("Compare cohorts", "cohorts")
info, state, tumours = page.info, page.state, page.tumours
periods = sorted({f"{y // 5 * 5}-{y // 5 * 5 + 4}" for y in range(page.y_lo, page.y_hi + 1)})
SEXES = ["1", "2", "9"]  # male, female, unknown: every case by default
AGES = [g for g, _, _ in AGE_GROUPS]
DEFAULTS = [("ALL", "Ia"), ("AML", "Ib"), ("Hodgkin", "IIa"), ("Neuroblastoma", "IVa")]

with st.sidebar:
    st.header("Cohorts")
    k = state.choice("n", [2, 3, 4], 2, parse=int)
    st.radio("Number of cohorts", [2, 3, 4], key=k, horizontal=True)
    for i in range(state.get("n")):
        with st.expander(f"Cohort {i + 1}", expanded=i < 2):
            k = state.text(f"c{i}_name", DEFAULTS[i][0])
            st.text_input("Name", key=k, max_chars=40)
            page.tumour_widget(f"c{i}_tumour", DEFAULTS[i][1], label="Tumour type")
            page.countries_widget(f"c{i}_countries")
            k = state.multi(f"c{i}_sex", SEXES, SEXES)
            st.multiselect("Sex", SEXES, key=k, format_func=lambda v: labels.level("sex", v))
            k = state.multi(f"c{i}_ages", AGES, AGES)
            st.multiselect("Age groups", AGES, key=k, format_func=lambda v: labels.level("age_group", v))
            k = state.multi(f"c{i}_periods", periods, periods)
            st.multiselect("Periods of diagnosis", periods, key=k)
            k = state.multi(f"c{i}_stages", list(TORONTO_STAGES), [])
            st.multiselect("Stage (empty = any, including unknown)", list(TORONTO_STAGES), key=k,
                           format_func=labels.stage)
    state.share_box()
state.write_back()
state.show_notices()

spec = []
for i in range(state.get("n")):
    filters = {"country": state.get(f"c{i}_countries"), "sex": state.get(f"c{i}_sex"),
               "age_group": state.get(f"c{i}_ages"), "period": state.get(f"c{i}_periods"),
               **tumour_filter(state.get(f"c{i}_tumour"))}
    if state.get(f"c{i}_stages"):
        filters["stage"] = state.get(f"c{i}_stages")
    name = state.get(f"c{i}_name").strip() or f"Cohort {i + 1}"
    spec.append((name, checked_filters(filters, what=f"Cohort {i + 1}"), None))
if len({s[0] for s in spec}) < len(spec):
    st.warning("Give each cohort a different name.")
    st.stop()

with st.spinner("Comparing cohorts…"):
    res = cached_cohorts(snapshot(), tuple(spec), "log-log", 10)

pol = policy()
# Counts reach this page as released Counts (analytics.release.curves): '1,234' or 'fewer than T'
if res["overlap"]:
    pairs = "; ".join(f"{markdown_text(a)} and {markdown_text(b)} share {n} cases" for a, b, n in res["overlap"])
    st.warning(f"The cohorts overlap: {pairs}. Shared cases count in each cohort, and the tests below "
               "assume independent samples, so read their p-values with caution.")

sizes = ", ".join(f"{k[0]} n = {res['sizes'][k[0]]}" for k in res["curves"])
foot = page.footnote(f"Cohorts: {sizes}. Kaplan-Meier, 95% CI log-log; curves stop below {res['min_at_risk']} at "
                     f"risk.\n{res['footnote']}")
st.caption("Each cohort holds every case that matches its choices; by default every country, sex (unknown "
           "included), age group and period. The sizes below the curve count the cases analysed: those selected "
           "minus death-certificate-only registrations, which have no survival time (see Methods).")
if res["curves"]:
    ordered = {(n,): res["curves"][(n,)] for n, _, _ in spec if (n,) in res["curves"]}  # the user's order
    chart(figures.survival_plot(ordered, res["at_risk"], ["cohort"], "Observed survival by cohort",
                                "Survival probability", footnote=foot, suppressed_label=pol.below,
                                legend_title="Cohort"), "cohorts")
if res["suppressed"]:
    st.caption(f"{len(res['suppressed'])} cohort(s) too small to show (fewer than the minimum number of cases).")
lr = res["logrank"]
if lr is not None and lr["df"] > 0:
    logrank_line(lr, "cohorts")
elif res["logrank_note"]:
    st.caption(res["logrank_note"])

st.subheader("Characteristics")
ch = res["characteristics"]
table(ch["summary"], "cohort_characteristics.csv", footnote=foot)
# one "share <cohort>" column per cohort: a cohort may be called "level" or "suppressed" too
table(ch["mix"], "cohort_mix.csv", footnote=foot, percent=ch["share_columns"])
st.caption(f"Share of each cohort (%), from the changed counts. Empty: fewer than "
           f"{pol.threshold} cases in the level, or in the rest of the cohort.")
if not ch["tests"].empty:
    table(ch["tests"], "cohort_tests.csv", footnote=foot)
    st.caption("Age: Kruskal-Wallis test (only when every cohort is shown); categories: Pearson chi-square test "
               "of the contingency table of the changed counts of the cohorts shown.")

survival_tables(res, "cohort_", foot)

st.subheader("Hazard ratios: cohort, adjusted for age group, sex and period")
if res["cox"] is not None:
    chart(figures.forest_plot(res["cox"], "Hazard ratios: cohorts, adjusted", footnote=foot.split("\n")[0] +
                              "\nCox proportional hazards, Efron ties, Wald 95% CI; each term against its reference.",
                              not_shown=f"not shown ({pol.fewer} deaths)"), "cohorts-forest")
    table(res["cox"], "cohort_hazard_ratios.csv", footnote=foot)
    if res["cox"].attrs.get("note"):
        st.caption(markdown_text(res["cox"].attrs["note"]))
else:
    st.info(f"Cox model not available: {markdown_text(res['cox_error'])}")
with st.expander("Methods and definitions"):
    for note in res["notes"]:  # a note may quote a cohort's name (the user's text): escaped
        st.markdown(f"- {markdown_text(note)}")
    for name, (selected, dco, analysed) in res["counts"].items():
        st.markdown(f"- {markdown_text(name)}: {analysed} analysed of {selected} selected ({dco} "
                    "death-certificate-only registrations excluded: no survival time).")
