"""The Help & methods page (issue 12, part 3): the glossary, methods, references, data sources and
citation in `analytics.glossary`, and the page that shows them (`views/help.py`)."""
from __future__ import annotations

import re
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from analytics import glossary, iccc, labels, warehouse
from analytics.reference.standard import weights
from analytics.schema import AGE_BANDS, AGE_GROUPS, TORONTO_STAGES
from tests.test_app import run_page

#: The terms issue 12 asks the glossary to explain.
ISSUE_TERMS = ["ICCC-3", "age group", "Toronto stage", "DCO", "microscopic verification", "person-years",
               "ASR", "standard population", "Kaplan–Meier", "Pohar Perme", "Ederer II", "confidence interval",
               "log-rank", "Cox", "small-number rule"]


def _names(term: glossary.Term) -> str:
    return glossary._fold(" ".join((term.term, *term.also)))


def _all_texts() -> list[str]:
    out = [t.definition for t in glossary.terms()] + [t.term for t in glossary.terms()]
    out += [m.body for m in glossary.methods()] + [s.what + s.name + s.licence for s in glossary.DATA_SOURCES]
    out += [text for _, text in glossary.USING] + [text for *_, text in glossary.PAGES]
    out += glossary.HOW_TO_CITE + [glossary.INTRO, glossary.demo_note()] + glossary.reference_list()
    return out


@pytest.mark.parametrize("word", ISSUE_TERMS)
def test_every_term_of_the_issue_is_in_the_glossary(word):
    assert any(glossary._fold(word) in _names(t) for t in glossary.terms()), word


def test_every_term_has_a_topic_a_definition_and_known_references():
    terms = glossary.terms()
    assert len({t.term for t in terms}) == len(terms)
    for t in terms:
        assert t.topic in glossary.TOPICS and len(t.definition) > 60, t.term
        assert set(t.refs) <= set(glossary.REFERENCES), t.term
    for m in glossary.methods():
        assert m.refs and set(m.refs) <= set(glossary.REFERENCES), m.title
    for s in glossary.DATA_SOURCES:
        assert set(s.refs) <= set(glossary.REFERENCES) and s.licence, s.name
    assert set(glossary.CONFIDENTIALITY_REFS) <= set(glossary.REFERENCES)


@pytest.mark.parametrize("key", list(glossary.REFERENCES))
def test_every_reference_has_authors_title_source_and_year(key):
    ref = glossary.REFERENCES[key]
    assert ref.authors.strip() and ref.title.strip() and ref.where.strip(), key
    assert 1900 <= ref.year <= date.today().year, key
    assert str(ref.year) in ref.short and str(ref.year) in ref.citation(), key
    if ref.volume_pages:  # a journal article: volume and pages
        assert re.match(r"^\d+(\(.+\))?:e?\d+(-e?\d+)?$", ref.volume_pages), (key, ref.volume_pages)


def test_every_reference_is_cited_somewhere():
    used = {k for t in glossary.terms() for k in t.refs} | {k for m in glossary.methods() for k in m.refs}
    used |= {k for s in glossary.DATA_SOURCES for k in s.refs} | set(glossary.CONFIDENTIALITY_REFS)
    assert set(glossary.REFERENCES) - used == set()


def test_the_project_citations_are_the_ones_used():
    """The numbers the code already cites (iccc.py, schema.py, netsurvival.py, incidence.py)."""
    cites = " ".join(glossary.reference_list())
    for text in ("Cancer 2005;103(7):1457-67", "Lancet Oncol 2016;17(4):e163-72", "Biometrics 2012;68(1):113-20",
                 "Stat Methods Med Res 2006;15(6):547-69", "Stat Med 1997;16(7):791-801", "doi:10.2785/11470",
                 "Lancet Oncol 2017;18(6):719-31", "CC BY 3.0 IGO", "CC BY 4.0"):
        assert text in cites, text


def test_iccc_groups_come_from_iccc_main_groups(monkeypatch):
    groups = glossary.iccc_groups()
    assert [(g, n) for g, n, _ in groups] == list(iccc.MAIN_GROUPS.items())
    subs = iccc.subgroup_names()
    assert {s for *_, ss in groups for s, _ in ss} == set(subs) - set(iccc.MAIN_GROUPS)
    table = glossary.iccc_table()
    assert all(name in table for name in iccc.MAIN_GROUPS.values())
    # read, not copied: a change of the classification's list shows at once
    monkeypatch.setitem(iccc.MAIN_GROUPS, "XIII", "A test group")
    assert glossary.iccc_groups()[-1][:2] == ("XIII", "A test group")
    assert "13 main groups" in glossary.terms()[0].definition


def test_age_groups_and_stages_come_from_the_schema():
    codes = [c for c, *_ in glossary.age_groups()]
    assert codes[:len(AGE_GROUPS)] == [c for c, *_ in AGE_GROUPS]
    assert codes[len(AGE_GROUPS):len(AGE_GROUPS) + len(AGE_BANDS)] == [c for c, *_ in AGE_BANDS]
    assert all(words == labels.AGE[c] for c, words, _ in glossary.age_groups())
    assert glossary.toronto_stages() == list(TORONTO_STAGES.items())
    table = glossary.stage_table()
    assert all(f"| {code} | {meaning} |" in table for code, meaning in TORONTO_STAGES.items())


def test_small_number_rule_follows_the_configured_threshold(monkeypatch):
    monkeypatch.setenv("CCOE_MIN_CELL", "11")
    rule = glossary.small_number_rule()
    assert "fewer than 11" in rule and "<11" in rule and "1 to 10" in rule
    for t in glossary.terms():  # no other threshold written anywhere in the glossary
        assert not re.search(r"(?<![\d.,])16(?![\d.,])", t.definition), t.term


def test_texts_are_safe_markdown():
    """No LaTeX ($), no strikethrough (~), no bare asterisk that would start italics."""
    for text in _all_texts():
        assert "$" not in text and "~" not in text, text[:80]
        assert not re.search(r"(?<!\\)\*Stat", text), text[:80]


def test_search_ignores_case_accents_and_dash_styles():
    all_terms = glossary.search("")
    assert len(all_terms) == len(glossary.terms())
    for q in ("kaplan-meier", "Kaplan–Meier", "KAPLAN MEIER"):
        assert glossary.search(q)[0].term.startswith("Kaplan–Meier"), q
    assert any("Pohar Perme" in t.term for t in glossary.search("Estève"))
    assert glossary.search("dco")[0].term.startswith("DCO")
    assert glossary.search("no such word anywhere") == []
    assert "Retinoblastoma" in glossary.iccc_table("retinoblastoma")
    assert "Leukaemias" not in glossary.iccc_table("retinoblastoma")


def test_the_world_standard_weighs_young_children_most():
    """What the glossary says of the standards holds for the shipped weights."""
    bands = [c for c, *_ in AGE_BANDS]
    w = {s: weights(None, s, bands)["0-4"] for s in ("segi", "who2000", "esp2013")}
    assert w["segi"] > w["who2000"] and w["segi"] > w["esp2013"]


def test_citation_names_the_data_version_address_and_date():
    text = glossary.citation("Data: 3 submission(s), 600 tumours, last loaded 2026-01-02; schema 1.0.",
                             "http://example.org/", date(2026, 2, 3))
    assert "Childhood Cancer Outcomes Explorer" in text and "http://example.org/" in text
    assert "Accessed 2026-02-03" in text and "600 tumours" in text
    assert glossary.site_address("http://host:8501/help?section=Glossary") == "http://host:8501/"
    assert glossary.site_address("") == "" and glossary.site_address(None) == ""
    assert any("World Population Prospects 2022" in c for c in glossary.data_citations())


def test_software_list_reads_the_installed_versions():
    rows = {name: (version, lic) for name, version, lic, _ in glossary.software()}
    assert rows["streamlit"][0].startswith("1.") and rows["duckdb"][0] != "not installed"


# --- the page ---------------------------------------------------------------------------------

def _help_page(monkeypatch, db, **params) -> AppTest:
    return run_page(monkeypatch, db, "views/help.py", **params)


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "subheader", "caption", "code", "warning") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def test_help_page_shows_every_section(monkeypatch, small_warehouse):
    at = _help_page(monkeypatch, small_warehouse)
    assert [t.label for t in at.tabs] == ["Using the site", "Glossary", "Methods",
                                          "Small numbers and confidentiality", "Data sources and licences",
                                          "How to cite"]
    text = _text(at)
    assert at.text_input("glossary-search").label == "Search the glossary"
    for needed in ("Tumours, ages and stages", "Kaplan–Meier", "How to cite", "Pohar Perme", "Ederer II", "CC BY 3.0 IGO",
                   "Steliarova-Foucher E", "Data: ", "synthetic"):
        assert needed in text, needed
    assert {e.label for e in at.expander} >= {"ICCC-3 main groups and subgroups", "Age groups", "Toronto stages"}


def test_help_page_search_and_threshold(monkeypatch, small_warehouse):
    monkeypatch.setenv("CCOE_MIN_CELL", "11")
    at = _help_page(monkeypatch, small_warehouse, section="Glossary")
    assert "fewer than 11" in _text(at)
    at.text_input("glossary-search").input("retinoblastoma").run()
    assert not at.exception
    assert "ICCC-3 main groups and subgroups" in [e.label for e in at.expander]
    assert any("| V | Retinoblastoma |" in m.value for m in at.markdown)


def test_help_page_on_empty_warehouse(monkeypatch, tmp_path):
    warehouse.connect(tmp_path / "empty.duckdb").close()
    at = _help_page(monkeypatch, tmp_path / "empty.duckdb")
    assert not at.exception
    # the citation names no data version of its own (the Help page holds no data): the cited figure's line
    assert "the data-version line printed under the figure" in _text(at)


def test_help_page_search_text_stays_text(monkeypatch, small_warehouse):
    """A search for nothing the glossary holds says so, quoting the words as text (no link, no math)."""
    at = _help_page(monkeypatch, small_warehouse)
    at.text_input("glossary-search").input("[click](http://x.example) $x$").run()
    assert not at.exception
    note = at.info[0].value
    assert "Nothing in the glossary matches" in note and "](http" not in note and "$x$" not in note
