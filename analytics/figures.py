"""Plotly figure builders over the tidy frames `analytics/` returns (no Streamlit here).

Every figure carries a footnote (method, units, data notice) inside the image, so that an exported
PNG or SVG says what it shows even when it leaves the app.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import disclosure, labels
from analytics.safe_text import plotly_text

BLUE = "#1f5fa8"
GREY = "#9aa5b1"
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)
# One colour per group, colour-blind safe: Okabe & Ito's palette (Okabe M, Ito K. Color Universal
# Design, 2008; Wong B, Nature Methods 2011;8:441) without its yellow, which vanishes on white,
# then Paul Tol's "muted" scheme (Tol P, SRON/EPS/TN/09-002, 2021) for groups 8 to 16. Past 16
# the colours repeat with a dashed line, so that no two curves look alike.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000",
           "#332288", "#117733", "#882255", "#44AA99", "#999933", "#AA4499", "#88CCEE", "#CC6677", "#DDCC77"]
DASHES = ["solid", "dash", "dot"]
#: Colour of the other groups when one is highlighted, and of the pooled curve.
MUTED = "#c3c9d0"


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


def _words(column: str, values, short: bool = False) -> list[str]:
    """The values of a grouping column in words (`labels.level`: country names, 'Under 1 year',
    'Male'), escaped for Plotly; other columns' values as they are."""
    if column in labels.WORDED:
        return [plotly_text(labels.level(column, v, short=short)) for v in values]
    return _texts(values)


#: The name of a figure's footnote annotation.
FOOTNOTE = "footnote"


#: Characters of a figure title per line: about what the plot area beside a legend holds at 1280 px.
TITLE_CHARS = 62


def _layout(fig: go.Figure, title: str, footnote: str | None, height: int = 460, left_chars: int = 0) -> go.Figure:
    """Title, font, margins and the footnote annotation; title and footnote are shown as text
    (escaped), the footnote's line breaks become <br>. The footnote starts where the plot area
    starts: `left_chars`, the length of the longest y-axis label, narrows its lines so that it
    ends on the canvas of a 960-unit export."""
    # 115 characters of 10-pixel type fit a plot area of about 700 px: a slide export (960 wide)
    # and the page's figure beside the sidebar at 1280 px
    width = max(60, 115 - int(1.4 * left_chars))
    footnote = _wrap(footnote.replace("`", ""), width) if footnote else footnote  # markdown code marks out
    lines = footnote.count("\n") + 1 if footnote else 0
    # the title starts where the plot area starts (xref paper), not at the canvas edge, and wraps
    # within it (Plotly does not wrap: a tumour group's long name ran past the legend at 1280 px)
    title_lines = textwrap.wrap(title, TITLE_CHARS, break_on_hyphens=False, break_long_words=False) or [""]
    fig.update_layout(title=dict(text="<br>".join(plotly_text(t) for t in title_lines), x=0, xref="paper",
                                 xanchor="left"), font=FONT, height=height + 24 * (len(title_lines) - 1),
                      template="plotly_white",
                      margin=dict(l=20, r=20, t=70 + 24 * (len(title_lines) - 1), b=70 + 14 * lines))
    if footnote:
        # below the x-axis title, whatever the figure's height; named, so that a slide can take
        # it out of the picture and set it as text (`export.slide_bytes`)
        fig.add_annotation(text="<br>".join(plotly_text(ln) for ln in footnote.split("\n")), name=FOOTNOTE,
                           xref="paper", yref="paper", x=0, y=0, yshift=-52, xanchor="left", yanchor="top",
                           showarrow=False, align="left", font=dict(size=10, color="#555"))
    return fig


def group_label(code: str) -> str:
    """'III' -> 'III CNS and miscellaneous ...'; 'IIIb' -> 'IIIb Astrocytomas' (`labels.iccc_group`)."""
    return labels.iccc_group(code)


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
    _layout(fig, "", footnote, left_chars=max((len(f"{c}  {n}") for c, n in zip(d["iccc_main"], d["name"])), default=0))
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
        x=d["asr"], y=_words(category, d[category]), orientation="h", marker_color=BLUE,
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
    fig = go.Figure(go.Heatmap(z=piv.to_numpy(), x=_words(cols, piv.columns), y=_words(rows, piv.index),
                               text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues", zmin=0,
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
        x=_words(x, d[x]), y=d[y], mode="markers+lines", marker=dict(size=9, color=BLUE),
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
                                 y=list(g["asr_upper"]) + list(g["asr_lower"])[::-1], fill="toself", mode="lines",
                                 fillcolor=colour, opacity=0.15, line=dict(width=0), hoverinfo="skip",
                                 showlegend=False))
        fig.add_trace(go.Scatter(x=g["year"], y=g["asr"], mode="lines+markers",
                                 name=(_words(group, [name])[0] if group else "") or "Rate",
                                 line=dict(color=colour, dash=dash), showlegend=bool(group),
                                 hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_xaxes(title="Year of diagnosis", dtick=2)
    fig.update_yaxes(title=plotly_text(y_title), rangemode="tozero")
    fig = _layout(fig, title, footnote, height=420)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def simplify_steps(tab: pd.DataFrame, columns=("survival", "lower", "upper")) -> pd.DataFrame:
    """The rows of a step function where a value changes, plus the last row: drawn with
    line shape 'hv' the curve is the same, and an exported SVG stays small (a curve of 10,000
    times with a few hundred deaths keeps a few hundred points)."""
    cols = [c for c in columns if c in tab.columns]
    if len(tab) < 3 or not cols:
        return tab
    v = tab[cols].to_numpy(dtype=float)
    keep = np.r_[True, np.any(~np.isclose(v[1:], v[:-1], equal_nan=True), axis=1)]
    keep[-1] = True
    return tab[keep]


def wrap_label(text: str, width: int = 28) -> str:
    """A long legend name on two or more lines (Plotly's <br>), so that a legend of ICCC-3 group
    names does not take half the figure's width; the text is escaped (`plotly_text`)."""
    import textwrap

    lines = textwrap.wrap(str(text), width, break_long_words=False, break_on_hyphens=False)
    return "<br>".join(plotly_text(line) for line in lines or [""])


def short_label(text: str, width: int = 18) -> str:
    """A name cut to `width` characters with an ellipsis (the rows of the numbers-at-risk panel)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def survival_plot(curves: dict, at_risk: pd.DataFrame, by: list[str], title: str, y_title: str,
                  footnote: str | None = None, ci_bands: bool = True, censor_ticks: bool = False,
                  labels: dict | None = None, max_years: float | None = None,
                  suppressed_label: str | None = None, legend_title: str | None = None,
                  highlight=None, short_labels: dict | None = None, start: float = 1.0,
                  y_max: float = 1.02) -> go.Figure:
    """Survival curves (step functions, time in years) with shaded 95% CI bands and, in its own
    panel under the time axis, the number at risk per group at each tick, one aligned row per
    group. `curves`: key -> frame with time_years, survival, lower, upper, and n_censored or (a
    viewer's curves) a boolean `censored` (already truncated; a viewer's rounded curves have
    their times, and so their censor ticks, at the ends of the month bins); `at_risk`: by
    columns, time_years, n_at_risk (missing = suppressed, shown as `suppressed_label`, by
    default the policy's '<T').

    Curves keep the order of `curves` (colours follow it); the legend, titled `legend_title`,
    lists them as the curves end, highest first. `labels`/`short_labels`: key -> name in the
    legend / in the at-risk rows. `highlight`: a key drawn in colour over the others in grey
    (for many groups). `start`: the curves' value at time 0 (1 for survival, 0 for a cumulative
    incidence drawn in the `survival` column), `y_max` the top of the axis. Stamped as released
    when `at_risk` and every curve are (`analytics.disclosure`)."""
    from plotly.subplots import make_subplots

    below = plotly_text(suppressed_label or disclosure.policy().below)

    keys = list(curves)
    names = [(labels or {}).get(k) or " / ".join(map(str, k)) or "All" for k in keys]  # raw, escaped where drawn
    shorts = [(short_labels or {}).get(k) or names[i] for i, k in enumerate(keys)]
    n_groups = max(1, len(keys))
    # the numbers-at-risk panel grows with the number of groups: one row of 22 px per group
    at_risk_px = 40 + 22 * n_groups
    curve_px = 400
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=70 / (curve_px + at_risk_px + 70),
                        row_heights=[curve_px, at_risk_px])
    ends = [float(curves[k]["survival"].iloc[-1]) if len(curves[k]) else start for k in keys]
    rank = {k: r for r, k in enumerate(sorted(range(len(keys)), key=lambda i: -ends[i]))}
    order = [i for i in range(len(keys)) if keys[i] != highlight] + [i for i in range(len(keys)) if keys[i] == highlight]
    for i in order:  # the highlighted curve drawn last, on top
        key, tab = keys[i], curves[keys[i]]
        name = wrap_label(names[i])
        colour, dash = line_style(i)
        muted = highlight is not None and key != highlight
        if muted:
            colour, dash = MUTED, "solid"
        steps = simplify_steps(tab)
        t = np.concatenate([[0.0], steps["time_years"].to_numpy()])
        s = np.concatenate([[start], steps["survival"].to_numpy()])
        if ci_bands and not muted:
            lo = np.concatenate([[start], steps["lower"].to_numpy()])
            hi = np.concatenate([[start], steps["upper"].to_numpy()])
            ok = ~(np.isnan(lo) | np.isnan(hi))
            fig.add_trace(go.Scatter(x=np.concatenate([t[ok], t[ok][::-1]]),
                                     y=np.concatenate([hi[ok], lo[ok][::-1]]), fill="toself", mode="lines",
                                     line=dict(width=0, shape="hv"), fillcolor=colour, opacity=0.15,
                                     hoverinfo="skip", showlegend=False, legendgroup=str(i)), row=1, col=1)
        fig.add_trace(go.Scatter(x=t, y=s, mode="lines", name=name, legendgroup=str(i), legendrank=1000 + rank[i],
                                 line=dict(color=colour, dash=dash, shape="hv", width=1.5 if muted else 2.5),
                                 # the name via fullData (never user text inside a template)
                                 hovertemplate="%{fullData.name}: %{y:.1%} at %{x:.2f} years<extra></extra>"),
                      row=1, col=1)
        if censor_ticks:
            c = tab[tab["censored"] if "censored" in tab else tab["n_censored"] > 0]
            fig.add_trace(go.Scatter(x=c["time_years"], y=c["survival"], mode="markers",
                                     marker=dict(symbol="line-ns-open", size=7, color=colour),
                                     showlegend=False, hoverinfo="skip", legendgroup=str(i)), row=1, col=1)
        # numbers at risk in the lower panel, in the group's colour, on the group's own row
        ar = at_risk
        for b, v in zip(by, key):
            ar = ar[ar[b].isna()] if pd.isna(v) else ar[ar[b] == v]
        text = [below if pd.isna(n) else f"{int(n):,}" for n in ar["n_at_risk"]]  # hidden: '<T'
        fig.add_trace(go.Scatter(x=ar["time_years"], y=[n_groups - i] * len(ar), mode="text", text=text,
                                 textfont=dict(color="#333" if muted else colour, size=11), showlegend=False,
                                 hoverinfo="skip", cliponaxis=False),
                      row=2, col=1)
    fig.update_yaxes(title=plotly_text(y_title), range=[0, y_max], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(showgrid=False, zeroline=False, range=[0.4, n_groups + 0.6], title="",
                     tickvals=[n_groups - i for i in range(len(keys))],
                     ticktext=[plotly_text(short_label(n)) for n in shorts], tickfont=dict(size=11), row=2, col=1)
    t_max = max_years or float(at_risk["time_years"].max() if len(at_risk) else 10)
    step = 1 if t_max <= 10 else 2 if t_max <= 20 else 5
    # room left of 0 for the first number at risk, which is centred on 0 beside the group labels
    fig.update_xaxes(range=[-0.35 - 0.04 * t_max, t_max + 0.35], dtick=step)
    fig.update_xaxes(title="Years since diagnosis", row=1, col=1, showticklabels=True)
    fig.update_xaxes(title="", showticklabels=False, showgrid=False, row=2, col=1)
    fig.add_annotation(text="<b>Number at risk</b>", xref="paper", yref="y2 domain", x=0, y=1, xanchor="left",
                       yanchor="bottom", yshift=4, showarrow=False, font=dict(size=12, color="#333"))
    # legend groups without the default 10 px gap between them, so that a dozen groups fit
    # beside a slide-sized (540 px) figure
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.01, tracegroupgap=2,
                                  title=dict(text=plotly_text(legend_title)) if legend_title else None,
                                  font=dict(size=12)))
    _layout(fig, title, footnote, height=curve_px + at_risk_px + 70 + 150,
            left_chars=max((len(short_label(n)) for n in shorts), default=0))
    released = disclosure.is_released(at_risk) and all(disclosure.is_released(c) for c in curves.values())
    return disclosure.stamp(fig) if released else fig


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a ratio axis on a log scale, read as numbers, from the last tick at or
    below `lo` to the first at or above `hi` (1 always among them): powers of two (0.25, 0.5, 1,
    2, 4 ...) over a wide range, finer steps (0.8, 0.9, 1, 1.25, 1.5) over a narrow one, powers
    of four over a very wide one."""
    lo, hi = min(lo, 1.0), max(hi, 1.0)
    grids = ([0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2],
             [2.0 ** k for k in range(-10, 11)], [4.0 ** k for k in range(-6, 7)])
    for grid in grids:
        if grid[0] > lo or grid[-1] < hi:
            continue
        first = max(i for i, v in enumerate(grid) if v <= lo)
        last = min(i for i, v in enumerate(grid) if v >= hi)
        if last - first <= 8:
            return grid[first:last + 1]
    return grids[-1]


def tick_text(v: float) -> str:
    """0.25 -> '0.25', 2.0 -> '2', 0.0625 -> '0.0625' (as many decimals as the value needs)."""
    return f"{v:g}"


def forest_plot(df: pd.DataFrame, title: str, footnote: str | None = None, not_shown: str = "not shown") -> go.Figure:
    """Hazard ratios (hr, hr_lower, hr_upper per term, named by `label` when the frame has it,
    e.g. 'Kenya vs Australia (reference)') on a log axis labelled 0.25, 0.5, 1, 2, 4 ..., with
    a line at 1 and 'HR (95% CI)' printed beside each row, rows in the frame's order top down.
    A term without a hazard ratio (not shown to viewers) keeps its row, without a point, and
    reads `not_shown`. Stamped as released when `df` is (`analytics.disclosure`)."""
    d = df.iloc[::-1]
    names = d["label"] if "label" in d.columns else d["term"]
    y = _texts(names)
    fig = go.Figure(go.Scatter(
        x=d["hr"], y=y, mode="markers", marker=dict(size=10, color=PALETTE[0], symbol="square"),
        error_x=dict(type="data", symmetric=False, array=d["hr_upper"] - d["hr"], arrayminus=d["hr"] - d["hr_lower"],
                     color="#333", thickness=1.5),
        customdata=np.stack([d["hr_lower"], d["hr_upper"], d["p"]], axis=-1),
        hovertemplate="%{y}: HR %{x:.2f} (95% CI %{customdata[0]:.2f}-%{customdata[1]:.2f}), p %{customdata[2]:.3g}<extra></extra>"))
    fig.add_vline(x=1, line_dash="dash", line_color="#555")
    values = np.concatenate([d["hr_lower"].dropna().to_numpy(float), d["hr_upper"].dropna().to_numpy(float)])
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.5, 2.0)
    ticks = log_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]) / 1.08, max(hi, ticks[-1]) * 1.08
    fig.update_xaxes(type="log", range=[np.log10(lo), np.log10(hi)], tickvals=ticks,
                     ticktext=[tick_text(v) for v in ticks], title="Hazard ratio (95% CI, log scale)")
    # the estimate in numbers, right of the plot area, on each row
    for label, row in zip(y, d.itertuples()):
        text = (f"{row.hr:.2f} ({row.hr_lower:.2f}–{row.hr_upper:.2f})" if pd.notna(row.hr) else plotly_text(not_shown))
        fig.add_annotation(x=1.01, xref="paper", y=label, yref="y", xanchor="left", showarrow=False, text=text,
                           font=dict(size=12, color="#333" if pd.notna(row.hr) else "#888"))
    fig.add_annotation(x=1.01, xref="paper", y=1, yref="paper", yanchor="bottom", xanchor="left", showarrow=False,
                       text="<b>HR (95% CI)</b>", font=dict(size=12))
    _layout(fig, title, footnote, height=max(320, 30 * len(d) + 190), left_chars=max(map(len, names), default=0) + 20)
    fig.update_layout(margin=dict(r=150))
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=y)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def dot_whisker(df: pd.DataFrame, category: str, value: str, lower: str, upper: str, title: str,
                x_title: str, pooled: float | None = None, pooled_label: str = "Pooled",
                footnote: str | None = None, percent: bool = False, flag_col: str | None = None,
                flag_legend: str = "\u2691 Data-quality flag") -> go.Figure:
    """Ranked dots with 95% CI whiskers, one row per `category` value, against a pooled line;
    rows without a value (suppressed, not estimable) are left out. A percent axis stays within
    0-100%, a rate axis does not go below 0.

    `flag_col`: a short text per row ('' or missing: no flag), e.g. 'DCO 7.3%, follow-up 2.1 y'.
    A flagged row is drawn as a vermilion diamond, its flag is printed beside the row right of
    the plot area, and the legend names the flag (`flag_legend`; say what it means in the
    footnote). Stamped as released when `df` is (`analytics.disclosure`)."""
    flag_colour = "#D55E00"  # Okabe & Ito's vermilion: apart from the blue dots and the red pooled line
    d = df.dropna(subset=[value]).sort_values(value, ascending=True)
    fmt = ".1%" if percent else ".1f"
    y = _texts(d[category])
    flags = (d[flag_col].fillna("").astype(str).str.strip() if flag_col else pd.Series("", index=d.index)).to_numpy()
    flagged = flags != ""
    fig = go.Figure()
    for mask, name, marker in ((~flagged, "Estimate (95% CI)", dict(size=10, color=BLUE)),
                               (flagged, flag_legend, dict(size=12, color=flag_colour, symbol="diamond"))):
        if not mask.any():
            continue
        s = d[mask]
        extra = [f"<br>\u2691 {plotly_text(f)}" if f else "" for f in flags[mask]]
        fig.add_trace(go.Scatter(
            x=s[value], y=[v for v, m in zip(y, mask) if m], mode="markers", marker=marker, name=plotly_text(name),
            showlegend=marker.get("symbol") == "diamond", cliponaxis=False,
            error_x=dict(type="data", symmetric=False, array=s[upper] - s[value], arrayminus=s[value] - s[lower],
                         color="#333", thickness=1.2),
            customdata=np.stack([s[lower], s[upper], np.array(extra, dtype=object)], axis=-1),
            hovertemplate=f"%{{y}}: %{{x:{fmt}}} (95% CI %{{customdata[0]:{fmt}}}-%{{customdata[1]:{fmt}}})"
                          "%{customdata[2]}<extra></extra>"))
    has_pooled = pooled is not None and np.isfinite(pooled)
    if has_pooled:
        fig.add_vline(x=pooled, line_dash="dash", line_color="#c0392b")
        fig.add_annotation(x=pooled, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                           text=f"{plotly_text(pooled_label)}: {pooled:{fmt}}", font=dict(size=11, color="#c0392b"))
    if percent:  # a proportion: the axis never runs past 0% or 100%
        values = np.concatenate([d[c].to_numpy(float) for c in (value, lower, upper)] + [[pooled] if has_pooled else []])
        values = values[np.isfinite(values)]
        lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        pad = max(0.02, 0.05 * (hi - lo))
        fig.update_xaxes(title=plotly_text(x_title), tickformat=".0%", range=[max(0.0, lo - pad), min(1.0, hi + pad)])
    else:
        fig.update_xaxes(title=plotly_text(x_title), rangemode="nonnegative")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=y)  # ranked, whatever the trace
    for label, flag in zip(y, flags):
        if flag:  # the flag beside its row, right of the plot area
            fig.add_annotation(x=1, xref="paper", xshift=14, y=label, yref="y", xanchor="left", showarrow=False,
                               text=f"<span style='color:{flag_colour}'>\u2691</span> {plotly_text(flag)}",
                               font=dict(size=11, color="#333"))
    fig = _layout(fig, title, footnote, height=max(320, 28 * len(d) + 150),
                  left_chars=max((len(str(v)) for v in d[category]), default=0))
    if flagged.any():  # room for the flags; the legend's one entry above them
        # (x shifted clear of a diamond drawn at the axis' end, e.g. 100% survival)
        fig.update_layout(margin=dict(r=40 + int(6.8 * max(len(f) for f in flags[flagged]))),
                          legend=dict(x=1.02, xanchor="left", y=1, yanchor="bottom", font=dict(size=11),
                                      bgcolor="rgba(0,0,0,0)"))
    else:
        fig.update_layout(showlegend=False)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def place_labels(x, y, texts, x_range, y_range, width_px: float = 560, height_px: float = 260,
                 char_px: float = 7.5, line_px: float = 15) -> list[str]:
    """A text position for each point's label ('top center', 'bottom center', 'middle right',
    'middle left') that does not overlap an earlier label or point, greedily, in the pixel space
    of a plot area `width_px` x `height_px` (the smallest the page draws; a slide export is
    larger, so labels only move further apart) over `x_range`, `y_range`. A label that fits
    nowhere gets None: it is left off, and the hover still names the point."""
    def px(v, rng, size):
        return (v - rng[0]) / ((rng[1] - rng[0]) or 1) * size

    offsets = {"top center": (0, 1), "bottom center": (0, -1), "middle right": (1, 0), "middle left": (-1, 0)}
    points = [(px(a, x_range, width_px), px(b, y_range, height_px)) for a, b in zip(x, y)]
    placed, out = [], []
    for (cx, cy), text in zip(points, texts):
        w, h = char_px * len(text) + 4, line_px
        choice = None
        for pos, (dx, dy) in offsets.items():
            x0 = cx - w / 2 + dx * (w / 2 + 8)
            y0 = cy - h / 2 + dy * (h / 2 + 8)
            box = (x0, y0, x0 + w, y0 + h)
            clash = any(min(box[2], b[2]) > max(box[0], b[0]) and min(box[3], b[3]) > max(box[1], b[1])
                        for b in placed) or any(box[0] < qx < box[2] and box[1] < qy < box[3] for qx, qy in points)
            inside = box[0] >= 0 and box[2] <= width_px and box[1] >= 0 and box[3] <= height_px
            if not clash and inside:
                choice = pos
                placed.append(box)
                break
        out.append(choice)
    return out


def funnel(df: pd.DataFrame, n_col: str, p_col: str, label_col: str, limits: pd.DataFrame, pooled: float,
           title: str, footnote: str | None = None, name_col: str | None = None) -> go.Figure:
    """Funnel plot: a proportion (e.g. 5-year survival) against the number of cases, with 95% and
    99.8% control limits around the pooled value (`limits` from compare.funnel_limits). Points
    are labelled by `label_col` (short: ISO3 codes), placed so that labels do not overlap; the
    hover names them by `name_col`. A point outside the 99.8% limits is drawn in red."""
    fig = go.Figure()
    for label, dash in (("95%", "dash"), ("99.8%", "dot")):
        for side in ("lower", "upper"):
            fig.add_trace(go.Scatter(x=limits["n"], y=limits[f"{side}_{label}"], mode="lines",
                                     line=dict(color="#7f8c8d", dash=dash, width=1), hoverinfo="skip",
                                     name=f"{label} limits", showlegend=side == "lower"))
    fig.add_hline(y=pooled, line_color="#c0392b", line_dash="dash",
                  annotation_text=f"Pooled: {pooled:.1%}", annotation_position="bottom right")
    d = df.dropna(subset=[p_col, n_col])
    x_range = [0, float(limits["n"].max()) * 1.05]
    lows = [float(d[p_col].min()) if len(d) else pooled, float(limits["lower_99.8%"].min())]
    highs = [float(d[p_col].max()) if len(d) else pooled, float(limits["upper_99.8%"].max())]
    y_range = [max(0.0, min(lows) - 0.06), min(1.0, max(highs) + 0.06)]
    texts = [str(v) for v in d[label_col]]
    positions = place_labels(d[n_col].to_numpy(float), d[p_col].to_numpy(float), texts, x_range, y_range)
    placed = [i for i, pos in enumerate(positions) if pos]  # no room: no label (the hover names the point)
    lim = limits.set_index("n")
    outside = [bool(p < np.interp(n, lim.index, lim["lower_99.8%"]) or p > np.interp(n, lim.index, lim["upper_99.8%"]))
               for n, p in zip(d[n_col], d[p_col])]
    names = d[name_col] if name_col else d[label_col]
    fig.add_trace(go.Scatter(x=d[n_col], y=d[p_col], mode="markers", text=_texts(texts),
                             customdata=np.array(_texts(names), dtype=object),
                             marker=dict(size=10, color=["#c0392b" if o else PALETTE[0] for o in outside]),
                             name="Countries",
                             hovertemplate="%{customdata}: %{y:.1%} of %{x:,} cases<extra></extra>"))
    fig.add_trace(go.Scatter(x=d[n_col].iloc[placed], y=d[p_col].iloc[placed], mode="text",
                             text=[_texts(texts)[i] for i in placed], textposition=[positions[i] for i in placed],
                             showlegend=False, hoverinfo="skip", cliponaxis=False, name="Labels"))
    fig.update_xaxes(title="Number of cases analysed", range=x_range, rangemode="tozero")
    fig.update_yaxes(title="5-year survival", tickformat=".0%", range=y_range)
    fig = _layout(fig, title, footnote, height=480)
    return disclosure.stamp(fig) if disclosure.is_released(df) else fig


def _panel_range(values: pd.Series, cutoff: float | None) -> list[float]:
    """The y range of a share's panel: near-zero shares (DCO, sex unknown) magnified from 0,
    near-one shares (MV, completeness) from just below their smallest value, others 0-100%; a
    cut-off always in view."""
    v = values.dropna()
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
    if cutoff is not None:
        lo, hi = min(lo, cutoff), max(hi, cutoff)
    if hi <= 0.25:
        return [0.0, max(0.05, hi * 1.3)]
    if lo >= 0.6:
        return [max(0.0, lo - (1.0 - lo) * 0.3 - 0.01), 1.005]
    return [0.0, 1.0]


def quality_panels(df: pd.DataFrame, panels: dict[str, str], cutoffs: dict[str, float], title: str,
                   footnote: str | None = None) -> go.Figure:
    """Small multiples of data-quality indicators by `year`: one panel per column of `panels`
    (column -> panel title), each with its own scale; columns ending in `_share` are proportions
    (0..1, drawn as %), others in their own unit (years). `cutoffs` draws a flag's cut-off as a
    dashed grey line in its panel. A year without a value (not releasable) leaves a gap."""
    from plotly.subplots import make_subplots

    cols = list(panels)
    ncol = 3
    nrow = -(-len(cols) // ncol)
    fig = make_subplots(rows=nrow, cols=ncol, subplot_titles=[plotly_text(panels[c]) for c in cols],
                        horizontal_spacing=0.08, vertical_spacing=0.22)
    years = df["year"].astype(int)
    for i, c in enumerate(cols):
        r, k = i // ncol + 1, i % ncol + 1
        share = c.endswith("_share")
        fig.add_trace(go.Scatter(x=years, y=df[c], mode="lines+markers", line=dict(color=BLUE), marker=dict(size=5),
                                 name=plotly_text(panels[c]), showlegend=False, connectgaps=False,
                                 hovertemplate="%{x}: %{y:" + (".1%" if share else ".1f") + "}<extra></extra>"),
                      row=r, col=k)
        if c in cutoffs:
            fig.add_hline(y=cutoffs[c], line=dict(color=GREY, dash="dash", width=1), row=r, col=k)
        if share:
            fig.update_yaxes(tickformat=".0%", range=_panel_range(df[c], cutoffs.get(c)), row=r, col=k)
        else:
            top = max([float(df[c].max()) if df[c].notna().any() else 0.0, cutoffs.get(c, 0.0)])
            fig.update_yaxes(range=[0, top * 1.1 + 0.5], row=r, col=k)
        fig.update_xaxes(dtick=5, row=r, col=k)
    for a in fig.layout.annotations:  # the panel titles: at the left of their panel, as the figure's title
        a.update(font=dict(size=13), x=a.x - 0.13, xanchor="left")
    fig = _layout(fig, title, footnote, height=270 * nrow + 60)
    fig.update_layout(margin=dict(t=90))
    return fig
