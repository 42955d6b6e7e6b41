"""New data without downtime, as people see it: the app serves several browser sessions while a
partner's file is loaded from the command line against the same CCOE_DB. The load succeeds, no
session shows an error at any moment (they keep interacting throughout), and every session shows
the new pool on its next interaction, within seconds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.browser_helpers import CHROMIUM, ROOT, AppServer, wait_for_render
from tests.conftest import random_rows, write_csv

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium", allow_module_level=True)

SESSIONS = 4


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def _interact(page) -> None:
    """One interaction: rerun the page (Streamlit's R shortcut), then wait for it to finish."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("r")
    page.wait_for_timeout(300)
    wait_for_render(page, settle_ms=200)


def test_a_command_line_load_reaches_every_open_session_without_error(browser, small_warehouse, tmp_path):
    db = tmp_path / "live.duckdb"
    shutil.copyfile(small_warehouse, db)
    server = AppServer(db, ROOT / "tests" / "artifacts" / "browser" / "live_load.log")
    try:
        server.wait_healthy(timeout=60)
        contexts = [browser.new_context(viewport={"width": 1280, "height": 720}) for _ in range(SESSIONS)]
        pages = []
        for ctx in contexts:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(server.base_url + "/", wait_until="domcontentloaded")
            wait_for_render(page)
            pages.append(page)
        assert {(_metric(p, "Countries"), _metric(p, "Submissions")) for p in pages} == {("3", "1")}

        partner = write_csv(tmp_path / "GBR_2026.csv", random_rows(2000, seed=11, countries=("GBR",)))
        env = {**os.environ, "CCOE_CELLKEY_SECRET": "ccoe-test-suite"}
        load = subprocess.Popen([sys.executable, "-m", "analytics", "ingest", str(partner), "--db", str(db)],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        during_load = 0
        while load.poll() is None:  # sessions keep working while the load runs
            for page in pages:
                _interact(page)
                during_load += 1
                assert _exceptions(page) == []
                assert _metric(page, "Submissions") in ("1", "2")  # one pool or the other, never half
        out, err = load.communicate()
        assert load.returncode == 0, err
        assert "loaded 2000" in out

        loaded_at = time.monotonic()
        for page in pages:
            _interact(page)  # the next interaction shows the new pool
            assert (_metric(page, "Countries"), _metric(page, "Submissions")) == ("4", "2")
            assert _exceptions(page) == []
        assert time.monotonic() - loaded_at < 10 * SESSIONS
        for ctx in contexts:
            ctx.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text(errors="replace")
    assert during_load >= 1, "the load finished before any session interacted: make it bigger"
