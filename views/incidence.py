"""Incidence: rates per million person-years, age-standardised, by country, tumour type, age and year.

Every number comes released from `analytics.release.rates` (counts perturbed, hidden below the
threshold; rates from perturbed counts, rounded): docs/disclosure-control.md."""
import streamlit as st

from analytics import figures, iccc, maps
from analytics.filters import SelectionError
from analytics.release import rates
from analytics.release.rates import CI_METHODS, STANDARDS, NoDenominators
from ui import (METHOD_HELP, AnalysisPage, cached_incidence, cached_rate_ratio, cached_trend, chart, checked_filters,
                snapshot, table, tumour_filter, year_range_widget)

page = AnalysisPage("Incidence", "incidence")
info, state, tumours = page.info, page.state, page.tumours

with st.sidebar:
    st.header("Selection")
    page.tumour_widget(default="")
    page.countries_widget()
    k_ages = state.choice("ages", ["0-14", "15-19", "0-19"], "0-14")
    st.radio("Ages (years)", ["0-14", "15-19", "0-19"], key=k_ages, horizontal=True, help=METHOD_HELP["ages"])
    year_range_widget(state, "years", page.y_lo, page.y_hi)
    k_std = state.choice("standard", list(STANDARDS), "segi")
    st.selectbox("Standard population", list(STANDARDS), format_func=STANDARDS.get, key=k_std,
                 help=METHOD_HELP["standard"])
    k_ci = state.choice("ci", list(CI_METHODS), "tiwari")
    st.selectbox("Confidence interval (ASR)", list(CI_METHODS), format_func=CI_METHODS.get, key=k_ci,
                 help=METHOD_HELP["ci_rate"])
    st.caption("Sex-specific rates need sex-specific denominators; the bundled UN WPP figures are "
               "for both sexes combined, so rates here are for boys and girls together.")
TABS = ["By country", "Map", "Tumour groups", "By age", "Trend"]
k_tab = state.choice("tab", TABS, TABS[0])  # the open tab is part of the link
state.write_back(ranges=("years",))
state.show_notices()
with st.sidebar:
    state.share_box()

tumour, chosen = state.get("tumour"), state.get("countries")
years, ages, standard, ci = tuple(state.get("years")), state.get("ages"), state.get("standard"), state.get("ci")
key = (snapshot(), checked_filters({"country": chosen, **tumour_filter(tumour)}, years), years, ages, standard, ci)

with st.spinner("Computing rates…"):
    try:
        pooled = cached_incidence(*key, by=())
        by_country = cached_incidence(*key, by=("country",))
    except NoDenominators as e:  # e.g. only countries without population figures chosen
        st.info(f"No incidence rate for this selection: {e}.")
        st.stop()
    except SelectionError as e:
        st.error(f"Incidence cannot be computed for this selection: {e}.")
        st.stop()
if pooled.left_out:  # country-years without person-years: out of every rate below (a released count)
    st.info(pooled.left_out, icon=":material/info:")
what = tumours[tumour] if tumour else "All tumours"
foot = page.footnote(f"{what}; ages {ages}; diagnosed {years[0]}-{years[1]}. Rate per million person-years, "
                     f"{STANDARDS[standard]}; 95% CI {CI_METHODS[ci]}.")
table_foot = f"{foot}\n{rates.table_note()}"  # tables of counts: not additive

p = pooled.pooled  # Cases as a released Count; the rate only when that count is released
c = st.columns(4)
c[0].metric("Cases", f"{p.cases}")
c[1].metric("Person-years (millions)", f"{p.person_years / 1e6:,.1f}")  # fits a 1280-pixel screen
c[2].metric("Age-standardised rate", "—" if p.asr is None else f"{p.asr:.1f}",
            help="Per million person-years")
c[3].metric("95% CI", "—" if p.asr is None else f"{p.asr_lower:.1f} – {p.asr_upper:.1f}")
if p.no_cases:
    st.info("No cases match this selection: the rate is 0 with the upper confidence limit shown.")

# Only the open tab is computed (on_change="rerun"); switching tabs reruns the page from the cache.
tab_country, tab_map, tab_groups, tab_age, tab_trend = st.tabs(TABS, key=k_tab, on_change="rerun")

with tab_country:
    if tab_country.open:
        t = by_country.table
        fig = figures.rate_bars(t, "country", f"Age-standardised incidence by country: {what}",
                                "Rate per million person-years (95% CI)", pooled=p.asr,
                                pooled_label="All selected countries", footnote=foot)
        chart(fig, "incidence")
        n_supp = int(t["suppressed"].sum())  # countries, not people
        if n_supp:
            st.caption(f"{n_supp} countr{'y is' if n_supp == 1 else 'ies are'} not shown: suppressed, fewer than "
                       f"{by_country.threshold} cases (or needed to protect a suppressed neighbour).")
        table(t, "incidence_by_country.csv", footnote=table_foot)

with tab_map:
    if tab_map.open:
        fig = rates.country_map(by_country.table, f"Age-standardised incidence: {what}", "per million",
                                notice=foot)
        chart(fig, "incidence-map", maps.PLOTLY_CONFIG)
        st.caption("Grey: no data or suppressed. Only countries in the pool are coloured.")

with tab_groups:
    if tab_groups.open:
        if tumour:
            st.caption("Showing all ICCC-3 main groups for the selected countries "
                       "(the tumour filter is not applied here).")
        by_group = cached_incidence(snapshot(), checked_filters({"country": chosen}, years), years, ages,
                                    standard, ci, by=("country", "iccc_main"))
        grid = by_group.table
        if by_group.left_out and by_group.left_out != pooled.left_out:
            st.caption(f"All tumours: {by_group.left_out}")
        fig = figures.heatmap(grid, "country", "iccc_main", "asr", "Age-standardised rate by country and ICCC-3 group",
                              "per million", footnote=foot.replace(what + "; ", ""), col_order=list(iccc.MAIN_GROUPS))
        chart(fig, "incidence")
        st.caption("s = suppressed (fewer than the minimum number of cases).")
        table(grid, "incidence_by_country_and_group.csv", footnote=table_foot)

with tab_age:
    if tab_age.open:
        age = pooled.age_specific
        fig = figures.rate_points(age, "age_band", f"Age-specific incidence: {what}", "Age group (years)",
                                  "Rate per million person-years (95% CI)", footnote=foot)
        chart(fig, "incidence")
        table(age, "incidence_by_age.csv", footnote=table_foot)

with tab_trend:
    if tab_trend.open:
        yearly = cached_incidence(*key, by=("year",)).table
        tr = cached_trend(*key)
        row = tr.iloc[0] if len(tr) else None
        if row is None or row["suppressed"] or row["apc"] != row["apc"]:
            st.info("Annual percent change not available for this selection (too few cases or years).")
        else:
            st.markdown(f"**Annual percent change (APC): {row['apc']:+.2f}% per year** "
                        f"(95% CI {row['apc_lower']:+.2f} to {row['apc_upper']:+.2f}), "
                        f"{int(row['first_year'])}–{int(row['last_year'])}.")
        if tr.attrs.get("apc_note"):
            st.caption(tr.attrs["apc_note"])
        fig = figures.trend_lines(yearly, f"Age-standardised incidence by year of diagnosis: {what}",
                                  "Rate per million person-years", footnote=foot)
        chart(fig, "incidence")
        st.caption("APC: least-squares line through the natural logarithm of the yearly age-standardised rates, "
                   "95% CI from the t distribution (SEER*Stat's method).")
        if years[1] - years[0] >= 9:
            p1, p2 = (years[0], years[0] + 4), (years[1] - 4, years[1])
            rr = cached_rate_ratio(snapshot(), key[1], ages, standard, p1, p2)
            if rr["suppressed"]:
                why = rr.get("reason") or "too few cases"
                st.caption(f"Rate ratio {p2[0]}–{p2[1]} vs {p1[0]}–{p1[1]}: not shown ({why}).")
            else:
                st.markdown(f"**Rate ratio {p2[0]}–{p2[1]} vs {p1[0]}–{p1[1]}: {rr['rate_ratio']:.2f}** "
                            f"(95% CI {rr['lower']:.2f}–{rr['upper']:.2f}; ratio of age-standardised rates, "
                            f"log-normal interval).")
        table(yearly, "incidence_by_year.csv", footnote=table_foot)

with st.expander("Methods and definitions"):
    for note in pooled.notes:
        st.markdown(f"- {note}")
