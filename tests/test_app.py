"""Pages render in Streamlit's AppTest against a small real warehouse, and on an empty one."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from analytics import warehouse
from tests.conftest import ROOT

PAGES = ["views/home.py", "views/incidence.py", "views/survival.py", "views/cohorts.py",
         "views/international.py", "views/data_quality.py"]


def run_page(monkeypatch, db_path, page, **params):
    monkeypatch.setenv("CCOE_DB", str(db_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_small_pool(monkeypatch, small_warehouse, page):
    at = run_page(monkeypatch, small_warehouse, page)
    assert any("Synthetic demonstration data" in w.value for w in at.warning)


def test_home_shows_pool_figures(monkeypatch, small_warehouse):
    """The Overview shows the pool's 600 tumours and 2 rejected rows as a viewer may see them:
    perturbed on their own key sums (analytics.disclosure), the 2 rows as 'fewer than 16'."""
    from analytics import disclosure
    from analytics.overview import REJECTED_KEY_SQL

    con = warehouse.connect(small_warehouse, read_only=True)
    cases = con.execute(f"SELECT count(*), {disclosure.key_sum_sql()} FROM cases").fetchone()
    rejected = con.execute(f"SELECT count(*), {disclosure.key_sum_sql(column=REJECTED_KEY_SQL)} "
                           "FROM rejected_rows", {"ck": warehouse.cellkey_secret(con)}).fetchone()
    con.close()
    assert cases[0] == 600 and rejected[0] == 2
    at = run_page(monkeypatch, small_warehouse, PAGES[0])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tumours"] == f"{disclosure.count(*cases)}" == f"{disclosure.perturb(*cases):,}"
    assert metrics["Countries"] == "3"
    assert metrics["Rows rejected at ingest"] == f"{disclosure.count(*rejected)}" == "fewer than 16"
    submissions = run_page(monkeypatch, small_warehouse, "views/data_quality.py")
    subs = next(d.value for d in submissions.dataframe if "rows_loaded" in d.value.columns)
    assert subs["rows_loaded"].iloc[0] == disclosure.perturb(*cases)  # the same tumours read the same
    assert subs["rows_rejected"].iloc[0] == "<16"  # 2 rows: hidden, and said so


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_warehouse(monkeypatch, tmp_path, page):
    warehouse.connect(tmp_path / "empty.duckdb").close()
    at = run_page(monkeypatch, tmp_path / "empty.duckdb", page)
    assert at.info  # a clear message instead of an empty chart


def test_missing_warehouse_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CCOE_DB", str(tmp_path / "nope.duckdb"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "python -m analytics demo" in at.error[0].value


# --- Incidence page: default and edge selections -------------------------------------------------

def test_incidence_default_shows_pooled_rate(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/incidence.py")
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Age-standardised rate"]) > 50
    assert len(at.get("plotly_chart")) >= 1


@pytest.mark.parametrize("params", [
    {"countries": "FRA"},                                   # one country
    {"tumour": "XIIa", "countries": "AUS,CAN"},             # a rare subgroup: suppressed cells
    {"tumour": "V", "ages": "15-19", "countries": "FRA"},   # no matching cases (retinoblastoma 15-19)
    {"years": "2019-2019", "ages": "0-19"},
])
def test_incidence_edge_selections(monkeypatch, demo_warehouse, params):
    at = run_page(monkeypatch, demo_warehouse, "views/incidence.py", **params)
    assert at.title[0].value == "Incidence"


@pytest.mark.parametrize("tab", ["Map", "Tumour groups", "By age", "Trend"])
@pytest.mark.parametrize("params", [{}, {"tumour": "XIIa", "countries": "AUS,CAN"},
                                    {"tumour": "V", "ages": "15-19", "countries": "FRA", "years": "2019-2019"}])
def test_incidence_tab_from_the_link(monkeypatch, demo_warehouse, tab, params):
    """Only the open tab is computed; the link opens any tab, also on edge selections."""
    at = run_page(monkeypatch, demo_warehouse, "views/incidence.py", tab=tab, **params)
    assert not at.exception
    opened = [t for t in at.tabs if t.label == tab][0]
    assert len(opened.children) > 0
    assert all(len(t.children) == 0 for t in at.tabs if t.label != tab)


@pytest.mark.parametrize("page", ["views/incidence.py", "views/international.py"])
def test_population_missing_for_some_years_is_said_and_left_out(monkeypatch, small_warehouse, tmp_path, page):
    """A partner population file covering 2000-2001 only: the pages leave the other years' cases
    out of the rates and name those years, instead of dividing every year's cases by two years of
    person-years."""
    import shutil

    from analytics.reference.population import read_population_file, replace_population

    db = tmp_path / "w.duckdb"
    shutil.copy(small_warehouse, db)
    f = tmp_path / "fra.csv"
    f.write_text("country,year,sex,age_group,population\n" + "".join(
        f"FRA,{y},0,{a},1000000\n" for y in (2000, 2001) for a in ("0-4", "5-9", "10-14", "15-19")))
    con = warehouse.connect(db)
    replace_population(con, read_population_file(f))
    con.close()
    at = run_page(monkeypatch, db, page, countries="FRA")
    assert any("left out of rates: no population (person-years) for FRA 2002-2019" in i.value for i in at.info)


def test_incidence_rare_subgroup_is_suppressed_not_shown(monkeypatch, small_warehouse):
    from analytics.disclosure import policy

    monkeypatch.delenv("CCOE_MIN_CELL", raising=False)
    at = run_page(monkeypatch, small_warehouse, "views/incidence.py", tumour="IIIb", countries="FRA")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cases"] == policy().fewer and metrics["Age-standardised rate"] == "—"


@pytest.mark.parametrize("params", [
    {"countries": "XXX,FRA'; DROP TABLE cases;--"},
    {"tumour": "I OR 1=1"},
    {"years": "1800-99999"},
    {"ages": "0-99", "standard": "nope", "ci": "<script>"},
])
def test_incidence_malformed_link_parameters_fall_back_with_a_notice(monkeypatch, demo_warehouse, params):
    at = run_page(monkeypatch, demo_warehouse, "views/incidence.py", **params)
    assert any("Link parameter ignored" in i.value for i in at.info)
    assert at.metric  # the page still shows its figures


# --- Survival page: default and edge selections --------------------------------------------------

def test_survival_default_shows_curves_and_logrank(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py")
    assert len(at.get("plotly_chart")) >= 2  # curves and forest plot
    assert any("Log-rank test" in m.value for m in at.markdown)


@pytest.mark.parametrize("params", [
    {"countries": "FRA", "by": ""},                       # one group
    {"tumour": "IIa", "countries": "FRA", "by": "sex"},   # Hodgkin: few deaths
    {"tumour": "XIIa", "countries": "AUS", "by": "stage"},  # tiny: everything suppressed
    {"tumour": "V", "years": "2019-2019", "countries": "CAN", "by": "period"},
    {"by": "iccc_sub", "ci": "plain", "bands": "off", "ticks": "on", "min_at_risk": "50"},
    {"tumour": "I", "by": "stage"},                       # stage unknown for AML/CML: left out of the log-rank
])
def test_survival_edge_selections(monkeypatch, demo_warehouse, params):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", **params)
    assert at.title[0].value == "Survival"


def test_survival_stage_logrank_leaves_out_unknown_stage(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", tumour="I", by="stage", countries="FRA,DEU")
    assert not at.exception
    assert any("Log-rank test" in m.value and "unknown stage (toronto) left out" in m.value.lower()
               for m in at.markdown)


def test_survival_group_without_deaths(monkeypatch, tmp_path):
    from analytics.ingest import ingest_file
    from tests.conftest import valid_row, write_csv

    rows = [valid_row(case_id=f"A{i}", country="FRA") for i in range(30)]  # all alive
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "s.csv", rows))
    con.close()
    at = run_page(monkeypatch, tmp_path / "w.duckdb", "views/survival.py", tumour="I", countries="FRA")
    assert any("not reached" in str(df.value.to_dict()) for df in at.dataframe)


def test_survival_malformed_parameters(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", by="country;DROP", ci="x",
                  min_at_risk="1e9", countries="ZZZ")
    assert any("Link parameter ignored" in i.value for i in at.info)


def test_survival_link_keeps_cox_covariates_and_weights(monkeypatch, demo_warehouse):
    """Widgets far down the page are in the link too: Cox covariates and the age-standardisation weights."""
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", countries="FRA,DEU", cox="period,sex",
                  std_weights="equal")
    assert at.multiselect(key="survival:cox").value == ["period", "sex"]
    assert at.radio(key="survival:std_weights").value == "equal"
    link = at.code[0].value
    assert "cox=period%2Csex" in link and "std_weights=equal" in link


def test_survival_cox_with_too_many_terms_says_so(monkeypatch, demo_warehouse):
    """All tumours by ICCC-3 subgroup: 53 Cox terms are refused with the count, not fitted for minutes."""
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", by="iccc_sub", tumour="")
    assert any("Cox model not available" in i.value and "terms" in i.value for i in at.info)


def test_survival_proportional_hazards_check_runs_when_opened(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", countries="FRA,DEU")
    n_tables = len(at.dataframe)
    at.session_state["ph_check_open"] = True
    at.run()
    assert not at.exception
    assert len(at.dataframe) == n_tables + 1
    assert "GLOBAL" in at.dataframe[-1].value["term"].tolist()  # the check's table, last on the page


def test_survival_net_and_fallback(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", measure="pohar-perme",
                  countries="USA", tumour="VIa", by="period")
    assert not any("not available" in i.value for i in at.info)
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", measure="ederer2", countries="FRA,USA")
    assert any("needs life tables for FRA" in i.value for i in at.info)  # says why, shows observed


@pytest.mark.parametrize("params", [{}, {"tumour": "XIIa", "countries": "AUS"}, {"countries": "USA", "ages": "15-19"},
                                    {"tumour": "nope", "years": "x"}])
def test_international_page(monkeypatch, demo_warehouse, params):
    at = run_page(monkeypatch, demo_warehouse, "views/international.py", **params)
    assert at.title[0].value == "International comparison"


def test_international_map_measure_from_the_link(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/international.py", map="surv5")
    assert at.radio(key="international:map").value == "surv5"
    assert "map=surv5" in at.code[0].value


def test_presentation_mode_and_copy_link(monkeypatch, demo_warehouse):
    at = run_page(monkeypatch, demo_warehouse, "views/survival.py", present="on", countries="FRA")
    assert any(b.label == "Exit presentation mode" for b in at.button)
    at = run_page(monkeypatch, demo_warehouse, "views/incidence.py", countries="FRA,DEU", ages="15-19")
    link = at.code[0].value
    assert "countries=FRA%2CDEU" in link or "countries=DEU%2CFRA" in link
    assert "ages=15-19" in link


@pytest.mark.parametrize("params", [
    {},
    {"n": "4"},
    {"c0_tumour": "Ia", "c1_tumour": "I", "c1_countries": "FRA"},            # overlapping cohorts
    {"c0_tumour": "XIIa", "c0_countries": "AUS", "c1_tumour": "V", "c1_ages": "15-19"},  # tiny / empty
    {"n": "9", "c0_name": "x" * 500, "c1_stages": "Z,<b>"},                   # malformed
    {"c0_name": "p", "c1_name": "cases"},                  # cohort names that are also column names
    {"c0_name": "level", "c1_name": "suppressed"},
    {"c0_name": "characteristic", "c1_name": "note", "n": "3", "c2_name": "cohort"},
])
def test_cohorts_page(monkeypatch, demo_warehouse, params):
    at = run_page(monkeypatch, demo_warehouse, "views/cohorts.py", **params)
    assert at.title[0].value == "Compare cohorts"
    if "c1_countries" in params and params.get("c1_tumour") == "I":
        assert any("overlap" in w.value for w in at.warning)
    if params.get("c0_name") == "p":  # shares stay numbers (percent), not p-value text
        mix = [d.value for d in at.dataframe if {"level", "share p", "share cases"} <= set(d.value.columns)][0]
        assert mix["share p"].dtype.kind == "f" and mix["share p"].max() <= 100


@pytest.mark.parametrize("min_cell", [None, "10"])
def test_help_page_states_the_disclosure_rules_with_the_threshold(monkeypatch, small_warehouse, min_cell):
    """The Help page's methods note (issue 10) names this deployment's threshold, never a literal."""
    if min_cell:
        monkeypatch.setenv("CCOE_MIN_CELL", min_cell)
    else:
        monkeypatch.delenv("CCOE_MIN_CELL", raising=False)
    at = run_page(monkeypatch, small_warehouse, "views/help.py")
    text = " ".join(m.value for m in at.markdown)
    t = min_cell or "16"
    assert f"fewer than {t} children" in text and f"blocks of {t}" in text
    assert "cell-key" in text and "OpenSAFELY" in text
    if min_cell:  # no rule quotes the default threshold (references may hold a 16: 2016, DOIs 10.1016/...)
        assert not re.search(r"(?:fewer than |<|&lt;|blocks of |below |under )\s*16\b", text)


def test_survival_page_gives_restricted_mean_and_follow_up(monkeypatch, small_warehouse):
    """Issue 15, items 4 and 5: the Survival page's 'Mean survival & follow-up' tab; with the life
    table chosen it says why there is none."""
    at = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="")
    text = " ".join(str(m.value) for m in at.markdown)
    assert "Restricted mean survival time" in text and "Difference from Male" in text
    assert "Median follow-up" in text and "reverse Kaplan-Meier" in text
    lt = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="", measure="actuarial")
    assert any("computed on Kaplan-Meier curves" in i.value for i in lt.info)


def test_survival_page_shows_death_by_cause(monkeypatch, small_warehouse):
    """Issue 15, item 2: the 'Death by cause' tab: the cause chosen (in the link), its curves, the
    table of the three causes and their definitions."""
    at = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="", cause="other")
    assert at.radio(key=next(r.key for r in at.radio if "cause" in str(r.key))).value == "other"
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(str(c.value) for c in at.caption)
    assert "Cumulative incidence by cause" in text and "other causes of death compete" in text


def test_survival_page_gives_the_period_estimate(monkeypatch, small_warehouse):
    """Issue 15, item 3: the Survival page's 'Estimate' offers the pool's most recent calendar
    windows; the link's window gives the period analysis, said above the figure and in its title,
    without a log-rank test or median follow-up (the cohort's); with the life table it falls back to
    the cohort's and says so (partners' tables have no dates); net survival (the period's: in
    test_period_net.py) falls back as ever without life tables; a window the pool does not offer
    falls back with a notice."""
    from analytics import period

    con = warehouse.connect(small_warehouse, read_only=True)
    windows = period.windows(con)
    con.close()
    assert windows
    at = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="", estimate=windows[0])
    box = at.selectbox(key=next(s.key for s in at.selectbox if "estimate" in str(s.key)))
    assert box.value == windows[0] and box.options[0].startswith("Cohort")
    captions = " ".join(str(c.value) for c in at.caption)
    assert f"Period analysis, {windows[0].replace('-', '–')}" in captions and "had follow-up in the window" in captions
    assert "not shown for period analysis" in captions
    assert "Median follow-up describes a cohort" in captions
    lt = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="", estimate=windows[0],
                  measure="actuarial")
    assert any("Period analysis needs each tumour's date of diagnosis" in i.value for i in lt.info)
    net = run_page(monkeypatch, small_warehouse, "views/survival.py", by="sex", tumour="", estimate=windows[0],
                   measure="pohar-perme")
    assert any("is not available for this selection" in i.value for i in net.info)  # no life tables here
    assert not net.exception
    odd = run_page(monkeypatch, small_warehouse, "views/survival.py", estimate="1990-1994")
    assert any("not a valid choice" in str(w.value) for w in [*odd.warning, *odd.info, *odd.caption])


def test_international_page_gives_the_most_recent_period_estimate(monkeypatch, small_warehouse):
    """Issue 15, item 3: the International page's '5-year survival estimate' takes a window of
    period analysis (in the link), named on the survival chart's title and under it, the funnel
    plot left to the cohort estimate."""
    from analytics import period

    con = warehouse.connect(small_warehouse, read_only=True)
    window = period.windows(con)[0]
    con.close()
    at = run_page(monkeypatch, small_warehouse, "views/international.py", estimate=window, tumour="", ages="0-19")
    box = at.selectbox(key=next(s.key for s in at.selectbox if "estimate" in str(s.key)))
    assert box.value == window
    text = " ".join(str(c.value) for c in at.caption) + " ".join(str(m.value) for m in at.markdown)
    assert f"period analysis ({window.replace('-', '–')})" in text
    assert not any("Funnel plot" in str(h.value) for h in at.subheader)
