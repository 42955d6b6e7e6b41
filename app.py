"""Childhood Cancer Outcomes Explorer: the Streamlit entry point (`streamlit run app.py`).

Pages live in pages/; shared glue in ui/; every number comes from analytics/.
"""
import streamlit as st

st.set_page_config(page_title="Childhood Cancer Outcomes Explorer", page_icon="📊", layout="wide")

pages = [
    # the default page is served at "/" (Streamlit ignores a url_path for it)
    st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/data_quality.py", title="Submissions & data quality", icon=":material/fact_check:",
            url_path="data-quality"),
]
st.navigation(pages).run()
