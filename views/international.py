"""International comparison: incidence and 5-year survival by country, against the pooled value,
with each country's data-quality context: flags on the ranked charts, caveats in words above the
table. What a chart cannot show for a selection is said in one sentence instead of the chart."""
import streamlit as st

from analytics import figures, maps
from analytics.disclosure import policy
from analytics.filters import SelectionError
from analytics.release.international import (CASE_MIX_RULE, FLAG_RULES, QUALITY_SOURCE, country_map,
                                             funnel_limits)
from analytics.release.rates import CI_METHODS, STANDARDS
from analytics.safe_text import markdown_text
from analytics.tables import NOT_SHOWN
from ui import (METHOD_HELP, AnalysisPage, cached_international, cached_period_windows, chart, checked_filters,
                estimate_widget, snapshot, table, tumour_filter, year_range_widget)

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
    # 5-year survival of the cohort, or of the most recent calendar windows (period analysis)
    estimate_widget(state, cached_period_windows(snapshot()), "5-year survival estimate")
k_map = state.choice("map", ["asr", "surv5"], "asr")  # the map's measure, further down the page
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, chosen, years = state.get("tumour"), state.get("countries"), tuple(state.get("years"))
ages, standard = state.get("ages"), state.get("standard")
window = None if state.get("estimate") == "cohort" else state.get("estimate")
fkey = checked_filters({"country": chosen, **tumour_filter(tumour)}, years)
with st.spinner("Comparing countries…"):
    try:
        res = cached_international(snapshot(), fkey, years, ages, standard, "tiwari", window)
    except SelectionError as e:  # e.g. a partner's population file does not cover every year
        st.error(f"The comparison cannot be made for this selection: {markdown_text(e)}.")
        st.stop()
t, pooled, not_shown = res["table"], res["pooled"], res["not_shown"]
if res.get("left_out"):  # country-years without person-years: out of the incidence rates
    st.info(res["left_out"], icon=":material/info:")
what = tumours[tumour].strip() if tumour else "All tumours"
foot = page.footnote(f"{what}; ages {ages}; diagnosed {years[0]}-{years[1]}"
                     + (f"; survival by period analysis, follow-up during {window}." if window else "."))
flag_note = (f"\u2691 Data-quality flag: {FLAG_RULES} (indicators after {QUALITY_SOURCE}; the cut-offs are "
             "screening values, not exclusions).")
flagged = t[t["quality_flag"].fillna("") != ""]
st.caption(f"**{what}**, ages {ages}, diagnosed {years[0]}–{years[1]}, {len(t)} countries. "
           "Countries differ in case mix, registration completeness and follow-up: read the data-quality "
           "flags and caveats before ranking them. Counts are changed by a small amount and small ones "
           "hidden (see Help & methods).")
if len(flagged):  # said at the top, where a reader starts ranking
    who = (", ".join(flagged["country_name"]) if len(flagged) <= 6 else
           f"{len(flagged)} of {len(t)} countries" if len(flagged) < len(t) else f"all {len(t)} countries")
    st.markdown(f"\u2691 **Data-quality flags**: {markdown_text(who)} ({markdown_text(FLAG_RULES)}). "
                "Their caveats are listed above the table below.")


def pooled_rate_text() -> str:
    """The pooled rate in words, when it is shown (it can be, while every country is hidden)."""
    if pooled["asr"] != pooled["asr"]:
        return ""
    return (f" Pooled over the countries: {pooled['asr']:.2f} per million person-years (95% CI "
            f"{pooled['asr_lower']:.2f}–{pooled['asr_upper']:.2f}).")


def ranked(value: str, sentence: str | None, fig) -> None:
    """A ranked chart, or the sentence saying why it has nothing to show; the countries it
    leaves out, in one sentence under it."""
    if t[value].notna().any():
        chart(fig(), "international")
        if sentence:
            st.caption(markdown_text(sentence))
    else:
        st.info(markdown_text(sentence or "Nothing to show for this selection."), icon=":material/info:")


if not_shown["table"]:  # every country hidden: one sentence, not a page of empty sections
    st.info(markdown_text(not_shown["table"] + pooled_rate_text()), icon=":material/info:")
else:
    # one chart under the other: each gets the page's width for its axis title, flags and footnote
    ranked("asr", not_shown["asr"], lambda: figures.dot_whisker(
        t, "country_name", "asr", "asr_lower", "asr_upper", "Age-standardised incidence",
        f"Per million person-years ({STANDARDS[standard]}), 95% CI", pooled=pooled["asr"],
        pooled_label="Pooled", flag_col="quality_flag",
        footnote=foot + f"\nCI: {CI_METHODS['tiwari']}." + (f"\n{flag_note}" if len(flagged) else "")))
    ranked("surv5", not_shown["surv5"], lambda: figures.dot_whisker(
        t, "country_name", "surv5", "surv5_lower", "surv5_upper", f"5-year observed survival ({res['survival_method']})",
        "Survival at 5 years, 95% CI (log-log)", pooled=pooled["surv5"], percent=True, flag_col="quality_flag",
        footnote=foot + (f"\n{flag_note}" if len(flagged) else "")))

    if window and t["surv5"].notna().any():
        st.caption(f"5-year survival by period analysis ({window.replace('-', '–')}): the survival experienced "
                   "during those years by every child followed in them, whenever diagnosed; the most up-to-date "
                   "estimate. The funnel plot is drawn for the cohort estimate only (its limits count children "
                   "followed from diagnosis).")
    elif t["surv5"].notna().any() and pooled["surv5"] == pooled["surv5"]:
        st.subheader("Funnel plot: within chance of the pooled 5-year survival?")
        lim = funnel_limits(pooled["surv5"], float(t["n_survival"].max()))
        chart(figures.funnel(t, "n_survival", "surv5", "country", lim, pooled["surv5"],
                             "5-year survival against the number of cases", name_col="country_name",
                             footnote=foot + "\nControl limits: pooled value ± z·sqrt(p(1-p)/n), z = 1.96 (95%) "
                                             "and 3.09 (99.8%)."),
              "international-funnel")
        st.caption("A country outside the 99.8% limits differs from the pooled survival by more than chance "
                   "would explain with its number of cases (Spiegelhalter 2005), drawn in red. Points are labelled "
                   "by ISO country code where there is room; hover over a point for the country's name.")

    measures = {"asr": "Age-standardised incidence", "surv5": "5-year survival"}
    if any(t[m].notna().any() for m in measures):
        st.subheader("Map")
        measure = st.radio("Measure", list(measures), horizontal=True, key=k_map, format_func=measures.get)
        if t[measure].notna().any():
            surv_title = "5-year observed survival" + (f", period {window.replace('-', '–')}" if window else "")
            chart(country_map(t, measure, measures[measure] if measure == "asr" else surv_title,
                              "per million" if measure == "asr" else "survival", notice=foot,
                              value_format=".1f" if measure == "asr" else ".1%"),
                  "international-map", maps.PLOTLY_CONFIG)
        else:
            st.info(markdown_text(f"No country has {measures[measure].lower()} to map for this selection "
                                  "(see above)."), icon=":material/info:")

    st.subheader("By country, with data-quality context")
    caveats = t[t["caveat"].fillna("") != ""]
    if len(caveats):
        st.markdown("**Caveats**: " + markdown_text(f"\u2691 marks a data-quality flag ({FLAG_RULES}; indicators "
                                                    f"after {QUALITY_SOURCE}). Read these before ranking:"))
        st.markdown("\n".join(
            f"- **{markdown_text(r.country_name)}**{' ⚑' if r.quality_flag else ''}: {markdown_text(r.caveat)}"
            for r in caveats.itertuples()))
    if res["net_reason"]:
        st.caption(markdown_text(res["net_reason"]))
    # the columns that matter, the quality ones next to the (pinned) country; the CSV has every column
    shown = ["country", "flag", "dco_share", "mv_share", "median_followup_years", "cases", "asr", "surv5",
             "net5", "net5_std"] + (["note"] if t["suppressed"].any() else [])
    table(t, "international_comparison.csv", footnote=foot, column_order=shown, placeholder=NOT_SHOWN)
    st.caption(f"{NOT_SHOWN}: not shown: a share where the group or the rest of the country's cases holds "
               f"{policy().fewer}, an estimate from too few cases (said above the charts), or net survival without a "
               "life table. Confidence intervals are on the charts and in the CSV download.")

with st.expander("Methods and definitions"):
    for note in res["notes"]:
        st.markdown(f"- {note}")
    st.markdown(f"- {markdown_text(flag_note)}")
    st.markdown(f"- Caveats appear for a flag, and when {markdown_text(CASE_MIX_RULE)} (5-year survival here "
                "is not age-standardised).")
