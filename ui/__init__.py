"""Streamlit glue shared by the pages (`views/`). Pages stay thin: widgets and URL state in, an
`analytics.release` call, a figure or table out. One concern per module:

    connection.py  where the warehouse is (`db_path`) and the snapshot of it a script run reads
    cache.py       the release layer's results, cached per selection and disclosure policy
    page.py        the page frame: title and notices, presentation mode, `AnalysisPage`
    widgets.py     selection widgets, method tooltips, the checked selection (a cache key)
    tables.py      released tables with CSV downloads; survival tables, medians, log-rank line
    charts.py      released figures with PNG/SVG downloads
    state.py       widget state kept in the URL (`PageState`)

The names pages use are re-exported here: `from ui import AnalysisPage, table, chart, ...`.
"""
from __future__ import annotations

from ui.cache import (COX_MAX_TERMS, cached_age_standardised, cached_cohorts, cached_cox, cached_cumulative_incidence,
                      cached_incidence, cached_period_windows,
                      cached_international, cached_ph_test, cached_rate_ratio, cached_survival, cached_trend,
                      pool_summary)
from ui.charts import chart
from ui.connection import connection, db_path, pin_snapshot, snapshot
from ui.page import SYNTHETIC_NOTICE, AnalysisPage, page_header, presentation_mode, presenting
from ui.tables import LABELS, logrank_line, p_text, survival_tables, table
from ui.widgets import (METHOD_HELP, checked_filters, estimate_widget, tumour_filter, tumour_options,
                        year_range_widget)

__all__ = [
    "db_path", "connection", "snapshot", "pin_snapshot",
    "pool_summary", "cached_incidence", "cached_trend", "cached_rate_ratio", "cached_survival",
    "cached_age_standardised", "cached_cox", "cached_ph_test", "COX_MAX_TERMS", "cached_international",
    "cached_cohorts", "cached_cumulative_incidence", "cached_period_windows",
    "SYNTHETIC_NOTICE", "page_header", "presentation_mode", "presenting", "AnalysisPage",
    "METHOD_HELP", "tumour_options", "tumour_filter", "year_range_widget", "estimate_widget", "checked_filters",
    "LABELS", "p_text", "table", "logrank_line", "survival_tables",
    "chart",
]
