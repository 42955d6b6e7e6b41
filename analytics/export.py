"""Figures as files for presenters: PNG at slide size (1920 x 1080 pixels: a 960 x 540 layout at
double density) and SVG, rendered server-side by kaleido with Debian's Chromium.

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


def figure_bytes(fig: go.Figure, fmt: str = "png") -> bytes:
    """The figure as PNG (1920 x 1080 px) or SVG (960 x 540 user units)."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, not {fmt!r}")
    if CHROMIUM.exists():
        os.environ.setdefault("BROWSER_PATH", str(CHROMIUM))
    height = max(SLIDE_HEIGHT, int(fig.layout.height or 0)) if fmt == "svg" else SLIDE_HEIGHT
    return fig.to_image(format=fmt, width=SLIDE_WIDTH, height=height,
                        scale=SLIDE_SCALE if fmt == "png" else 1)
