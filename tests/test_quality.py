"""Data-quality indicators (issue 13, part 5): `analytics.quality`'s exact values against an
independent computation from the submitted rows (plain Python over the CSV records, not SQL), the
rules by which `analytics.release.quality` shows them, and the Submissions & data quality page."""
from __future__ import annotations

import random
import statistics
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import compare, disclosure, quality, warehouse
from analytics.filters import Selection
from analytics.ingest import ingest_file
from analytics.overview import REJECTED_KEY_SQL
from analytics.release import pool as rpool
from analytics.release import quality as rq
from tests.conftest import random_rows, valid_row, write_csv
from tests.test_app import run_page

ROOT = Path(__file__).resolve().parents[1]
T = disclosure.policy().threshold
#: Stages a tumour type may carry in this pool (by morphology: ALL, neuroblastoma, medulloblastoma).
STAGES = {"9811": ["CNS1", "CNS2"], "9500": ["L1", "M"], "9470": ["M0", "M+"]}


def _rows() -> list[dict[str, str]]:
    rng = random.Random(13)
    rows = random_rows(1500, seed=13, countries=("FRA", "DEU", "KEN"))
    for r in rows:
        r["basis"] = rng.choice(["0", "1", "2", "4", "5", "6", "7", "7", "7", "7", "9", ""])
        if r["basis"] == "0":  # a death certificate only: dead, known on the day of diagnosis
            r["vital_status"], r["last_contact_date"] = "2", r["diagnosis_date"]
        if r["topography"] != "C629" and rng.random() < (0.08 if r["country"] == "KEN" else 0.02):
            r["sex"] = "9"
        if r["morphology"] in STAGES and rng.random() < 0.7:
            r["stage"] = rng.choice(STAGES[r["morphology"]])
    # rows without an age (rejected at load): 20 for Kenya, 3 for France, 1 for no real country
    no_age = dict(birth_date="", age_years="")
    rows += [valid_row(case_id=f"NA{i}", country="KEN", **no_age) for i in range(17)]
    rows += [valid_row(case_id=f"NA9{i}", country="KEN", birth_date="", age_years="99") for i in range(3)]
    rows += [valid_row(case_id=f"NF{i}", country="FRA", **no_age) for i in range(3)]
    rows += [valid_row(case_id="NX", country="XXX", **no_age), valid_row(case_id="BADSEX", sex="5")]
    return rows


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    d = tmp_path_factory.mktemp("quality")
    rows = _rows()
    con = warehouse.connect(d / "q.duckdb")
    ingest_file(con, write_csv(d / "quality_pool.csv", rows), synthetic=True)
    loaded = {cid: (sub, ext) for cid, sub, ext in con.execute("SELECT case_id, iccc_sub, iccc_ext FROM cases").fetchall()}
    con.close()  # the page tests' app opens the file itself
    return rows, loaded, d / "q.duckdb"


@pytest.fixture
def con(pool):
    c = warehouse.connect(pool[2], read_only=True)
    yield c
    c.close()


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _expected(rows, loaded) -> pd.DataFrame:
    """The indicators per country, from the CSV records of the tumours that loaded."""
    out = []
    for country in sorted({r["country"] for r in rows if r["case_id"] in loaded}):
        mine = [r for r in rows if r["country"] == country and r["case_id"] in loaded]
        known = [r for r in mine if r["basis"] not in ("", "9")]
        staged = [r for r in mine if set(loaded[r["case_id"]]) & set(quality.TORONTO_TYPES)]
        analysed = [r for r in mine if r["basis"] != "0"]
        closing = max(_d(r["last_contact_date"]) for r in analysed if r["vital_status"] == "1")
        seen = [(_d(r["last_contact_date"]) - _d(r["diagnosis_date"])).days for r in analysed]
        possible = [s if r["vital_status"] == "2" else max((closing - _d(r["diagnosis_date"])).days, 0)
                    for r, s in zip(analysed, seen)]
        no_age = sum(1 for r in rows if r["country"] == country and not r["birth_date"]
                     and r["age_years"] in ("", "99", "999"))
        out.append({"country": country, "cases": len(mine),
                    "dco_share": sum(r["basis"] == "0" for r in mine) / len(mine),
                    "mv_share": sum(r["basis"] in ("5", "6", "7") for r in known) / len(known),
                    "sex_unknown_share": sum(r["sex"] == "9" for r in mine) / len(mine),
                    "stage_unknown_share": sum(not r["stage"] for r in staged) / len(staged),
                    "followup_completeness": sum(seen) / sum(possible),
                    "median_followup_years": statistics.median(s / 365.25 for s in seen),
                    "n_age_unknown": no_age})
    return pd.DataFrame(out)


# --- the exact indicators -----------------------------------------------------------------------------

def test_indicators_match_an_independent_count_of_the_rows(pool, con):
    rows, loaded, _ = pool
    exp = _expected(rows, loaded).set_index("country")
    got = quality.indicators(con).set_index("country")
    assert list(got.index) == ["DEU", "FRA", "KEN"]
    assert (got["cases"] == exp["cases"]).all()
    for col in ("dco_share", "mv_share", "sex_unknown_share", "stage_unknown_share", "followup_completeness",
                "median_followup_years"):
        np.testing.assert_allclose(got[col], exp[col], rtol=1e-12, err_msg=col)
    age = quality.age_unknown(con).set_index("country")["n_age_unknown"]
    assert age.to_dict() == {"DEU": 0, "FRA": 3, "KEN": 20}  # XXX's row: not a country of the pool; 99 = unknown
    assert exp["n_age_unknown"].tolist() == [0, 3, 20]


def test_completeness_is_clarks_c_on_a_hand_example(db, tmp_path):
    """Four children of one country, closing date 2020-01-01 (the latest date one was last known
    alive: a death after it does not move it): one seen then (1826 of 1826 days), one dead after
    100 days and one after 2000 (death completes follow-up), one last seen after 200 of 1461
    possible days. C = (1826 + 100 + 2000 + 200) / (1826 + 100 + 2000 + 1461)."""
    rows = [valid_row(case_id="A", diagnosis_date="2015-01-01", last_contact_date="2020-01-01"),
            valid_row(case_id="B", diagnosis_date="2016-01-01", last_contact_date="2016-04-10", vital_status="2"),
            valid_row(case_id="C", diagnosis_date="2016-01-01", last_contact_date="2016-07-19"),
            valid_row(case_id="D", diagnosis_date="2015-06-01", last_contact_date="2020-11-21", vital_status="2")]
    ingest_file(db, write_csv(tmp_path / "four.csv", rows))
    q = quality.indicators(db).iloc[0]
    assert (q["followup_observed_days"], q["followup_potential_days"]) == (1826 + 100 + 2000 + 200,
                                                                          1826 + 100 + 2000 + 1461)
    assert q["followup_completeness"] == pytest.approx(4126 / 5387, rel=1e-15)
    assert str(q["closing_date"])[:10] == "2020-01-01"


def test_by_year_and_pooled_add_up_to_the_countries(con):
    by_country = quality.indicators(con, keys=True)
    by_year = quality.indicators(con, by=("country", "year"), keys=True)
    pooled = quality.indicators(con, by=(), keys=True).iloc[0]
    for part in ("cases", "n_dco", "n_mv", "n_sex_unknown", "n_stage_unknown", "followup_observed_days"):
        assert by_year.groupby("country")[part].sum().tolist() == by_country[part].tolist()
        assert by_country[part].sum() == pooled[part]
    with pytest.raises(ValueError, match="only columns"):
        quality.indicators(con, by=("country; DROP TABLE cases",))


def test_the_international_comparison_reads_the_same_indicators(con):
    a = compare.quality(con, Selection()).set_index("country")
    b = quality.indicators(con).set_index("country")
    for col in ("cases", "dco_share", "mv_share", "median_followup_years"):
        pd.testing.assert_series_equal(a[col], b[col], check_names=False)


# --- what a viewer sees -------------------------------------------------------------------------------

def test_released_by_country_follows_the_share_rule(con):
    q = quality.indicators(con, keys=True)
    t = rq.by_country(con)
    assert disclosure.is_released(t)
    assert not any(c.endswith("_key") or c.startswith("n_") for c in t.columns)
    for col in ("dco_share", "mv_share", "sex_unknown_share", "stage_unknown_share"):
        num, den = quality.SHARES[col]
        part = (lambda name: (q["cases"], q["cases_key"]) if name == "cases" else (q[f"n_{name}"], q[f"{name}_key"]))
        np.testing.assert_array_equal(t[col].to_numpy(), disclosure.shares(*part(num), *part(den)), err_msg=col)
    # age unknown: Kenya's 20 rows shown, France's 3 hidden (1..T-1), Germany's none: 0%
    age = t.set_index("country")["age_unknown_share"]
    assert age["DEU"] == 0.0 and np.isnan(age["FRA"]) and 0 < age["KEN"] < 0.1
    # the same tumours read the same as on the Overview
    overview_cases = rpool.cases_by_country(con).set_index("country")["cases"]
    assert t.set_index("country")["cases"].tolist() == overview_cases.tolist()
    # shown to 0.1% and 0.1 year: no more precision leaves analytics
    assert (t["followup_completeness_share"].dropna() == t["followup_completeness_share"].dropna().round(3)).all()
    assert (t["median_followup_years"].dropna() == t["median_followup_years"].dropna().round(1)).all()


def test_age_unknown_key_is_the_rejected_rows_key(con):
    """The age-unknown count is perturbed on the keys of exactly those rejected rows."""
    got = quality.age_unknown(con, keys=True).set_index("country").loc["KEN", "age_unknown_key"]
    want = con.execute(f"""SELECT {disclosure.key_sum_sql(column=REJECTED_KEY_SQL)} FROM rejected_rows
                           WHERE case_id LIKE 'NA%'""", {"ck": warehouse.cellkey_secret(con)}).fetchone()[0]
    assert got == want


def test_trend_hides_small_years_and_their_indicators(con):
    tr = rq.trend(con, "KEN")
    assert disclosure.is_released(tr) and "age_unknown_share" not in tr.columns and "flag" not in tr.columns
    exact = quality.indicators(con, Selection.build({"country": ["KEN"]}), ("year",)).set_index("year")
    lo, hi = rpool.year_span(con)
    assert tr["year"].tolist() == list(range(lo, hi + 1))  # every year of the pool, not only the country's
    small = tr["year"].isin(exact.index[exact["cases"] < T])
    assert small.any() and tr.loc[small, "suppressed"].all()
    hidden = tr[tr["suppressed"]]
    assert hidden["cases"].isna().all()
    assert hidden[[c for c in rq.INDICATORS if c in tr.columns]].isna().all().all()
    with pytest.raises(disclosure.DisclosureError):
        rq.trend_figure(pd.DataFrame(tr), "KEN")  # a copy without the stamp is refused
    fig = rq.trend_figure(tr, "KEN", footnote=rq.trend_note())
    assert disclosure.is_released(fig)
    titles = [a.text for a in fig.layout.annotations]
    assert "DCO %" in titles and "Follow-up completeness %" in titles and "Kenya" in fig.layout.title.text


def test_a_country_hidden_by_country_is_not_shown_by_year(tmp_path):
    """Iceland's 7 tumours are hidden in the table by country, and Germany with them (complementary
    suppression): neither is offered by year, where their years would date the few tumours or
    add back to the hidden total."""
    rows = random_rows(300, seed=5, countries=("FRA",)) + random_rows(300, seed=6, countries=("DEU",))
    rows = [{**r, "case_id": f"{r['country']}{r['case_id']}"} for r in rows]
    rows += [{**r, "case_id": f"ISL{i}", "country": "ISL"} for i, r in enumerate(random_rows(7, seed=7))]
    con = warehouse.connect(tmp_path / "isl.duckdb")
    ingest_file(con, write_csv(tmp_path / "isl.csv", rows))
    t = rq.by_country(con).set_index("country")
    assert t.loc["ISL", "suppressed"] and t["suppressed"].sum() == 2
    assert rq.trend_countries(con) == [c for c in t.index if not t.loc[c, "suppressed"]]
    for hidden in t.index[t["suppressed"]]:
        with pytest.raises(disclosure.DisclosureError):
            rq.trend(con, hidden)
    con.close()


def test_the_closing_month_is_shown_only_where_many_children_share_it(con):
    t = rq.by_country(con).set_index("country")
    c = quality.closing_dates(con, keys=True).set_index("country")
    for country, row in t.iterrows():
        common = bool(disclosure.released_mask(c.loc[country, "n_at_closing"], c.loc[country, "at_closing_key"])) \
            and c.loc[country, "n_at_closing"] >= T
        assert (row["followup_to"] is not None) == common
        if common:
            assert row["followup_to"] == pd.Timestamp(c.loc[country, "closing_date"]).strftime("%Y-%m")
    assert t["followup_to"].notna().any()


# --- the page -----------------------------------------------------------------------------------------

def _page(monkeypatch, db_path, **params) -> AppTest:
    return run_page(monkeypatch, db_path, "views/data_quality.py", **params)


def test_page_shows_indicators_trend_and_accounting(monkeypatch, pool):
    at = _page(monkeypatch, pool[2])
    frames = [d.value for d in at.dataframe]
    by_country = next(f for f in frames if "dco_share" in f.columns and "country" in f.columns)
    assert set(rq.INDICATORS) <= set(by_country.columns)
    assert any("rows_loaded" in f.columns and "countries" in f.columns for f in frames)
    assert at.selectbox[0].value == "DEU"  # the first country, until one is chosen
    assert [s.value for s in at.subheader][:2] == ["Data-quality indicators by country", "Trend by year of diagnosis"]


def test_page_reopens_the_country_of_a_link(monkeypatch, pool):
    at = _page(monkeypatch, pool[2], country="KEN")
    assert at.selectbox[0].value == "KEN"
    bad = _page(monkeypatch, pool[2], country="ZZZ")
    assert bad.selectbox[0].value == "DEU"
    assert any("country=ZZZ" in i.value for i in bad.info)


def test_command_line_prints_the_exact_indicators(pool):
    import io
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "analytics", "quality", "--db", str(pool[2])],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    got = pd.read_csv(io.StringIO(run.stdout)).set_index("country")
    exp = _expected(*pool[:2]).set_index("country")
    np.testing.assert_allclose(got["followup_completeness"], exp["followup_completeness"], rtol=1e-12)
    np.testing.assert_allclose(got["age_unknown_share"], exp["n_age_unknown"] / (exp["cases"] + exp["n_age_unknown"]),
                               rtol=1e-12)
    assert "Clark" in run.stderr and "Synthetic" in run.stderr
    by_year = subprocess.run([sys.executable, "-m", "analytics", "quality", "--db", str(pool[2]), "--by-year"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert by_year.returncode == 0 and by_year.stdout.startswith("country,year,cases,")
