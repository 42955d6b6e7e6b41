"""No single accepted row breaks a page (issue 11, item 3).

A small warehouse built through the real ingest path holds ordinary rows plus the awkward ones a
partner may send: a country with a valid ISO code but no population denominators (ATA), diagnoses
after the last year of the population table (FRA and USA 2022-2024), a country with a single case
(ISL), a country with cases in one year only (NOR), a tumour diagnosed on 1950-01-01 (DEU), USA
cases (the only life table) with one diagnosis after the life table ends, and pre-1950 dates
(rejected by ingest now; older warehouses may hold them, see the last tests).

Every page and tab renders without an exception or an error element and says what it left out;
incidence leaves the uncovered country-years out of numerator and denominator alike, and with full
coverage the rates are those of a pool without the awkward rows."""
from __future__ import annotations

import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import warehouse
from analytics.filters import Selection, SelectionError
from analytics.ingest import ingest_file
from tests.conftest import ROOT, random_rows, valid_row, write_csv

YEARS = (1950, 2024)  # the awkward pool's span: every selection below names its years
LATE = [("FRA", f"{y}-03-01") for y in (2022, 2022, 2023, 2024)] + [("USA", "2024-03-01")]


def _row(case_id, country, dx, birth=None, **kw):
    year = int(dx[:4])
    return valid_row(case_id=case_id, country=country, diagnosis_date=dx,
                     birth_date=birth or f"{year - 6:04d}-01-01", last_contact_date=f"{min(year + 3, 2025):04d}-01-01", **kw)


def awkward_rows() -> list[dict[str, str]]:
    """The awkward rows (ordinary rows are `random_rows(600)`: FRA, DEU, KEN 2000-2019)."""
    rows = [_row(f"ATA{i}", "ATA", f"{2010 + i % 5}-0{1 + i % 9}-01", vital_status="2" if i % 4 == 0 else "1")
            for i in range(20)]
    rows += [_row(f"LATE{i}", c, dx) for i, (c, dx) in enumerate(LATE)]
    rows += [_row("ISL1", "ISL", "2010-03-01")]
    rows += [_row(f"NOR{i}", "NOR", f"2010-0{1 + i % 9}-01", vital_status="2" if i % 4 == 0 else "1")
             for i in range(20)]
    rows += [_row("D1950", "DEU", "1950-01-01", birth="1945-01-01", vital_status="2")]
    rows += [_row(f"USA{i}", "USA", f"{2005 + i % 10}-03-01", sex=str(1 + i % 2),
                  vital_status="2" if i % 5 == 0 else "1") for i in range(30)]
    rows += [_row("OLD1899", "DEU", "1899-06-01"), _row("OLD0010", "DEU", "0010-06-01", birth="0005-01-01")]
    return rows


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> dict:
    """{"awkward": warehouse with ordinary + awkward rows, "plain": the ordinary rows alone}."""
    d = tmp_path_factory.mktemp("awkward")
    out = {}
    for name, rows in (("plain", random_rows(600)), ("awkward", random_rows(600) + awkward_rows())):
        con = warehouse.connect(d / f"{name}.duckdb")
        ingest_file(con, write_csv(d / f"{name}.csv", rows), synthetic=True)
        con.close()
        out[name] = d / f"{name}.duckdb"
    return out


@pytest.fixture(scope="module")
def con(pools):
    c = warehouse.connect(pools["awkward"], read_only=True)
    yield c
    c.close()


# --- analytics: what is left out, and that nothing else changes -----------------------------------

def _late_or_ata(con, sel_years=YEARS) -> int:
    """Cases of the pool in country-years without person-years (WPP ends in 2021; ATA has none)."""
    return con.execute("SELECT count(*) FROM cases WHERE year BETWEEN ? AND ? AND (country = 'ATA' OR year > 2021)",
                       list(sel_years)).fetchone()[0]


def test_cases_without_person_years_leave_numerator_and_denominator(con):
    from analytics.incidence import incidence

    res = incidence(con, Selection.build({}, YEARS), ["country"], min_cases=1)
    assert res.left_out.cases == _late_or_ata(con) == 25
    note = res.left_out.note()
    assert note.startswith("25 cases left out of rates") and "ATA (all years)" in note
    assert "FRA 2022-2024" in note and "USA 2022-2024" in note
    assert res.notes[0] == note == res.table.attrs["left_out"]
    t = res.table.set_index("country")
    assert "ATA" not in t.index  # no denominator: no rate, not a rate from cases alone
    fra_cases, fra_first = con.execute("SELECT count(*) FILTER (WHERE year <= 2021), min(year) FROM cases "
                                       "WHERE country = 'FRA'").fetchone()
    fra_py = con.execute("SELECT sum(person_years) FROM population WHERE country = 'FRA' AND sex = 0 "
                         "AND year BETWEEN ? AND 2021 AND age_group IN ('0-4', '5-9', '10-14', '15-19')",
                         [fra_first]).fetchone()[0]
    assert t.loc["FRA", "cases"] == fra_cases  # 2022-2024 cases out of the numerator ...
    assert t.loc["FRA", "person_years"] == pytest.approx(fra_py, rel=1e-12)  # ... and their years out of the denominator
    pooled = incidence(con, Selection.build({}, YEARS), [], min_cases=1)
    assert pooled.table.iloc[0]["cases"] == con.execute(
        "SELECT count(*) FROM cases WHERE year BETWEEN ? AND ?", list(YEARS)).fetchone()[0] - 25


def test_full_coverage_gives_the_same_rates_as_a_pool_without_awkward_rows(pools, con):
    from analytics.incidence import incidence

    plain = warehouse.connect(pools["plain"], read_only=True)
    sel = Selection.build({"country": ["FRA", "DEU", "KEN"]}, (2000, 2019))
    for by in ([], ["country"], ["country", "iccc_main"], ["year"]):
        a = incidence(con, sel, by, min_cases=1)
        b = incidence(plain, sel, by, min_cases=1)
        assert a.left_out is None and a.table.attrs["left_out"] is None
        pd.testing.assert_frame_equal(a.table, b.table)
        pd.testing.assert_frame_equal(a.age_specific, b.age_specific)
    plain.close()


def test_trend_and_rate_ratio_leave_out_the_same_years(con):
    from analytics.incidence import rate_ratio, trend

    t = trend(con, Selection.build({"country": ["FRA", "ATA"]}, (2000, 2024)), min_cases=1)
    assert t.iloc[0]["last_year"] == 2021 and "ATA (all years), FRA 2022-2024" in t.attrs["left_out"]
    rr = rate_ratio(con, Selection.build({"country": ["FRA"]}), (2000, 2004), (2022, 2024))
    assert rr["suppressed"] and "no population" in rr["reason"]


def test_refused_only_when_nothing_is_left(con):
    from analytics.incidence import NoDenominators, incidence

    for filters, years in (({"country": ["ATA"]}, YEARS), ({"country": ["FRA"]}, (2022, 2024))):
        with pytest.raises(NoDenominators, match="no population"):
            incidence(con, Selection.build(filters, years))
    assert issubclass(NoDenominators, SelectionError)  # the command line's exit 2, as before
    with pytest.raises(SelectionError, match="sex-specific rates are unavailable"):
        incidence(con, Selection.build({}, YEARS), ["sex"])
    one = incidence(con, Selection.build({"country": ["ISL"]}, YEARS), ["country"]).table.iloc[0]
    assert one["suppressed"]  # a single case: a suppressed rate, not an error


def test_international_keeps_a_country_without_population(con):
    from analytics.compare import international

    res = international(con, Selection.build({}, YEARS), ages="0-19")
    t = res["table"].set_index("country")
    assert pd.isna(t.loc["ATA", "asr"]) and t.loc["ATA", "caveat"].startswith("no population")
    assert "25 cases left out" in res["left_out"]
    assert "ATA" in res["net_reason"] and "USA" in res["net_reason"]  # USA follow-up runs past its life table
    only = international(con, Selection.build({"country": ["ATA"]}, YEARS), ages="0-19")
    assert list(only["table"]["country"]) == ["ATA"] and "No incidence rate" in only["left_out"]


def test_overview_names_the_gaps(con):
    from analytics import overview

    assert overview.year_span(con) == YEARS
    assert "ATA (all years)" in overview.population_gaps(con)


@pytest.mark.parametrize("command", ["incidence", "trend"])
def test_command_line_prints_the_note(pools, capsys, command):
    from analytics.cli import main

    code = main([command, "--db", str(pools["awkward"]), "--by", "country", "--years", "1950-2024"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "25 cases left out of rates" in err
    code = main([command, "--db", str(pools["awkward"]), "--filter", "country=ATA"])
    assert code == 2 and "no population (person-years) for ATA" in capsys.readouterr().err


# --- pages: every page and tab, default and obvious variations ------------------------------------

def run(monkeypatch, db, page, **params) -> AppTest:
    """`page` of app.py against `db` with the URL query `params`; no exception, no error element."""
    monkeypatch.setenv("CCOE_DB", str(db))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page != "views/home.py":
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _said(at, words: str) -> bool:
    return any(words in el.value for el in [*at.info, *at.caption, *at.markdown])


LEFT_OUT = "cases left out of rates: no population (person-years) for ATA (all years)"


def test_home(monkeypatch, pools):
    at = run(monkeypatch, pools["awkward"], "views/home.py")
    assert _said(at, LEFT_OUT)
    assert {m.label: m.value for m in at.metric}["Years of diagnosis"] == "1950–2024"


@pytest.mark.parametrize("tab", ["By country", "Map", "Tumour groups", "By age", "Trend"])
def test_incidence_every_tab_default(monkeypatch, pools, tab):
    at = run(monkeypatch, pools["awkward"], "views/incidence.py", tab=tab)
    assert _said(at, LEFT_OUT)
    assert len([t for t in at.tabs if t.label == tab][0].children) > 0


@pytest.mark.parametrize("params,words", [
    ({"countries": "ATA"}, "No incidence rate for this selection: no population"),
    ({"countries": "FRA", "years": "2022-2024", "tab": "Trend"}, "No incidence rate"),
    ({"countries": "ISL"}, None),                                 # a single case
    ({"countries": "NOR", "tab": "Trend"}, "not available"),      # cases in one year only
    ({"countries": "FRA,ATA", "ages": "0-19", "tab": "Trend"}, "cases left out of rates: no population (person-years) for ATA (all years), FRA 2022-2024"),
    ({"countries": "DEU", "years": "1950-1950", "tab": "By age"}, None),  # the 1950-01-01 tumour
    ({"tumour": "", "ages": "15-19", "tab": "Tumour groups"}, "no population (person-years) for ATA"),
])
def test_incidence_variations(monkeypatch, pools, params, words):
    at = run(monkeypatch, pools["awkward"], "views/incidence.py", **params)
    assert words is None or _said(at, words)


@pytest.mark.parametrize("params,words", [
    ({}, None),
    ({"tumour": "", "by": "period"}, None),
    ({"tumour": "", "countries": "ATA"}, None),
    ({"tumour": "", "countries": "ISL", "by": ""}, "No group in this selection has enough cases"),
    ({"tumour": "", "countries": "NOR", "by": "period"}, None),
    ({"tumour": "", "measure": "pohar-perme"}, "not available for this selection"),   # no life table but USA's
    ({"tumour": "", "measure": "ederer2", "countries": "ATA"}, "needs life tables for ATA"),
    ({"tumour": "", "measure": "pohar-perme", "countries": "USA"}, "USA"),  # follow-up past the life table
    ({"tumour": "", "measure": "pohar-perme", "countries": "USA", "years": "2000-2019"}, None),
])
def test_survival_variations(monkeypatch, pools, params, words):
    at = run(monkeypatch, pools["awkward"], "views/survival.py", **params)
    assert words is None or _said(at, words)


@pytest.mark.parametrize("params", [{}, {"tumour": ""}, {"tumour": "", "countries": "ATA"},
                                    {"tumour": "", "countries": "ISL,NOR", "map": "surv5"},
                                    {"tumour": "", "years": "2022-2024"}])
def test_international_variations(monkeypatch, pools, params):
    at = run(monkeypatch, pools["awkward"], "views/international.py", **params)
    if params.get("countries") != "ISL,NOR":
        assert _said(at, "No incidence rate" if "ATA" == params.get("countries") or "years" in params
                     else LEFT_OUT)


@pytest.mark.parametrize("params", [{}, {"c0_tumour": "", "c0_countries": "ATA", "c1_tumour": "", "c1_countries": "USA"},
                                    {"c0_tumour": "", "c0_countries": "ISL", "c1_tumour": "", "c1_countries": "NOR"}])
def test_cohorts_variations(monkeypatch, pools, params):
    run(monkeypatch, pools["awkward"], "views/cohorts.py", **params)


def test_data_quality(monkeypatch, pools):
    run(monkeypatch, pools["awkward"], "views/data_quality.py")


# --- a warehouse loaded before ingest refused pre-1950 dates ---------------------------------------

@pytest.fixture(scope="module")
def stray_years(pools, tmp_path_factory):
    """The awkward pool with two tumours moved to 1899 and 0010 (as an old ingest accepted them)."""
    db = tmp_path_factory.mktemp("stray") / "stray.duckdb"
    shutil.copy(pools["awkward"], db)
    c = warehouse.connect(db)
    c.execute("UPDATE cases SET diagnosis_date = DATE '1899-06-01', year = 1899 WHERE case_id = 'K0'")
    c.execute("UPDATE cases SET diagnosis_date = DATE '0010-06-01', year = 10 WHERE case_id = 'K1'")
    c.close()
    return db


@pytest.mark.parametrize("page", ["views/home.py", "views/incidence.py", "views/survival.py",
                                  "views/international.py", "views/cohorts.py"])
def test_stray_years_break_no_page(monkeypatch, stray_years, page):
    at = run(monkeypatch, stray_years, page)
    if page == "views/home.py":
        assert _said(at, "Fewer than 16 tumours with a year of diagnosis outside 1900-2100")
