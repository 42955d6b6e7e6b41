"""Screenshots of every page (or the given url paths) against a warehouse, for looking at the app
as a person would:  .venv/bin/python scripts/screenshots.py --db data/warehouse.duckdb [incidence ...]

Uses the browser-test helpers (Debian's /usr/bin/chromium through Playwright); writes PNGs to
tests/artifacts/screens/.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser_helpers import (CHROMIUM, CHROMIUM_ARGS, ROOT, AppServer, discover_pages,  # noqa: E402
                                   full_page_screenshot, wait_for_render)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=ROOT / "data" / "warehouse.duckdb")
    ap.add_argument("--query", default="", help="query string to append, e.g. 'tumour=I&ages=0-19'")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--tabs", default="", help="comma-separated tab labels to click, one screenshot each")
    ap.add_argument("pages", nargs="*", help="url paths (default: every page)")
    args = ap.parse_args()
    out = ROOT / "tests" / "artifacts" / "screens"
    server = AppServer(args.db.resolve(), out / "streamlit.log")
    try:
        server.wait_healthy()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": 1000})
            for ap_ in discover_pages():
                if args.pages and ap_.url_path not in args.pages:
                    continue
                path = "" if ap_.default else ap_.url_path
                page.goto(f"{server.base_url}/{path}{'?' + args.query if args.query else ''}")
                wait_for_render(page)
                shot = out / f"{ap_.url_path}.png"
                full_page_screenshot(page, shot)
                print(shot)
                for i, label in enumerate(t for t in args.tabs.split(",") if t):
                    page.get_by_role("tab", name=label).click()
                    page.wait_for_timeout(1500)
                    shot = out / f"{ap_.url_path}-tab{i + 1}.png"
                    full_page_screenshot(page, shot)
                    print(shot)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
