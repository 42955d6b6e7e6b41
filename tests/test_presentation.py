"""Pages as a presenter and a clinician see them (issue 12), in Debian's Chromium at 1280 x 720
and 1920 x 1080, without and with presentation mode (`?present=on`): no exception; in
presentation mode the controls are hidden, there is a way back, and the first figure is mostly
on the first screen; countries are written out; the forest plot's log-axis tick labels sit where
their values belong. Screenshots land in tests/artifacts/presentation/."""
from __future__ import annotations

import math

import pytest

from tests.browser_helpers import CHROMIUM, ROOT, AppServer, discover_pages, wait_for_render

pytestmark = pytest.mark.browser
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium", allow_module_level=True)

PAGES = discover_pages()
VIEWPORTS = [(1280, 720), (1920, 1080)]
SHOTS = ROOT / "tests" / "artifacts" / "presentation"


@pytest.fixture(scope="module")
def app_url(small_warehouse, request):
    server = AppServer(small_warehouse, SHOTS / "streamlit.log")
    request.addfinalizer(server.stop)
    server.wait_healthy(timeout=60)
    return server.base_url


def _open(browser, url: str, size: tuple[int, int]):
    ctx = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(url, wait_until="domcontentloaded")
    wait_for_render(page)
    page.wait_for_timeout(500)
    return ctx, page


def _route(p) -> str:
    return "" if p.default else p.url_path


@pytest.mark.parametrize("app_page", PAGES, ids=[p.url_path or "root" for p in PAGES])
def test_page_at_both_window_sizes(browser, app_url, app_page):
    """Each page without presentation mode, at 1280 x 720 and 1920 x 1080: no exception, the title
    and the controls in view, no figure wider than the window."""
    ctx, page = _open(browser, f"{app_url}/{_route(app_page)}", VIEWPORTS[0])
    try:
        for size in VIEWPORTS:
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.wait_for_timeout(1000)
            page.screenshot(path=str(SHOTS / f"{app_page.url_path or 'root'}-{size[0]}x{size[1]}.png"))
            assert not page.locator('[data-testid="stException"]').count()
            assert page.locator('[data-testid="stMain"] h1').first.is_visible()
            assert page.locator('[data-testid="stSidebar"]').first.is_visible()
            for chart in page.locator('[data-testid="stPlotlyChart"]').all():
                box = chart.bounding_box()
                assert box is None or box["x"] + box["width"] <= size[0] + 1
    finally:
        ctx.close()


@pytest.mark.parametrize("app_page", PAGES, ids=[p.url_path or "root" for p in PAGES])
def test_presentation_mode(browser, app_url, app_page):
    """Each page opened once in presentation mode, looked at in both window sizes."""
    ctx, page = _open(browser, f"{app_url}/{_route(app_page)}?present=on", VIEWPORTS[0])
    try:
        for size in VIEWPORTS:
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.wait_for_timeout(1000)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SHOTS / f"{app_page.url_path or 'root'}-present-{size[0]}x{size[1]}.png"))
            assert not page.locator('[data-testid="stException"]').count()
            assert not page.locator('[data-testid="stSidebar"]').first.is_visible()  # controls hidden
            assert page.get_by_role("button", name="Exit presentation mode").is_visible()  # a way back
            h1 = page.locator('[data-testid="stMain"] h1').first
            assert h1.is_visible() and h1.bounding_box()["y"] < 0.2 * size[1]
            charts = page.locator('[data-testid="stPlotlyChart"]')
            if charts.count():  # the first figure mostly on the first screen
                box = charts.first.bounding_box()
                visible = max(0.0, min(box["y"] + box["height"], size[1]) - max(box["y"], 0))
                assert visible / box["height"] >= 0.5, (size, f"{visible / box['height']:.0%} of the first figure")
    finally:
        ctx.close()


@pytest.mark.parametrize("size", VIEWPORTS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_survival_names_countries_and_exits_presentation(browser, app_url, size):
    ctx, page = _open(browser, f"{app_url}/survival?tumour=&by=country&present=on", size)
    try:
        legend = " ".join(t.text_content() for t in page.locator('[data-testid="stPlotlyChart"] .legendtext').all())
        assert "France" in legend and "Kenya" in legend and "FRA" not in legend
        page.get_by_role("button", name="Exit presentation mode").click()
        page.wait_for_timeout(1500)
        wait_for_render(page)
        assert "present" not in page.url and page.locator('[data-testid="stSidebar"]').first.is_visible()
    finally:
        ctx.close()


def test_forest_plot_ticks_sit_at_their_values(browser, app_url):
    ctx, page = _open(browser, f"{app_url}/survival?tumour=&by=country&cox=country,sex", (1920, 1080))
    try:
        page.get_by_role("tab", name="Hazard ratios (Cox)").click()
        page.wait_for_timeout(1500)
        forest = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="Hazard ratio (95% CI, log scale)")
        ticks = forest.first.locator(".xtick text").all()
        pos = [(float(t.text_content()), t.bounding_box()) for t in ticks if t.text_content().strip()]
        assert len(pos) >= 3 and 1.0 in [v for v, _ in pos]
        centres = [(v, b["x"] + b["width"] / 2) for v, b in pos]
        (v0, x0), (v1, x1) = centres[0], centres[-1]
        per_log = (x1 - x0) / math.log(v1 / v0)  # a log axis: pixels per unit of log(value)
        for v, x in centres:
            assert abs(x - (x0 + per_log * math.log(v / v0))) < 3, (v, x)
        labels = forest.first.locator(".ytick text").all()
        text = " ".join(t.text_content() for t in labels)
        assert "(reference)" in text and "Kenya" in text and "=" not in text
    finally:
        ctx.close()
