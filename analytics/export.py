"""Figures as files for presenters: PNG at slide size (1920 x 1080 pixels: a 960 x 540 layout at
double density, wider for tall figures), SVG, and a PowerPoint slide (python-pptx) with the
title and footnote as text; rendered server-side by kaleido with Debian's Chromium.

The footnote, legend, numbers at risk and the synthetic-data notice are part of every figure
(`figures.py` puts them there), so the files carry them. No browser is downloaded: kaleido is
pointed at /usr/bin/chromium through BROWSER_PATH when it exists.
"""
from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go

SLIDE_WIDTH, SLIDE_HEIGHT, SLIDE_SCALE = 960, 540, 2
CHROMIUM = Path("/usr/bin/chromium")


def _render(fig: go.Figure, fmt: str, width: int, height: int, scale: float = 1) -> bytes:
    if CHROMIUM.exists():
        os.environ.setdefault("BROWSER_PATH", str(CHROMIUM))
    return fig.to_image(format=fmt, width=width, height=height, scale=scale)


def figure_bytes(fig: go.Figure, fmt: str = "png") -> bytes:
    """The figure as PNG (1920 x 1080 px) or SVG (960 user units wide, as tall as the figure).

    The PNG is laid out at the figure's own height (at least 540) and at 16:9, then scaled to
    1920 x 1080: a tall figure (a survival plot with a dozen rows at risk) gets a wider canvas
    and smaller type instead of being squeezed into 540 units, where its labels would overlap."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, not {fmt!r}")
    height = max(SLIDE_HEIGHT, int(fig.layout.height or 0))
    if fmt == "svg":
        return _render(fig, "svg", SLIDE_WIDTH, height)
    # 16:9 layouts whose scale to 1920 x 1080 is exact: 960 x 540 (x2), 1280 x 720 (x1.5), 1920 x 1080
    width, height = next(((w, h) for w, h in ((960, 540), (1280, 720), (1920, 1080)) if h >= height),
                         (1920, 1080))
    return _render(fig, "png", width, height, scale=SLIDE_WIDTH * SLIDE_SCALE / width)


def _plain(text: str | None) -> str:
    """Plotly text as plain text: <br> as a line break, tags dropped, entities decoded."""
    import html
    import re

    text = re.sub(r"<br\s*/?>", "\n", text or "")
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def slide_parts(fig: go.Figure) -> tuple[str, go.Figure, str]:
    """(title, figure without its title and footnote, footnote): a slide sets the title and the
    footnote as text and the figure as a picture between them."""
    from analytics.figures import FOOTNOTE

    title = _plain(fig.layout.title.text).replace("\n", " ")  # wrapped for the figure; the slide wraps its own
    notes = [a for a in fig.layout.annotations if a.name == FOOTNOTE]
    footnote = "\n".join(_plain(a.text) for a in notes)
    bare = go.Figure(fig)
    bare.layout.annotations = [a for a in fig.layout.annotations if a.name != FOOTNOTE]
    margin = bare.layout.margin
    bare.update_layout(title=dict(text=""), margin=dict(t=30, b=60 if notes else margin.b,
                                                        l=margin.l, r=margin.r))
    if notes:  # the footnote's room below the axis goes to the plot
        bare.update_layout(height=max(360, int(fig.layout.height or 460) - 14 * footnote.count("\n") - 40))
    return title, bare, footnote


def slide_bytes(fig: go.Figure, title: str | None = None) -> bytes:
    """A one-slide PowerPoint file (16:9, python-pptx): the title as text, the figure as a PNG
    picture fitted between title and footnote, the footnote (method, units, data notice) as
    text, so that a presenter can edit the words and keep the figure."""
    import io

    from pptx import Presentation
    from pptx.util import Emu, Inches, Pt

    fig_title, bare, footnote = slide_parts(fig)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # blank
    margin = Inches(0.4)
    box = slide.shapes.add_textbox(margin, Inches(0.25), prs.slide_width - 2 * margin, Inches(0.8))
    box.text_frame.word_wrap = True
    box.text_frame.text = title or fig_title or ""
    box.text_frame.paragraphs[0].runs[0].font.size = Pt(28) if box.text_frame.text else Pt(12)
    lines = footnote.count("\n") + 1 if footnote else 0
    foot_h = Inches(0.16 * lines + 0.1) if lines else 0
    top = Inches(1.1)
    area_w, area_h = prs.slide_width - 2 * margin, prs.slide_height - top - foot_h - Inches(0.3)
    height = max(360, int(bare.layout.height or 460))
    width = max(SLIDE_WIDTH, round(height * area_w / area_h))
    png = _render(bare, "png", width, height, scale=2)
    scale = min(area_w / width, area_h / height)
    pic_w, pic_h = Emu(int(width * scale)), Emu(int(height * scale))
    slide.shapes.add_picture(io.BytesIO(png), margin + (area_w - pic_w) // 2, top, pic_w, pic_h)
    if footnote:
        foot = slide.shapes.add_textbox(margin, prs.slide_height - foot_h - Inches(0.2), area_w, foot_h)
        foot.text_frame.word_wrap = True
        for i, line in enumerate(footnote.split("\n")):
            p = foot.text_frame.paragraphs[0] if i == 0 else foot.text_frame.add_paragraph()
            p.text = line
            for run in p.runs:
                run.font.size = Pt(10)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()
