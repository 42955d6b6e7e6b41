"""International comparison: incidence and 5-year survival by country, against the pooled value,
with each country's data-quality context."""
import streamlit as st

from analytics import figures, iccc, maps, overview
from analytics.compare import funnel_limits
from analytics.filters import Selection, SelectionError
from analytics.incidence import CI_METHODS, STANDARDS
from ui import (METHOD_HELP, cached_international, chart, connection, db_path, page_header, table, tumour_options,
                year_range_widget)
from ui.state import PageState

info = page_header("International comparison")
if info["cases"] == 0:
    st.info("The warehouse holds no cases yet.")
    st.stop()
con = connection()
all_countries = overview.countries(con)
y_lo, y_hi = overview.year_span(con)
state = PageState("international")
tumours = tumour_options()

with st.sidebar:
    st.header("Selection")
    k = state.choice("tumour", list(tumours), "Ia")
    st.selectbox("Tumour type (ICCC-3)", list(tumours), format_func=tumours.get, key=k)
    year_range_widget(state, "years", y_lo, y_hi)
    k = state.choice("ages", ["0-14", "15-19", "0-19"], "0-14")
    st.radio("Ages (years)", ["0-14", "15-19", "0-19"], key=k, horizontal=True)
    k = state.choice("standard", list(STANDARDS), "segi")
    st.selectbox("Standard population", list(STANDARDS), format_func=STANDARDS.get, key=k,
                 help=METHOD_HELP["standard"])
    k = state.multi("countries", all_countries, all_countries)
    st.multiselect("Countries", all_countries, key=k)
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, chosen, years = state.get("tumour"), state.get("countries"), tuple(state.get("years"))
ages, standard = state.get("ages"), state.get("standard")
if not chosen:
    st.warning("Choose at least one country.")
    st.stop()
filters = {"country": chosen}
if tumour:
    filters["iccc_main" if tumour in iccc.MAIN_GROUPS else "iccc_sub"] = [tumour]
try:
    Selection.build(filters, years)
except SelectionError as e:
    st.error(f"This selection cannot be used: {e}")
    st.stop()
with st.spinner("Comparing countries…"):
    res = cached_international(str(db_path()), tuple((k, tuple(v)) for k, v in filters.items()), years,
                               ages, standard, "tiwari")
t, pooled = res["table"], res["pooled"]
what = tumours[tumour].strip() if tumour else "All tumours"
foot = f"{what}; ages {ages}; diagnosed {years[0]}-{years[1]}."
foot += "\n" + info["data_version"]
if info["synthetic"]:
    foot += "\nSynthetic demonstration data: not real patients or outcomes."
st.caption(f"**{what}**, ages {ages}, diagnosed {years[0]}–{years[1]}, {len(t)} countries. "
           "Countries differ in case mix, registration completeness and follow-up: read the data-quality "
           "columns and caveats before ranking them.")

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
measure = st.radio("Measure", ["asr", "surv5"], horizontal=True, key="international:map",
                   format_func={"asr": "Age-standardised incidence", "surv5": "5-year survival"}.get)
chart(maps.choropleth(t, "country", measure, "Age-standardised incidence" if measure == "asr"
                      else "5-year observed survival", "per million" if measure == "asr" else "survival",
                      notice=foot, value_format=".1f" if measure == "asr" else ".1%"),
      "international-map", maps.PLOTLY_CONFIG)

st.subheader("By country, with data-quality context")
if res["net_reason"]:
    st.caption(res["net_reason"])
table(t, "international_comparison.csv", footnote=foot)
with st.expander("Methods and definitions"):
    for note in res["notes"]:
        st.markdown(f"- {note}")
    st.markdown("- Caveats appear when DCO registrations exceed 5%, microscopic verification is below 80%, "
                "or median follow-up is under 5 years.")
