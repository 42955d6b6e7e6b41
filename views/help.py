"""Help & methods: what the pages show, how the numbers are made, and how small numbers are
protected (the methods note of issue 10, from `analytics.disclosure.methods_note`)."""
import streamlit as st

from analytics.disclosure import methods_note
from ui import page_header

page_header("Help & methods")
st.markdown(
    "This site shows pooled, harmonized registry data on cancers in children and adolescents "
    "(ages 0-19), classified by the International Classification of Childhood Cancer, third edition "
    "(ICCC-3, IARC 2017 update). Every page shows aggregates only.")
st.subheader("The pages")
st.markdown("""
- **Overview**: what is in the pool: tumours by ICCC-3 group and by country, with the population at risk.
- **Incidence**: new cases per million person-years, age-standardised to a standard population, by
  country, tumour group, age and year, with 95% confidence intervals. Denominators: UN World Population
  Prospects 2022 (CC BY 3.0 IGO) unless a partner supplied its own.
- **Survival**: Kaplan-Meier observed survival and net survival (Pohar Perme) by tumour type, age, sex,
  stage, period and country, with numbers at risk, log-rank tests and Cox models.
- **Compare cohorts**: survival and characteristics of cohorts you define side by side.
- **International comparison**: incidence and 5-year survival by country against the pooled value,
  with each country's data-quality indicators and caveats.
- **Submissions & data quality**: the files loaded and why rows were rejected.

Every view is a link: copy the address (or use *Copy link to this view* in the sidebar) to reopen
exactly the same view.
""")
st.subheader("Small numbers and confidentiality")
st.markdown(methods_note())
