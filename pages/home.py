"""Overview: what is in the pool."""
import plotly.express as px
import streamlit as st

from analytics import overview
from ui import connection, page_header, table

info = page_header("Childhood Cancer Outcomes Explorer")
st.caption("Pooled, harmonized childhood and adolescent cancer registry data (ages 0-19), "
           "classified by ICCC-3 (IARC 2017 update).")

if info["cases"] == 0:
    st.info("The warehouse is empty. Load a submission with `python -m analytics ingest FILE`.")
    st.stop()

c = st.columns(5)
c[0].metric("Tumours", f"{info['cases']:,}")
c[1].metric("Countries", info["countries"])
c[2].metric("Years of diagnosis", f"{info['year_min']}–{info['year_max']}")
c[3].metric("Submissions", info["submissions"])
c[4].metric("Rows rejected at ingest", f"{info['rejected']:,}")

con = connection()
groups = overview.cases_by_group(con)
left, right = st.columns([3, 2])
with left:
    st.subheader("Tumours by ICCC-3 main group")
    fig = px.bar(groups.dropna(subset=["cases"]), x="cases", y="iccc_main", orientation="h",
                 hover_data=["name"], labels={"cases": "Tumours (n)", "iccc_main": "ICCC-3 group"})
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10))
    st.plotly_chart(fig, width="stretch")
    table(groups, "tumours_by_iccc_group.csv")
with right:
    st.subheader("Tumours by country")
    table(overview.cases_by_country(con), "tumours_by_country.csv")
