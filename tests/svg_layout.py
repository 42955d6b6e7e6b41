"""Where the text of an exported SVG lands: every <text> element's box as Chromium lays it out,
and the pairs of boxes that overlap or leave the canvas. Used by tests/test_export.py to check
that no label prints over another in the files presenters put on slides (issue 12)."""
from __future__ import annotations

import base64
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: "Box", tolerance: float = 1.0) -> bool:
        """True when the two boxes share more than `tolerance` pixels in both directions."""
        return (min(self.x1, other.x1) - max(self.x0, other.x0) > tolerance
                and min(self.y1, other.y1) - max(self.y0, other.y0) > tolerance)


_JS = """() => {
  const svg = document.querySelector('svg');
  const r = svg.getBoundingClientRect();
  const out = [];
  for (const t of svg.querySelectorAll('text')) {
    const s = t.textContent.trim();
    if (!s) continue;
    const style = getComputedStyle(t);
    if (style.visibility === 'hidden' || style.display === 'none' || style.opacity === '0') continue;
    const b = t.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) continue;
    out.push([s, b.left - r.left, b.top - r.top, b.right - r.left, b.bottom - r.top]);
  }
  return {boxes: out, width: r.width, height: r.height};
}"""


def text_boxes(browser, svg: bytes) -> tuple[list[Box], float, float]:
    """The non-empty text boxes of `svg` (bytes) laid out by `browser` (a Playwright Chromium),
    with the canvas width and height."""
    page = browser.new_page()
    try:
        page.set_content(f"<html><body style='margin:0'>{svg.decode('utf-8')}</body></html>")
        res = page.evaluate(_JS)
    finally:
        page.close()
    return [Box(*b) for b in res["boxes"]], res["width"], res["height"]


def overlapping(boxes: list[Box], tolerance: float = 1.0) -> list[tuple[str, str]]:
    """The pairs of texts whose boxes overlap."""
    return [(a.text, b.text) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlap(b, tolerance)]


def off_canvas(boxes: list[Box], width: float, height: float, tolerance: float = 1.0) -> list[str]:
    """The texts that reach outside the canvas."""
    return [b.text for b in boxes if b.x0 < -tolerance or b.y0 < -tolerance
            or b.x1 > width + tolerance or b.y1 > height + tolerance]


def data_url(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
