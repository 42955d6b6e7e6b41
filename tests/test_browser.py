"""Browser smoke test: start the app on the small synthetic warehouse, open every page registered in
app.py in headless Chromium, and check it renders: no exception box, a visible title, the
synthetic-data notice. Full-page screenshots land in tests/artifacts/browser/<url_path>.png.

Pages are discovered from the `st.Page(...)` calls in app.py, so a new page is covered without
editing this file. Chromium is Debian's /usr/bin/chromium (`apt-get install chromium
chromium-driver`); the module is skipped when it is missing. Run only these with `-m browser`.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser_helpers import (CHROMIUM, ROOT, SCREENSHOTS, AppServer,
                                   discover_pages, full_page_screenshot, wait_for_render)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium and chromium-driver "
                f"(`python3 dev.py` does it); browsers are never downloaded",
                allow_module_level=True)


PAGES = discover_pages()
PAGE_IDS = [p.url_path or "root" for p in PAGES]
SYNTHETIC_TEXT = "Synthetic demonstration data"
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def app_url(small_warehouse, request):
    server = AppServer(small_warehouse, ROOT / "tests" / "artifacts" / "browser" / "streamlit.log")
    request.addfinalizer(server.stop)
    server.wait_healthy(timeout=60)
    return server.base_url


@pytest.fixture
def open_page(browser, app_url):
    """open_page(url_path) -> a Playwright page showing that app page, fully rendered."""
    contexts = []

    def _open(url_path: str):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.js_errors = []
        page.on("pageerror", lambda e: page.js_errors.append(str(e)))
        page.goto(f"{app_url}/{url_path}", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
        wait_for_render(page, timeout_ms=PAGE_TIMEOUT_MS)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def _exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def _route(app_page) -> str:
    """The URL path Streamlit serves a page at: the default page lives at the app root, whatever
    its url_path (its /<url_path> answers "Page not found" and falls back to the root)."""
    return "" if app_page.default else app_page.url_path


def _dialogs(page) -> list[str]:
    return [d.inner_text() for d in page.locator('[role="dialog"]').all() if d.is_visible()]


@pytest.mark.parametrize("app_page", PAGES, ids=PAGE_IDS)
def test_page_renders(open_page, app_page):
    page = open_page(_route(app_page))
    shot = SCREENSHOTS / f"{app_page.url_path or 'root'}.png"
    full_page_screenshot(page, shot)  # before the asserts, so a failing page is on file too

    errors = _exceptions(page)
    assert not errors, (f"page {app_page.url_path!r} shows {len(errors)} exception(s) "
                        f"(screenshot {shot}):\n" + "\n---\n".join(errors))
    dialogs = _dialogs(page)
    assert not dialogs, f"page {app_page.url_path!r} opens with a dialog (e.g. Page not found): {dialogs}"
    if len(PAGES) > 1:  # with one page Streamlit shows no navigation
        active = page.locator('[data-testid="stSidebarNavLink"][aria-current="page"], '
                              '[data-testid="stTopNavLink"][aria-current="page"]')
        assert active.count() == 1 and app_page.title in active.first.inner_text(), (
            f"/{_route(app_page)} did not select page {app_page.title!r} in the navigation")
    assert not page.js_errors, f"uncaught JavaScript errors on {app_page.url_path!r}: {page.js_errors}"

    h1 = page.locator('[data-testid="stMain"] h1, section.main h1').first
    assert h1.count(), f"page {app_page.url_path!r} has no h1 title (screenshot {shot})"
    assert h1.is_visible(), f"the h1 title of {app_page.url_path!r} is not visible"
    assert h1.inner_text().strip(), f"the h1 title of {app_page.url_path!r} is empty"


@pytest.mark.parametrize("app_page", PAGES, ids=PAGE_IDS)
def test_synthetic_notice_visible(open_page, app_page):
    page = open_page(_route(app_page))
    notice = page.get_by_text(SYNTHETIC_TEXT, exact=False).first
    assert notice.count() and notice.is_visible(), (
        f"page {app_page.url_path!r} does not show the {SYNTHETIC_TEXT!r} notice, although the "
        f"warehouse is marked synthetic")


def test_navigation_lists_exactly_the_discovered_pages(open_page):
    """Guards the page discovery: the app's own navigation must list the pages parsed from app.py."""
    if len(PAGES) < 2:
        pytest.skip("Streamlit shows no navigation for a single page")
    default = next((p for p in PAGES if p.default), PAGES[0])
    page = open_page(_route(default))
    links = page.locator('[data-testid="stSidebarNavLink"], [data-testid="stTopNavLink"]')
    shown = {urlsplit(link.get_attribute("href") or "").path.strip("/") for link in links.all()}
    # The default page's link points at the app root.
    expected = {"" if p.default else p.url_path for p in PAGES}
    assert shown == expected, f"navigation links {sorted(shown)} != pages in app.py {sorted(expected)}"


def test_a_shared_link_works_as_the_first_request_of_a_fresh_server(browser, small_warehouse):
    """A link to a non-default page, opened first on a freshly started app, shows that page with
    the app's own navigation (a folder named pages/ beside app.py used to break exactly this)."""
    target = next((p for p in PAGES if not p.default), None)
    if target is None:
        pytest.skip("only one page")
    server = AppServer(small_warehouse, ROOT / "tests" / "artifacts" / "browser" / "fresh-server.log")
    try:
        server.wait_healthy(timeout=60)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.goto(f"{server.base_url}/{target.url_path}", wait_until="domcontentloaded")
        wait_for_render(page)
        links = page.locator('[data-testid="stSidebarNavLink"], [data-testid="stTopNavLink"]')
        shown = {urlsplit(link.get_attribute("href") or "").path.strip("/") for link in links.all()}
        expected = {"" if p.default else p.url_path for p in PAGES}
        assert shown == expected, f"fresh server, first request /{target.url_path}: navigation {sorted(shown)}"
        assert page.locator("h1").first.inner_text().strip() == target.title
        ctx.close()
    finally:
        server.stop()


SHARED_VIEWS = {
    "incidence": "tumour=III&countries=FRA,DEU,KEN&ages=0-19&years=2003-2012&standard=esp2013&tab=Trend",
    "survival": "tumour=I&countries=FRA,KEN&by=sex&ci=log&cox=period",
    "cohorts": "n=2&c0_tumour=I&c1_tumour=III",
    "international": "tumour=&ages=0-19&years=2005-2014&map=surv5",
}


def _view_fingerprint(page) -> dict:
    """What a person sees that depends on the selection: metric values, chart titles and texts."""
    return {
        "metrics": page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
        "chart_titles": page.locator(".gtitle").all_text_contents(),  # SVG text: no innerText
        "markdown": [t for t in page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
                     if "test" in t.lower() or "χ²" in t],
    }


@pytest.mark.parametrize("url_path", list(SHARED_VIEWS))
def test_copied_link_reopens_the_same_view(open_page, browser, app_url, url_path):
    if url_path not in {p.url_path for p in PAGES}:
        pytest.skip(f"no page {url_path}")
    page = open_page(f"{url_path}?{SHARED_VIEWS[url_path]}")
    before = _view_fingerprint(page)
    page.get_by_text("Copy link to this view").click()
    link = page.locator('[data-testid="stCode"] code').first.inner_text().strip()
    assert link.startswith(app_url) and "?" in link
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # a fresh browser session
    other = ctx.new_page()
    other.goto(link, wait_until="domcontentloaded")
    wait_for_render(other)
    after = _view_fingerprint(other)
    ctx.close()
    assert before == after and (before["metrics"] or before["chart_titles"])


def test_choosing_a_tab_puts_it_in_the_link(open_page):
    """Incidence tabs are computed when opened; the open tab is written to the address."""
    page = open_page("incidence")
    page.get_by_role("tab", name="Map").click()
    page.wait_for_function("() => location.search.includes('tab=Map')", timeout=30_000)
    wait_for_render(page)
    assert page.get_by_text("Grey: no data or suppressed").is_visible()  # the map tab's content
    assert not _exceptions(page)


def test_survival_page_shows_restricted_mean_and_follow_up(open_page):
    """Issue 15, items 4 and 5: the Survival page's tab with the restricted mean survival time (and
    its difference between groups) and the reverse Kaplan-Meier median follow-up, each with its CI
    and definition."""
    page = open_page("survival?by=sex&tumour=")
    page.get_by_role("tab", name="Mean survival & follow-up").click()
    page.get_by_text("Restricted mean survival time").first.wait_for(state="visible", timeout=30_000)
    for text in ("Difference from Male", "Median follow-up", "reverse Kaplan-Meier"):
        assert page.get_by_text(text).first.is_visible(), text
    panel = page.locator('[role="tabpanel"]:visible')
    assert panel.locator('[data-testid="stDataFrame"]').count() == 3  # the means, their differences, follow-up
    assert not _exceptions(page)


def test_survival_page_shows_death_by_cause(open_page):
    """Issue 15, item 2: the 'Death by cause' tab draws the cumulative incidence of the cause
    chosen, with its table, in the browser."""
    page = open_page("survival?by=sex&tumour=")
    page.get_by_role("tab", name="Death by cause").click()
    page.get_by_text("Cumulative incidence by cause").first.wait_for(state="visible", timeout=30_000)
    panel = page.locator('[role="tabpanel"]:visible')
    assert panel.locator(".js-plotly-plot").count() == 1 and panel.locator('[data-testid="stDataFrame"]').count() == 1
    assert not _exceptions(page)


def test_survival_page_shows_the_period_estimate(open_page, small_warehouse):
    """Issue 15, item 3: choosing a window of period analysis (from the link) titles the figure
    with it and says what it means above it; the copied link keeps it."""
    from analytics import period, warehouse

    con = warehouse.connect(small_warehouse, read_only=True)
    window = period.windows(con)[0]
    con.close()
    page = open_page(f"survival?by=sex&tumour=&estimate={window}")
    shown = window.replace("-", "–")
    page.get_by_text(f"Period analysis, {shown}").first.wait_for(state="visible", timeout=30_000)
    assert any(f"period {shown}" in t for t in page.locator(".gtitle").all_text_contents())
    page.get_by_text("Copy link to this view").click()
    assert f"estimate={window}" in page.locator('[data-testid="stCode"] code').first.inner_text()
    assert not _exceptions(page)
