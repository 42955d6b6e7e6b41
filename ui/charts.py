"""Released Plotly figures on screen, with slide-sized PNG and SVG downloads."""
from __future__ import annotations

import streamlit as st

from analytics import disclosure


def chart(fig, name: str, config: dict | None = None) -> None:
    """A Plotly figure whose camera button saves a slide-ready PNG: 1920 x 1080 pixels at double
    density (960 x 540 layout, scale 2), footnote and notices included (they are in the figure).
    Only figures released by `analytics.release` are shown (else DisclosureError: fail closed)."""
    if not disclosure.is_released(fig):
        raise disclosure.DisclosureError(f"{name}: this figure did not come out of analytics.release")
    cfg = {"displaylogo": False,
           "toImageButtonOptions": {"format": "png", "filename": name, "width": 960, "height": 540, "scale": 2}}
    cfg.update(config or {})
    if st.query_params.get("present") == "on":
        fig.update_layout(font_size=18, title_font_size=24)
    st.plotly_chart(fig, width="stretch", config=cfg)
    from analytics.export import figure_bytes

    title = str(fig.layout.title.text or name)
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:60] or name
    cols = st.columns([1, 1, 6])
    for col, fmt, mime in ((cols[0], "png", "image/png"), (cols[1], "svg", "image/svg+xml")):
        col.download_button(f"{fmt.upper()}", data=lambda f=fmt: figure_bytes(fig, f), file_name=f"{slug}.{fmt}",
                            mime=mime, key=f"export-{name}-{slug}-{fmt}", icon=":material/download:",
                            help="Slide-sized figure (1920 x 1080 PNG, or SVG) with its legend, footnote and notices")
