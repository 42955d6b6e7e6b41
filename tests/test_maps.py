"""World maps: the shipped country shapes (analytics/reference/world.py), the choropleth figure
(analytics/maps.py), and proof in headless Chromium that the map draws with the network cut off.

The browser tests write the figure as a standalone HTML file with plotly.js inlined, open it from
file:// in Debian's /usr/bin/chromium with every non-file request aborted (and recorded), and
count the country shapes drawn. The map as built draws without asking for anything; a control
shows the same choropleth without the offline anchor trace does ask cdn.plot.ly for topojson and
draws nothing, so the block is real. Screenshot: tests/artifacts/maps/world.png. Skipped only
when /usr/bin/chromium is absent (`apt-get install chromium`; browsers are never downloaded).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry
import pytest

from analytics import maps
from analytics.reference import world

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts" / "maps"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NOTICE = "Synthetic demonstration data: not real registry figures."


# ---------------------------------------------------------------------------------------------
# world_geojson


@pytest.fixture(scope="module")
def geo() -> dict:
    return world.world_geojson()


def _feature(geo: dict, code: str) -> dict:
    return next(f for f in geo["features"] if f["properties"]["iso_a3"] == code)


def _ring_area(ring) -> float:
    """Shoelace signed area in the lon/lat plane: > 0 counter-clockwise."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def test_world_geojson_is_a_feature_collection_keyed_by_iso3(geo):
    assert geo["type"] == "FeatureCollection"
    codes = [f["properties"]["iso_a3"] for f in geo["features"]]
    assert len(codes) == len(set(codes)) >= 170
    for code in ("FRA", "NOR", "USA", "KEN", "GBR", "DEU", "BRA", "IND", "CHN", "AUS", "ATA"):
        assert code in codes
    assert all(f["id"] == f["properties"]["iso_a3"] for f in geo["features"])
    assert all(f["geometry"]["type"] == "MultiPolygon" and f["geometry"]["coordinates"]
               for f in geo["features"])
    assert "-99" not in codes
    # every ISO 3166-1 country has a shape, and the only non-ISO code is Kosovo's
    assert {c.alpha_3 for c in pycountry.countries} <= set(codes)
    assert set(codes) - {c.alpha_3 for c in pycountry.countries} == {"XKX"}
    assert _feature(geo, "FRA")["properties"]["name"] == "France"


def test_world_geojson_is_small_and_cached(geo):
    text = json.dumps(geo, separators=(",", ":"))
    assert len(text.encode()) < 1_000_000
    assert world.world_geojson() is geo
    assert world.world_geojson_text() == world.world_geojson_text()


def test_overseas_parts_have_their_own_codes(geo):
    """France is metropolitan France (with Corsica): French Guiana etc. are their own features."""
    def lons_lats(code):
        pts = [pt for poly in _feature(geo, code)["geometry"]["coordinates"] for pt in poly[0]]
        return [p[0] for p in pts], [p[1] for p in pts]

    lon, lat = lons_lats("FRA")
    assert min(lon) > -6 and max(lon) < 10 and min(lat) > 41 and max(lat) < 52
    lon, lat = lons_lats("GUF")
    assert -55 < min(lon) and max(lon) < -51 and 1.5 < min(lat) and max(lat) < 6.5
    lon, lat = lons_lats("NOR")
    assert max(lat) < 72  # Svalbard is SJM
    assert max(lons_lats("SJM")[1]) > 79


def test_rings_are_wound_clockwise_for_plotly(geo):
    """Exterior rings clockwise (d3-geo / plotly.js); the other way round plotly fills the globe."""
    for code in ("USA", "KEN", "FRA", "RUS", "BRA", "IDN"):
        for poly in _feature(geo, code)["geometry"]["coordinates"]:
            assert _ring_area(poly[0]) < 0, code
            assert poly[0][0] == poly[0][-1]


# ---------------------------------------------------------------------------------------------
# choropleth


def sample_frame() -> pd.DataFrame:
    """Synthetic incidence for ~60 countries, a few suppressed (NaN), one unknown code."""
    rng = np.random.default_rng(7)
    codes = ["FRA", "DEU", "GBR", "ITA", "ESP", "NOR", "SWE", "FIN", "POL", "USA", "CAN", "MEX",
             "BRA", "ARG", "CHL", "COL", "PER", "KEN", "UGA", "TZA", "ZAF", "NGA", "GHA", "EGY",
             "MAR", "ETH", "IND", "CHN", "JPN", "KOR", "AUS", "NZL", "IDN", "THA", "VNM", "PHL",
             "TUR", "IRN", "SAU", "RUS", "UKR", "KAZ", "PAK", "BGD", "NLD", "BEL", "CHE", "AUT",
             "CZE", "HUN", "ROU", "GRC", "PRT", "IRL", "DNK", "ISL", "CUB", "GUF", "XKX",
             "MDG", "MOZ", "ZMB"]
    asr = rng.uniform(90, 190, len(codes)).round(1)
    cases = rng.integers(20, 2000, len(codes)).astype(float)
    df = pd.DataFrame({"iso3": codes, "asr": asr, "cases": cases})
    df.loc[df["iso3"].isin(["MDG", "MOZ", "ZMB"]), ["asr", "cases"]] = np.nan  # suppressed
    return pd.concat([df, pd.DataFrame({"iso3": ["ZZZ"], "asr": [100.0], "cases": [5.0]})],
                     ignore_index=True)


@pytest.fixture(scope="module")
def fig():
    return maps.choropleth(sample_frame(), "iso3", "asr",
                           title="Childhood cancer incidence, age-standardised (synthetic)",
                           colorbar_title="ASR per million", hover_cols=["cases"], notice=NOTICE)


def test_choropleth_traces(fig, geo):
    assert [t.type for t in fig.data] == ["scattergeo", "choropleth", "choropleth"]
    anchor, base, data = fig.data
    assert anchor.name == maps.OFFLINE_ANCHOR and anchor.locations is None
    assert anchor.lon == (0.0,) and anchor.lat == (0.0,)
    df = sample_frame()
    valued = df.loc[df["asr"].notna() & (df["iso3"] != "ZZZ"), "iso3"].tolist()
    assert list(data.locations) == valued
    assert list(data.z) == pytest.approx(df.set_index("iso3").loc[valued, "asr"].tolist())
    assert data.featureidkey == base.featureidkey == "properties.iso_a3"
    assert {f["properties"]["iso_a3"] for f in data.geojson["features"]} == set(valued)
    # base: every other country (Antarctica left out), grey, "no data"
    all_codes = {f["properties"]["iso_a3"] for f in geo["features"]}
    assert set(base.locations) == all_codes - set(valued) - {"ATA"}
    assert {"MDG", "MOZ", "ZMB", "BOL", "GRL"} <= set(base.locations)
    assert not set(base.locations) & set(valued)
    assert "no data" in base.hovertemplate and base.showscale is False
    assert "cases: %{customdata[1]}" in data.hovertemplate
    fra = list(data.locations).index("FRA")
    assert data.customdata[fra][0] == "France"
    assert data.colorbar.title.text == "ASR per million"


def test_choropleth_layout_needs_no_network(fig):
    geo_layout = fig.layout.geo
    assert geo_layout.visible is False
    for layer in ("land", "ocean", "lakes", "rivers", "countries", "coastlines", "subunits"):
        assert getattr(geo_layout, f"show{layer}") in (None, False)
    assert geo_layout.projection.type == "natural earth"
    assert fig.layout.meta["not_on_map"] == ["ZZZ"]
    text = fig.layout.annotations[0].text
    assert NOTICE in text and "ZZZ" in text
    assert maps.PLOTLY_CONFIG["topojsonURL"].startswith("data:application/json,")


def test_choropleth_edge_cases():
    df = pd.DataFrame({"iso3": [" fra ", "KEN"], "v": [1.0, None]})
    f = maps.choropleth(df, "iso3", "v", "t", "v")
    assert list(f.data[2].locations) == ["FRA"]
    assert "KEN" in f.data[1].locations and not f.layout.annotations
    empty = maps.choropleth(pd.DataFrame({"iso3": [], "v": []}), "iso3", "v", "t", "v")
    assert [t.type for t in empty.data] == ["scattergeo", "choropleth"]
    with pytest.raises(ValueError, match="more than one row"):
        maps.choropleth(pd.DataFrame({"iso3": ["FRA", "fra"], "v": [1, 2]}), "iso3", "v", "t", "v")
    with pytest.raises(ValueError, match="not in the data frame"):
        maps.choropleth(df, "iso3", "nope", "t", "v")


# ---------------------------------------------------------------------------------------------
# headless Chromium, network cut off

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason=f"{CHROMIUM} not found (apt-get install chromium)")


def render(browser, figure, name: str, config: dict | None = None, wait_for_paths: bool = True):
    """Open `figure` as standalone HTML (plotly.js inlined) from file:// with every other request
    aborted. Returns (page, context, non-file URLs requested)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.html"
    figure.write_html(path, include_plotlyjs=True, config=config)
    ctx = browser.new_context(viewport={"width": 1200, "height": 700}, service_workers="block")
    page = ctx.new_page()
    requested: list[str] = []

    def gate(route):
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            requested.append(url)
            route.abort()

    page.route("**/*", gate)
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:"))
            or r.url in requested else requested.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", state="attached", timeout=30_000)
    if wait_for_paths:
        page.wait_for_function(
            "n => document.querySelectorAll('path.choroplethlocation').length >= n", arg=150,
            timeout=30_000)
    else:
        page.wait_for_timeout(2_000)
    return page, ctx, requested


@needs_chromium
@pytest.mark.browser
def test_map_draws_offline_in_chromium(browser, fig):
    page, ctx, requested = render(browser, fig, "world")
    try:
        assert requested == []  # nothing but the file itself: no cdn.plot.ly, nothing else
        drawn = page.locator("path.choroplethlocation").count()
        assert drawn == len(fig.data[1].locations) + len(fig.data[2].locations) >= 150
        # coloured countries differ from the grey ones
        fills = page.eval_on_selector_all(
            "g.trace.choropleth path.choroplethlocation", "els => els.map(e => getComputedStyle(e).fill)")
        assert len(set(fills)) > 10
        # hovering France shows its name; hovering suppressed Mozambique shows "no data"
        for trace_idx, code, expected in ((2, "FRA", "France"), (1, "MOZ", "no data")):
            i = list(fig.data[trace_idx].locations).index(code)
            box = page.locator("g.trace.choropleth").nth(trace_idx - 1) \
                      .locator("path.choroplethlocation").nth(i).bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_selector("g.hovertext", timeout=5_000)
            assert expected in page.locator("g.hovertext").first.text_content()
            page.mouse.move(5, 5)
            page.wait_for_timeout(200)
        assert NOTICE in page.locator(".annotation-text").first.text_content()
        page.screenshot(path=str(ARTIFACTS / "world.png"))
    finally:
        ctx.close()


@needs_chromium
@pytest.mark.browser
def test_control_without_anchor_needs_the_cdn(browser, fig):
    """The same choropleth without the anchor trace asks cdn.plot.ly for topojson and, blocked,
    draws nothing; with PLOTLY_CONFIG it draws and asks for nothing."""
    import plotly.graph_objects as go
    bare = go.Figure(data=list(fig.data[1:]), layout=fig.layout)
    page, ctx, requested = render(browser, bare, "control-bare", wait_for_paths=False)
    try:
        assert any("cdn.plot.ly" in u for u in requested), requested
        assert page.locator("path.choroplethlocation").count() == 0
    finally:
        ctx.close()
    page, ctx, requested = render(browser, bare, "control-config", config=maps.PLOTLY_CONFIG)
    try:
        assert requested == []
        assert page.locator("path.choroplethlocation").count() >= 150
    finally:
        ctx.close()
