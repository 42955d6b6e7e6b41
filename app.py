"""Childhood Cancer Outcomes Explorer: the Streamlit entry point (`streamlit run app.py`).

Pages live in views/ (not pages/: a folder named pages/ beside app.py makes Streamlit run the
first session of a fresh server in its old multipage mode, ignoring st.navigation, so a shared
link opened first would show the wrong navigation); shared glue in ui/; every number comes from
analytics/.
"""
import streamlit as st

from analytics.access import RolesFileError
from ui.auth import account_box, principal, roles
from ui.cache import warm_up
from ui.connection import pin_snapshot, release_snapshot

st.set_page_config(page_title="Childhood Cancer Outcomes Explorer", page_icon="📊", layout="wide")
pin_snapshot()  # this run reads one warehouse version throughout (loads do not stop the app)
warm_up()  # once per server: the world map's shapes built in the background
try:
    roles()  # the roles file, checked once: a mistake in it stops every page with the problem named
except RolesFileError as e:
    st.error(f"The app cannot start: {e}", icon=":material/error:")
    st.stop()

pages = [
    # the default page is served at "/" (Streamlit ignores a url_path for it)
    st.Page("views/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/incidence.py", title="Incidence", icon=":material/bar_chart:", url_path="incidence"),
    st.Page("views/survival.py", title="Survival", icon=":material/monitor_heart:", url_path="survival"),
    st.Page("views/cohorts.py", title="Compare cohorts", icon=":material/compare_arrows:", url_path="cohorts"),
    st.Page("views/international.py", title="International comparison", icon=":material/public:",
            url_path="international"),
    st.Page("views/data_quality.py", title="Submissions & data quality", icon=":material/fact_check:",
            url_path="data-quality"),
    st.Page("views/help.py", title="Help & methods", icon=":material/help:", url_path="help"),
]
# Pages for roles (analytics.access refuses their actions to anyone else, whatever is shown).
who = principal()
if who.admin or who.countries:
    pages.append(st.Page("views/upload.py", title="Load data", icon=":material/upload_file:", url_path="upload"))
if who.admin:
    pages.append(st.Page("views/audit.py", title="Audit log", icon=":material/history:", url_path="audit"))
account_box()
try:
    st.navigation(pages).run()
finally:
    release_snapshot()
