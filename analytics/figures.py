"""Plotly figure builders over the tidy frames `analytics/` returns (no Streamlit here).

Every figure carries a footnote (method, units, data notice) inside the image, so that an exported
PNG or SVG says what it shows even when it leaves the app.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import iccc

BLUE = "#1f5fa8"
GREY = "#9aa5b1"
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


def _layout(fig: go.Figure, title: str, footnote: str | None, height: int = 460) -> go.Figure:
    lines = footnote.count("\n") + 1 if footnote else 0
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), font=FONT, height=height,
                      template="plotly_white", margin=dict(l=10, r=10, t=70, b=70 + 14 * lines))
    if footnote:
        # below the x-axis title, whatever the figure's height
        fig.add_annotation(text=footnote.replace("\n", "<br>"), xref="paper", yref="paper", x=0, y=0,
                           yshift=-52, xanchor="left", yanchor="top", showarrow=False, align="left",
                           font=dict(size=10, color="#555"))
    return fig


def group_label(code: str) -> str:
    """'III' -> 'III CNS and miscellaneous ...'; 'IIIb' -> 'IIIb Astrocytomas'."""
    name = iccc.MAIN_GROUPS.get(code) or iccc.subgroup_names().get(code)
    return f"{code} {name}" if name else str(code)


def rate_bars(df: pd.DataFrame, category: str, title: str, x_title: str, pooled: float | None = None,
              pooled_label: str = "Pooled", footnote: str | None = None, sort: bool = True) -> go.Figure:
    """Horizontal bars of `asr` by `category` with 95% CI whiskers (asr_lower, asr_upper); rows
    without a value (suppressed) are left out; a dashed line marks the pooled rate."""
    d = df.dropna(subset=["asr"])
    if sort:
        d = d.sort_values("asr", ascending=True)
    fig = go.Figure(go.Bar(
        x=d["asr"], y=d[category].astype(str), orientation="h", marker_color=BLUE,
        error_x=dict(type="data", symmetric=False, array=d["asr_upper"] - d["asr"],
                     arrayminus=d["asr"] - d["asr_lower"], color="#333", thickness=1.2),
        customdata=np.stack([d["cases"], d["asr_lower"], d["asr_upper"]], axis=-1),
        hovertemplate="%{y}: %{x:.1f} (95% CI %{customdata[1]:.1f}-%{customdata[2]:.1f}); "
                      "%{customdata[0]:,} cases<extra></extra>"))
    if pooled is not None and np.isfinite(pooled):
        fig.add_vline(x=pooled, line_dash="dash", line_color="#c0392b")
        fig.add_annotation(x=pooled, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"{pooled_label}: {pooled:.1f}", font=dict(size=11, color="#c0392b"))
    fig.update_xaxes(title=x_title, rangemode="tozero")
    return _layout(fig, title, footnote, height=max(320, 28 * len(d) + 150))


def heatmap(df: pd.DataFrame, rows: str, cols: str, value: str, title: str, colorbar: str,
            footnote: str | None = None, col_order: list | None = None) -> go.Figure:
    """Heatmap of `value` with rows x cols; missing (suppressed) cells grey with 's'."""
    piv = df.pivot(index=rows, columns=cols, values=value)
    if col_order:
        piv = piv.reindex(columns=[c for c in col_order if c in piv.columns])
    text = piv.map(lambda v: "s" if pd.isna(v) else f"{v:.1f}")
    fig = go.Figure(go.Heatmap(z=piv.to_numpy(), x=[str(c) for c in piv.columns], y=[str(r) for r in piv.index],
                               text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues",
                               colorbar=dict(title=colorbar), hoverongaps=False,
                               hovertemplate="%{y}, %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(plot_bgcolor="#e9ecef")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, footnote, height=max(340, 30 * len(piv) + 160))


def rate_points(df: pd.DataFrame, x: str, title: str, x_title: str, y_title: str,
                footnote: str | None = None, y: str = "rate", lower: str = "lower",
                upper: str = "upper") -> go.Figure:
    """Points with 95% CI error bars (e.g. age-specific rates), categorical x in the frame's order."""
    d = df.dropna(subset=[y])
    fig = go.Figure(go.Scatter(
        x=d[x].astype(str), y=d[y], mode="markers+lines", marker=dict(size=9, color=BLUE),
        line=dict(color=BLUE, width=1),
        error_y=dict(type="data", symmetric=False, array=d[upper] - d[y], arrayminus=d[y] - d[lower]),
        hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_xaxes(title=x_title, type="category")
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return _layout(fig, title, footnote, height=400)


def trend_lines(df: pd.DataFrame, title: str, y_title: str, footnote: str | None = None,
                group: str | None = None) -> go.Figure:
    """Yearly rate (`asr`) with a shaded 95% CI band, one line per `group` value."""
    fig = go.Figure()
    groups = df.groupby(group, sort=False) if group else [("", df)]
    palette = ["#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d4a017", "#17a2b8"]
    for i, (name, g) in enumerate(groups):
        g = g.dropna(subset=["asr"]).sort_values("year")
        colour = palette[i % len(palette)]
        fig.add_trace(go.Scatter(x=list(g["year"]) + list(g["year"])[::-1],
                                 y=list(g["asr_upper"]) + list(g["asr_lower"])[::-1], fill="toself",
                                 fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=g["year"], y=g["asr"], mode="lines+markers", name=str(name) or "Rate",
                                 line=dict(color=colour), showlegend=bool(group),
                                 hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_xaxes(title="Year of diagnosis", dtick=2)
    fig.update_yaxes(title=y_title, rangemode="tozero")
    return _layout(fig, title, footnote, height=420)
