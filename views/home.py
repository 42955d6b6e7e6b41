"""Overview: what is in the pool."""
import streamlit as st

from analytics.release import pool
from ui import chart, connection, page_header, table

info = page_header("Childhood Cancer Outcomes Explorer")
st.caption("Pooled, harmonized childhood and adolescent cancer registry data (ages 0-19), "
           "classified by ICCC-3 (IARC 2017 update, with SEER's 2023 revision for ICD-O-3.2 codes).")

if info["empty"]:
    st.info("The warehouse is empty. Load a submission with `python -m analytics ingest FILE`.")
    st.stop()

con = connection()
y_lo, y_hi = pool.year_span(con)  # the years the analysis pages offer
c = st.columns(3) + st.columns(3)
c[0].metric("Tumours", f"{info['cases']}")
c[1].metric("Countries", info["countries"])
c[2].metric("Years of diagnosis", f"{y_lo}–{y_hi}")
c[3].metric("Person-years (ages 0-19)", f"{(info['person_years'] or 0) / 1e6:,.0f} million",
            help="Sum over countries of the population aged 0-19 (UN WPP 2022 unless a partner "
                 "supplied its own) in the years each country's cases cover.")
c[4].metric("Submissions", info["submissions"])
c[5].metric("Rows rejected at ingest", f"{info['rejected']}")
outside = pool.outside_years_note(con)
if outside:
    st.info(outside, icon=":material/info:")

NOTE = pool.table_note()
groups = pool.cases_by_group(con)
st.subheader("Tumours by ICCC-3 main group")
chart(pool.tumour_bars(groups), "home")
with st.expander("Table: tumours by ICCC-3 main group"):
    table(groups.drop(columns="name"), "tumours_by_iccc_group.csv", footnote=NOTE)
st.subheader("Tumours and population by country")
PY_NOTE = "Person-years: UN WPP 2022 population aged 0-19, both sexes, over each country's years of diagnosis."
table(pool.cases_by_country(con), "tumours_by_country.csv", footnote=f"{PY_NOTE}\n{NOTE}")
st.caption(f"{PY_NOTE} {NOTE}")
gaps = pool.population_gaps(con)  # countries or years without person-years: out of every rate
if gaps:
    st.info(gaps, icon=":material/info:")
