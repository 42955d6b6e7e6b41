"""Submissions and data quality: for registry data managers."""
import streamlit as st

from analytics.release import pool
from ui import connection, page_header, table

page_header("Submissions & data quality")
NOTE = pool.table_note("rows")
st.caption("Every loaded file, with its rows read, loaded, rejected and unclassified (ICCC-3). "
           "A submission usually holds the tumours of one country, so its rows are counts like any "
           f"other on this site: {NOTE[0].lower()}{NOTE[1:]} Rows read therefore need not equal rows "
           "loaded plus rows rejected here. The exact accounting of each file is printed when it is "
           "loaded (on the Load data page, or by `python -m analytics ingest`); rejected rows are kept in "
           "the warehouse with every reason, shown to the data managers of their country on the Load "
           "data page after signing in (or `python -m analytics rejected SUBMISSION`).")
con = connection()
subs = pool.submissions(con)
if subs.empty:
    st.info("No submissions loaded yet.")
    st.stop()
table(subs, "submissions.csv", footnote=NOTE)
st.subheader("Why rows were rejected")
table(pool.rejection_reasons(con), "rejection_reasons.csv", footnote=NOTE)
