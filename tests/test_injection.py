"""Content injection (issue 11, item 7): every user-supplied text is shown as text.

Cohort names from a shared link, values of other link parameters, and submission ids or case ids
from a partner's file must not become a link or markup (markdown, Plotly figures) or a formula
(CSV downloads, `python -m analytics rejected`); uncaught errors show no details to viewers.
The functions under test are in analytics/safe_text.py (imported inside the tests, so each test
fails on its own when the protection is missing).
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
import tomllib

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import figures, warehouse
from tests.conftest import ROOT, random_rows, valid_row

WJ = "\u2060"
LINK_MD = "[click me](https://evil.example)"
LINK_HTML = '<a href="https://evil.example">x</a>'
BARE_URL = "https://evil.example www.evil.example"
FORMULA = '=HYPERLINK("http://evil.example","x")'
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def shown(md: str) -> str:
    """What markdown source `md` displays, for text escaped by markdown_text: backslash escapes
    resolved, word joiners (invisible) dropped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md.replace(WJ, ""))


def assert_no_link(md: str) -> None:
    """No markdown link, no HTML tag, nothing GFM would autolink."""
    s = md.replace(WJ, "")
    assert not re.search(r"(?<!\\)\]\(", s), md
    assert not re.search(r"(?<!\\)<", s), md
    assert "://" not in s and "www." not in s, md


def assert_no_formula(text: str) -> list[list[str]]:
    """Parse CSV text as a spreadsheet would (comment lines too) and check no cell starts a formula."""
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        for cell in row:
            assert not cell.lstrip(" ").startswith(FORMULA_START), (cell, row)
    return rows


@pytest.fixture(scope="module")
def evil_warehouse(tmp_path_factory):
    """600 valid rows plus a rejected row whose case_id and registry are formulas, loaded as a
    submission whose id is a formula too."""
    d = tmp_path_factory.mktemp("evil")
    rows = random_rows(600) + [valid_row(case_id=FORMULA, registry=FORMULA, country="XXX")]
    pd.DataFrame(rows).to_parquet(d / "pool.parquet")  # Parquet: the values arrive exactly as written
    con = warehouse.connect(d / "w.duckdb")
    from analytics.ingest import ingest_file

    ingest_file(con, d / "pool.parquet", name=FORMULA, synthetic=True)
    con.close()
    return d / "w.duckdb"


def record_downloads(mp) -> dict[str, str]:
    """file_name -> the text each st.download_button offers from now on (the button still renders)."""
    import streamlit as st

    seen, original = {}, st.download_button

    def recording(label, data, *a, **kw):
        if isinstance(data, str):
            seen[kw.get("file_name")] = data
        return original(label, data, *a, **kw)

    mp.setattr(st, "download_button", recording)
    return seen


def strings(obj):
    """Every string in a figure's JSON structure."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings(v)

from tests.test_app import run_page  # noqa: E402  (the AppTest runner the page tests use)


COHORT_LINK = {"n": "4", "c0_name": LINK_MD, "c0_tumour": "I", "c1_name": LINK_HTML, "c1_tumour": "Ib",
               "c2_name": FORMULA, "c3_name": BARE_URL}


@pytest.fixture(scope="module")
def cohorts_page(evil_warehouse):
    """The cohorts page opened from a link naming its four cohorts with a markdown link, an HTML
    link, a spreadsheet formula and bare addresses (cohorts 1 and 2 overlap)."""
    mp = pytest.MonkeyPatch()
    seen = record_downloads(mp)
    try:
        at = run_page(mp, evil_warehouse, "views/cohorts.py", **COHORT_LINK)
    finally:
        mp.undo()
    return at, seen


# --- the escaping functions -------------------------------------------------------------------

@pytest.mark.parametrize("name", [LINK_MD, LINK_HTML, BARE_URL, "me@evil.example", "![i](https://evil.example/i.png)",
                                  "$x$ :red[red] :smile: **b** `c` # h", "<https://evil.example>", "a\\b &amp; ~x~"])
def test_markdown_text_shows_the_name_and_no_link(name):
    from analytics.safe_text import markdown_text

    md = markdown_text(name)
    assert_no_link(md)
    assert shown(md) == name
    assert "\n" not in markdown_text("a\nb") and "\r" not in markdown_text("a\rb")


def test_plotly_text_escapes_markup():
    from analytics.safe_text import plotly_text

    assert plotly_text(LINK_HTML) == "&lt;a href=\"https://evil.example\"&gt;x&lt;/a&gt;"
    assert plotly_text("A & B <br>") == "A &amp; B &lt;br&gt;"


def test_csv_cells_starting_a_formula_get_a_quote_numbers_stay_numbers():
    from analytics.safe_text import csv_cell, csv_frame

    for evil in (FORMULA, "+x", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(evil) == "'" + evil
    for fine in ("ALL", "-1.5", "+3", "1e-3", "", "#x", "a=b", -1.5, 3, None):
        assert csv_cell(fine) == fine
    df = pd.DataFrame({"name": [FORMULA, "ok"], "value": [-1.5, 2.0], FORMULA: ["-x", "-1"]})
    out = csv_frame(df)
    assert out["name"].tolist() == ["'" + FORMULA, "ok"]
    assert out["value"].tolist() == [-1.5, 2.0] and out["value"].dtype.kind == "f"
    assert list(out.columns) == ["name", "value", "'" + FORMULA] and out.iloc[:, 2].tolist() == ["'-x", "-1"]
    assert df["name"].tolist() == [FORMULA, "ok"]  # the caller's frame is left alone


def test_csv_comment_is_one_harmless_line_pandas_skips():
    from analytics.safe_text import csv_comment

    line = csv_comment(f"Cohorts: {FORMULA} n = 5, -x n = 3\nsecond line")
    assert line.startswith("# ") and "\n" not in line
    assert_no_formula(line)
    text = line + "\na,b\n1,2\n"
    assert pd.read_csv(io.StringIO(text), comment="#").to_dict("list") == {"a": [1], "b": [2]}


# --- figures ----------------------------------------------------------------------------------

def test_figure_builders_escape_names_from_the_data():
    from analytics import figures

    esc = html.escape(LINK_HTML, quote=False)
    df = pd.DataFrame({"country": [LINK_HTML], "asr": [10.0], "asr_lower": [8.0], "asr_upper": [12.0],
                       "cases": [50], "year": [2010], "term": [f"cohort={LINK_HTML}"], "hr": [1.2],
                       "hr_lower": [1.0], "hr_upper": [1.5], "p": [0.04]})
    figs = [figures.rate_bars(df, "country", LINK_HTML, "x", footnote=LINK_HTML),
            figures.trend_lines(df, "t", "y", group="country"),
            figures.forest_plot(df, "Cox"),
            figures.dot_whisker(df, "country", "asr", "asr_lower", "asr_upper", "t", "x")]
    for fig in figs:
        texts = list(strings(json.loads(fig.to_json())))
        assert not any("<a " in t for t in texts), texts
        assert any(esc in t for t in texts), texts


# --- the cohorts page opened from a link ---------------------------------------------------------

def test_overlap_warning_shows_cohort_names_as_text(cohorts_page):
    at, _ = cohorts_page
    warning = next(w.value for w in at.warning if "overlap" in w.value)
    assert_no_link(warning)
    assert LINK_MD in shown(warning) and LINK_HTML in shown(warning)


def test_survival_figure_shows_cohort_names_as_text(cohorts_page):
    at, _ = cohorts_page
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {str(t.get("name")).replace("<br>", " ") for t in fig["data"]}  # long legend names wrap
    for name in (LINK_MD, LINK_HTML, FORMULA, BARE_URL):
        assert html.escape(name, quote=False) in names  # legend
    footnote = " ".join(a["text"] for a in fig["layout"].get("annotations", []))
    assert html.escape(LINK_HTML, quote=False) in footnote
    ticks = [t for ax in fig["layout"].values() if isinstance(ax, dict) for t in ax.get("ticktext", [])]
    assert html.escape(figures.short_label(LINK_HTML), quote=False) in ticks  # numbers-at-risk labels
    assert "<a " not in json.dumps(fig)
    assert all("<extra>" in t.get("hovertemplate", "<extra>") and "evil" not in t.get("hovertemplate", "")
               for t in fig["data"])


def test_cohort_csv_downloads_carry_no_formula(cohorts_page):
    _, seen = cohorts_page
    text = seen["cohort_characteristics.csv"]
    rows = assert_no_formula(text)
    assert any(cell == "'" + FORMULA for row in rows for cell in row)
    for name, data in seen.items():
        assert_no_formula(data)


def test_link_cohort_names_are_capped_and_cleaned_with_a_notice(monkeypatch, evil_warehouse):
    at = run_page(monkeypatch, evil_warehouse, "views/cohorts.py",
                  c0_name="x" * 41, c1_name="AML\u202e\x07 rel\u200bapse")
    assert at.text_input(key="cohorts:c0_name").value == "ALL"  # the default
    assert at.text_input(key="cohorts:c1_name").value == "AML relapse"
    notices = " ".join(i.value for i in at.info)
    assert "longer than 40 characters" in notices and "control characters removed" in notices


def test_link_parameter_notices_quote_values_as_text(monkeypatch, evil_warehouse):
    at = run_page(monkeypatch, evil_warehouse, "views/cohorts.py", n=LINK_HTML, c0_sex=LINK_MD,
                  c0_periods=BARE_URL)
    notices = [i.value for i in at.info if "Link parameter ignored" in i.value]
    assert len(notices) == 3
    for md in notices:
        assert_no_link(md)
    assert any(LINK_HTML in shown(md) for md in notices)


# --- partner files: data-quality page and the command line -----------------------------------------

def test_data_quality_downloads_carry_no_formula(monkeypatch, evil_warehouse):
    downloads = record_downloads(monkeypatch)
    run_page(monkeypatch, evil_warehouse, "views/data_quality.py")
    rows = assert_no_formula(downloads["submissions.csv"])
    assert rows[-1][0] == "'" + FORMULA  # the submission id
    assert_no_formula(downloads["rejection_reasons.csv"])


def test_rejected_command_writes_no_formula(capsys, evil_warehouse):
    from analytics.cli import main

    assert main(["rejected", "--db", str(evil_warehouse)]) == 0
    rows = assert_no_formula(capsys.readouterr().out)
    header, data = rows[0], rows[1:]
    row = dict(zip(header, data[0]))
    assert row["case_id"] == "'" + FORMULA and row["submission_id"] == "'" + FORMULA
    assert json.loads(row["raw"])["registry"] == FORMULA  # the raw values are kept as sent


# --- uncaught errors ---------------------------------------------------------------------------------

def test_config_hides_error_details():
    from streamlit.config import ShowErrorDetailsConfigOptions

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value


def test_uncaught_exception_shows_no_path_or_pid(monkeypatch):
    from streamlit import config

    monkeypatch.chdir(ROOT)  # Streamlit reads ./.streamlit/config.toml
    config.get_config_options(force_reparse=True)
    at = AppTest.from_string("import os\nraise RuntimeError(f'at {os.getcwd()} pid {os.getpid()}')").run()
    e = at.exception[0]
    assert str(ROOT) not in e.message and "pid" not in e.message
    assert not e.stack_trace and not e.proto.type


# --- a real browser: nothing clickable ---------------------------------------------------------------

@pytest.mark.browser
def test_browser_shows_link_names_without_links(browser, evil_warehouse, tmp_path):
    from urllib.parse import urlencode

    from tests.browser_helpers import AppServer, wait_for_render

    server = AppServer(evil_warehouse, tmp_path / "streamlit.log")
    try:
        server.wait_healthy(timeout=60)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server.base_url}/cohorts?{urlencode(COHORT_LINK)}", wait_until="domcontentloaded")
        wait_for_render(page, timeout_ms=90_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('a[href*="evil.example"]').count() == 0
        warning = next(t for t in page.locator('[data-testid="stAlert"]').all_inner_texts() if "overlap" in t)
        assert LINK_MD in warning.replace(WJ, "") and LINK_HTML in warning.replace(WJ, "")
        legend = " ".join(page.locator(".legendtext").all_text_contents())  # SVG: no inner text
        # a long legend name wraps onto lines (tspans, joined here without the space it broke at)
        assert LINK_HTML.replace(" ", "") in legend.replace(" ", "") and page.locator(".js-plotly-plot a").count() == 0
        page.close()
    finally:
        server.stop()
