"""Load data (registry data managers and admins): a country's file checked, then loaded, its rejected
rows, and the removal of a submission. Every action goes through `analytics.upload` and
`analytics.access`, which refuse what the signed-in role does not allow."""
import streamlit as st

from analytics import access, upload
from analytics.ingest import StrictRejectError, SubmissionError
from analytics.labels import country
from analytics.safe_text import csv_frame, markdown_text
from analytics.snapshots import WarehouseBusy
from ui import page_header
from ui.auth import principal
from ui.connection import connection, db_path

page_header("Load data")
who = principal()
if not (who.admin or who.countries):
    st.error("This page is for registry data managers and admins: sign in with the account the "
             "roles file lists (see Help & methods).", icon=":material/lock:")
    st.stop()

scope = "every country" if who.admin else ", ".join(sorted(country(c) for c in who.countries))
st.caption(f"Signed in as {markdown_text(who.identity)} ({who.describe()}): you may load, replace and "
           f"remove submissions of {scope}, and see their rejected rows. A submission is a CSV (UTF-8) "
           f"or Parquet file of at most {upload.MAX_UPLOAD_BYTES // 2**20} MB, in the columns of the data "
           "dictionary; it is checked first and loaded only when you confirm. Viewers see the new pool on "
           "their next click; every change is in the audit log.")


REJECTED_COLUMNS = {"line_no": "Line in the file", "case_id": "Case id", "reasons": "Why rejected (every reason)",
                    "raw": "The row as written (every column)"}


def _accounting(outcome: upload.Outcome) -> None:
    r = outcome.report
    c = st.columns(4)
    c[0].metric("Rows read", f"{r.rows_read:,}")
    c[1].metric("Loaded", f"{r.rows_loaded:,}")
    c[2].metric("Rejected", f"{r.rows_rejected:,}")
    c[3].metric("Unclassified (ICCC-3)", f"{r.rows_unclassified:,}")
    st.caption(f"Rows read = loaded + rejected ({r.rows_read:,} = {r.rows_loaded:,} + {r.rows_rejected:,})"
               + (f"; {r.blank_rows:,} blank line(s) skipped" if r.blank_rows else "") + ".")
    if r.reasons:
        st.markdown("**Why rows were rejected**")
        st.dataframe([{"Reason": k, "Rows": v} for k, v in r.reasons.items()], hide_index=True)
    if len(outcome.rejected):
        with st.expander(f"Rejected rows ({len(outcome.rejected):,}), with every reason"):
            st.dataframe(outcome.rejected, hide_index=True, column_config=REJECTED_COLUMNS)
            st.download_button("Rejected rows (CSV)", csv_frame(outcome.rejected).to_csv(index=False),
                               f"{r.submission_id}_rejected.csv", "text/csv")


def _change(outcome: upload.Outcome) -> str:
    r = outcome.report
    where = ", ".join(country(c) for c in outcome.countries) or "no country"
    text = f"add submission {r.submission_id} ({r.rows_loaded:,} tumours of {where})"
    if outcome.replaces:
        text += " and replace " + ", ".join(f"submission {s} ({n:,} tumours)" for s, n in outcome.replaces.items())
    return text


load_tab, rejected_tab, remove_tab = st.tabs(["Load a file", "Rejected rows", "Remove a submission"])

with load_tab:
    f = st.file_uploader("Submission file (CSV or Parquet)", type=["csv", "parquet"], key="upload_file")
    if f is not None:
        default = f.name.rsplit(".", 1)[0]
        name = st.text_input("Submission name", value=default, max_chars=80,
                             help="Loading a file under a name already loaded replaces that submission "
                                  "(tick below). By default, the file name.")
        replace = st.checkbox("Replace the submission of this name if it is already loaded", key="upload_replace")
        if st.button("Check the file", icon=":material/fact_check:", key="upload_check"):
            st.session_state.pop("upload_checked", None)
            problem = None
            with st.status("Checking the file ...", expanded=True) as status:
                try:
                    st.write("Receiving the file")
                    staged = upload.stage(f.name, f.getvalue())
                    st.write("Reading and validating every row (nothing is changed yet)")
                    outcome = upload.check(db_path(), who, staged, name=name or None, replace=replace)
                    st.session_state["upload_checked"] = (f.file_id, name, replace, staged, outcome)
                    status.update(label="Checked: nothing has changed yet", state="complete", expanded=False)
                except (upload.UploadError, SubmissionError, StrictRejectError, access.PermissionDenied,
                        WarehouseBusy) as e:
                    status.update(label="The file cannot be loaded", state="error", expanded=False)
                    problem = str(e)
            if problem:
                st.error(markdown_text(problem))
        checked = st.session_state.get("upload_checked")
        if checked and checked[:3] == (f.file_id, name, replace):
            outcome = checked[4]
            _accounting(outcome)
            change = _change(outcome)
            sure = st.checkbox(f"Load it: {change}", key="upload_confirm")
            if st.button("Load", type="primary", disabled=not sure, icon=":material/upload:", key="upload_load"):
                done = problem = None
                with st.status("Loading: a new version of the warehouse ...") as status:
                    try:
                        done = upload.load(db_path(), who, checked[3], name=name or None,
                                           replace=replace)
                        status.update(label="Loaded", state="complete")
                        upload.discard(checked[3])
                        st.session_state.pop("upload_checked", None)
                    except (SubmissionError, access.PermissionDenied, WarehouseBusy) as e:
                        status.update(label="Not loaded", state="error")
                        problem = str(e)
                if done:
                    st.success(f"Loaded: {markdown_text(_change(done))}. Every session sees it on its next click.")
                if problem:
                    st.error(markdown_text(problem))

con = connection()
owners = access.submission_countries(con)
mine = sorted(s for s, cs in owners.items() if who.admin or (cs and all(who.manages(c) for c in cs)))

with rejected_tab:
    if not mine:
        st.info("No submission of your countries is loaded.")
    else:
        sid = st.selectbox("Submission", mine, key="rejected_submission")
        rows = access.rejected_rows(con, who, sid)
        st.caption(f"{len(rows):,} rejected row(s) of {markdown_text(sid)}, as written in the file, with every reason. "
                   "Row-level values: shown to the data managers of the submission's countries only.")
        if len(rows):
            st.dataframe(rows, hide_index=True, column_config=REJECTED_COLUMNS)
            st.download_button("Rejected rows (CSV)", csv_frame(rows).to_csv(index=False), f"{sid}_rejected.csv",
                               "text/csv", key="rejected_csv")

with remove_tab:
    if not mine:
        st.info("No submission of your countries is loaded.")
    else:
        sid = st.selectbox("Submission to remove", mine, key="remove_submission")
        n = con.execute("SELECT rows_loaded, rows_rejected FROM submissions WHERE submission_id = ?", [sid]).fetchone()
        sure = st.checkbox(f"Remove submission {sid}: its {n[0]:,} tumours and {n[1]:,} rejected rows leave the pool",
                           key="remove_confirm")
        if st.button("Remove", type="primary", disabled=not sure, icon=":material/delete:", key="remove_go"):
            try:
                upload.remove(db_path(), who, sid)
                st.success(f"Removed submission {markdown_text(sid)}. Every session sees it on its next click.")
            except (SubmissionError, access.PermissionDenied, WarehouseBusy) as e:
                st.error(markdown_text(str(e)))
