"""What the Submissions & data quality page shows, released (docs/disclosure-control.md §3, §7).

The indicators are `analytics.quality`'s (one definition, also used by the International
comparison). A country's or a year's tumours are a perturbed count, hidden from 1 to T - 1 with
complementary suppression; each share is shown only where its numerator and their complement are
each 0 or at least T (`disclosure.shares`, as on the International page); the median follow-up
(to 0.1 year) and the follow-up completeness (to 0.1%) only where the tumours analysed for
survival are a released count. The cut-offs of the flags are `quality`'s.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics import disclosure, labels, quality
from analytics.disclosure import KEY_MODULUS, policy, release_counts, shares
from analytics.filters import Selection

#: The indicators of a released table, in the page's order: column -> (short name for the
#: figure's panels, what it is in words).
INDICATORS = {
    "dco_share": ("DCO %", "registered from a death certificate only (basis 0), of all tumours"),
    "mv_share": ("Microscopically verified %", "cytology or histology (basis 5, 6, 7), of tumours with a known basis"),
    "age_unknown_share": ("Age unknown %", "rows sent without a birth date or an age (rejected at load), "
                                           "of the country's rows"),
    "sex_unknown_share": ("Sex unknown %", "sex coded 9, of all tumours"),
    "stage_unknown_share": ("Stage unknown %", "no Toronto stage, of tumours of the types the Toronto "
                                               "guidelines stage"),
    "followup_completeness_share": ("Follow-up completeness %", "Clark's C: follow-up observed over the "
                                    "follow-up possible to the closing date or death, of the tumours "
                                    "analysed for survival"),
    "median_followup_years": ("Median follow-up (years)", "from diagnosis to death or last contact, of the "
                                                          "tumours analysed for survival"),
}
#: The flags' cut-offs in words, and the sources.
FLAG_RULES = quality.flag_rules()
SOURCES = f"{quality.QUALITY_SOURCE}; follow-up completeness: {quality.COMPLETENESS_SOURCE}"
#: What an aggregate partner's indicators are (from its tables), in words.
FROM_TABLES = quality.FROM_TABLES
#: The tumour types whose stage is counted (Toronto guidelines), in words.
STAGED_TYPES = quality.STAGED_TYPES
_part = quality.part


def analysed(q: pd.DataFrame, pol=None) -> tuple[np.ndarray, np.ndarray]:
    """(mask, released count) of the tumours analysed for survival in an
    `quality.indicators(keys=True)` frame: a statistic of their follow-up (median, completeness)
    is shown only where their count is released and above 0 (the count: perturbed, NaN elsewhere)."""
    pol = pol or policy()
    n, k = _part(q, "analysed")
    ok = np.asarray(disclosure.released_mask(n, k, pol)) & (n > 0)
    return ok, np.where(ok, np.asarray(disclosure.perturb(n, k, pol), dtype=float), np.nan)


def _release(q: pd.DataFrame, by: list[str], age: pd.DataFrame | None = None) -> pd.DataFrame:
    """The released indicators of `quality.indicators(keys=True)` rows (and, by country, the
    rows sent without an age: `quality.age_unknown(keys=True)`)."""
    pol = policy()
    out = q[by + ["cases", "cases_key"]].copy()
    for col in ("dco_share", "mv_share", "sex_unknown_share", "stage_unknown_share"):
        num, den = quality.SHARES[col]
        # a share the data cannot give (an aggregate partner's tables without it) stays missing
        out[col] = np.where(q[col].isna(), np.nan, shares(*_part(q, num), *_part(q, den), pol))
    if age is not None:
        a = q[["country"]].merge(age, on="country", how="left").fillna(0)
        n_age = a["n_age_unknown"].to_numpy(dtype=np.int64)
        k_age = a["age_unknown_key"].to_numpy(dtype=np.int64)
        rows = q["cases"].to_numpy(dtype=np.int64) + n_age
        rows_key = (q["cases_key"].to_numpy(dtype=np.int64) + k_age) % KEY_MODULUS
        tables = q["from_tables"].to_numpy(dtype=bool) if "from_tables" in q else np.zeros(len(q), bool)
        out["age_unknown_share"] = np.where(tables, np.nan, shares(n_age, k_age, rows, rows_key, pol))
    analysed_ok, _ = analysed(q, pol)
    out["followup_completeness_share"] = np.where(analysed_ok, q["followup_completeness"].round(3), np.nan)
    out["median_followup_years"] = np.where(analysed_ok, q["median_followup_years"].round(1), np.nan)
    shown = [c for c in INDICATORS if c in out.columns]
    return release_counts(out, {"cases": "cases_key"}, dependent=shown)


def by_country(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per country, over all its tumours: `country`, `country_name`, `sent_as` ('records' or, for an
    aggregate partner, 'aggregate tables': `quality.FROM_TABLES`), `flag` (the indicators
    beyond their cut-off), `cases` (released), every indicator of `INDICATORS` (NaN where not
    releasable), and `followup_to`, the month of the closing date ('YYYY-MM'), shown only where at
    least T children alive were last seen in it (a registry's common date, not one child's),
    stamped released."""
    pol = policy()
    q = quality.indicators(con, None, ["country"], keys=True)
    out = _release(q, ["country"], quality.age_unknown(con, keys=True))
    out["flag"] = out.apply(quality.quality_flag, axis=1)
    c = q[["country"]].merge(quality.closing_dates(con, keys=True), on="country", how="left")
    n = c["n_at_closing"].fillna(0).to_numpy(dtype=np.int64)
    common = np.asarray(disclosure.released_mask(n, c["at_closing_key"].fillna(0).to_numpy(dtype=np.int64), pol))
    common &= (n >= pol.threshold) & ~out["suppressed"].to_numpy()
    out["followup_to"] = [pd.Timestamp(d).strftime("%Y-%m") if ok and pd.notna(d) else None
                          for ok, d in zip(common, c["closing_date"])]
    out.insert(1, "country_name", out["country"].map(labels.country))
    also = q["also_tables"].fillna(False).to_numpy(dtype=bool) if "also_tables" in q else np.zeros(len(q), bool)
    out["sent_as"] = np.where(q["from_tables"].to_numpy(dtype=bool), "aggregate tables",
                              np.where(also, "records and aggregate tables", "records"))
    cols = ["country", "country_name", "sent_as", "flag", "cases", *INDICATORS, "followup_to", "suppressed"]
    return disclosure.stamp(out[cols])


def trend_countries(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The countries whose indicators may be shown by year: those whose row `by_country` shows
    (a country hidden there, for its own few tumours or to protect another's, stays hidden).
    That row's suppression depends on the country's tumour count alone, the same released count
    as the Overview's table by country (`pool.cases_by_country`), read here without computing
    every indicator again."""
    from analytics.release.pool import cases_by_country

    t = cases_by_country(con)
    return list(t.loc[~t["suppressed"], "country"])


def trend(con: duckdb.DuckDBPyConnection, country: str) -> pd.DataFrame:
    """One country's indicators by year of diagnosis (`year`, `cases`, the indicators of
    `INDICATORS` but age unknown), released as `by_country` (complementary suppression among the
    years), on every year of the pool (a year without tumours reads 0, so a listed year says
    nothing a count does not). Only for `trend_countries` (else DisclosureError). Age unknown is
    by country only: a row rejected at load has no year one can trust. No flag: the median
    follow-up of recent years is short by nature, not by a registry's fault."""
    from analytics.overview import year_span

    if country not in trend_countries(con):
        raise disclosure.DisclosureError(f"{country}: its tumours are not shown by country, so not by year")
    q = quality.indicators(con, Selection.build({"country": [country]}), ["country", "year"], keys=True)
    lo, hi = year_span(con)
    grid = pd.DataFrame({"year": range(lo, hi + 1)})
    q = grid.merge(q.drop(columns="country"), on="year", how="left")
    counts = [c for c in q.columns if c == "cases" or c.startswith("n_") or c.endswith("_key")]
    q[counts] = q[counts].fillna(0).astype("int64")
    from_tables = bool(q["from_tables"].astype("boolean").fillna(False).any())
    out = _release(q, ["year"])
    # an aggregate partner's tables give no stage at the Toronto types' level, no follow-up dates,
    # and no year in the survival events: those panels would be empty, so they are not drawn
    gone = {"stage_unknown_share", "followup_completeness_share", "median_followup_years"} if from_tables else set()
    cols = ["year", "cases", *[c for c in INDICATORS if c in out.columns and c not in gone], "suppressed"]
    return disclosure.stamp(out[cols])


#: What the trend figure's gaps and dashed lines mean (its footnote says it).
TREND_NOTE = ("Dashed lines: the flag cut-offs ({rules}). A gap: not shown for that year (a share whose "
              "part or rest holds {fewer}).")


def trend_note() -> str:
    return TREND_NOTE.format(rules=FLAG_RULES, fewer=policy().fewer)


def trend_figure(df: pd.DataFrame, country: str, footnote: str | None = None):
    """The released `trend` frame as small multiples, one panel per indicator, each with its own
    scale (DCO near 0%, MV near 100%), the flag cut-offs as dashed lines; `trend_note()` belongs
    in its footnote."""
    from analytics.figures import quality_panels

    if not disclosure.is_released(df):
        raise disclosure.DisclosureError("trend_figure takes the released frame of `trend`")
    panels = {c: INDICATORS[c][0] for c in INDICATORS if c in df.columns}
    return disclosure.stamp(quality_panels(df, panels, quality.CUTOFFS,
                                           f"Data quality by year of diagnosis: {labels.country(country)}",
                                           footnote=footnote))
