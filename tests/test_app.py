"""Pages render in Streamlit's AppTest against a small real warehouse, and on an empty one."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analytics import warehouse
from tests.conftest import ROOT

PAGES = ["pages/home.py", "pages/data_quality.py"]


def run_page(monkeypatch, db_path, page):
    monkeypatch.setenv("CCOE_DB", str(db_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_small_pool(monkeypatch, small_warehouse, page):
    at = run_page(monkeypatch, small_warehouse, page)
    assert any("Synthetic demonstration data" in w.value for w in at.warning)


def test_home_shows_pool_figures(monkeypatch, small_warehouse):
    at = run_page(monkeypatch, small_warehouse, PAGES[0])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tumours"] == "600"
    assert metrics["Countries"] == "3"
    assert metrics["Rows rejected at ingest"] == "2"


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
