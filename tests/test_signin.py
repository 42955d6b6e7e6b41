"""Sign-in, roles and the upload page in the browser, through a real OpenID Connect provider
(oidc-provider-mock from PyPI, started here on 127.0.0.1; Streamlit's own st.login does the
rest). A viewer cannot reach the upload page or the audit log; a data manager signs in, checks
and loads a file of their country, which another open session then sees, and cannot load
another country's; an admin reads the audit log, which names the data manager and the file's
SHA-256 (as `python -m analytics audit` does)."""
from __future__ import annotations

import io
import shutil

import pandas as pd
import pytest

from analytics import audit
from analytics.cli import main
from scripts.local_signin import LocalProvider, free_port, roles_toml, secrets_toml
from tests.browser_helpers import CHROMIUM, ROOT, AppServer, wait_for_render
from tests.conftest import random_rows, write_csv

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium", allow_module_level=True)

LOGS = ROOT / "tests" / "artifacts" / "browser"


@pytest.fixture(scope="module")
def site(small_warehouse, tmp_path_factory):
    """The app on a copy of the small pool, with sign-in through a local provider."""
    d = tmp_path_factory.mktemp("signin")
    db = d / "w.duckdb"
    shutil.copyfile(small_warehouse, db)
    provider = LocalProvider(log=LOGS / "provider.log")
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    (d / "secrets.toml").write_text(secrets_toml(app_url, provider.url))
    (d / "roles.toml").write_text(roles_toml())
    provider.wait_ready()
    server = AppServer(db, LOGS / "signin.log", port=port, args=("--secrets.files", str(d / "secrets.toml")),
                       env={"CCOE_ROLES": str(d / "roles.toml"), "CCOE_CELLKEY_SECRET": "ccoe-test-suite"})
    try:
        server.wait_healthy(timeout=60)
        yield {"url": app_url, "db": db, "dir": d}
    finally:
        server.stop()
        provider.stop()


def _open(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    page.goto(url, wait_until="domcontentloaded")
    wait_for_render(page)
    return ctx, page


def _sign_in(browser, site, user: str):
    ctx, page = _open(browser, site["url"] + "/")
    page.get_by_role("button", name="Sign in (data managers)").click()
    page.get_by_placeholder("sub").fill(user)  # the provider's own sign-in form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(site["url"] + "/**")
    wait_for_render(page)
    return ctx, page


def _sidebar(page) -> str:
    """The sidebar's text as read (markdown_text puts invisible word joiners in e-mail addresses
    so that they do not become links)."""
    return page.locator('[data-testid="stSidebar"]').inner_text().replace("\u2060", "")


def _nav(page) -> list[str]:
    """The navigation's page titles (each link's last line: the icon's name comes first)."""
    return [t.strip().splitlines()[-1] for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def _exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_a_viewer_cannot_reach_the_upload_page_or_the_audit_log(browser, site):
    ctx, page = _open(browser, site["url"] + "/")
    assert "Overview" in _nav(page)
    assert "Load data" not in _nav(page) and "Audit log" not in _nav(page)
    assert page.get_by_role("button", name="Sign in (data managers)").is_visible()
    for path in ("upload", "audit"):
        page.goto(f"{site['url']}/{path}", wait_until="domcontentloaded")
        wait_for_render(page)
        assert page.locator("h1").first.inner_text() != "Load data"
        assert page.get_by_text("Rejected rows").count() == 0
    ctx.close()


def test_signed_in_without_a_role_is_a_viewer(browser, site):
    ctx, page = _sign_in(browser, site, "nobody")
    assert "nobody@demo.example" in _sidebar(page)
    assert "Load data" not in _nav(page)
    ctx.close()


def _upload(page, path) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    page.get_by_role("button", name="Check the file").wait_for()
    wait_for_render(page)
    page.get_by_role("button", name="Check the file").click()
    wait_for_render(page)


def test_a_data_manager_loads_their_countrys_file_and_every_session_sees_it(browser, site):
    viewer_ctx, viewer = _open(browser, site["url"] + "/")
    assert _metric(viewer, "Submissions") == "1"
    ctx, page = _sign_in(browser, site, "france")
    assert "data manager of France" in _sidebar(page)
    assert "Load data" in _nav(page) and "Audit log" not in _nav(page)
    page.goto(site["url"] + "/upload", wait_until="domcontentloaded")
    wait_for_render(page)

    rows = [{**r, "case_id": "U" + r["case_id"]} for r in random_rows(120, seed=21, countries=("FRA",))]
    rows[0] = {**rows[0], "sex": "7"}  # one rejected row, to be listed with its reason
    f = write_csv(site["dir"] / "FRA_browser.csv", rows)
    _upload(page, f)
    assert _exceptions(page) == []
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Checked: nothing has changed yet" in text
    assert (_metric(page, "Rows read"), _metric(page, "Loaded"), _metric(page, "Rejected")) == ("120", "119", "1")
    page.get_by_text("Load it: add submission FRA_browser (119 tumours of France)").click()
    wait_for_render(page)
    page.get_by_role("button", name="Load", exact=True).click()
    wait_for_render(page)
    assert "Loaded: add submission FRA_browser" in page.locator('[data-testid="stMain"]').inner_text()

    viewer.evaluate("document.activeElement && document.activeElement.blur()")
    viewer.keyboard.press("r")  # the viewer's next interaction
    viewer.wait_for_timeout(300)
    wait_for_render(viewer)
    assert _metric(viewer, "Submissions") == "2" and _exceptions(viewer) == []

    # Another country's file: refused with the reason, nothing changed.
    g = write_csv(site["dir"] / "GBR_sneaky.csv", random_rows(30, seed=22, countries=("GBR",)))
    _upload(page, g)
    assert "does not manage" in page.locator('[data-testid="stMain"]').inner_text()
    ctx.close()
    viewer_ctx.close()

    code = main(["audit", "--db", str(site["db"])])
    assert code == 0


def test_an_admin_reads_the_audit_log_with_who_and_the_files_sha256(browser, site, capsys):
    ctx, page = _sign_in(browser, site, "admin")
    assert "Audit log" in _nav(page)
    page.goto(site["url"] + "/audit", wait_until="domcontentloaded")
    wait_for_render(page)
    assert "The log is whole" in page.locator('[data-testid="stMain"]').inner_text()
    assert _exceptions(page) == []
    ctx.close()
    capsys.readouterr()
    assert main(["audit", "--db", str(site["db"])]) == 0
    log = pd.read_csv(io.StringIO(capsys.readouterr().out))
    mine = log[log["who"] == "france@demo.example"]
    assert list(mine["action"]) == ["ingest"]
    assert mine["sha256"].iloc[0] == audit.file_sha256(site["dir"] / "FRA_browser.csv")


def _load_reference(page, path, confirmation: str) -> None:
    """Upload a reference file on the tab, tick the confirmation that names the change, Load."""
    page.locator('[data-testid="stFileUploader"] input[type="file"]').last.set_input_files(str(path))
    wait_for_render(page)
    page.get_by_text(confirmation).click()
    wait_for_render(page)
    page.get_by_role("button", name="Load", exact=True).last.click()
    wait_for_render(page)


def test_a_data_manager_loads_their_countrys_person_years_and_not_anothers(browser, site, capsys):
    from tests.test_reference import pop_rows, write_pop

    ctx, page = _sign_in(browser, site, "france")
    page.goto(site["url"] + "/upload", wait_until="domcontentloaded")
    wait_for_render(page)
    page.get_by_role("tab", name="Population and life tables").click()
    wait_for_render(page)
    mine = write_pop(site["dir"] / "fra_population.csv", pop_rows("FRA", years=(2010, 2011)))
    _load_reference(page, mine, "Load it: replace all the person-years of France with the 16 rows of "
                                "fra_population.csv")
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Loaded: replace all the person-years of France" in main_text and _exceptions(page) == []

    other = write_pop(site["dir"] / "deu_population.csv", pop_rows("DEU", years=(2010,)))
    _load_reference(page, other, "Load it: replace all the person-years of Germany")
    assert "does not manage" in page.locator('[data-testid="stMain"]').inner_text()
    ctx.close()
    capsys.readouterr()
    assert main(["audit", "--db", str(site["db"])]) == 0
    log = pd.read_csv(io.StringIO(capsys.readouterr().out))
    pops = log[log["action"] == "population"]
    assert list(pops["who"]) == ["france@demo.example"] and list(pops["file_name"]) == ["fra_population.csv"]
    assert pops["sha256"].iloc[0] == audit.file_sha256(mine)
