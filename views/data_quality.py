"""Submissions and data quality: each country's quality indicators (the ones registries are judged
by), their trend by year of diagnosis, and each submission's row accounting and rejection reasons.
Every number is released by analytics.release (quality, pool); the definitions are
analytics.quality's, the same as the International comparison's."""
import streamlit as st

from analytics import labels
from analytics.disclosure import policy
from analytics.release import pool
from analytics.release import quality as rq
from analytics.safe_text import markdown_text
from analytics.tables import NOT_SHOWN
from ui import chart, connection, page_header, presenting, snapshot, table
from ui.cache import cached_quality, cached_quality_trend
from ui.page import data_footnote
from ui.state import PageState

info = page_header("Submissions & data quality")
if info["empty"] and not info["submissions"]:
    st.info("No submissions loaded yet.")
    st.stop()
state = PageState("data-quality")
foot_data = data_footnote(info)
pol = policy()

st.caption("The indicators a cancer registry's data are judged by, for each country's tumours in the pool, "
           "then each file loaded with its rows read, loaded and rejected, and why rows were rejected. "
           "Counts are changed by a small amount and small ones hidden, as everywhere on this site "
           "(see Help & methods).")

def by_country(q) -> None:
    st.subheader("Data-quality indicators by country")
    tables = list(q.loc[q["sent_as"] != "records", "country"])
    flagged = q[q["flag"].fillna("") != ""]
    if len(flagged):
        st.markdown("\u2691 **Flagged**: " + markdown_text(", ".join(
            f"{n} ({f})" for n, f in zip(flagged["country_name"], flagged["flag"]))) +
            markdown_text(f". Flags: {rq.FLAG_RULES}; screening values for reading, not exclusions."))
    table(q, "data_quality_by_country.csv",
          footnote=f"Indicators after {rq.SOURCES}.\n{foot_data}", placeholder=NOT_SHOWN,
          column_order=["country", *(["sent_as"] if tables else []), "cases", *rq.INDICATORS, "followup_to", "flag"]
          + (["note"] if q["suppressed"].any() else []), widths={"flag": "medium"})
    if tables:
        st.caption(markdown_text(f"Aggregate partners ({', '.join(labels.country(c) for c in tables)}): indicators "
                                 f"{rq.FROM_TABLES}."))
    st.caption(f"{NOT_SHOWN}: not shown, where the part counted or the rest of the country's tumours holds "
               f"{pol.fewer} (such a share would tell a small count). Follow-up to: the month of the country's "
               "follow-up closing date (the latest date a child was last known alive), shown where at least "
               f"{pol.threshold} children were last seen in it.")


def by_year(countries: list[str]) -> None:
    st.subheader("Trend by year of diagnosis")
    if not countries:
        st.info(markdown_text(f"No country can be shown by year: each holds {pol.fewer} tumours."),
                icon=":material/info:")
        return
    k = state.choice("country", countries, countries[0])
    state.write_back()
    state.show_notices()
    country = st.selectbox("Country", countries, key=k, format_func=labels.country)
    tr = cached_quality_trend(snapshot(), country)
    foot = (f"{labels.country(country)}: tumours by year of diagnosis. {rq.trend_note()}\n"
            f"Indicators after {rq.SOURCES}.\n{foot_data}")
    if tr[[c for c in rq.INDICATORS if c in tr.columns]].notna().any().any():
        chart(rq.trend_figure(tr, country, footnote=foot), "data-quality-trend")
        st.caption("The median follow-up of recent years is short by nature (less time has passed since "
                   "diagnosis); compare a year with the years around it, and the completeness of follow-up, "
                   "which allows for that.")
    else:
        st.info(markdown_text(f"No indicator of {labels.country(country)} can be shown by year: each year "
                              f"holds {pol.fewer} tumours or parts of them."), icon=":material/info:")
    with st.expander(f"Table: {labels.country(country)} by year of diagnosis"):
        table(tr, f"data_quality_{country}_by_year.csv", footnote=foot, placeholder=NOT_SHOWN)


q = cached_quality(snapshot()) if not info["empty"] else None
if q is not None and len(q):
    # by year: the countries the table shows (one hidden there, for its own few tumours or to
    # protect another's, stays hidden: analytics.release.quality.trend refuses it too)
    shown = list(q.loc[~q["suppressed"], "country"])
    if presenting():  # a presenter's first screen: the figure (of the country in the link)
        by_year(shown)
        by_country(q)
    else:
        by_country(q)
        by_year(shown)
    with st.expander("Definitions of the indicators"):
        st.markdown("\n".join(f"- **{name}**: {markdown_text(what)}." for name, what in rq.INDICATORS.values()))
        st.markdown(f"- Tumour types the Toronto guidelines stage: {markdown_text(rq.STAGED_TYPES)}.\n"
                    f"- Sources: {markdown_text(rq.SOURCES)}. The flag cut-offs ({markdown_text(rq.FLAG_RULES)}) "
                    "are this site's screening values; the sources set no pass marks.")

st.subheader("Submissions")
NOTE = pool.table_note("rows")
st.caption("Every loaded file, with the countries of its tumours and its rows read, loaded, rejected and "
           "unclassified (ICCC-3). A submission usually holds the tumours of one country, so its rows are "
           f"counts like any other on this site: {NOTE[0].lower()}{NOTE[1:]} Rows read therefore need not "
           "equal rows loaded plus rows rejected here. The exact accounting of each file is printed when it "
           "is loaded (on the Load data page, or by `python -m analytics ingest`); rejected rows are kept in "
           "the warehouse with every reason, shown to the data managers of their country on the Load data "
           "page after signing in (or `python -m analytics rejected SUBMISSION`).")
con = connection()
table(pool.submissions(con), "submissions.csv", footnote=NOTE)
st.subheader("Why rows were rejected")
table(pool.rejection_reasons(con), "rejection_reasons.csv", footnote=NOTE)
