"""International comparison: incidence and 5-year survival by country, against the pooled value,
with each country's data-quality context."""
import streamlit as st

from analytics import figures, maps
from analytics.filters import SelectionError
from analytics.release.international import country_map, funnel_limits
from analytics.release.rates import CI_METHODS, STANDARDS
from analytics.safe_text import markdown_text
from ui import (METHOD_HELP, AnalysisPage, cached_international, chart, checked_filters, db_path, table, tumour_filter,
                year_range_widget)

page = AnalysisPage("International comparison", "international")
info, state, tumours = page.info, page.state, page.tumours

with st.sidebar:
    st.header("Selection")
    page.tumour_widget(default="Ia")
    year_range_widget(state, "years", page.y_lo, page.y_hi)
    k = state.choice("ages", ["0-14", "15-19", "0-19"], "0-14")
    st.radio("Ages (years)", ["0-14", "15-19", "0-19"], key=k, horizontal=True)
    k = state.choice("standard", list(STANDARDS), "segi")
    st.selectbox("Standard population", list(STANDARDS), format_func=STANDARDS.get, key=k,
                 help=METHOD_HELP["standard"])
    page.countries_widget()
k_map = state.choice("map", ["asr", "surv5"], "asr")  # the map's measure, further down the page
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, chosen, years = state.get("tumour"), state.get("countries"), tuple(state.get("years"))
ages, standard = state.get("ages"), state.get("standard")
fkey = checked_filters({"country": chosen, **tumour_filter(tumour)}, years)
with st.spinner("Comparing countries…"):
    try:
        res = cached_international(str(db_path()), fkey, years, ages, standard, "tiwari")
    except SelectionError as e:  # e.g. a partner's population file does not cover every year
        st.error(f"The comparison cannot be made for this selection: {markdown_text(e)}.")
        st.stop()
t, pooled = res["table"], res["pooled"]
if res.get("left_out"):  # country-years without person-years: out of the incidence rates
    st.info(res["left_out"], icon=":material/info:")
what = tumours[tumour].strip() if tumour else "All tumours"
foot = page.footnote(f"{what}; ages {ages}; diagnosed {years[0]}-{years[1]}.")
st.caption(f"**{what}**, ages {ages}, diagnosed {years[0]}–{years[1]}, {len(t)} countries. "
           "Countries differ in case mix, registration completeness and follow-up: read the data-quality "
           "columns and caveats before ranking them. Counts are changed by a small amount and small ones "
           "hidden (see Help & methods).")

left, right = st.columns(2)
with left:
    chart(figures.dot_whisker(
        t, "country", "asr", "asr_lower", "asr_upper", "Age-standardised incidence",
        f"Per million person-years ({STANDARDS[standard]}), 95% CI", pooled=pooled["asr"],
        pooled_label="Pooled", footnote=foot + f"\nCI: {CI_METHODS['tiwari']}."), "international")
with right:
    chart(figures.dot_whisker(
        t, "country", "surv5", "surv5_lower", "surv5_upper", "5-year observed survival (Kaplan-Meier)",
        "Survival at 5 years, 95% CI (log-log)", pooled=pooled["surv5"], percent=True,
        footnote=foot), "international")

st.subheader("Funnel plot: is a country's 5-year survival within chance of the pooled value?")
if t["surv5"].notna().any():
    lim = funnel_limits(pooled["surv5"], float(t["n_survival"].max()))
    chart(figures.funnel(t, "n_survival", "surv5", "country", lim, pooled["surv5"],
                         "5-year survival against the number of cases", footnote=foot +
                         "\nControl limits: pooled value ± z·sqrt(p(1-p)/n), z = 1.96 (95%) and 3.09 (99.8%)."),
          "international-funnel")
    st.caption("A country outside the 99.8% limits differs from the pooled survival by more than chance "
               "would explain with its number of cases (Spiegelhalter 2005).")

st.subheader("Map")
measure = st.radio("Measure", ["asr", "surv5"], horizontal=True, key=k_map,
                   format_func={"asr": "Age-standardised incidence", "surv5": "5-year survival"}.get)
chart(country_map(t, measure, "Age-standardised incidence" if measure == "asr" else "5-year observed survival",
                  "per million" if measure == "asr" else "survival", notice=foot,
                  value_format=".1f" if measure == "asr" else ".1%"),
      "international-map", maps.PLOTLY_CONFIG)

st.subheader("By country, with data-quality context")
if res["net_reason"]:
    st.caption(res["net_reason"])
table(t, "international_comparison.csv", footnote=foot)
with st.expander("Methods and definitions"):
    for note in res["notes"]:
        st.markdown(f"- {note}")
    st.markdown("- Caveats appear when DCO registrations exceed 5%, microscopic verification is below 80%, "
                "median follow-up is under 5 years, or the share of children under 5 differs from the pool's by "
                "more than 10 points (5-year survival here is not age-standardised).")
