"""One validated description of a selection of cases, turned into parameterised SQL.

Pages (widgets, URL parameters) and the command line (`--filter COLUMN=V1,V2`) both build a
`Selection`; every value is checked against the column's type and allowed form here, and reaches
SQL only as a bound parameter, never pasted into the query text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from analytics import iccc
from analytics.schema import AGE_BANDS, AGE_GROUPS, TORONTO_STAGES


class SelectionError(ValueError):
    """A filter or breakdown that cannot be used; the message is one line for the user."""


def _upper(v: str) -> str:
    return v.strip().upper()


def _int(v: str) -> int:
    return int(v.strip())


#: Filterable columns of `cases`: how a text value is normalised, and the form it must have.
COLUMNS: dict[str, tuple] = {
    "country": (_upper, lambda v: re.fullmatch(r"[A-Z]{3}", v) is not None, "an ISO alpha-3 code"),
    "registry": (str.strip, lambda v: 0 < len(v) <= 64, "a registry code"),
    "sex": (_int, lambda v: v in (1, 2, 9), "1, 2 or 9"),
    "age_group": (str.strip, lambda v: v in [g for g, _, _ in AGE_GROUPS], "0, 1-4, 5-9, 10-14 or 15-19"),
    "age_band": (str.strip, lambda v: v in [g for g, _, _ in AGE_BANDS], "0-4, 5-9, 10-14 or 15-19"),
    "iccc_main": (_upper, lambda v: v in iccc.MAIN_GROUPS, "an ICCC-3 main group I-XII"),
    "iccc_sub": (str.strip, lambda v: v in iccc.subgroup_names(), "an ICCC-3 subgroup such as IIIb"),
    "year": (_int, lambda v: 1900 <= v <= 2100, "a year"),
    "period": (str.strip, lambda v: re.fullmatch(r"\d{4}-\d{4}", v) is not None, "a period such as 2000-2004"),
    "stage": (_upper, lambda v: v in TORONTO_STAGES, "a Toronto stage"),
    "morphology": (_int, lambda v: 8000 <= v <= 9993, "an ICD-O-3 histology code"),
}

AGE_RANGES = {"0-14": ["0-4", "5-9", "10-14"], "15-19": ["15-19"], "0-19": ["0-4", "5-9", "10-14", "15-19"]}


@dataclass(frozen=True)
class Selection:
    """Which cases: column -> allowed values (all normalised), plus a range of diagnosis years."""

    filters: dict[str, tuple] = field(default_factory=dict)
    years: tuple[int, int] | None = None

    @classmethod
    def build(cls, filters: dict[str, list] | None = None, years: tuple[int, int] | None = None) -> "Selection":
        """Validate and normalise; raise SelectionError naming the first bad column or value."""
        clean: dict[str, tuple] = {}
        for column, values in (filters or {}).items():
            if column not in COLUMNS:
                raise SelectionError(f"cannot filter on '{column}'; use one of {', '.join(COLUMNS)}")
            norm, ok, form = COLUMNS[column]
            out = []
            for v in values:
                try:
                    nv = norm(str(v))
                except ValueError:
                    raise SelectionError(f"{column}: '{v}' is not {form}") from None
                if not ok(nv):
                    raise SelectionError(f"{column}: '{v}' is not {form}")
                out.append(nv)
            if not out:
                raise SelectionError(f"{column}: no value given")
            clean[column] = tuple(sorted(set(out)))
        if years is not None:
            y0, y1 = (int(years[0]), int(years[1]))
            if not (1900 <= y0 <= y1 <= 2100):
                raise SelectionError(f"years: {y0}-{y1} is not a range of years")
            years = (y0, y1)
        return cls(clean, years)

    @classmethod
    def from_cli(cls, filter_args: list[str] | None, years: str | None = None) -> "Selection":
        """From `--filter COLUMN=V1,V2` arguments (repeatable) and `--years FROM-TO`."""
        filters: dict[str, list] = {}
        for arg in filter_args or []:
            column, sep, values = arg.partition("=")
            if not sep or not values:
                raise SelectionError(f"--filter '{arg}': write COLUMN=VALUE[,VALUE...]")
            filters.setdefault(column.strip(), []).extend(values.split(","))
        span = None
        if years:
            m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4}))?\s*", years)
            if not m:
                raise SelectionError(f"--years '{years}': write FROM-TO, e.g. 2000-2019")
            span = (int(m.group(1)), int(m.group(2) or m.group(1)))
        return cls.build(filters, span)

    def where(self, alias: str = "", skip: tuple[str, ...] = (), prefix: str = "") -> tuple[str, dict]:
        """SQL condition (without WHERE) and its named parameters. `skip` leaves columns out;
        `prefix` namespaces the parameter names (two selections in one query)."""
        a = f"{alias}." if alias else ""
        parts, params = ["TRUE"], {}
        for column, values in self.filters.items():
            if column in skip:
                continue
            # col IN ($p0, $p1, ...): bound parameters, and a form DuckDB pushes into the scan
            names = [f"{prefix}f_{column}_{i}" for i in range(len(values))]
            params.update(dict(zip(names, values)))
            parts.append(f"{a}{column} IN ({', '.join('$' + n for n in names)})")
        if self.years and "year" not in skip:
            params[f"{prefix}y_from"], params[f"{prefix}y_to"] = self.years
            parts.append(f"{a}year BETWEEN ${prefix}y_from AND ${prefix}y_to")
        return " AND ".join(parts), params

    def describe(self) -> str:
        """Plain words for captions and footnotes."""
        bits = [f"{c} {', '.join(map(str, v))}" for c, v in self.filters.items()]
        if self.years:
            bits.append(f"diagnosed {self.years[0]}-{self.years[1]}")
        return "; ".join(bits) or "all cases"


def _order(column: str) -> list | None:
    """The display order of a column's values, where it is not the natural sort order."""
    if column == "iccc_main":
        return list(iccc.MAIN_GROUPS)
    if column == "iccc_sub":
        return list(dict.fromkeys(iccc.definition()["subgroup"]))
    if column in ("age_group", "age_band"):
        return [g for g, _, _ in AGE_GROUPS] + [g for g, _, _ in AGE_BANDS]
    return None


def sort_rows(df, columns: list[str]):
    """Rows sorted by `columns` in display order (ICCC groups I..XII, age bands youngest first)."""
    if df.empty or not columns:
        return df.reset_index(drop=True)
    keys = {}
    for c in columns:
        order = _order(c)
        keys[c] = df[c].map({v: i for i, v in enumerate(order)}).fillna(len(order)) if order else df[c]
    return df.assign(**{f"_k{i}": keys[c] for i, c in enumerate(columns)}) \
             .sort_values([f"_k{i}" for i in range(len(columns))], kind="stable") \
             .drop(columns=[f"_k{i}" for i in range(len(columns))]).reset_index(drop=True)


def check_by(by: list[str], allowed: list[str]) -> list[str]:
    """Validate breakdown columns against a list of allowed ones."""
    for b in by:
        if b not in allowed:
            raise SelectionError(f"cannot break down by '{b}'; use one of {', '.join(allowed)}")
    if len(set(by)) != len(by):
        raise SelectionError("a breakdown column is repeated")
    return list(by)
