"""Audit log (admins): every change to the warehouse, who made it, when, and from which file."""
import streamlit as st

from analytics import access, audit
from analytics.safe_text import csv_frame
from ui import page_header
from ui.auth import principal
from ui.connection import connection

page_header("Audit log")
who = principal()
con = connection()
try:
    log = access.audit_log(con, who)
except access.PermissionDenied as e:
    st.error(str(e), icon=":material/lock:")
    st.stop()

st.caption("Every load, replacement, removal, population and life-table import, from the browser "
           "or the command line, newest first; times in UTC. Entries are only ever appended, each "
           "chained to the one before by its SHA-256 (`python -m analytics audit --verify`).")
problems = audit.verify(con)
if problems:
    st.error("The audit log has been altered: " + "; ".join(problems))
else:
    st.success(f"The log is whole: {len(log):,} entr{'y' if len(log) == 1 else 'ies'}, each chained to "
               "the one before.", icon=":material/verified:")
shown = log.drop(columns=["prev_hash", "hash"]).sort_values("seq", ascending=False)
shown = shown.astype(object).where(shown.notna(), "–")  # "–" where a change has no file or rows
st.dataframe(shown, hide_index=True, column_config={
    "seq": "No.", "at_utc": "When (UTC)", "who": "Who", "action": "Action", "what": "What",
    "file_name": "File", "sha256": "File SHA-256", "rows_read": "Rows read", "rows_loaded": "Loaded",
    "rows_rejected": "Rejected", "data_version": "Warehouse version"})
st.download_button("Audit log (CSV)", csv_frame(log).to_csv(index=False), "audit_log.csv", "text/csv")
