"""Submissions and data quality: for registry data managers."""
import streamlit as st

from analytics import overview
from ui import connection, page_header, table

page_header("Submissions & data quality")
st.caption("Every loaded file, with its row accounting: rows read = rows loaded + rows rejected. "
           "Rejected rows are kept in the warehouse with every reason; list them with "
           "`python -m analytics rejected SUBMISSION`.")
con = connection()
subs = overview.submissions(con)
if subs.empty:
    st.info("No submissions loaded yet.")
    st.stop()
table(subs, "submissions.csv")
st.subheader("Why rows were rejected")
table(overview.rejection_reasons(con), "rejection_reasons.csv")
