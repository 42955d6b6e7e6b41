"""The demo with an aggregate partner (issue 14): `python -m analytics demo --aggregate-countries KEN`
loads Kenya as the two tables its partner would send, never as rows, and every page of the app
renders on that mixed pool and names the aggregate partner."""
from __future__ import annotations

import pytest

from analytics import warehouse
from analytics.cli import main
from tests.test_app import PAGES, run_page


@pytest.fixture(scope="module")
def mixed_demo(tmp_path_factory):
    from analytics.demo import build_demo

    d = tmp_path_factory.mktemp("mixed_demo")
    steps = build_demo(d / "w.duckdb", scale=0.05, seed=7, out_dir=d / "files", countries=["FRA", "KEN", "UGA"],
                       aggregate_countries=["KEN"], log=lambda m: None)
    return d / "w.duckdb", steps


def test_the_partner_is_loaded_as_tables_only(mixed_demo):
    db, steps = mixed_demo
    ken = next(s for s in steps if s.country == "KEN")
    assert [t.kind for t in ken.tables] == ["case_counts", "survival_events"]
    con = warehouse.connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM cases WHERE country = 'KEN'").fetchone()[0] == 0
    assert con.execute("SELECT sum(cases) FROM agg_case_counts").fetchone()[0] == ken.report.rows_loaded
    kinds = dict(con.execute("SELECT submission_id, kind FROM submissions WHERE synthetic").fetchall())
    assert kinds == {"FRA_demo": "cases", "UGA_demo": "cases", "KEN_demo_counts": "case_counts",
                     "KEN_demo_events": "survival_events"}
    con.close()


def test_an_unknown_aggregate_country_is_refused(tmp_path, capsys):
    assert main(["demo", "--scale", "0.01", "--db", str(tmp_path / "w.duckdb"), "--aggregate-countries", "XYZ"]) == 2
    assert "XYZ not in the demo pool" in capsys.readouterr().err


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_and_names_the_partner(monkeypatch, mixed_demo, page):
    at = run_page(monkeypatch, mixed_demo[0], page)
    assert any("Aggregate partners: Kenya (case counts and survival events)" in i.value for i in at.info)


@pytest.fixture(scope="module")
def month_demo(tmp_path_factory):
    from analytics.demo import build_demo

    d = tmp_path_factory.mktemp("month_demo")
    build_demo(d / "w.duckdb", scale=0.05, seed=7, out_dir=d / "files", countries=["FRA", "KEN", "UGA"],
               aggregate_countries=["KEN"], aggregate_unit="month", log=lambda m: None)
    return d / "w.duckdb"


def test_a_partner_in_months_is_pooled_by_the_life_table_on_the_survival_page(monkeypatch, month_demo):
    """KEN sent follow-up in completed months: the Survival page opens on the actuarial life table,
    names it, and draws Kenya's curve; Kaplan-Meier, chosen, leaves Kenya out and says how to
    include it."""
    at = run_page(monkeypatch, month_demo, "views/survival.py", tumour="")
    assert at.radio(key=next(r.key for r in at.radio if "measure" in str(r.key))).value == "actuarial"
    text = " ".join(str(m.value) for m in at.markdown) + " ".join(str(c.value) for c in at.caption)
    assert "Actuarial life table (Cutler-Ederer), monthly intervals" in text
    assert "Kaplan-Meier needs the day" not in text  # Kenya is in the curves (the Cox model leaves it out)
    assert "Log-rank test not shown for the life table" in text
    km = run_page(monkeypatch, month_demo, "views/survival.py", tumour="", measure="km")
    text = " ".join(str(m.value) for m in km.markdown)
    assert "Kenya sent as aggregate survival events (follow-up in completed months or years: " \
           "Kaplan-Meier needs the day of each death; the actuarial life table pools them" in text


def test_the_command_line_pools_a_partner_in_months_with_the_life_table(month_demo, capsys):
    assert main(["survival", "--db", str(month_demo), "--method", "actuarial", "--by", "country",
                 "--times", "1,5"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "country,time_years,n_at_risk,survival,lower,upper"
    assert {line.split(",")[0] for line in out.splitlines()[1:]} == {"FRA", "KEN", "UGA"}
    assert "Actuarial life table (Cutler-Ederer), monthly intervals" in err and "Left out" not in err
    assert main(["survival", "--db", str(month_demo), "--by", "country", "--times", "1,5"]) == 0
    out, err = capsys.readouterr()
    assert "KEN" not in out and "Kaplan-Meier needs the day of each death" in err


def test_the_international_comparison_takes_a_partner_in_months_by_the_life_table(monkeypatch, month_demo):
    """Every country's 5-year survival by the same method: the life table, named, Kenya included
    (on the page, released; on the command line's `compare.international`, exact)."""
    from analytics import compare
    from analytics.filters import Selection
    from analytics.release.international import international

    con = warehouse.connect(month_demo, read_only=True)
    try:
        for res in (international(con, Selection.build({}, (2000, 2019))),
                    compare.international(con, Selection.build({}, (2000, 2019)), net=False)):
            assert res["survival_method"] == "actuarial life table, monthly intervals"
            t = res["table"].set_index("country")
            assert t.loc["KEN", "surv5"] == t.loc["KEN", "surv5"] and 0 < t.loc["KEN", "surv5"] < 1
            assert not any("Kaplan-Meier needs the day" in n for n in res["notes"])
    finally:
        con.close()
    at = run_page(monkeypatch, month_demo, "views/international.py")
    assert not at.exception
