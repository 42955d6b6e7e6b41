"""World choropleth maps (incidence, survival ... by country) that draw with no network access.

`choropleth(df, "iso3", "asr", ...)` returns a Plotly figure whose country shapes come from
`analytics.reference.world.world_geojson()` (Natural Earth, shipped in a pinned PyPI package), so
plotly.js needs no map file from its CDN. Use it anywhere a figure goes: `st.plotly_chart(fig,
config=PLOTLY_CONFIG)` in the app, `fig.write_html(...)` for a report.

Why the figure is built the way it is (plotly.js 3.8.2, the version inside both plotly==7.1.0 and
streamlit==1.67.0; checked in headless Chromium by tests/test_maps.py):

- A geo subplot downloads `world_110m.json` from `topojsonURL` (default cdn.plot.ly) when any
  base layer is shown (land, ocean, coastlines, countries ...) *or* its first trace has a
  `locationmode`; a choropleth given `geojson` still gets `locationmode='geojson-id'`. When that
  download fails the map is not drawn at all, even though the geojson has every shape.
- So: every base layer is off (`geo.visible=False`; the world outline is drawn by the base trace
  below instead), and the subplot's first trace is `OFFLINE_ANCHOR`, an invisible one-point
  scattergeo given by lon/lat (no `locationmode`). plotly.js 3.8.2 decides from that first trace
  alone, so it fetches nothing. Keep it that way: turning on any base layer on the figure
  (`fig.update_geos(showcountries=True)`, `showland`, ...) or putting another trace first brings
  the download back, and the map is then blank offline unless PLOTLY_CONFIG is passed.
- Belt and braces, in case a later plotly.js looks at every trace: `PLOTLY_CONFIG` sets
  `topojsonURL` to a `data:` URL holding an empty topology, so even a fetch never leaves the page.
  Pass it as `config=` wherever the figure is shown (`st.plotly_chart`, `write_html`).

Traces, in order: the anchor; a grey choropleth of every country without a value (missing,
suppressed or not finite; hover "no data"); a coloured choropleth of the countries with a value
(left out when there is none). The two choropleths cover disjoint sets of countries, so hover is
unambiguous and each shape is sent to the browser once (about 0.8 MB for the whole world).
Antarctica is left out unless it has a value.

No Streamlit import here: the app and the tests share this module.
"""
from __future__ import annotations

import math
import textwrap
from numbers import Integral, Real
from typing import Sequence
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.reference.world import world_geojson

#: Name of the invisible first trace that keeps plotly.js from fetching topojson.
OFFLINE_ANCHOR = "offline-anchor"
BASE_TRACE = "no data"
DATA_TRACE = "data"

NO_DATA_COLOUR = "#d9d9d9"
BORDER_COLOUR = "#ffffff"
DEFAULT_COLORSCALE = "Viridis"

#: An empty TopoJSON topology as a data: URL. plotly.js appends "/world_110m.json" to
#: topojsonURL; the '#' makes that a fragment, which a data: URL ignores.
EMPTY_TOPOJSON_URL = ("data:application/json,"
                      + quote('{"type":"Topology","objects":{},"arcs":[]}', safe="") + "#")

#: Plotly config for showing these maps: nothing is ever fetched, even by a plotly.js that would
#: want topojson (see the module docstring).
PLOTLY_CONFIG = {"topojsonURL": EMPTY_TOPOJSON_URL, "displaylogo": False}


def _format_cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        v = float(value)
        if math.isnan(v):
            return "–"
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.2f}"
    return str(value)


def _subset(features: list[dict], codes: Sequence[str]) -> dict:
    wanted = set(codes)
    return {"type": "FeatureCollection",
            "features": [f for f in features if f["properties"]["iso_a3"] in wanted]}


def colour_range(values, bounds: tuple[float | None, float | None] = (None, None)) -> tuple[float, float] | None:
    """(zmin, zmax) of the colour scale: the range of the finite `values`, widened around a single
    value (plotly.js would otherwise centre an arbitrary range on it, below 0 for a small rate),
    never below 0 when no value is negative (a rate, a count, a proportion), and within
    `bounds` (e.g. (0, 1) for a proportion). None when there is no finite value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    if float(v.min()) >= 0:
        lo = max(lo, 0.0)
    if bounds[0] is not None:
        lo = max(lo, bounds[0])
    if bounds[1] is not None:
        hi = min(hi, bounds[1])
    if hi <= lo:  # values outside the bounds: any non-empty range will do
        hi = lo + (abs(lo) * 0.1 or 1.0)
    return lo, hi


def offline_anchor() -> go.Scattergeo:
    """The invisible first trace: one transparent point at 0°, 0° given by lon/lat."""
    return go.Scattergeo(name=OFFLINE_ANCHOR, lon=[0.0], lat=[0.0], mode="markers",
                         marker={"size": 1, "opacity": 0}, hoverinfo="skip", showlegend=False)


def choropleth(df: pd.DataFrame, iso3_col: str, value_col: str, title: str,
               colorbar_title: str, hover_cols: Sequence[str] | None = None,
               notice: str | None = None, *, colorscale=DEFAULT_COLORSCALE,
               value_format: str = ".1f", bounds: tuple[float | None, float | None] = (None, None),
               colorbar_format: str | None = None) -> go.Figure:
    """A world map of `df[value_col]` by country (`df[iso3_col]`, ISO 3166-1 alpha-3, one row per
    country; XKX for Kosovo also works).

    Rows whose value is missing or not finite (e.g. suppressed for small numbers) and countries
    not in `df` are drawn grey with hover "<country> / no data". `hover_cols` are shown in the
    hover of countries with a value, labelled by column name. `notice` (e.g. "Synthetic data")
    is printed under the map. `value_format` is a d3 format for the value in the hover,
    `colorbar_format` for the colour bar's ticks. The colour scale spans the values
    (`colour_range`: never below 0 unless a value is, and within `bounds`, e.g. (0, 1) for a
    proportion).

    Codes with no shape on the map (not ISO alpha-3) are listed in `fig.layout.meta["not_on_map"]`
    and named under the map. Duplicate codes raise ValueError. Show the figure with
    `config=PLOTLY_CONFIG`.
    """
    hover_cols = list(hover_cols or [])
    missing_cols = [c for c in [iso3_col, value_col, *hover_cols] if c not in df.columns]
    if missing_cols:
        raise ValueError(f"columns not in the data frame: {', '.join(missing_cols)}")

    geo = world_geojson()
    features = geo["features"]
    names = {f["properties"]["iso_a3"]: f["properties"]["name"] for f in features}

    data = df[[iso3_col, value_col, *hover_cols]].copy()
    data["_iso3"] = data[iso3_col].astype("string").str.strip().str.upper()
    data = data[data["_iso3"].notna() & (data["_iso3"] != "")]
    dupes = sorted(data.loc[data["_iso3"].duplicated(), "_iso3"].unique())
    if dupes:
        raise ValueError(f"more than one row for: {', '.join(dupes)}")
    data["_value"] = pd.to_numeric(data[value_col], errors="coerce").astype("float64")
    finite = np.isfinite(data["_value"].to_numpy())
    not_on_map = sorted(set(data["_iso3"]) - set(names))
    with_value = data[finite & data["_iso3"].isin(names)]
    valued = set(with_value["_iso3"])

    base_codes = [c for c in names if c not in valued and c != "ATA"]

    fig = go.Figure()
    fig.add_trace(offline_anchor())
    fig.add_trace(go.Choropleth(
        name=BASE_TRACE, geojson=_subset(features, base_codes), featureidkey="properties.iso_a3",
        locations=base_codes, z=[0] * len(base_codes),
        colorscale=[[0, NO_DATA_COLOUR], [1, NO_DATA_COLOUR]], showscale=False,
        marker={"line": {"color": BORDER_COLOUR, "width": 0.5}},
        customdata=[[names[c]] for c in base_codes],
        hovertemplate="<b>%{customdata[0]}</b><br>no data<extra></extra>",
    ))
    if len(with_value):
        codes = with_value["_iso3"].tolist()
        zmin, zmax = colour_range(with_value["_value"], bounds)
        customdata = [[names[c], *(_format_cell(v) for v in row)]
                      for c, row in zip(codes, with_value[hover_cols].itertuples(index=False))]
        extra = "".join(f"<br>{col}: %{{customdata[{i + 1}]}}" for i, col in enumerate(hover_cols))
        fig.add_trace(go.Choropleth(
            name=DATA_TRACE, geojson=_subset(features, codes), featureidkey="properties.iso_a3",
            locations=codes, z=with_value["_value"].tolist(), colorscale=colorscale, zmin=zmin, zmax=zmax,
            marker={"line": {"color": BORDER_COLOUR, "width": 0.5}},
            colorbar={"title": {"text": colorbar_title}, "thickness": 14, "len": 0.75,
                      **({"tickformat": colorbar_format} if colorbar_format else {})},
            customdata=customdata,
            hovertemplate=(f"<b>%{{customdata[0]}}</b><br>{colorbar_title}: "
                           f"%{{z:{value_format}}}{extra}<extra></extra>"),
        ))

    fig.update_geos(visible=False, projection_type="natural earth", fitbounds="locations",
                    bgcolor="rgba(0,0,0,0)")
    lines = []
    if notice:
        lines.extend(textwrap.wrap(notice, 140) or [notice])
    if not_on_map:
        lines.append("Not on the map (no such country code): " + ", ".join(not_on_map))
    fig.update_layout(
        title={"text": title}, height=520,
        margin={"l": 0, "r": 0, "t": 50, "b": 20 + 18 * len(lines)},
        meta={"not_on_map": not_on_map, "source": "Natural Earth (public domain)"},
    )
    if lines:
        fig.add_annotation(text="<br>".join(lines), showarrow=False, xref="paper", yref="paper",
                           x=0, y=0, xanchor="left", yanchor="top", yshift=-4, align="left",
                           font={"size": 12, "color": "#555555"})
    return fig
