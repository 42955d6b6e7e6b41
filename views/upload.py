"""Load data (registry data managers and admins): a country's file checked, then loaded, its rejected
rows, the removal of a submission, and a country's person-years and life tables. Every action goes through `analytics.upload` and
`analytics.access`, which refuse what the signed-in role does not allow."""
import streamlit as st

from analytics import access, upload
from analytics.ingest import StrictRejectError, SubmissionError, loaded_words
from analytics.labels import country
from analytics.reference import ReferenceFileError, year_ranges
from analytics.reference.lifetable import SEX_NAMES, read_life_table_file
from analytics.reference.population import read_population_file
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
           f"remove submissions of {scope}, see their rejected rows, and load their person-years and life tables. A submission is a CSV (UTF-8) "
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
    text = f"add submission {r.submission_id} ({loaded_words(r.kind, r.rows_loaded)} of {where})"
    if outcome.replaces:
        text += " and replace " + ", ".join(f"submission {s} ({n:,} rows loaded)" for s, n in outcome.replaces.items())
    return text


load_tab, rejected_tab, remove_tab, reference_tab = st.tabs(
    ["Load a file", "Rejected rows", "Remove a submission", "Population and life tables"])

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
            sure = st.checkbox(f"Load it: {change}", key=f"upload_confirm_{f.file_id}")
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
        n = con.execute("SELECT rows_loaded, rows_rejected, kind FROM submissions WHERE submission_id = ?",
                        [sid]).fetchone()
        sure = st.checkbox(f"Remove submission {sid}: its {loaded_words(n[2], n[0])} and {n[1]:,} rejected rows "
                           "leave the pool",
                           key=f"remove_confirm_{sid}")
        if st.button("Remove", type="primary", disabled=not sure, icon=":material/delete:", key="remove_go"):
            try:
                upload.remove(db_path(), who, sid)
                st.success(f"Removed submission {markdown_text(sid)}. Every session sees it on its next click.")
            except (SubmissionError, access.PermissionDenied, WarehouseBusy) as e:
                st.error(markdown_text(str(e)))


def _staged(kind: str, ident, f, suffixes, read):
    """The uploaded reference file kept and read once (`read(path)`) per `ident` (the upload, and for
    a life table its country and sex): (path, what was read, problem in words). A file it replaces,
    or one that cannot be read, is not kept."""
    key = f"{kind}_staged"
    held = st.session_state.get(key)
    if held and held[0] == ident:
        return held[1:]
    if held and held[1] is not None:
        upload.discard(held[1])
    path = found = problem = None
    try:
        path = upload.stage(f.name, f.getvalue(), suffixes=suffixes)
        found = read(path)
    except (upload.UploadError, ReferenceFileError) as e:
        problem = str(e)
    except Exception as e:  # a hostile file gets a message, not a traceback
        problem = f"{f.name} cannot be read ({type(e).__name__})"
    if problem and path is not None:
        upload.discard(path)
        path = None
    st.session_state[key] = (ident, path, found, problem)
    return path, found, problem


def _confirm_and_load(kind: str, ident, path, change: str, load) -> None:
    """The confirmation naming `change`, then `load()` (returning its summary) as a new warehouse
    version; once loaded, the same upload is not offered again (a second click would load it twice)."""
    done = st.session_state.get(f"{kind}_loaded")
    if done and done[0] == ident:
        st.success(f"Loaded: {markdown_text(change)}. Every session sees it on its next click; choose "
                   "another file to load more.")
        st.code(done[1], language=None)
        return
    sure = st.checkbox(f"Load it: {change}", key=f"{kind}_confirm_{abs(hash(ident))}")
    if st.button("Load", type="primary", disabled=not sure, icon=":material/upload:", key=f"{kind}_load"):
        try:
            with st.spinner("Loading: a new version of the warehouse ..."):
                summary = load()
        except (ReferenceFileError, access.PermissionDenied, WarehouseBusy) as e:
            st.error(markdown_text(str(e)))
            return
        upload.discard(path)
        st.session_state[f"{kind}_loaded"] = (ident, summary)
        st.rerun()


with reference_tab:
    st.caption("A country's own person-years (the denominators of incidence rates) and life tables (the "
               "expected mortality of net survival) take the place of the UN World Population Prospects and "
               "HMD figures: a population file replaces **all** the person-years of its countries (every year, "
               "not only the file's), and a life table the whole table of its country and sex. Their layouts "
               "are those of `python -m analytics population` and `python -m analytics lifetable` (see the "
               "README). Every load is in the audit log.")
    kind = st.radio("File", ["population", "lifetable"], horizontal=True, key="reference_kind",
                    format_func={"population": "Population (person-years, CSV)",
                                 "lifetable": "Life table (HMD 1x1 layout)"}.get)
    if kind == "population":
        f = st.file_uploader("Population file: CSV with columns country, year, sex, age_group, population",
                             type=["csv"], key="population_file")
        if f is not None:
            path, pf, problem = _staged("population", f.file_id, f, upload.POPULATION_SUFFIXES, read_population_file)
            if problem:
                st.error(markdown_text(problem))
            else:
                places = sorted(pf.rows["country"].unique())
                change = (f"replace all the person-years of {', '.join(country(c) for c in places)} with the "
                          f"{pf.rows_read:,} rows of {path.name} ({year_ranges(pf.rows['year'])})")
                _confirm_and_load("population", f.file_id, path, change,
                                  lambda: upload.load_population(db_path(), who, path).summary())
    else:
        f = st.file_uploader("Life table: a Human Mortality Database 1x1 period table (mltper_1x1.txt or "
                             "fltper_1x1.txt layout)", type=["txt", "csv"], key="lifetable_file")
        # the countries of the pool and the person's own (a life table serves the pool's survival)
        places = sorted(c for c in {c for cs in owners.values() for c in cs} | set(who.countries) if who.manages(c))
        left, right = st.columns(2)
        where = left.selectbox("Country", places, format_func=country, key="lifetable_country")
        sex = right.radio("Sex", [1, 2], format_func=lambda s: SEX_NAMES[s].capitalize(), horizontal=True,
                          key="lifetable_sex")
        if f is not None and where:
            ident = (f.file_id, where, sex)
            path, table, problem = _staged("lifetable", ident, f, upload.LIFETABLE_SUFFIXES,
                                           lambda p: read_life_table_file(p, where, sex))
            if problem:
                st.error(markdown_text(problem))
            else:
                change = (f"replace the whole life table of {country(where)}, {SEX_NAMES[sex]}, with {path.name} "
                          f"({year_ranges(table.rows['year'])})")
                _confirm_and_load("lifetable", ident, path, change, lambda: table.summary(
                    upload.load_lifetable(db_path(), who, path, where, sex)[1]))
