"""Helpers for the browser smoke test (tests/test_browser.py): page discovery from app.py, starting
the Streamlit app on a free local port, and waiting for a page to finish rendering.

Chromium comes from Debian (/usr/bin/chromium); never from a Playwright browser download.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.local_signin import free_port, wait_http  # one way to start a server and wait for it

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass(frozen=True)
class AppPage:
    url_path: str
    title: str
    script: str
    default: bool = False


def _const(node: ast.AST | None):
    return node.value if isinstance(node, ast.Constant) else None


def discover_pages(app: Path = APP, roles: bool = False) -> list[AppPage]:
    """Every `st.Page(...)` call in app.py, with its url_path (explicit, else Streamlit's default:
    the script's file stem). Parsed, not imported, so nothing in the app runs. Pages added under
    an `if` (those of a role: data managers, admins) only with `roles=True`: a viewer has none."""
    tree = ast.parse(app.read_text(encoding="utf-8"), filename=str(app))
    conditional = {id(n) for branch in ast.walk(tree) if isinstance(branch, ast.If)
                   for n in ast.walk(branch)}
    pages = []
    for node in ast.walk(tree):
        if id(node) in conditional and not roles:
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "Page"):
            continue
        kw = {k.arg: _const(k.value) for k in node.keywords if k.arg}
        script = _const(node.args[0]) if node.args else kw.get("page")
        if not isinstance(script, str):
            raise AssertionError(f"app.py line {node.lineno}: st.Page target is not a literal path; "
                                 f"teach tests/browser_helpers.discover_pages about it")
        url_path = kw.get("url_path")
        if url_path is None:
            url_path = Path(script).stem
        pages.append(AppPage(url_path=str(url_path).strip("/"), title=str(kw.get("title") or ""),
                             script=script, default=bool(kw.get("default"))))
    if not pages:
        raise AssertionError("no st.Page(...) calls found in app.py")
    return pages




class AppServer:
    """`streamlit run app.py` on 127.0.0.1:<free port>, reading the warehouse at `db`."""

    def __init__(self, db: Path, log_path: Path, *, port: int | None = None, args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        env = {**os.environ, "CCOE_DB": str(db), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false", *args],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, timeout: float = 60) -> None:
        wait_http(f"{self.base_url}/_stcore/health", self.proc, "streamlit", timeout,
                  ok=lambda body: body.strip() == b"ok", detail=self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def wait_for_render(page, timeout_ms: int = 60_000, settle_ms: int = 1_000) -> None:
    """Wait until Streamlit is connected, the script run has finished, and no running indicator or
    skeleton placeholder remains; then let charts and tables settle."""
    deadline = time.monotonic() + timeout_ms / 1000

    def left() -> int:
        return max(1_000, int((deadline - time.monotonic()) * 1000))

    page.wait_for_selector('[data-testid="stApp"]', state="attached", timeout=left())
    # stApp carries the connection and script-run state; "initial" means no run has started yet.
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testConnectionState === 'CONNECTED'
                && app.dataset.testScriptState === 'notRunning';
        }""", timeout=left(), polling=100)
    page.wait_for_function(
        """() => !document.querySelector(
            '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"],'
            + ' [data-testid="stSkeleton"], [data-testid="stSpinner"]')""",
        timeout=left(), polling=100)
    page.wait_for_timeout(settle_ms)
    # A rerun may have been triggered while settling (e.g. by a widget's first value).
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stApp"]').dataset.testScriptState
            === 'notRunning'""", timeout=left(), polling=100)


def full_page_screenshot(page, path: Path) -> None:
    """Screenshot the whole page. Streamlit scrolls inside its main container rather than the
    document, so grow the viewport to the content height first, then restore it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight,
            ...[...document.querySelectorAll('[data-testid="stMain"], section.main, '
                + '[data-testid="stAppViewContainer"], [data-testid="stSidebarContent"]')]
                .map(e => e.scrollHeight))""")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 10_000)})
        page.wait_for_timeout(500)
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)
