"""Replicas behind a real load balancer (issue 16, item 1): 3 app replicas and HAProxy, started by
the same code as `python3 dev.py replicas N` (scripts/replicas.py, deploy/haproxy.cfg), 12
headless-Chromium sessions through the balancer, one replica killed mid-test (SIGKILL, as a crash).

Shown: the affinity cookie spreads the sessions over the replicas and pins each one, websocket
included, to its replica; the sessions on the other replicas are unaffected (never disconnected,
same replica, their widget state kept, the next interaction works); a user of the dead replica
gets a working page on reload, from a live replica, with the view of its link (a new session
there: what lived only in the old one, the typed search, is gone). The command itself is started
and stopped with SIGINT too.

Needs Debian's haproxy and chromium (`python3 dev.py test` installs both); browsers are never
downloaded. Logs of the replicas and the balancer: tests/artifacts/replicas/.
"""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from analytics import glossary
from scripts.local_signin import free_port, wait_http
from scripts.replicas import COOKIE, Deployment, check_config, haproxy_binary, haproxy_config
from tests.browser_helpers import CHROMIUM, ROOT, wait_for_render

pytestmark = pytest.mark.browser

if haproxy_binary() is None:
    pytest.skip("haproxy not found: install Debian's haproxy (`python3 dev.py test` does it)",
                allow_module_level=True)

REPLICAS = 3
SESSIONS = 12
RUN_DIR = ROOT / "tests" / "artifacts" / "replicas"
TIMEOUT_MS = 90_000
# The Help page's glossary search: its text lives only in the session, on the replica (not in
# the URL), and each search reruns the page there. Cheap to serve, so the test measures the balancer.
PAGE, TITLE, SEARCH = "help?section=Glossary", "Help & methods", "Search the glossary"

# Every change of the page's connection state, recorded in the page from now on: a session that
# stays on a live replica must never leave CONNECTED.
WATCH_CONNECTION = """() => {
    window.__ccoeStates = [];
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => window.__ccoeStates.push(app.dataset.testConnectionState))
        .observe(app, {attributes: true, attributeFilter: ['data-test-connection-state']});
}"""


def test_generated_config_is_valid(tmp_path):
    """The template filled in for 3 replicas passes `haproxy -c`, with one cookie per replica."""
    text = haproxy_config({"r1": 8601, "r2": 8602, "r3": 8603}, bind="127.0.0.1:8501",
                          stats_bind="127.0.0.1:9501")
    assert "{{" not in text
    for i in (1, 2, 3):
        assert f"server r{i} 127.0.0.1:860{i} cookie r{i}" in text
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    check_config(cfg)


def test_the_command_starts_replicas_and_the_balancer_and_ctrl_c_stops_them(small_warehouse, tmp_path):
    """`python3 dev.py replicas 2` (scripts/replicas.py): the app answers through the balancer with
    both replicas up; SIGINT (Ctrl-C) stops the balancer and every replica."""
    port, stats_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scripts.replicas", "2", "--port", str(port),
                             "--address", "127.0.0.1", "--stats-port", str(stats_port),
                             "--db", str(small_warehouse), "--run-dir", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", proc, "scripts.replicas", 120,
                  ok=lambda body: body.strip() == b"ok")
        with urllib.request.urlopen(f"http://127.0.0.1:{stats_port}/;csv", timeout=5) as r:
            states = [line.split(",")[17] for line in r.read().decode().splitlines()
                      if line.startswith("replicas,r")]
        assert len(states) == 2 and all(s.startswith("UP") for s in states), states
        said = []
        for line in proc.stdout:  # the command says where everything is once it is all up
            said.append(line)
            if "Ctrl-C stops everything" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        out = "".join(said) + out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", out)]
    assert len(pids) == 2, out
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], f"replicas left running:\n{out}"
    for p in (port, stats_port):  # haproxy is gone too
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", p), timeout=2).close()


@pytest.fixture(scope="module")
def deployment(small_warehouse):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium chromium-driver")
    d = Deployment(REPLICAS, small_warehouse, RUN_DIR)
    d.start()
    yield d
    d.stop()


def _replica_of(ctx) -> str | None:
    """The replica serving this browser session: the balancer's affinity cookie."""
    return next((c["value"] for c in ctx.cookies() if c["name"] == COOKIE), None)


def _exceptions(page) -> list[str]:
    return [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]


def _search(page, query: str) -> None:
    """Search the glossary (a rerun of the page on its replica)."""
    box = page.get_by_label(SEARCH)
    box.fill(query)
    box.press("Enter")


def _wait_found(page, query: str) -> None:
    """Until the page shows the result of searching `query`, and the rerun has finished."""
    page.get_by_text(f"Found in: {len(glossary.search(query))} term(s)").wait_for(timeout=TIMEOUT_MS)
    wait_for_render(page, timeout_ms=TIMEOUT_MS, settle_ms=200)


def _assert_working(page, what: str) -> None:
    errors = _exceptions(page)
    assert not errors, f"{what}: exception on the page:\n" + "\n---\n".join(errors)
    h1 = page.locator('[data-testid="stMain"] h1').first
    assert h1.is_visible() and h1.inner_text().strip() == TITLE, f"{what}: no title {TITLE!r}"
    assert page.locator('[data-testid="stApp"]').get_attribute("data-test-connection-state") == "CONNECTED", what


def test_sessions_survive_a_dead_replica(browser, deployment):
    started = time.monotonic()
    contexts, pages = [], []
    try:
        # 12 users open the Help page's glossary through the balancer (one browser context each:
        # its own cookies, as separate people).
        for _ in range(SESSIONS):
            ctx = browser.new_context(viewport={"width": 1280, "height": 800})
            page = ctx.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.js_errors = []
            page.on("pageerror", lambda e, page=page: page.js_errors.append(str(e)))
            page.goto(f"{deployment.url}/{PAGE}", wait_until="commit", timeout=TIMEOUT_MS)
            contexts.append(ctx)
            pages.append(page)
        for i, page in enumerate(pages):
            wait_for_render(page, timeout_ms=TIMEOUT_MS, settle_ms=200)
            _assert_working(page, f"session {i}")

        t_open = time.monotonic()

        # Which replica serves each session, and the sessions spread over all of them.
        home = [_replica_of(ctx) for ctx in contexts]
        assert set(home) <= set(deployment.replicas), f"affinity cookies {home}"
        spread = Counter(home)
        assert len(spread) == REPLICAS and min(spread.values()) >= 2, f"sessions per replica: {dict(spread)}"

        # Every user searches the glossary: state now lives in each session, on its replica.
        for page in pages:
            _search(page, "hazard")
        for i, page in enumerate(pages):
            _wait_found(page, "hazard")
            _assert_working(page, f"session {i} after its first interaction")
            page.evaluate(WATCH_CONNECTION)

        # One replica dies (SIGKILL: no goodbye to its sessions).
        victim = home[0]
        deployment.replicas[victim].kill()
        dead = [i for i, r in enumerate(home) if r == victim]
        alive = [i for i, r in enumerate(home) if r != victim]
        t_kill = time.monotonic()

        # Its sessions lose their connection (their websocket was on it: affinity covers the
        # websocket); reloading gets a working page from a live replica: a new session there (the
        # search typed on the dead replica is gone with it; the link's view is kept).
        for i in dead:
            pages[i].wait_for_function("() => window.__ccoeStates.some(s => s !== 'CONNECTED')",
                                       timeout=TIMEOUT_MS, polling=100)
        for i in dead:
            page = pages[i]
            page.reload(wait_until="domcontentloaded", timeout=TIMEOUT_MS)
            wait_for_render(page, timeout_ms=TIMEOUT_MS, settle_ms=200)
            _assert_working(page, f"session {i} of the dead replica {victim}, reloaded")
            now = _replica_of(contexts[i])
            assert now in deployment.replicas and now != victim, f"session {i} reloaded onto {now}"
            assert page.get_by_role("tab", selected=True).inner_text().strip() == "Glossary"
            assert page.get_by_label(SEARCH).input_value() == ""
            _search(page, "DCO")
            _wait_found(page, "DCO")
            _assert_working(page, f"session {i} (moved to {now}) after an interaction")
        t_reloaded = time.monotonic()

        # The balancer's health checks have taken the dead replica out; the others are up.
        deployment.balancer.wait_state(victim, "DOWN", timeout=30)
        states = deployment.balancer.server_states()
        assert all(states[r].startswith("UP") for r in deployment.replicas if r != victim), states

        # The other replicas' sessions never noticed: never disconnected, still on their replica,
        # their widget state kept, and the next interaction works.
        for i in alive:
            page = pages[i]
            seen = page.evaluate("() => window.__ccoeStates")
            assert not [s for s in seen if s != "CONNECTED"], f"session {i} on {home[i]} saw {seen}"
            assert _replica_of(contexts[i]) == home[i]
            assert page.get_by_label(SEARCH).input_value() == "hazard"
            _search(page, "DCO")
        for i in alive:
            page = pages[i]
            _wait_found(page, "DCO")
            _assert_working(page, f"session {i} on {home[i]} after the other replica died")
            seen = page.evaluate("() => window.__ccoeStates")
            assert not [s for s in seen if s != "CONNECTED"], f"session {i} on {home[i]} saw {seen}"
            assert not page.js_errors, f"session {i}: JavaScript errors {page.js_errors}"

        print(f"\n[replicas] {SESSIONS} sessions open in {t_open - started:.1f} s, per replica "
              f"{dict(sorted(spread.items()))}; killed {victim} ({len(dead)} sessions) "
              f"{t_kill - started:.1f} s in; its users reloaded onto live replicas within "
              f"{t_reloaded - t_kill:.1f} s; whole scenario {time.monotonic() - started:.1f} s")
    finally:
        for ctx in contexts:
            ctx.close()
