"""Overview: what is in the pool."""
import plotly.express as px
import streamlit as st

from analytics import overview
from ui import chart, connection, page_header, table

info = page_header("Childhood Cancer Outcomes Explorer")
st.caption("Pooled, harmonized childhood and adolescent cancer registry data (ages 0-19), "
           "classified by ICCC-3 (IARC 2017 update).")

if info["cases"] == 0:
    st.info("The warehouse is empty. Load a submission with `python -m analytics ingest FILE`.")
    st.stop()

con = connection()
y_lo, y_hi = overview.year_span(con)  # the years the analysis pages offer
c = st.columns(3) + st.columns(3)
c[0].metric("Tumours", f"{info['cases']:,}")
c[1].metric("Countries", info["countries"])
c[2].metric("Years of diagnosis", f"{y_lo}–{y_hi}")
c[3].metric("Person-years (ages 0-19)", f"{(info['person_years'] or 0) / 1e6:,.0f} million",
            help="Sum over countries of the population aged 0-19 (UN WPP 2022 unless a partner "
                 "supplied its own) in the years each country's cases cover.")
c[4].metric("Submissions", info["submissions"])
c[5].metric("Rows rejected at ingest", f"{info['rejected']:,}")
n_outside = overview.outside_years(con)
if n_outside:
    lo, hi = overview.SELECTABLE_YEARS
    st.info(f"{n_outside:,} tumour(s) with a year of diagnosis outside {lo}-{hi} are counted here but "
            f"on no analysis page (loaded before ingest refused such dates; remove that submission "
            f"and load it corrected).", icon=":material/info:")

groups = overview.cases_by_group(con)
st.subheader("Tumours by ICCC-3 main group")
shown = groups.dropna(subset=["cases"]).assign(label=lambda d: d["iccc_main"] + "  " + d["name"])
fig = px.bar(shown, x="cases", y="label", orientation="h",
             labels={"cases": "Tumours (n)", "label": ""})
fig.update_yaxes(autorange="reversed")
fig.update_layout(height=460, margin=dict(l=10, r=10, t=10, b=10))
chart(fig, "home")
with st.expander("Table: tumours by ICCC-3 main group"):
    table(groups.drop(columns="name"), "tumours_by_iccc_group.csv")
st.subheader("Tumours and population by country")
PY_NOTE = "Person-years: UN WPP 2022 population aged 0-19, both sexes, over each country's years of diagnosis."
table(overview.cases_by_country(con), "tumours_by_country.csv", footnote=PY_NOTE)
st.caption(PY_NOTE)
gaps = overview.population_gaps(con)  # countries or years without person-years: out of every rate
if gaps:
    st.info(gaps, icon=":material/info:")
