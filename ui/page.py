"""The frame of every page: title, the notices it carries, presentation mode, and the common start
of the analysis pages (`AnalysisPage`)."""
from __future__ import annotations

import streamlit as st

from analytics import overview
from ui.cache import pool_summary
from ui.connection import connection, db_path
from ui.state import PageState
from ui.widgets import tumour_options

SYNTHETIC_NOTICE = ("Synthetic demonstration data: these cases are simulated (calibrated to published "
                    "figures) and are not real patients or real outcomes.")


def page_header(title: str) -> dict:
    """Title plus the notices every page carries; returns the pool summary."""
    st.title(title)
    path = db_path()
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Build it with `python -m analytics demo` "
                 f"(or start the app with `python3 dev.py run`, which does it for you).")
        st.stop()
    info = pool_summary(str(path))
    if st.query_params.get("present") == "on":
        presentation_mode()
    if info["synthetic"]:
        st.warning(SYNTHETIC_NOTICE, icon="⚠️")
    return info


_PRESENTATION_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stToolbar"],
[data-testid="stExpander"], [data-testid="stDownloadButton"] { display: none !important; }
html, [data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { font-size: 1.25rem !important; }
[data-testid="stMetricValue"] { font-size: 3rem !important; }
h1 { font-size: 3.2rem !important; } h2, h3 { font-size: 2.2rem !important; }
</style>"""


def presentation_mode() -> None:
    """Controls hidden, fonts enlarged (URL: ?present=on), with a way back."""
    st.markdown(_PRESENTATION_CSS, unsafe_allow_html=True)
    if st.button("Exit presentation mode", icon=":material/close_fullscreen:"):
        del st.query_params["present"]
        st.rerun()


class AnalysisPage:
    """What every analysis page starts from: title and notices, the pool's countries and years,
    its URL-backed state, the tumour-type options. Stops the page on an empty warehouse."""

    def __init__(self, title: str, key: str):
        self.info = page_header(title)
        if self.info["empty"]:
            st.info("The warehouse holds no cases yet.")
            st.stop()
        self.con = connection()
        self.countries = overview.countries(self.con)
        self.y_lo, self.y_hi = overview.year_span(self.con)
        self.state = PageState(key)
        self.tumours = tumour_options()

    def tumour_widget(self, name: str = "tumour", default: str = "", label: str = "Tumour type (ICCC-3)") -> None:
        k = self.state.choice(name, list(self.tumours), default)
        st.selectbox(label, list(self.tumours), format_func=self.tumours.get, key=k)

    def countries_widget(self, name: str = "countries", label: str = "Countries") -> None:
        k = self.state.multi(name, self.countries, self.countries)
        st.multiselect(label, self.countries, key=k)

    def footnote(self, text: str) -> str:
        """`text` plus the data version and, for synthetic pools, the notice (one per line)."""
        foot = f"{text}\n{self.info['data_version']}"
        if self.info["synthetic"]:
            foot += "\nSynthetic demonstration data: not real patients or outcomes."
        return foot
