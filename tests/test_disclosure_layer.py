"""A page cannot forget disclosure control (issue 10, docs/disclosure-control.md §8).

* Pages (`views/`) take numbers from the release layer (`analytics.release`) only: they import
  none of the exact modules, and nothing in `views/` or `ui/` reads a Count's exact value.
* `ui.table` refuses a frame and `ui.chart` a figure that did not come out of the layer (fail
  closed: the page shows an error instead of the numbers).
* One threshold: no literal 16 (or "<16") in the pages, `ui/` or the figures; every label comes
  from `disclosure.policy()`.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import disclosure

ROOT = Path(__file__).resolve().parent.parent
VIEWS = sorted((ROOT / "views").glob("*.py"))
UI = sorted((ROOT / "ui").glob("*.py"))

#: Exact modules: their numbers reach a viewer only through analytics.release.
EXACT = {"analytics.incidence", "analytics.survival", "analytics.netsurvival", "analytics.compare",
         "analytics.cohorts", "analytics.overview", "analytics.suppression"}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: p.name)
def test_pages_import_no_exact_module(path):
    assert not (_imports(path) & EXACT), f"{path.name} imports {_imports(path) & EXACT}"


@pytest.mark.parametrize("path", VIEWS + UI, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_page_reads_an_exact_count(path):
    tree = ast.parse(path.read_text())
    exact = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "exact"]
    assert not exact, f"{path.name} reads .exact on lines {exact}"


@pytest.mark.parametrize("path", VIEWS + UI + [ROOT / "analytics" / "figures.py"],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_literal_threshold(path):
    """'<16', '&lt;16', 'fewer than 16', 'below 16' written out would be false when CCOE_MIN_CELL
    is changed."""
    text = path.read_text()
    hits = re.findall(r"(?:<|&lt;|fewer than |below |under |less than )\s*16\b", text)
    assert not hits, f"{path.name}: {hits}"


def test_ui_table_refuses_an_unreleased_frame():
    import ui

    with pytest.raises(disclosure.DisclosureError):
        ui.table(pd.DataFrame({"cases": [7]}), "x.csv")


def test_ui_chart_refuses_an_unreleased_figure():
    import ui

    with pytest.raises(disclosure.DisclosureError):
        ui.chart(go.Figure(go.Bar(x=[1], y=[7])), "x")
