"""Plotly figure builders over the tidy frames `analytics/` returns (no Streamlit here).

Every figure carries a footnote (method, units, data notice) inside the image, so that an exported
PNG or SVG says what it shows even when it leaves the app.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import disclosure, iccc
from analytics.safe_text import plotly_text

BLUE = "#1f5fa8"
GREY = "#9aa5b1"
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)
# One colour per group: d3's category10 (Tableau 10), ten hues that stay apart on screen and in
# print. From the eleventh group on the hues repeat with a dashed line, so that no two curves
# (twelve countries, say) look alike.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
DASHES = ["solid", "dash", "dot"]


def line_style(i: int) -> tuple[str, str]:
    """(colour, dash) of the i-th group's line."""
    return PALETTE[i % len(PALETTE)], DASHES[(i // len(PALETTE)) % len(DASHES)]


def _wrap(text: str, width: int = 140) -> str:
    """Footnote lines wrapped for the image (Plotly does not wrap annotation text)."""
    import textwrap

    return "\n".join(w for line in text.split("\n") for w in (textwrap.wrap(line, width) or [""]))


def _texts(values) -> list[str]:
    """Category labels, names or point text from the data, escaped for Plotly (`plotly_text`)."""
    return [plotly_text(v) for v in values]


def _layout(fig: go.Figure, title: str, footnote: str | None, height: int = 460) -> go.Figure:
    """Title, font, margins and the footnote annotation; title and footnote are shown as text
    (escaped), the footnote's line breaks become <br>."""
    footnote = _wrap(footnote) if footnote else footnote
    lines = footnote.count("\n") + 1 if footnote else 0
    fig.update_layout(title=dict(text=plotly_text(title), x=0, xanchor="left"), font=FONT, height=height,
                      template="plotly_white", margin=dict(l=10, r=10, t=70, b=70 + 14 * lines))
    if footnote:
        # below the x-axis title, whatever the figure's height
        fig.add_annotation(text="<br>".join(plotly_text(ln) for ln in footnote.split("\n")),
                           xref="paper", yref="paper", x=0, y=0, yshift=-52, xanchor="left", yanchor="top",
                           showarrow=False, align="left", font=dict(size=10, color="#555"))
    return fig


def group_label(code: str) -> str:
    """'III' -> 'III CNS and miscellaneous ...'; 'IIIb' -> 'IIIb Astrocytomas'."""
    name = iccc.MAIN_GROUPS.get(code) or iccc.subgroup_names().get(code)
    return f"{code} {name}" if name else str(code)


def tumour_bars(df: pd.DataFrame, footnote: str | None = None) -> go.Figure:
    """The Overview's horizontal bars of tumours (`cases`) by ICCC-3 main group (`iccc_main`,
    `name`), in the frame's order; hidden (suppressed) groups are left out. Stamped as released
    when `df` is (`analytics.disclosure`)."""
    d = df.dropna(subset=["cases"])
    fig = go.Figure(go.Bar(
        x=d["cases"].astype("int64"), y=_texts(d["iccc_main"] + "  " + d["name"]), orientation="h",
        marker_color=BLUE, hovertemplate="%{y}: %{x:,} tumours<extra></extra>"))
    fig.update_xaxes(title="Tumours (n)")
    fig.update_yaxes(autorange="reversed")
    _layout(fig, "", footnote)
    fig.update_layout(margin=dict(t=10) if footnote else dict(t=10, b=10))
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def rate_bars(df: pd.DataFrame, category: str, title: str, x_title: str, pooled: float | None = None,
              pooled_label: str = "Pooled", footnote: str | None = None, sort: bool = True) -> go.Figure:
    """Horizontal bars of `asr` by `category` with 95% CI whiskers (asr_lower, asr_upper); rows
    without a value (suppressed) are left out; a dashed line marks the pooled rate."""
    d = df.dropna(subset=["asr"])
    if sort:
        d = d.sort_values("asr", ascending=True)
    fig = go.Figure(go.Bar(
        x=d["asr"], y=_texts(d[category]), orientation="h", marker_color=BLUE,
        error_x=dict(type="data", symmetric=False, array=d["asr_upper"] - d["asr"],
                     arrayminus=d["asr"] - d["asr_lower"], color="#333", thickness=1.2),
        customdata=np.stack([d["cases"], d["asr_lower"], d["asr_upper"]], axis=-1),
        hovertemplate="%{y}: %{x:.1f} (95% CI %{customdata[1]:.1f}-%{customdata[2]:.1f}); "
                      "%{customdata[0]:,} cases<extra></extra>"))
    if pooled is not None and np.isfinite(pooled):
        fig.add_vline(x=pooled, line_dash="dash", line_color="#c0392b")
        fig.add_annotation(x=pooled, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"{plotly_text(pooled_label)}: {pooled:.1f}", font=dict(size=11, color="#c0392b"))
    fig.update_xaxes(title=plotly_text(x_title), rangemode="tozero")
    fig = _layout(fig, title, footnote, height=max(320, 28 * len(d) + 150))
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig  # released rows: a released figure


def heatmap(df: pd.DataFrame, rows: str, cols: str, value: str, title: str, colorbar: str,
            footnote: str | None = None, col_order: list | None = None) -> go.Figure:
    """Heatmap of `value` with rows x cols; missing (suppressed) cells grey with 's'."""
    piv = df.pivot(index=rows, columns=cols, values=value)
    if col_order:
        piv = piv.reindex(columns=[c for c in col_order if c in piv.columns])
    text = piv.map(lambda v: "s" if pd.isna(v) else f"{v:.1f}")
    fig = go.Figure(go.Heatmap(z=piv.to_numpy(), x=_texts(piv.columns), y=_texts(piv.index),
                               text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues",
                               colorbar=dict(title=plotly_text(colorbar)), hoverongaps=False,
                               hovertemplate="%{y}, %{x}: %{z:.2f}<extra></extra>"))
    fig.update_layout(plot_bgcolor="#e9ecef")
    fig.update_yaxes(autorange="reversed")
    fig = _layout(fig, title, footnote, height=max(340, 30 * len(piv) + 160))
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def rate_points(df: pd.DataFrame, x: str, title: str, x_title: str, y_title: str,
                footnote: str | None = None, y: str = "rate", lower: str = "lower",
                upper: str = "upper") -> go.Figure:
    """Points with 95% CI error bars (e.g. age-specific rates), categorical x in the frame's order."""
    d = df.dropna(subset=[y])
    fig = go.Figure(go.Scatter(
        x=_texts(d[x]), y=d[y], mode="markers+lines", marker=dict(size=9, color=BLUE),
        line=dict(color=BLUE, width=1),
        error_y=dict(type="data", symmetric=False, array=d[upper] - d[y], arrayminus=d[y] - d[lower]),
        hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_xaxes(title=plotly_text(x_title), type="category")
    fig.update_yaxes(title=plotly_text(y_title), rangemode="tozero")
    fig = _layout(fig, title, footnote, height=400)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def trend_lines(df: pd.DataFrame, title: str, y_title: str, footnote: str | None = None,
                group: str | None = None) -> go.Figure:
    """Yearly rate (`asr`) with a shaded 95% CI band, one line per `group` value."""
    fig = go.Figure()
    groups = df.groupby(group, sort=False) if group else [("", df)]
    for i, (name, g) in enumerate(groups):
        g = g.dropna(subset=["asr"]).sort_values("year")
        colour, dash = line_style(i) if group else (BLUE, "solid")
        fig.add_trace(go.Scatter(x=list(g["year"]) + list(g["year"])[::-1],
                                 y=list(g["asr_upper"]) + list(g["asr_lower"])[::-1], fill="toself",
                                 fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=g["year"], y=g["asr"], mode="lines+markers", name=plotly_text(name) or "Rate",
                                 line=dict(color=colour, dash=dash), showlegend=bool(group),
                                 hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_xaxes(title="Year of diagnosis", dtick=2)
    fig.update_yaxes(title=plotly_text(y_title), rangemode="tozero")
    fig = _layout(fig, title, footnote, height=420)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def survival_plot(curves: dict, at_risk: pd.DataFrame, by: list[str], title: str, y_title: str,
                  footnote: str | None = None, ci_bands: bool = True, censor_ticks: bool = False,
                  labels: dict | None = None, max_years: float | None = None,
                  suppressed_label: str | None = None) -> go.Figure:
    """Survival curves (step functions, time in years) with shaded 95% CI bands and, under the time
    axis, the number at risk per group at each tick. `curves`: key -> frame with time_years,
    survival, lower, upper, and n_censored or (a viewer's curves) a boolean `censored` (already
    truncated; a viewer's rounded curves have their times, and so their censor ticks, at the ends
    of the month bins); `at_risk`: by columns, time_years, n_at_risk (missing = suppressed, shown
    as `suppressed_label`, by default the policy's '<T'). Stamped as released when `at_risk` and
    every curve are (`analytics.disclosure`)."""
    from plotly.subplots import make_subplots

    below = plotly_text(suppressed_label or disclosure.policy().below)

    keys = list(curves)
    names = [(labels or {}).get(k) or " / ".join(map(str, k)) or "All" for k in keys]  # raw, escaped where drawn
    n_groups = max(1, len(keys))
    # the numbers-at-risk panel grows with the number of groups, so that its rows do not overlap
    at_risk_share = min(0.45, 0.10 + 0.028 * n_groups)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[1 - at_risk_share, at_risk_share])
    for i, key in enumerate(keys):
        tab = curves[key]
        name = plotly_text(names[i])
        colour, dash = line_style(i)
        t = np.concatenate([[0.0], tab["time_years"].to_numpy()])
        s = np.concatenate([[1.0], tab["survival"].to_numpy()])
        if ci_bands:
            lo = np.concatenate([[1.0], tab["lower"].to_numpy()])
            hi = np.concatenate([[1.0], tab["upper"].to_numpy()])
            ok = ~(np.isnan(lo) | np.isnan(hi))
            fig.add_trace(go.Scatter(x=np.concatenate([t[ok], t[ok][::-1]]),
                                     y=np.concatenate([hi[ok], lo[ok][::-1]]), fill="toself",
                                     line=dict(width=0, shape="hv"), fillcolor=colour, opacity=0.15,
                                     hoverinfo="skip", showlegend=False, legendgroup=name), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=s, mode="lines", line=dict(color=colour, dash=dash, shape="hv", width=2),
                                 name=name, legendgroup=name,  # the hover repeats the (escaped) name
                                 hovertemplate="%{fullData.name}: %{y:.3f} at %{x:.2f} years<extra></extra>"),
                      row=1, col=1)
        if censor_ticks:
            c = tab[tab["censored"] if "censored" in tab else tab["n_censored"] > 0]
            fig.add_trace(go.Scatter(x=c["time_years"], y=c["survival"], mode="markers",
                                     marker=dict(symbol="line-ns-open", size=7, color=colour),
                                     showlegend=False, hoverinfo="skip", legendgroup=name), row=1, col=1)
        # numbers at risk under the axis
        ar = at_risk
        for b, v in zip(by, key):
            ar = ar[ar[b].isna()] if pd.isna(v) else ar[ar[b] == v]
        text = [below if pd.isna(n) else f"{int(n):,}" for n in ar["n_at_risk"]]  # hidden: '<T'
        fig.add_trace(go.Scatter(x=ar["time_years"], y=[n_groups - i] * len(ar), mode="text", text=text,
                                 textfont=dict(color=colour, size=11), showlegend=False, hoverinfo="skip",
                                 cliponaxis=False),
                      row=2, col=1)
    fig.update_yaxes(title=plotly_text(y_title), range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(showgrid=False, zeroline=False, range=[0.4, n_groups + 0.6], title="At risk",
                     tickvals=[n_groups - i for i in range(len(keys))],
                     ticktext=[plotly_text(n[:18]) for n in names], tickfont=dict(size=10), row=2, col=1)
    t_max = max_years or float(at_risk["time_years"].max() if len(at_risk) else 10)
    step = 1 if t_max <= 10 else 2 if t_max <= 20 else 5
    # room left of 0 for the first number at risk, which is centred on 0 beside the group labels
    fig.update_xaxes(range=[-0.3 - 0.03 * t_max, t_max + 0.3], dtick=step)
    fig.update_xaxes(title="Years since diagnosis", row=2, col=1)
    # legend groups (a curve with its band and ticks) without the default 10 px gap between them,
    # so that a dozen groups fit beside a slide-sized (540 px) figure
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.01,
                                  tracegroupgap=2))
    _layout(fig, title, footnote, height=560 + 24 * n_groups)
    released = disclosure.is_released(at_risk) and all(disclosure.is_released(c) for c in curves.values())
    return disclosure.stamp(fig) if released else fig


def forest_plot(df: pd.DataFrame, title: str, footnote: str | None = None) -> go.Figure:
    """Hazard ratios (hr, hr_lower, hr_upper per term) on a log axis with a line at 1; a term
    without a hazard ratio (not shown to viewers) keeps its row, without a point. Stamped as
    released when `df` is (`analytics.disclosure`)."""
    d = df.iloc[::-1]
    fig = go.Figure(go.Scatter(
        x=d["hr"], y=_texts(d["term"]), mode="markers", marker=dict(size=9, color=BLUE, symbol="square"),
        error_x=dict(type="data", symmetric=False, array=d["hr_upper"] - d["hr"], arrayminus=d["hr"] - d["hr_lower"]),
        customdata=np.stack([d["hr_lower"], d["hr_upper"], d["p"]], axis=-1),
        hovertemplate="%{y}: HR %{x:.2f} (95% CI %{customdata[0]:.2f}-%{customdata[1]:.2f}), p %{customdata[2]:.3g}<extra></extra>"))
    fig.add_vline(x=1, line_dash="dash", line_color="#555")
    fig.update_xaxes(type="log", title="Hazard ratio (95% CI, log scale)")
    _layout(fig, title, footnote, height=max(300, 34 * len(d) + 160))
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def dot_whisker(df: pd.DataFrame, category: str, value: str, lower: str, upper: str, title: str,
                x_title: str, pooled: float | None = None, pooled_label: str = "Pooled",
                footnote: str | None = None, percent: bool = False) -> go.Figure:
    """Ranked dots with 95% CI whiskers, one row per `category` value, against a pooled line;
    rows without a value (suppressed, not estimable) are left out."""
    d = df.dropna(subset=[value]).sort_values(value, ascending=True)
    fmt = ".1%" if percent else ".1f"
    fig = go.Figure(go.Scatter(
        x=d[value], y=_texts(d[category]), mode="markers", marker=dict(size=10, color=BLUE),
        error_x=dict(type="data", symmetric=False, array=d[upper] - d[value], arrayminus=d[value] - d[lower],
                     color="#333", thickness=1.2),
        customdata=np.stack([d[lower], d[upper]], axis=-1),
        hovertemplate=f"%{{y}}: %{{x:{fmt}}} (95% CI %{{customdata[0]:{fmt}}}-%{{customdata[1]:{fmt}}})<extra></extra>"))
    if pooled is not None and np.isfinite(pooled):
        fig.add_vline(x=pooled, line_dash="dash", line_color="#c0392b")
        fig.add_annotation(x=pooled, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"{plotly_text(pooled_label)}: {pooled:{fmt}}", font=dict(size=11, color="#c0392b"))
    fig.update_xaxes(title=plotly_text(x_title), tickformat=".0%" if percent else None)
    fig = _layout(fig, title, footnote, height=max(320, 28 * len(d) + 150))
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def funnel(df: pd.DataFrame, n_col: str, p_col: str, label_col: str, limits: pd.DataFrame, pooled: float,
           title: str, footnote: str | None = None) -> go.Figure:
    """Funnel plot: a proportion (e.g. 5-year survival) against the number of cases, with 95% and
    99.8% control limits around the pooled value (`limits` from compare.funnel_limits)."""
    fig = go.Figure()
    for label, dash in (("95%", "dash"), ("99.8%", "dot")):
        for side in ("lower", "upper"):
            fig.add_trace(go.Scatter(x=limits["n"], y=limits[f"{side}_{label}"], mode="lines",
                                     line=dict(color="#7f8c8d", dash=dash, width=1), hoverinfo="skip",
                                     name=f"{label} limits", showlegend=side == "lower"))
    fig.add_hline(y=pooled, line_color="#c0392b", line_dash="dash",
                  annotation_text=f"Pooled: {pooled:.1%}", annotation_position="bottom right")
    d = df.dropna(subset=[p_col, n_col])
    fig.add_trace(go.Scatter(x=d[n_col], y=d[p_col], mode="markers+text", text=_texts(d[label_col]),
                             textposition="top center", marker=dict(size=10, color=BLUE), name="Countries",
                             hovertemplate="%{text}: %{y:.1%} of %{x:,} cases<extra></extra>"))
    fig.update_xaxes(title="Number of cases analysed")
    fig.update_yaxes(title="5-year survival", tickformat=".0%")
    fig = _layout(fig, title, footnote, height=480)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig
