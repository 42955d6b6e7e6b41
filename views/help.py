"""Help & methods: how to use the site, the glossary, how the numbers are made (with references),
how small numbers are protected, the data sources and their licences, and how to cite.

A thin page: every text comes from `analytics.glossary` (and the confidentiality note from
`analytics.disclosure.methods_note`). Sections are tabs bound to the address (`?section=Glossary`),
so a link opens the section it names."""
from datetime import date

import streamlit as st

from analytics import glossary
from analytics.disclosure import methods_note
from analytics.safe_text import markdown_text
from ui import page_header

SECTIONS = ["Using the site", "Glossary", "Methods", "Small numbers and confidentiality",
            "Data sources and licences", "How to cite"]
ICONS = {"home": ":material/home:", "incidence": ":material/bar_chart:", "survival": ":material/monitor_heart:",
         "cohorts": ":material/compare_arrows:", "international": ":material/public:",
         "data_quality": ":material/fact_check:", "help": ":material/help:"}


def references(keys) -> None:
    """The full citations of `keys`, small, under a section."""
    if keys:
        st.caption("References:  \n" + "  \n".join(f"- {c}" for c in glossary.reference_list(keys)))


info = page_header("Help & methods")
st.markdown(glossary.INTRO)
using, gloss, meth, small, sources, cite = st.tabs(SECTIONS, key="section", bind="query-params")

with using:
    st.subheader("The pages")
    for page, title, text in glossary.PAGES:
        left, right = st.columns([1, 3], vertical_alignment="center")
        with left:
            st.page_link(f"views/{page}.py", label=title, icon=ICONS.get(page))
        right.markdown(text[:1].upper() + text[1:])
    for title, text in glossary.USING:
        st.subheader(title)
        st.markdown(text)

with gloss:
    query = st.text_input("Search the glossary", key="glossary-search", max_chars=60,
                          placeholder="e.g. net survival, DCO, hazard ratio, retinoblastoma")
    searching = bool(query.strip())
    found = glossary.search(query)
    lists = [(label, table(query)) for label, table in glossary.LISTS]  # ICCC-3 groups, ages, stages
    lists = [(label, rows) for label, rows in lists if not searching or rows.count("\n") > 1]
    topics = [t for t in glossary.TOPICS if any(e.topic == t for e in found) or (t == glossary.TOPICS[0] and lists)]
    if searching and not topics:
        st.info(f"Nothing in the glossary matches \"{markdown_text(query)}\".", icon=":material/search_off:")
    elif searching:
        where = ([f"{len(found)} term(s)"] if found else []) + [f"the list \"{label}\"" for label, _ in lists]
        st.caption("Found in: " + ", ".join(where) + ".")
    if topics:
        st.markdown("Topics: " + " · ".join(f"[{t}](#{glossary.anchor('glossary', t)})" for t in topics))
    for topic in topics:
        st.subheader(topic, anchor=glossary.anchor("glossary", topic))
        for t in (e for e in found if e.topic == topic):
            cites = f" *({glossary.cite(*t.refs)})*" if t.refs else ""
            st.markdown(f"**{t.term}**: {t.definition}{cites}")
        if topic == glossary.TOPICS[0]:  # the lists belong with the ICCC-3, age and stage entries
            for label, rows in lists:
                with st.expander(label, expanded=searching, icon=":material/list:"):
                    st.markdown(rows)
    st.caption("Full references: the Methods section.")

with meth:
    for m in glossary.methods():
        st.subheader(m.title)
        st.markdown(m.body)
        references(m.refs)
    st.subheader("All references")
    st.markdown("\n".join(f"1. {c}" for c in glossary.reference_list()))

with small:
    st.subheader("Small numbers and confidentiality")
    st.markdown(methods_note())
    references(glossary.CONFIDENTIALITY_REFS)

with sources:
    st.subheader("Data sources and licences")
    for s in glossary.DATA_SOURCES:
        if "synthetic" in s.name and not info["synthetic"]:
            continue
        st.markdown(f"**{s.name}**. {s.what or glossary.demo_note()}  \nLicence: {s.licence}.")
        references(s.refs)
    st.subheader("Software")
    st.markdown(glossary.software_table())

with cite:
    st.subheader("How to cite")
    if info["synthetic"]:
        st.warning("The data loaded now are synthetic: cite the site for its methods, not its numbers as "
                   "findings.", icon=":material/science:")
    st.markdown("\n".join(f"- {line}" for line in glossary.HOW_TO_CITE))
    st.markdown("**Suggested citation of the site**")
    # the data version is the line under the cited figure, not the pool's now: the Help page holds no data
    st.code(glossary.citation("Data: [the data-version line printed under the figure or table you cite].",
                              glossary.site_address(st.context.url), date.today()),
            language=None, wrap_lines=True)
    st.markdown("**Data sources and classification**")
    st.code("\n\n".join(glossary.data_citations()), language=None, wrap_lines=True)
