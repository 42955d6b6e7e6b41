"""Released Plotly figures on screen, with slide-sized PNG, SVG and PowerPoint downloads."""
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
        fig.update_layout(font_size=16, title_font_size=22)
    # theme=None: the figure as it is exported (title at the left, the house palette), not
    # restyled by Streamlit's theme
    st.plotly_chart(fig, width="stretch", config=cfg, theme=None)
    from analytics.export import figure_bytes, slide_bytes

    title = str(fig.layout.title.text or name)
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")[:60] or name
    cols = st.columns([1, 1, 1, 5])
    for col, fmt, mime, text in (
            (cols[0], "png", "image/png", "Slide-sized figure, 1920 x 1080 PNG, with its legend, footnote and notices"),
            (cols[1], "svg", "image/svg+xml", "The figure as SVG (scalable, for papers and posters)"),
            (cols[2], "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
             "A PowerPoint slide: the title and footnote as text you can edit, the figure as a picture")):
        data = (lambda: slide_bytes(fig)) if fmt == "pptx" else (lambda f=fmt: figure_bytes(fig, f))
        col.download_button("Slide" if fmt == "pptx" else fmt.upper(), data=data, file_name=f"{slug}.{fmt}",
                            mime=mime, key=f"export-{name}-{slug}-{fmt}", icon=":material/download:", help=text)
