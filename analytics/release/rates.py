"""What the Incidence page shows, released (docs/disclosure-control.md, sections 2, 3 and 7).

Each function calls `analytics.incidence` with record-key sums (`band_counts(..., keys=True)`)
and returns released objects only (`analytics.disclosure`):

* a row's count (`cases`) is the count of exactly its tumours, perturbed on its own key sum and
  hidden from 1 to T - 1 (T = `CCOE_MIN_CELL`), with complementary suppression within each slice
  of the table; totals are cells of their own, so tables are not additive (`table_note`). A
  country's count at ages 0-19 over all years is the same cell, and so reads the same number, as
  on the Overview and International pages;
* rates and their intervals are computed with the exact estimators from perturbed counts and the
  exact person-years (public): age-standardised (`incidence.asr_table`) and age-specific rates
  from the perturbed band counts (each (row, age band) count perturbed on its own key sum), the
  crude rate (`incidence.poisson_ci`) from the row's count as shown; they are shown only where the
  row's count is released, and are rounded to 0.01 per million before they leave this module
  (the browser receives frames at full precision);
* the annual percent change is fitted to the yearly rates that are shown (years whose count is
  hidden are left out of the fit, which says so), the rate ratio to the periods' rates from
  perturbed counts, shown only when both periods' counts are released;
* notes quote counts only as `Count`s ('1,234' or 'fewer than 16').

The exact results (command line, R validation) stay in `analytics.incidence`, unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from analytics import incidence as exact
from analytics.disclosure import (Count, DisclosureError, Policy, count, is_released, perturb, policy,
                                  release_counts, stamp)
from analytics.filters import Selection, SelectionError, sort_rows
from analytics.incidence import CI_METHODS, PER, STANDARDS, NoDenominators  # noqa: F401  (re-exported for the page)
from analytics.reference.standard import weights as standard_weights
from analytics.pooled import released_notes

__all__ = ["CI_METHODS", "STANDARDS", "NoDenominators", "SelectionError", "Pooled", "Rates", "RATE_COLUMNS",
           "incidence", "by_country", "trend", "rate_ratio", "left_out_note", "table_note", "country_map"]

#: Rate columns of a released table (per million person-years).
RATE_COLUMNS = ["crude_rate", "crude_lower", "crude_upper", "asr", "asr_lower", "asr_upper"]
AGE_RATE_COLUMNS = ["rate", "lower", "upper"]
APC_COLUMNS = ["apc", "apc_lower", "apc_upper"]
#: Rates leave analytics rounded to this many decimals (per million): 0.01.
RATE_DECIMALS = 2


@dataclass(frozen=True)
class Pooled:
    """The selection's pooled figures for the page's metrics: `cases` a released `Count`; the
    age-standardised rate and its 95% CI (per million, rounded) only when `cases` is released,
    else None; person-years (public denominators) as they are."""

    cases: Count
    person_years: float
    asr: float | None
    asr_lower: float | None
    asr_upper: float | None

    @property
    def no_cases(self) -> bool:
        """No tumour matches the selection (0 is a released count)."""
        return self.cases.shown == 0


@dataclass
class Rates:
    """Released rates by `by`: `table` and `age_specific` are stamped frames (counts perturbed or
    missing, `suppressed`, rates rounded); `notes` the methods notes; `left_out` the note on cases
    without person-years (None when all were covered); `pooled` the pooled figures when `by` is
    empty (else None)."""

    table: pd.DataFrame
    age_specific: pd.DataFrame
    by: list[str]
    notes: list[str] = field(default_factory=list)
    left_out: str | None = None
    threshold: int = 0
    pooled: Pooled | None = None


def table_note() -> str:
    """The footnote of a released table of counts (the same words on every page: from the
    policy, never a literal threshold)."""
    from analytics.release.pool import table_note as note

    return note()


def left_out_note(left_out: exact.LeftOut | None) -> str | None:
    """`LeftOut.note` with its number of cases released ('fewer than T' or perturbed); None when
    every country-year of the selection has person-years."""
    if left_out is None:
        return None
    from analytics.release.pool import left_out_note as note

    return note(left_out)


def _perturbed(counts: pd.DataFrame, pol: Policy) -> pd.DataFrame:
    """Band counts with each (row, age band) count replaced by its perturbed value."""
    n = counts["cases"].to_numpy(dtype=np.int64)
    keys = counts["cases_key"].to_numpy(dtype=np.int64)
    return counts.assign(cases=np.asarray(perturb(n, keys, pol), dtype=np.int64))


def _rate_rows(counts: pd.DataFrame, by: list[str], w_all: dict, ci: str, pol: Policy) -> pd.DataFrame:
    """Rows of `by` (display order): the exact `cases` and their key sum `cases_key`, the
    person-years, the age-standardised rate and its CI of `asr_table` over the perturbed band
    counts, and the crude rate and its CI (`poisson_ci`) of the row's perturbed count; per
    million, not yet rounded. Not for viewers: `_release_rates` releases it."""
    table = exact.asr_table(_perturbed(counts, pol), by, w_all, ci).drop(columns="asr_var")
    if by:
        totals = counts.groupby(by, sort=False, dropna=False)[["cases", "cases_key"]].sum().reset_index()
        # the same groupby as asr_table's: the same groups in the same order
        if not (totals[by].astype(str).to_numpy() == table[by].astype(str).to_numpy()).all():
            raise RuntimeError("rate rows and count totals are not in the same order")
    else:
        totals = pd.DataFrame({"cases": [int(counts["cases"].sum())],
                               "cases_key": [int(counts["cases_key"].sum())]})
    table["cases"] = totals["cases"].to_numpy(dtype=np.int64)
    table.insert(table.columns.get_loc("cases") + 1, "cases_key", totals["cases_key"].to_numpy(dtype=np.int64))
    # The crude rate is the row's own count over its person-years: the count shown (perturbed on
    # the row's key), so that crude rate x person-years gives the shown count back and nothing else.
    shown = np.asarray(perturb(table["cases"].to_numpy(), table["cases_key"].to_numpy(), pol), dtype=float)
    py = table["person_years"].to_numpy(dtype=float)
    lo, hi = exact.poisson_ci(shown, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["crude_rate"], table["crude_lower"], table["crude_upper"] = shown / py, lo, hi
    for col in RATE_COLUMNS:
        table[col] = table[col] * PER
    return sort_rows(table, by)


def _round(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Round rate columns in place of a released frame (keeps the stamp)."""
    for c in cols:
        if c in df.columns:
            df[c] = df[c].astype("float64").round(RATE_DECIMALS)
    return df


def _release_rates(rows: pd.DataFrame, by: list[str], pol: Policy) -> pd.DataFrame:
    # a suppressed row's person-years go too: a country's years run from its first to its last
    # tumour, so they would date a small partner's tumours (the Overview hides them likewise)
    out = release_counts(rows, {"cases": "cases_key"}, dependent=[*RATE_COLUMNS, "person_years"],
                         groups=exact._slices(by), pol=pol)
    return _round(out, RATE_COLUMNS)


def _age_specific(counts: pd.DataFrame, by: list[str], pol: Policy) -> pd.DataFrame:
    """Age-specific rates per (by, age band) from the perturbed band counts, released."""
    keys = by + ["age_band"]
    age = counts.groupby(keys, dropna=False, sort=False)[["cases", "cases_key", "person_years"]].sum().reset_index()
    n = age["cases"].to_numpy(dtype=np.int64)
    shown = np.asarray(perturb(n, age["cases_key"].to_numpy(dtype=np.int64), pol), dtype=float)
    py = age["person_years"].to_numpy(dtype=float)
    lo, hi = exact.poisson_ci(shown, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        age = age.assign(rate=shown / py * PER, lower=lo * PER, upper=hi * PER)
    age = sort_rows(age, keys)
    out = release_counts(age, {"cases": "cases_key"}, dependent=[*AGE_RATE_COLUMNS, "person_years"],
                         groups=exact._slices(keys), pol=pol)
    return _round(out, AGE_RATE_COLUMNS)


def _notes(ages: str, bands: list[str], standard: str, ci: str, left_out: str | None, pol: Policy) -> list[str]:
    notes = exact.method_notes(ages, bands, standard, ci) + [
        f"Rates from {pol.fewer} cases are suppressed.",
        "Rates are computed from counts after the small change every count shown here carries: "
        "age-standardised and age-specific rates from the count of each age band, crude rates from the "
        "count shown; they are rounded to 0.01 per million.",
        table_note(),
    ]
    return ([left_out] if left_out else []) + notes


def incidence(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by=(), ages: str = "0-19",
              standard: str = "segi", ci: str = "tiwari", pol: Policy | None = None) -> Rates:
    """Rates per million person-years by `by` for a viewer (see the module docstring); with no
    breakdown, `pooled` holds the metrics of the whole selection. Raises what
    `incidence.incidence` raises (NoDenominators, SelectionError: their messages name countries
    and years, never counts)."""
    pol = pol or policy()
    selection = selection or Selection()
    by = list(by)
    exact.check_methods(standard, ci)
    counts = exact.band_counts(con, selection, by, ages, keys=True)
    bands = exact._bands(selection, ages)
    rows = _rate_rows(counts, by, standard_weights(con, standard, bands), ci, pol)
    pooled = None
    if not by:
        r = rows.iloc[0]
        n = count(int(r["cases"]), int(r["cases_key"]), pol)
        rate = (lambda c: round(float(r[c]), RATE_DECIMALS)) if n.released else (lambda c: None)
        pooled = Pooled(n, float(r["person_years"]), rate("asr"), rate("asr_lower"), rate("asr_upper"))
    table = _release_rates(rows, by, pol)
    age = _age_specific(counts, by, pol)
    note = left_out_note(counts.attrs["left_out"])
    notes = _notes(ages, bands, standard, ci, note, pol) + released_notes(  # aggregate partners left out
        counts.attrs["notes"], lambda n, k: count(n, k, pol))
    return Rates(table, age, by, notes, note, pol.threshold, pooled)


def by_country(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, ages: str = "0-19",
               standard: str = "segi", ci: str = "tiwari", pol: Policy | None = None) -> dict:
    """Rates by country with the pooled rate, for pages that show them beside other measures (the
    International page): {"table": the released by-country table, "pooled": {"asr", "asr_lower",
    "asr_upper"} (NaN unless the pooled count is released), "left_out": the note or None,
    "notes": the methods notes}."""
    pol = pol or policy()
    countries = incidence(con, selection, ["country"], ages, standard, ci, pol)
    p = incidence(con, selection, [], ages, standard, ci, pol).pooled
    pooled = {k: np.nan if getattr(p, k) is None else getattr(p, k) for k in ("asr", "asr_lower", "asr_upper")}
    return {"table": countries.table, "pooled": pooled, "left_out": countries.left_out, "notes": countries.notes}


def trend(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by=(), ages: str = "0-19",
          standard: str = "segi", ci: str = "tiwari", pol: Policy | None = None) -> pd.DataFrame:
    """Annual percent change per group of `by` for a viewer: `cases` (the group's tumours in the
    years with person-years, released), first_year, last_year, apc, apc_lower, apc_upper,
    suppressed. The APC is fitted (as `incidence.apc`) to the yearly age-standardised rates as
    the yearly table shows them (`incidence(..., by + ["year"])`: from perturbed counts, rounded),
    leaving out the years whose count is hidden, so that it gives back no hidden year; `attrs["apc_note"]` says when years
    were left out of the fit, `attrs["left_out"]` is the note on cases without person-years."""
    pol = pol or policy()
    selection = selection or Selection()
    by = list(by)
    if "period" in by or "year" in by:
        raise SelectionError("a trend is over the years of diagnosis: it cannot be broken down by year or period")
    counts = exact.band_counts(con, selection, by + ["year"], ages, keys=True)
    bands = exact._bands(selection, ages)
    yearly = _rate_rows(counts, by + ["year"], standard_weights(con, standard, bands), ci, pol)
    yearly = yearly[yearly["person_years"] > 0].reset_index(drop=True)  # no denominator, no year
    released = _release_rates(yearly, by + ["year"], pol)  # the yearly rates as shown (same row order)
    yearly = yearly.assign(_shown=~released["suppressed"].to_numpy(), _asr=released["asr"].to_numpy())
    rows, hidden_years = [], False
    groups = yearly.groupby(by, dropna=False, sort=False) if by else [((), yearly)] if len(yearly) else []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        fit = g[g["_shown"]]
        hidden_years |= bool(len(fit) < len(g))
        a, lo, hi = exact.apc(fit["year"], fit["_asr"]) if len(fit) else (np.nan, np.nan, np.nan)
        rows.append(dict(zip(by, key)) | {
            "cases": int(g["cases"].sum()), "cases_key": int(g["cases_key"].sum()),
            "first_year": int(fit["year"].min()) if len(fit) else np.nan,
            "last_year": int(fit["year"].max()) if len(fit) else np.nan,
            "apc": a, "apc_lower": lo, "apc_upper": hi})
    df = pd.DataFrame(rows, columns=by + ["cases", "cases_key", "first_year", "last_year", *APC_COLUMNS])
    df = sort_rows(df, by)
    out = release_counts(df, {"cases": "cases_key"}, dependent=["first_year", "last_year", *APC_COLUMNS],
                         groups=exact._slices(by), pol=pol)
    out = _round(out, APC_COLUMNS)
    out.attrs["left_out"] = left_out_note(counts.attrs["left_out"])
    out.attrs["apc_note"] = (f"Years with {pol.fewer} cases (and any year hidden with them) are left out of the "
                             f"annual percent change." if hidden_years else None)
    return out


def rate_ratio(con: duckdb.DuckDBPyConnection, selection: Selection, period1: tuple[int, int],
               period2: tuple[int, int], ages: str = "0-19", standard: str = "segi",
               pol: Policy | None = None) -> dict:
    """ASR of period2 over ASR of period1 for a viewer: the estimator of `incidence.rate_ratio`
    on perturbed band counts; `suppressed` (with `reason`) unless both periods' counts are
    released and both rates positive. `rate_ratio`, `lower`, `upper` rounded to 0.01; `cases`
    the two periods' released `Count`s."""
    pol = pol or policy()
    out = {}
    for name, years in (("1", period1), ("2", period2)):
        sel = Selection(dict(selection.filters), tuple(years))
        try:
            counts = exact.band_counts(con, sel, [], ages, keys=True)
        except NoDenominators as e:  # names countries and years only
            return {"rate_ratio": np.nan, "lower": np.nan, "upper": np.nan, "suppressed": True,
                    "reason": str(e), "cases": None}
        n = count(int(counts["cases"].sum()), int(counts["cases_key"].sum()), pol)
        w = standard_weights(con, standard, exact._bands(sel, ages))
        t = exact.asr_table(_perturbed(counts, pol), [], w, "tiwari").iloc[0]
        out[name] = (float(t["asr"]), float(t["asr_var"]), n)
    (y1, v1, n1), (y2, v2, n2) = out["1"], out["2"]
    none = {"rate_ratio": np.nan, "lower": np.nan, "upper": np.nan, "suppressed": True, "cases": (n1, n2)}
    if not (n1.released and n2.released):
        return none | {"reason": f"{pol.fewer} cases in a period"}
    if y1 == 0 or y2 == 0:
        return none | {"reason": "no cases in a period"}
    rr = y2 / y1
    z = 1.959963984540054 * np.sqrt(v1 / y1 ** 2 + v2 / y2 ** 2)
    return {"rate_ratio": round(float(rr), 2), "lower": round(float(rr * np.exp(-z)), 2),
            "upper": round(float(rr * np.exp(z)), 2),
            "suppressed": False, "cases": (n1, n2)}


def country_map(table: pd.DataFrame, title: str, colorbar: str, notice: str | None = None):
    """The world map of a released by-country table (age-standardised rate; hover: cases and the
    CI), stamped. Refuses a frame that is not released."""
    from analytics import maps

    if not is_released(table):
        raise DisclosureError("the incidence map needs a released table")
    return stamp(maps.choropleth(table, "country", "asr", title, colorbar,
                                 hover_cols=["cases", "asr_lower", "asr_upper"], notice=notice))
