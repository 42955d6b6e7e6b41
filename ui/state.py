"""Page state in the URL: widgets start from `st.query_params` and write their values back, so the
browser address always reopens the same view.

A parameter that is unknown or malformed falls back to its default with a visible notice; values
are checked against the options offered before anything is computed (and reach SQL only through
`analytics.filters.Selection`, as bound parameters). Free text (a cohort name) is capped and
cleaned of control characters; the notices quote the link's values as text (`markdown_text`), so a
crafted link cannot put a link or markup on the page.
"""
from __future__ import annotations

import streamlit as st

from analytics.safe_text import markdown_text, strip_controls


class PageState:
    """Collects one page's URL-backed widget values."""

    def __init__(self, page: str):
        self.page = page
        self.notices: list[str] = []
        self.values: dict[str, str] = {}

    def _key(self, name: str) -> str:
        return f"{self.page}:{name}"

    def _seed(self, name: str, value) -> None:
        """Put the URL's value into the widget's state, once per session (the widget owns it after)."""
        key = self._key(name)
        if key not in st.session_state:
            st.session_state[key] = value

    def choice(self, name: str, options: list, default, parse=str):
        """A single value from `options` (URL: ?name=value)."""
        raw = st.query_params.get(name)
        value = default
        if raw is not None:
            try:
                parsed = parse(raw)
            except (TypeError, ValueError):
                parsed = None
            if parsed in options:
                value = parsed
            else:
                self.notices.append(f"'{name}={markdown_text(raw[:40])}' is not a valid choice; "
                                    f"showing {markdown_text(default)}.")
        self._seed(name, value)
        return self._key(name)

    def text(self, name: str, default: str, max_len: int = 40):
        """Free text (URL: ?name=...) of at most `max_len` characters, without control characters
        (removed, with a notice); a longer value falls back to `default` with a notice."""
        raw = st.query_params.get(name)
        value = default
        if raw is not None:
            clean = strip_controls(raw).strip()
            if len(clean) > max_len:
                self.notices.append(f"'{name}' is longer than {max_len} characters; "
                                    f"showing {markdown_text(default)}.")
            else:
                value = clean
                if clean != raw.strip():
                    self.notices.append(f"control characters removed from '{name}'.")
        self._seed(name, value)
        return self._key(name)

    def multi(self, name: str, options: list, default: list):
        """Several values from `options` (URL: ?name=a,b,c)."""
        raw = st.query_params.get(name)
        value = list(default)
        if raw is not None:
            items = [v for v in raw.split(",") if v]
            good = [v for v in items if v in options]
            bad = [v for v in items if v not in options]
            if bad:
                shown = ", ".join(markdown_text(b[:20]) for b in bad[:5])
                self.notices.append(f"unknown {name} value(s) ignored: {shown}.")
            value = good or list(default)
        self._seed(name, value)
        return self._key(name)

    def int_range(self, name: str, lo: int, hi: int, default: tuple[int, int]):
        """A (from, to) pair of whole numbers within [lo, hi] (URL: ?name=2000-2019)."""
        raw = st.query_params.get(name)
        value = default
        if raw is not None:
            try:
                a, b = (int(x) for x in raw.split("-", 1))
                if not lo <= a <= b <= hi:
                    raise ValueError
                value = (a, b)
            except ValueError:
                self.notices.append(f"'{name}={markdown_text(raw[:40])}' is not a range within {lo}-{hi}; "
                                    f"showing {default[0]}-{default[1]}.")
        self._seed(name, value)
        return self._key(name)

    def get(self, name: str):
        return st.session_state[self._key(name)]

    def write_back(self, **encoders) -> None:
        """Write the current widget values into the URL (lists comma-joined, ranges as a-b)."""
        out = {}
        for key, value in st.session_state.items():
            if not isinstance(key, str) or not key.startswith(self.page + ":"):
                continue
            name = key.split(":", 1)[1]
            if isinstance(value, (list, tuple)) and name in encoders.get("ranges", ()):
                out[name] = f"{value[0]}-{value[1]}"
            elif isinstance(value, (list, tuple)):
                out[name] = ",".join(map(str, value))
            else:
                out[name] = str(value)
        if st.query_params.get("present") == "on":
            out["present"] = "on"  # presentation mode survives widget changes
        if dict(st.query_params) != out:
            st.query_params.from_dict(out)

    def show_notices(self) -> None:
        """One info box per notice (markdown: the link's values in them are already escaped)."""
        for n in self.notices:
            st.info(f"Link parameter ignored: {n}", icon=":material/link_off:")

    def share_box(self) -> None:
        """'Copy link': the address that reopens this exact view (st.code has a copy button)."""
        from urllib.parse import urlencode

        base = (st.context.url or "").split("?")[0]
        query = urlencode(st.query_params.to_dict())
        with st.expander("Copy link to this view", icon=":material/link:"):
            st.code(f"{base}?{query}" if query else base, language=None, wrap_lines=True)
            st.caption("Opening the link reopens exactly this selection.")
        if st.button("Presentation mode", icon=":material/slideshow:",
                     help="Hide the controls and enlarge the text; the link keeps it (present=on)."):
            st.query_params["present"] = "on"
            st.rerun()
