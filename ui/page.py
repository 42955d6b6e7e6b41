"""The frame of every page: title, the notices it carries, presentation mode, and the common start
of the analysis pages (`AnalysisPage`)."""
from __future__ import annotations

import streamlit as st

from analytics import labels, overview, pooled
from ui.cache import pool_summary
from ui.connection import connection, db_path, snapshot
from ui.state import PageState
from ui.widgets import tumour_options

SYNTHETIC_NOTICE = ("Synthetic demonstration data: these cases are simulated (calibrated to published "
                    "figures) and are not real patients or real outcomes.")


def presenting() -> bool:
    """True in presentation mode (URL: ?present=on)."""
    return st.query_params.get("present") == "on"


def page_header(title: str) -> dict:
    """Title plus the notices every page carries; returns the pool summary. In presentation
    mode the title shares its line with the way back, and the notice is one compact line, so
    that the first figure starts high on the first screen."""
    path = db_path()
    if presenting():
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.title(title)
        with right:
            presentation_mode()
    else:
        st.markdown(_PAGE_CSS, unsafe_allow_html=True)
        st.title(title)
    if not path.exists():
        st.error(f"No warehouse at `{path}`. Build it with `python -m analytics demo` "
                 f"(or start the app with `python3 dev.py run`, which does it for you).")
        st.stop()
    info = pool_summary(snapshot())
    if info["synthetic"]:
        if presenting():
            st.markdown(f'<div class="ccoe-notice">⚠️ {SYNTHETIC_NOTICE}</div>', unsafe_allow_html=True)
        else:
            st.warning(SYNTHETIC_NOTICE, icon="⚠️")
    partners = pooled.partners_note(info["aggregate_counts"], info["aggregate_events"], info.get("interval_unit"))
    if partners and not presenting():
        st.info(partners, icon=":material/table_chart:")
    return info


# Every page: less empty space above the title (Streamlit's default is 6rem), so that the first
# screen at 1280 x 720 reaches the page's main figure.
_PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3rem !important; }
h1 { padding-top: 0.5rem !important; }
</style>"""


# Presentation mode: controls, captions and downloads hidden (the figures' own footnotes carry
# the counts and methods), Streamlit's header and top padding gone, headline numbers large.
_PRESENTATION_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stToolbar"],
[data-testid="stExpander"], [data-testid="stDownloadButton"], [data-testid="stHeader"],
[data-testid="stCaptionContainer"], [data-testid="stExpandSidebarButton"],
[data-testid="stMain"] [data-testid="stSelectbox"], [data-testid="stMain"] [data-testid="stMultiSelect"],
[data-testid="stMain"] [data-testid="stRadio"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1rem !important; padding-bottom: 1rem !important;
  max-width: 100% !important; }
[data-testid="stMarkdownContainer"] p { font-size: 1.2rem !important; }
[data-testid="stMetric"] [data-testid="stMetricValue"], [data-testid="stMetric"] [data-testid="stMetricValue"] p,
[data-testid="stMetric"] [data-testid="stMetricValue"] div { font-size: 3.2rem !important; line-height: 1.15 !important; }
[data-testid="stMetric"] [data-testid="stMetricLabel"] p { font-size: 1.1rem !important; }
h1 { font-size: 2.2rem !important; padding: 0 !important; } h2, h3 { font-size: 1.6rem !important; }
.ccoe-notice { font-size: 0.95rem; color: #7a5d00; background: #fff8e1; padding: 0.2rem 0.6rem;
  border-radius: 0.3rem; }
</style>"""


def presentation_mode() -> None:
    """Controls hidden, text enlarged (URL: ?present=on), with a way back: the button returns
    to the same view with its controls."""
    st.markdown(_PRESENTATION_CSS, unsafe_allow_html=True)
    if st.button("Exit presentation mode", icon=":material/close_fullscreen:", width="stretch"):
        del st.query_params["present"]
        st.rerun()


def data_footnote(info: dict) -> str:
    """The last lines of every figure's and table's footnote: the data version and, for synthetic
    pools, the notice (`info`: the pool summary `page_header` returns)."""
    foot = info["data_version"]
    partners = pooled.partners_footnote(info.get("aggregate_counts", []), info.get("aggregate_events", []))
    if partners:
        foot += "\n" + partners
    if info["synthetic"]:
        foot += "\nSynthetic demonstration data: not real patients or outcomes."
    return foot


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
        st.multiselect(label, self.countries, key=k, format_func=labels.country)  # names; codes in the URL

    def footnote(self, text: str) -> str:
        """`text` plus the data version and, for synthetic pools, the notice (one per line)."""
        return f"{text}\n{data_footnote(self.info)}"
