"""Exported figures carry their legend, footnote and the synthetic-data notice (the SVG's text is
inspected); PNG is slide-sized. Kaleido renders with Debian's Chromium."""
from __future__ import annotations

import struct

import pandas as pd
import pytest

from analytics import figures, survival
from analytics.export import CHROMIUM, figure_bytes
from tests.test_survival import data

pytestmark = pytest.mark.browser
if not CHROMIUM.exists():
    pytest.skip("Debian's /usr/bin/chromium is needed to render figures", allow_module_level=True)

NOTICE = "Synthetic demonstration data: not real patients or outcomes."


@pytest.fixture(scope="module")
def km_figure():
    d = data("relsurv")
    res = survival.kaplan_meier(survival.event_table_from_rows(d, "time_days", "status", by=["group"]), min_cases=1)
    at_risk = survival.at_risk_table(res, [0, 2, 4, 6, 8, 10], min_shown=1)
    return figures.survival_plot({k: km.table for k, km in res.curves.items()}, at_risk, ["group"],
                                 "Observed survival by group", "Survival probability",
                                 footnote="Kaplan-Meier, 95% CI log-log (Greenwood)\n" + NOTICE,
                                 labels={("G1",): "Group one", ("G2",): "Group two"})


def test_svg_contains_legend_footnote_notice_and_numbers_at_risk(km_figure):
    svg = figure_bytes(km_figure, "svg").decode("utf-8")
    for text in ("Group one", "Group two", "Kaplan-Meier, 95% CI log-log", "Synthetic demonstration data",
                 "At risk", "Observed survival by group"):
        assert text in svg, text


def test_png_is_slide_sized(km_figure):
    png = figure_bytes(km_figure, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1920, 1080)


def test_map_exports_offline():
    from analytics import maps

    fig = maps.choropleth(pd.DataFrame({"country": ["FRA", "USA"], "asr": [140.0, 150.0]}), "country", "asr",
                          "Incidence", "per million", notice=NOTICE)
    svg = figure_bytes(fig, "svg").decode("utf-8")
    assert "Synthetic demonstration data" in svg and svg.count("<path") > 100
