"""What the Overview and Submissions pages and every page's data-version footnote show, released.

Each function calls `analytics.overview` with record-key sums (`keys=True`) and returns released
objects only (`analytics.disclosure`): `Count`s, frames stamped by `release_counts`, and text
built from them. Counts of tumours and of rows of a submission are perturbed on their own key sum
and hidden from 1 to T - 1 (T = `CCOE_MIN_CELL`); totals are cells of their own, so tables are not
additive. The exact figures stay on the command line (`python -m analytics ingest` prints each
file's row accounting, `python -m analytics rejected` lists the rejected rows).

Countries, submissions, years and person-years are not counts of people and are shown as they are.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from analytics import disclosure, overview
from analytics.disclosure import Count, count, policy, release_counts

#: Calendar years a selection may name (re-exported for the pages, which read no exact module).
SELECTABLE_YEARS = overview.SELECTABLE_YEARS


def year_span(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """First and last year of diagnosis the analysis pages offer (`overview.year_span`: years,
    not counts)."""
    return overview.year_span(con)


def table_note(what: str = "tumours") -> str:
    """The footnote of a released table of counts of `what` (from the policy, never a literal
    threshold)."""
    pol = policy()
    return (f"Counts are changed by a small amount, the same wherever the same {what} are counted, "
            f"and counts from 1 to {pol.threshold - 1} read {pol.below}: parts need not add up to "
            f"totals.")


def summary(con: duckdb.DuckDBPyConnection) -> dict:
    """The pool in figures, as a viewer sees it: `cases`, `rejected` and `unclassified` are
    `Count`s; `empty` says whether the warehouse holds no tumour (for pages that stop then);
    countries, year_min, year_max, submissions, synthetic, person_years, last_loaded,
    schema_version, the aggregate partners (aggregate_counts, aggregate_events) and the unit of
    survival events sent in months or years (interval_unit) as `overview.summary`; `data_version` the footnote line with the released
    number of tumours."""
    exact = overview.summary(con, keys=True)
    pol = policy()
    out = {k: exact[k] for k in ("countries", "year_min", "year_max", "submissions", "synthetic",
                                 "person_years", "last_loaded", "schema_version", "aggregate_counts",
                                 "aggregate_events", "interval_unit", "iccc_versions")}
    out["empty"] = not exact["cases"] and not exact["aggregate_events"]
    for k in ("cases", "rejected", "unclassified"):
        out[k] = count(exact[k] or 0, exact[f"{k}_key"] or 0, pol)
    out["data_version"] = overview.data_version(out)  # formats the Count: released value or "fewer than T"
    out["threshold"] = pol.threshold
    return out


def outside_years(con: duckdb.DuckDBPyConnection) -> Count:
    """Tumours whose year of diagnosis no selection can name (`overview.outside_years`)."""
    n, key = overview.outside_years(con, keys=True)
    return count(n, key)


def outside_years_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """The Overview's note on tumours outside `SELECTABLE_YEARS`; None when there are none."""
    n = outside_years(con)
    if n.exact == 0:
        return None
    lo, hi = SELECTABLE_YEARS
    return (f"{str(n).capitalize()} tumours with a year of diagnosis outside {lo}-{hi} are counted "
            f"here but on no analysis page (loaded before ingest refused such dates; remove that "
            f"submission and load it corrected).")


def cases_by_group(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Tumours by ICCC-3 main group (iccc_main, name, cases, suppressed), released: perturbed,
    hidden below T with complementary suppression within the table."""
    return release_counts(overview.cases_by_group(con, keys=True), {"cases": "cases_key"})


def cases_by_country(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Tumours, years of diagnosis and person-years by country, released. A country's `cases` is
    the perturbed count of all its tumours (the same cell, and so the same number, as the
    Incidence and International pages show for the country at ages 0-19 over all years). The
    years and person-years of a suppressed country are hidden with its count (they would tell
    the span of its few tumours)."""
    return release_counts(overview.cases_by_country(con, keys=True), {"cases": "cases_key"},
                          dependent=["first_year", "last_year", "person_years"])


def population_gaps(con: duckdb.DuckDBPyConnection) -> str | None:
    """The note on the pool's tumours (ages 0-19) whose country-year has no person-years, which
    every rate leaves out, with the number of tumours as a released `Count`; None when all are
    covered."""
    from analytics.filters import Selection
    from analytics.incidence import NoDenominators, band_counts

    try:
        left_out = band_counts(con, Selection(), [], "0-19").attrs["left_out"]
    except NoDenominators as e:  # names countries and years only
        return f"No rate can be computed from this pool: {e}."
    if left_out is None:
        return None
    return left_out_note(left_out)


def left_out_note(left_out) -> str:
    """`LeftOut.note` with its number of cases released (perturbed on the key sum of those
    cases, `LeftOut.key`, or 'fewer than T')."""
    n = count(left_out.cases, left_out.key)
    pop = "population (person-years" + (" by sex)" if left_out.sex_specific else ")")
    if left_out.cases == 0:
        return f"Left out of rates (no case of this selection there): no {pop} for {left_out.where}."
    return f"{str(n).capitalize()} cases left out of rates: no {pop} for {left_out.where}."


def submissions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every loaded submission with its rows read, loaded, rejected and unclassified released as
    counts (a submission usually holds one country's tumours). Rows read is perturbed on the key
    sum of its loaded and rejected rows together, so read = loaded + rejected does not hold in
    what a viewer sees. A submission whose rows read are hidden has all its counts hidden
    (`suppressed`), with complementary suppression across the table."""
    df = overview.submissions(con, keys=True)
    cols = ["rows_read", "rows_loaded", "rows_rejected", "rows_unclassified"]
    return release_counts(df, {c: f"{c}_key" for c in cols})


def rejection_reasons(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected rows per submission and reason, released as counts (complementary suppression
    within each submission), in the order of submission and reason: ordered by the exact number
    of rows, as the command line lists them, the rows would rank hidden counts among themselves
    and among the shown ones."""
    df = overview.rejection_reasons(con, keys=True).sort_values(["submission_id", "reason"], kind="stable")
    return release_counts(df, {"rows": "rows_key"}, groups=[["submission_id"]])


def tumour_bars(groups: pd.DataFrame, footnote: str | None = None):
    """The Overview's bar chart of tumours by ICCC-3 main group, from the released frame of
    `cases_by_group` (stamped; an unreleased frame is refused)."""
    from analytics.figures import tumour_bars as bars

    if not disclosure.is_released(groups):
        raise disclosure.DisclosureError("the tumour bars need the released frame of cases_by_group")
    return bars(groups, footnote)
