"""Exported figures carry their legend, footnote and the synthetic-data notice (the SVG's text is
inspected); PNG is slide-sized; no text in an exported SVG overlaps another or leaves the canvas
(Chromium lays the SVG out, `tests/svg_layout.py`); a PowerPoint slide holds title, picture and
footnote. Kaleido renders with Debian's Chromium."""
from __future__ import annotations

import io
import struct

import numpy as np
import pandas as pd
import pytest

from analytics import figures, iccc, labels, survival
from analytics.export import CHROMIUM, figure_bytes, slide_bytes
from tests.svg_layout import off_canvas, overlapping, text_boxes
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
                 "Number at risk", "Observed survival by group"):
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


COUNTRIES = ["USA", "CAN", "GBR", "FRA", "DEU", "ITA", "AUS", "MEX", "COL", "ZAF", "KEN", "UGA"]
LONG_NOTE = ("Acute lymphoid leukaemias; diagnosed 2000-2019; n = 123,456 analysed (1,234 DCO excluded); "
             "Kaplan-Meier, 95% CI log-log (Greenwood); curves stop when fewer than 16 remain at risk.\n" + NOTICE)


def twelve_groups(n: int = 1500, seed: int = 3) -> tuple[dict, pd.DataFrame]:
    """Kaplan-Meier curves and numbers at risk of twelve countries, 1,500 cases each over 20 years:
    the default view of the Survival page, the one whose exports overlapped."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({"group": np.repeat(COUNTRIES, n),
                         # whole months, as a viewer's rounded curves are binned
                         "time_days": np.ceil(rng.exponential(4000, n * len(COUNTRIES)).clip(1, 7300) / 30.44) * 30.44,
                         "status": rng.integers(0, 2, n * len(COUNTRIES))})
    res = survival.kaplan_meier(survival.event_table_from_rows(rows, "time_days", "status", by=["group"]),
                                min_cases=1)
    at_risk = survival.at_risk_table(res, list(range(0, 21, 2)), min_shown=1)
    return {k: km.table for k, km in res.curves.items()}, at_risk


def every_figure() -> dict:
    """One of each figure a page exports, filled as the demo pool fills them."""
    curves, at_risk = twelve_groups()
    names = {(c,): labels.country(c) for c in COUNTRIES}
    rng = np.random.default_rng(1)
    asr = rng.uniform(100, 200, len(COUNTRIES))
    by_country = pd.DataFrame({"country": [labels.country(c) for c in COUNTRIES], "asr": asr,
                               "asr_lower": asr * 0.9, "asr_upper": asr * 1.1, "cases": 1000,
                               "surv5": rng.uniform(0.4, 0.85, 12), "n_survival": rng.integers(300, 9000, 12)})
    by_country["surv5_lower"] = by_country["surv5"] - 0.03
    by_country["surv5_upper"] = by_country["surv5"] + 0.03
    hr = pd.DataFrame({"term": [f"country={c}" for c in COUNTRIES[1:]] + ["sex=2", "age_group=15-19"],
                       "hr": np.r_[rng.uniform(0.69, 7.25, 11), 1.0, 0.9]})
    hr["label"] = [labels.term(*labels.split_term(t), {"country": "USA", "sex": "1", "age_group": "0"}[t.split("=")[0]])
                   for t in hr["term"]]
    hr["hr_lower"], hr["hr_upper"], hr["p"] = hr["hr"] * 0.8, hr["hr"] * 1.25, 0.01
    from analytics.compare import funnel_limits

    groups = list(iccc.MAIN_GROUPS)
    grid = pd.DataFrame([(c, g, float(rng.uniform(0.5, 40))) for c in COUNTRIES for g in groups],
                        columns=["country", "iccc_main", "asr"])
    ages = pd.DataFrame({"age_band": ["0-4", "5-9", "10-14", "15-19"], "rate": [200.0, 110, 120, 180]})
    ages["lower"], ages["upper"] = ages["rate"] * 0.9, ages["rate"] * 1.1
    yearly = pd.DataFrame([(c, y, float(rng.uniform(120, 180))) for c in COUNTRIES[:4] for y in range(2000, 2020)],
                          columns=["country", "year", "asr"])
    yearly["asr_lower"], yearly["asr_upper"] = yearly["asr"] * 0.9, yearly["asr"] * 1.1

    return {
        "survival": figures.survival_plot(curves, at_risk, ["group"], "Observed survival: acute lymphoid leukaemias",
                                          "Survival probability", footnote=LONG_NOTE, labels=names,
                                          legend_title="Country"),
        "forest": figures.forest_plot(hr, "Hazard ratios: acute lymphoid leukaemias", footnote=LONG_NOTE),
        "dot_whisker": figures.dot_whisker(by_country, "country", "surv5", "surv5_lower", "surv5_upper",
                                           "5-year observed survival (Kaplan-Meier)", "Survival at 5 years, 95% CI",
                                           pooled=0.7, percent=True, footnote=LONG_NOTE),
        "rate_bars": figures.rate_bars(by_country, "country", "Age-standardised incidence",
                                       "Per million person-years (world standard, Segi 1960), 95% CI",
                                       pooled=150.0, footnote=LONG_NOTE),
        "funnel": figures.funnel(by_country.assign(code=COUNTRIES), "n_survival", "surv5", "code",
                                 funnel_limits(0.7, 9000), 0.7, "5-year survival against the number of cases",
                                 footnote=LONG_NOTE, name_col="country"),
        "heatmap": figures.heatmap(grid, "country", "iccc_main", "asr", "Age-standardised rate by country and ICCC-3 group",
                                   "per million", footnote=LONG_NOTE, col_order=groups),
        "rate_points": figures.rate_points(ages, "age_band", "Age-specific incidence", "Age group (years)",
                                           "Rate per million person-years (95% CI)", footnote=LONG_NOTE),
        "trend_lines": figures.trend_lines(yearly, "Age-standardised incidence by year of diagnosis",
                                           "Rate per million person-years", footnote=LONG_NOTE, group="country"),
        "tumour_bars": figures.tumour_bars(pd.DataFrame({"iccc_main": groups,
                                                         "name": [iccc.MAIN_GROUPS[g] for g in groups],
                                                         "cases": rng.integers(100, 9000, len(groups))}),
                                           footnote=LONG_NOTE),
    }


@pytest.fixture(scope="module")
def figures_and_svgs():
    figs = every_figure()
    return figs, {name: figure_bytes(fig, "svg") for name, fig in figs.items()}


@pytest.mark.parametrize("name", ["survival", "forest", "dot_whisker", "rate_bars", "funnel", "heatmap",
                                  "rate_points", "trend_lines", "tumour_bars"])
def test_no_text_overlaps_or_leaves_the_canvas_in_the_svg(browser, figures_and_svgs, name):
    boxes, width, height = text_boxes(browser, figures_and_svgs[1][name])
    assert len(boxes) > 10
    assert overlapping(boxes) == []
    assert off_canvas(boxes, width, height) == []


def test_the_overlap_check_sees_an_overlap(browser):
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=[1, 1.001], y=[1, 1], mode="text", text=["12,345", "67,890"]))
    fig.update_xaxes(range=[0, 10])
    boxes, _, _ = text_boxes(browser, figure_bytes(fig, "svg"))
    assert ("12,345", "67,890") in overlapping(boxes)


def test_survival_svg_is_small_and_names_countries(figures_and_svgs):
    svg = figures_and_svgs[1]["survival"]
    assert len(svg) < 400_000, len(svg)  # step functions simplified to the points that change
    text = svg.decode("utf-8")
    for name in ("United Kingdom", "South Africa", "Country", "Number at risk"):
        assert name in text


def test_forest_ticks_read_their_positions(figures_and_svgs):
    fig = figures_and_svgs[0]["forest"]
    vals, texts = fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext
    assert 1 in vals and len(vals) >= 3
    assert [float(t) for t in texts] == pytest.approx(list(vals))
    lo, hi = 10 ** np.array(fig.layout.xaxis.range)
    assert lo <= 0.69 * 0.8 and hi >= 7.25 * 1.25  # every interval inside the axis


def test_log_ticks_are_plain_numbers():
    assert figures.log_ticks(0.69, 7.25) == [0.5, 1, 2, 4, 8]
    assert figures.log_ticks(0.85, 1.3) == [0.8, 0.9, 1, 1.25, 1.5]
    assert [figures.tick_text(v) for v in (0.25, 0.5, 1.0, 2.0, 0.0625)] == ["0.25", "0.5", "1", "2", "0.0625"]


def test_legend_lists_curves_as_they_end(figures_and_svgs):
    fig = figures_and_svgs[0]["survival"]
    lines = [t for t in fig.data if t.showlegend is not False and t.mode == "lines"]
    ends = {t.name: t.y[-1] for t in lines}
    ranked = sorted(lines, key=lambda t: t.legendrank)
    assert [ends[t.name] for t in ranked] == sorted(ends.values(), reverse=True)
    assert fig.layout.legend.title.text == "Country"


def test_highlight_greys_the_other_groups():
    curves, at_risk = twelve_groups(n=200)
    fig = figures.survival_plot(curves, at_risk, ["group"], "t", "y", highlight=("KEN",))
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is not False]
    colours = {t.name: t.line.color for t in lines}
    assert colours["KEN"] != figures.MUTED and sum(c == figures.MUTED for c in colours.values()) == 11
    assert lines[-1].name == "KEN"  # drawn on top


def test_slide_has_title_picture_and_footnote(figures_and_svgs):
    from pptx import Presentation

    prs = Presentation(io.BytesIO(slide_bytes(figures_and_svgs[0]["survival"])))
    (slide,) = prs.slides
    texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
    assert texts[0] == "Observed survival: acute lymphoid leukaemias"
    assert any("Synthetic demonstration data" in t for t in texts[1:])
    pictures = [s for s in slide.shapes if s.shape_type == 13]
    assert len(pictures) == 1
    pic = pictures[0]
    assert pic.left >= 0 and pic.top >= 0 and pic.left + pic.width <= prs.slide_width
    assert pic.top + pic.height <= prs.slide_height


def test_a_long_title_wraps_within_the_plot_area_and_a_slide_joins_it():
    """A tumour group's long name ran past the legend at 1280 px: titles wrap at TITLE_CHARS,
    never inside a hyphenated word, and a slide takes the title back as one line."""
    import plotly.graph_objects as go

    from analytics import figures
    from analytics.export import slide_parts

    title = "Observed survival by country, diagnosed 2000-2019: IIb Non-Hodgkin lymphomas (except Burkitt lymphoma)"
    fig = figures._layout(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])), title, "note")
    lines = fig.layout.title.text.split("<br>")
    assert len(lines) > 1 and all(len(x) <= figures.TITLE_CHARS for x in lines)
    assert "Non-Hodgkin" in fig.layout.title.text and "2000-2019" in fig.layout.title.text
    assert slide_parts(fig)[0] == title
