"""User-supplied text shown as text: one audited escaping function per place such text lands.

Cohort names and other selections come from links anyone can share; submission ids, file names,
registry codes and case ids come from partners' files. None of it may turn into a link, markup or
a spreadsheet formula on the way to the viewer. Escape at the last step, where the target is
known (a figure, a markdown element, a CSV cell), and keep the raw value everywhere else
(analytics, SQL parameters, the URL).

| target                                   | function          |
|------------------------------------------|-------------------|
| Plotly text (names, ticks, annotations)  | `plotly_text`     |
| Streamlit markdown (st.markdown, st.info, st.warning, st.caption, st.error) | `markdown_text` |
| CSV cells (downloads, command line)      | `csv_cell` / `csv_frame` |
| '#' comment lines at the top of a CSV    | `csv_comment`     |
| a name taken from a link                 | `strip_controls`  |

No Streamlit here: the command line uses the CSV functions too.
"""
from __future__ import annotations

import html
import re
import string
import unicodedata

import pandas as pd

#: Invisible and unbreakable: placed next to ':', '.' and '@' it stops GFM from seeing a URL.
WORD_JOINER = "\u2060"
_CONTROL_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}  # control, format (bidi overrides...), line breaks
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def plotly_text(s) -> str:
    """`s` for any Plotly string: trace and legend names, tick labels, `text`, annotations,
    titles, hover text.

    Plotly renders a subset of HTML in all of them (`<a href>` makes a clickable link, `<b>`,
    `<br>`, `<span style>`...) and decodes entities. Escaping &, < and > makes the name show
    literally: "<a href=...>x</a>" reads as typed, not as a link to somewhere else."""
    return html.escape(str(s), quote=False)


def markdown_text(s) -> str:
    """`s` for a Streamlit markdown body (st.markdown, st.caption, st.info, st.warning, st.error).

    Protects against: Markdown syntax ([text](url) links, images, emphasis, headings, tables,
    code), raw HTML, Streamlit's extensions ($math$, :red[colour], :emoji: and
    :material/icon: shortcodes), and GFM autolinking of bare addresses (https://x.example,
    www.x.example, name@x.example), which happens after backslash escapes are resolved and so
    needs more than a backslash.

    Every ASCII punctuation character is backslash-escaped (CommonMark shows it literally); a
    word joiner (U+2060, invisible) follows ':' and '@' and precedes '.', so no URL, e-mail
    address or shortcode is recognised. Line breaks and control characters become spaces, so
    the text stays inside the sentence it is put in."""
    out = []
    for ch in str(s):
        if unicodedata.category(ch) in _CONTROL_CATEGORIES:
            out.append(" ")
        elif ch in string.punctuation:
            esc = "\\" + ch
            out.append(WORD_JOINER + esc if ch == "." else esc + WORD_JOINER if ch in ":@" else esc)
        else:
            out.append(ch)
    return "".join(out)


def strip_controls(s: str) -> str:
    """`s` without control and format characters (newlines, tabs, NUL, bidirectional overrides
    that make a name read backwards, zero-width characters): a name from a link is one line of
    visible text."""
    return "".join(ch for ch in s if unicodedata.category(ch) not in _CONTROL_CATEGORIES)


def csv_cell(value):
    """A CSV cell that no spreadsheet runs as a formula (CSV injection, OWASP's rule): text
    starting with =, +, -, @, tab or carriage return gets a leading single quote, so
    =HYPERLINK("http://x.example","click") opens as text. Numbers, and text that is just a
    number ("-1.5"), are returned unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with `csv_cell` applied to every text cell and column name, for writing as CSV
    (numeric columns are left as they are)."""
    out = df.rename(columns=csv_cell)
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(csv_cell)
    return out


def csv_comment(text: str) -> str:
    """`text` as one '# ' comment line for the top of a CSV (pandas skips it with comment='#').

    A spreadsheet does not know comments: it splits the line at commas into cells. So every
    comma-separated piece that would start a formula, or open a quoted cell (a '"' that swallows
    the lines below), gets a leading single quote after its spaces; line breaks become spaces."""
    pieces = []
    for piece in " ".join(str(text).splitlines()).split(","):
        body = piece.lstrip()
        lead = piece[:len(piece) - len(body)]
        pieces.append(lead + ("'" + body if body.startswith('"') else csv_cell(body)))
    return "# " + ",".join(pieces)
