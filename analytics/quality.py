"""Data-quality indicators of the pooled registries, exact (for the release layer and the command line).

The indicators are the usual validity and follow-up indicators of a cancer registry: Bray F,
Parkin DM. Evaluation of data quality in the cancer registry: principles and methods. Part I:
comparability, validity and timeliness. Eur J Cancer 2009;45:747-55 (as CI5 uses them: Bray F,
Ferlay J, CI5 Vol. XI, chapter 5), and the completeness of follow-up of Clark TG, Altman DG,
De Stavola BL. Quantification of the completeness of follow-up. Lancet 2002;359:1309-10.

Every indicator is defined once here, as SQL over the `cases` table (and `rejected_rows` for
age), so the International comparison (`analytics.compare`) and the Submissions & data quality
page (`analytics.release.quality`) show the same number for the same tumours:

- DCO %: tumours registered from a death certificate only (basis 0), among all tumours;
- MV %: microscopically verified (basis 5, 6, 7: cytology or histology), among tumours with a
  known basis (not missing, not 9);
- age unknown %: rows sent for the country with neither a birth date nor an age (`NO_AGE_SQL`:
  missing, unreadable, or coded 99), among the country's rows (its tumours plus those rows).
  Ingest rejects such rows, so they are counted from the rejected rows (by the country written in
  the row); a loaded tumour always has an age;
- sex unknown %: sex 9, among all tumours;
- stage unknown %: no Toronto stage, among tumours of the types the Toronto guidelines stage
  (`TORONTO_TYPES`; other types have no stage to know);
- follow-up completeness (Clark's C): the follow-up observed divided by the follow-up that would
  have been observed had every child been followed to the country's closing date or death, over
  the tumours analysed for survival (not DCO). The closing date is the latest date a child of the
  country was last known alive (registries follow up to a common date; a death after it does not
  move it). C = 100% means every child alive was seen at the closing date;
- median follow-up (years): the median time from diagnosis to death or last contact of the
  tumours analysed for survival (the same as on the International comparison).

The cut-offs at which a country is flagged for reading (not excluded) are this project's
screening values; the review above sets no pass marks.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from analytics.filters import Selection
from analytics.overview import REJECTED_KEY_SQL
from analytics.warehouse import cellkey_secret

#: Flags, one place (the International page's caveats, chart flags and legend, and the Submissions
#: & data quality page read these):
#: - DCO share above 5%: incidence may be incomplete, and survival is over-estimated (DCO tumours
#:   have no survival time and are left out of it);
DCO_MAX = 0.05
#: - microscopically verified share below 80%: diagnoses less certain;
MV_MIN = 0.80
#: - median follow-up of the cases analysed under 5 years: 5-year survival partly extrapolated;
FOLLOWUP_MIN_YEARS = 5.0
#: - case mix: share of children under 5 more than 10 points from the pool's (survival here is
#:   not age-standardised, and the youngest children fare differently). A caveat, not a flag.
UNDER5_MAX_DIFFERENCE = 0.10
#: The flags' cut-offs by the column they apply to (the trend figure's dashed lines, the glossary).
CUTOFFS = {"dco_share": DCO_MAX, "mv_share": MV_MIN, "median_followup_years": FOLLOWUP_MIN_YEARS}
#: The sources, as the pages cite them.
QUALITY_SOURCE = "Bray F, Parkin DM. Eur J Cancer 2009;45:747-55"
COMPLETENESS_SOURCE = "Clark TG, Altman DG, De Stavola BL. Lancet 2002;359:1309-10"

#: The tumour types the Toronto Paediatric Cancer Stage Guidelines stage (Gupta S et al., Lancet
#: Oncol 2016;17:e163-72: 16 types), read onto ICCC-3 by this project: an ICCC-3 subgroup, or an
#: extended-classification code where the subgroup also holds types the guidelines do not stage
#: (choroid plexus tumours beside ependymomas, PNET and ATRT beside medulloblastomas, rhabdoid
#: tumours and sarcomas beside Wilms tumours and hepatoblastomas). Stage unknown % is computed
#: among these; a tumour of another type has no stage to be unknown.
TORONTO_TYPES: dict[str, str] = {
    "Ia": "acute lymphoblastic leukaemia", "Ib": "acute myeloid leukaemia",
    "IIa": "Hodgkin lymphoma", "IIb": "non-Hodgkin lymphoma", "IIc": "non-Hodgkin lymphoma (Burkitt)",
    "IIIa.1": "ependymoma", "IIIc.1": "medulloblastoma", "IVa": "neuroblastoma", "V": "retinoblastoma",
    "VIa.1": "Wilms tumour", "VIIa.1": "hepatoblastoma", "VIIIa": "osteosarcoma", "VIIIc": "Ewing sarcoma",
    "IXa": "rhabdomyosarcoma", "IXb": "non-rhabdomyosarcoma soft tissue sarcoma",
    "IXd": "non-rhabdomyosarcoma soft tissue sarcoma", "IXe": "non-rhabdomyosarcoma soft tissue sarcoma",
    "Xc": "testicular and ovarian germ cell tumours",
}
#: The staged types in words, once each ("acute lymphoblastic leukaemia, acute myeloid leukaemia, ...").
STAGED_TYPES = ", ".join(dict.fromkeys(TORONTO_TYPES.values()))


def _codes(codes) -> str:
    return "(" + ", ".join(f"'{c}'" for c in codes) + ")"


_STAGED = (f"(iccc_sub IN {_codes(c for c in TORONTO_TYPES if '.' not in c)} "
           f"OR iccc_ext IN {_codes(c for c in TORONTO_TYPES if '.' in c)})")
#: What counts as "no age" in a row sent without one: a missing or unreadable birth date, and an
#: age that is missing, not a number, or a registry's unknown code (99, 999).
NO_AGE_SQL = """try_strptime(nullif(trim(json_extract_string(raw, '$.birth_date')), ''), '%Y-%m-%d') IS NULL
    AND coalesce(try_cast(trim(json_extract_string(raw, '$.age_years')) AS DOUBLE), 99) IN (99, 999)"""

#: Each counted part of an indicator, as an SQL condition on a tumour. `indicators(keys=True)`
#: returns each part's count (`n_<part>`) and record-key sum (`<part>_key`), from which the
#: release layer computes what a viewer sees (`analytics.disclosure.shares`).
PARTS = {
    "dco": "dco", "mv": "basis IN (5, 6, 7)", "basis_known": "basis IS NOT NULL AND basis <> 9",
    "under5": "age_band = '0-4'", "analysed": "NOT dco", "sex_unknown": "sex = 9",
    "staged_type": _STAGED, "stage_unknown": f"{_STAGED} AND stage IS NULL",
}
#: indicator -> (numerator part, denominator part; "cases" = all tumours)
SHARES = {"dco_share": ("dco", "cases"), "mv_share": ("mv", "basis_known"),
          "sex_unknown_share": ("sex_unknown", "cases"), "stage_unknown_share": ("stage_unknown", "staged_type"),
          "excluded_share": ("dco", "cases"), "under5_share": ("under5", "cases")}
#: What a group may be broken down by (names of `cases` columns; nothing else reaches the SQL).
BY = ("country", "year")


#: Each country's follow-up closing date: the latest date one of its children was last known alive.
CLOSING_SQL = """SELECT country AS closing_country,
                        max(last_contact_date) FILTER (WHERE event = 0 AND NOT dco) AS closing_date
                 FROM cases GROUP BY country"""


def indicators(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by=("country",),
               keys: bool = False) -> pd.DataFrame:
    """Per group of `by` (a subset of `BY`, in that order): tumours (`cases`), the shares of
    `SHARES` (0..1; NaN where the denominator is 0), `median_followup_years` and
    `followup_completeness` (Clark's C, 0..1) of the tumours analysed for survival, and the
    sums behind C (`followup_observed_days`, `followup_potential_days`).

    With `keys`, also the count and record-key sum (`analytics.disclosure`) of all tumours
    (`cases_key`) and of each part of `PARTS` (`n_dco`, `dco_key`, ...)."""
    from analytics.disclosure import key_sum_sql

    if any(b not in BY for b in by):
        raise ValueError(f"indicators by {tuple(by)!r}: only columns of {BY}")
    by = [b for b in BY if b in by]
    where, params = (selection or Selection()).where()
    cols = "".join(f"{b}, " for b in by)
    share_sql = "".join(
        f", avg(CASE WHEN {PARTS[n]} THEN 1.0 ELSE 0.0 END)"
        + (f" FILTER (WHERE {PARTS[d]})" if d != "cases" else "") + f" AS {name}"
        for name, (n, d) in SHARES.items())
    extra = ""
    if keys or "country" in by:  # the parts: released with keys, and added to an aggregate partner's
        extra = (f", {key_sum_sql()} AS cases_key"
                 + "".join(f", count(*) FILTER (WHERE {cond}) AS n_{name}, {key_sum_sql(cond)} AS {name}_key"
                           for name, cond in PARTS.items()))
    group = f"GROUP BY {', '.join(by)} ORDER BY {', '.join(by)}" if by else ""
    df = con.execute(f"""
        WITH closing AS ({CLOSING_SQL})
        SELECT {cols}count(*) AS cases{share_sql},
               median(followup_years) FILTER (WHERE NOT dco) AS median_followup_years,
               sum(followup_days) FILTER (WHERE NOT dco) AS followup_observed_days,
               sum(CASE WHEN event = 1 THEN followup_days
                        ELSE greatest(date_diff('day', diagnosis_date, closing_date), 0) END)
                 FILTER (WHERE NOT dco) AS followup_potential_days,
               max(closing_date) AS closing_date{extra}
        FROM cases LEFT JOIN closing ON cases.country = closing.closing_country
        WHERE {where} {group}""", params).df()
    pot = df["followup_potential_days"].astype(float)
    df["followup_completeness"] = (df["followup_observed_days"].astype(float) / pot).where(pot > 0)
    if not by and df["cases"].iloc[0] == 0:
        df = df.iloc[0:0]
    tables = _from_tables(con, selection or Selection(), by) if "country" in by else pd.DataFrame()
    df = df.assign(from_tables=False, also_tables=False)
    if len(tables):
        # a country that sent records for some registries and tables for others: the parts added
        df = _add_tables(df, tables, by)
        tables = tables[~tables["country"].isin(df["country"])].dropna(axis=1, how="all")
        if len(tables):
            df = pd.concat([df, tables.assign(also_tables=False)], ignore_index=True).sort_values(by, kind="stable")
            df = df.reset_index(drop=True)
    if not keys:
        df = df.drop(columns=[c for c in df.columns if c.startswith("n_") or c.endswith("_key")])
    return df


def _add_tables(df: pd.DataFrame, tables: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """`indicators` rows of records with the same groups' aggregate tables added: tumours and every
    part of `PARTS` summed (key sums mod 2**32), the shares recomputed from them (missing where the
    tables lack one), the follow-up statistics missing (a median or Clark's C of records only is
    not the country's), `also_tables` true."""
    from analytics.disclosure import KEY_MODULUS

    t = df[by].merge(tables, on=by, how="left")
    hit = t["cases"].notna().to_numpy()
    if not hit.any():
        return df
    df = df.copy()
    counts = ["cases", *(f"n_{p}" for p in PARTS)]
    keys = ["cases_key", *(f"{p}_key" for p in PARTS)]
    for c in counts:
        df.loc[hit, c] = df.loc[hit, c].to_numpy() + t.loc[hit, c].to_numpy(dtype="int64")
    for c in keys:
        df.loc[hit, c] = (df.loc[hit, c].to_numpy(dtype="int64") + t.loc[hit, c].to_numpy(dtype="int64")) % KEY_MODULUS
    for name, (num, den) in SHARES.items():
        n = df.loc[hit, f"n_{num}"].to_numpy(dtype=float)
        d = df.loc[hit, "cases" if den == "cases" else f"n_{den}"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(d > 0, n / d, np.nan)
        df.loc[hit, name] = np.where(t.loc[hit, name].isna().to_numpy() & (name != "stage_unknown_share"),
                                     np.nan, value)
    df.loc[hit, ["median_followup_years", "followup_completeness"]] = np.nan
    df.loc[hit, "also_tables"] = True
    return df


#: What the indicators of an aggregate partner (case counts and survival events, no records) are,
#: in words: where they differ from the rows', and what the tables cannot give.
FROM_TABLES = ("from the partner's tables (no records): microscopically verified among all its tumours (the "
               "tables do not say which basis was unknown); median follow-up from its survival events; stage "
               "unknown, age unknown and follow-up completeness need records and are not shown. A country that "
               "sent records for some registries and tables for others: its tumours, DCO, microscopically "
               "verified, sex unknown and under-5 shares count both; stage unknown and age unknown are of its "
               "records; its follow-up statistics are not shown")


def _from_tables(con: duckdb.DuckDBPyConnection, selection: Selection, by: list[str]) -> pd.DataFrame:
    """`indicators` of the aggregate partners, from their case counts (DCO, MV, sex unknown, under 5;
    parts and record-key sums as the rows') and survival events (median follow-up, by country
    only: the events carry no calendar year). Empty when the selection uses a column the case
    counts lack. `FROM_TABLES` says what differs."""
    from analytics import pooled
    from analytics.disclosure import KEY_MODULUS

    if pooled.lacking(selection, by, pooled.COUNT_COLUMNS):
        return pd.DataFrame()
    where, params = selection.where()
    cols = "".join(f"{b}, " for b in by)
    m = KEY_MODULUS

    def part(name: str, n: str, key: str) -> str:
        return f", CAST({n} AS BIGINT) AS n_{name}, CAST(({key}) % {m} AS BIGINT) AS {name}_key"
    sent = "count(dco) = count(*)", "count(microscopic) = count(*)"
    df = con.execute(f"""
        SELECT {cols}CAST(sum(cases) AS BIGINT) AS cases,
               CASE WHEN {sent[0]} THEN sum(dco) / sum(cases) END AS dco_share,
               CASE WHEN {sent[1]} THEN sum(microscopic) / sum(cases) END AS mv_share,
               coalesce(sum(cases) FILTER (WHERE sex = 9), 0) / sum(cases) AS sex_unknown_share,
               CAST(NULL AS DOUBLE) AS stage_unknown_share,
               CASE WHEN {sent[0]} THEN sum(dco) / sum(cases) END AS excluded_share,
               coalesce(sum(cases) FILTER (WHERE age_band = '0-4'), 0) / sum(cases) AS under5_share,
               CAST(sum(key_cases) % {m} AS BIGINT) AS cases_key
               {part('dco', f'CASE WHEN {sent[0]} THEN sum(dco) ELSE 0 END', 'sum(key_dco)')}
               {part('mv', f'CASE WHEN {sent[1]} THEN sum(microscopic) ELSE 0 END', 'sum(key_microscopic)')}
               {part('basis_known', f'CASE WHEN {sent[1]} THEN sum(cases) ELSE 0 END', 'sum(key_cases)')}
               {part('under5', "coalesce(sum(cases) FILTER (WHERE age_band = '0-4'), 0)",
                     "coalesce(sum(key_cases) FILTER (WHERE age_band = '0-4'), 0)")}
               {part('analysed', 'sum(cases) - coalesce(sum(dco), 0)',
                     f'sum(key_cases) - coalesce(sum(key_dco), 0) + {m} * count(*)')}
               {part('sex_unknown', 'coalesce(sum(cases) FILTER (WHERE sex = 9), 0)',
                     'coalesce(sum(key_cases) FILTER (WHERE sex = 9), 0)')}
               {part('staged_type', '0', '0')}{part('stage_unknown', '0', '0')}
        FROM agg_case_counts WHERE {where}
        {f"GROUP BY {', '.join(by)} ORDER BY {', '.join(by)}" if by else ""}""", params).df()
    if df.empty:
        return pd.DataFrame()
    if by == ["country"]:
        df["median_followup_years"] = df["country"].map(_median_followup(con, selection))
    return df.assign(from_tables=True)


def _median_followup(con: duckdb.DuckDBPyConnection, selection: Selection) -> dict[str, float]:
    """Per aggregate partner: the median follow-up (years) of the children in its survival events,
    as `median(followup_years)` over their rows would give it (the mean of the two middle values
    for an even number); events in completed months or years taken at the middle of their
    interval ((time + 1/2) units: the children followed j completed units were followed j to j + 1
    units, so the interval's start would understate the median)."""
    from analytics import pooled
    from analytics.schema import FOLLOWUP_UNITS

    where, params = pooled.events_where(selection, [], True, unit=None)
    rows = con.execute(f"""SELECT country, unit, time, sum(deaths + censored) AS n FROM agg_survival_events
                           WHERE {where} GROUP BY ALL""", params).df()
    mid = np.where(rows["unit"] == "day", 0.0, 0.5)
    rows = rows.assign(days=(rows["time"] + mid) * rows["unit"].map(FOLLOWUP_UNITS)).sort_values(["country", "days"])
    out = {}
    for country, g in rows.groupby("country"):
        years = g["days"].to_numpy(dtype=float) / 365.25
        n = g["n"].to_numpy(dtype=np.int64)
        total, cum = int(n.sum()), np.cumsum(n)
        lo = years[np.searchsorted(cum, (total + 1) // 2)]  # the middle (odd) or lower middle (even)
        hi = years[np.searchsorted(cum, total // 2 + 1)]
        out[country] = (lo + hi) / 2
    return out


def age_unknown(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Per country with tumours: the rows sent for it (as the row says) with neither a birth date
    nor an age (`NO_AGE_SQL`), all rejected at load (`n_age_unknown`), and with `keys` their key sum
    (`age_unknown_key`, from `overview.REJECTED_KEY_SQL`). Rows whose country is not one with
    tumours, and lines that could not be read as rows at all, are not counted here (the
    rejection reasons list them)."""
    from analytics.disclosure import key_sum_sql

    key = f", {key_sum_sql(column='k')} AS age_unknown_key" if keys else ""
    return con.execute(f"""
        WITH r AS (SELECT upper(trim(json_extract_string(raw, '$.country'))) AS country, {REJECTED_KEY_SQL} AS k
                   FROM rejected_rows JOIN submissions s USING (submission_id)
                   WHERE s.kind = 'cases'  -- a rejected row of an aggregate table is a stratum, not a tumour
                     AND json_extract_string(raw, '$.csv_line') IS NULL AND {NO_AGE_SQL})
        SELECT c.country, count(r.country) AS n_age_unknown{key}
        FROM (SELECT DISTINCT country FROM cases) c LEFT JOIN r USING (country)
        GROUP BY c.country ORDER BY c.country""", {"ck": cellkey_secret(con)}).df()


def closing_dates(con: duckdb.DuckDBPyConnection, keys: bool = False) -> pd.DataFrame:
    """Per country: its closing date (`CLOSING_SQL`) and the children alive last seen in that
    calendar month (`n_at_closing`; with `keys` their key sum `at_closing_key`): a closing date is
    a registry's common follow-up date when many children share it, and one child's date when
    few do (the release layer shows it only in the first case)."""
    from analytics.disclosure import key_sum_sql

    cond = ("event = 0 AND NOT dco AND date_trunc('month', last_contact_date) = "
            "date_trunc('month', closing_date)")
    key = f", {key_sum_sql(cond)} AS at_closing_key" if keys else ""
    return con.execute(f"""
        WITH closing AS ({CLOSING_SQL})
        SELECT country, any_value(closing_date) AS closing_date, count(*) FILTER (WHERE {cond}) AS n_at_closing{key}
        FROM cases JOIN closing ON cases.country = closing.closing_country
        GROUP BY country ORDER BY country""").df()


def part(q: pd.DataFrame, name: str):
    """(counts, key sums) of a part of `PARTS` ("cases": all tumours) in an `indicators(keys=True)`
    frame, as numpy arrays for `analytics.disclosure`."""
    if name == "cases":
        return q["cases"].to_numpy(), q["cases_key"].to_numpy()
    return q[f"n_{name}"].to_numpy(), q[f"{name}_key"].to_numpy()


def flag_rules() -> str:
    """The flag's cut-offs in words: 'DCO > 5%, microscopically verified < 80% or median
    follow-up < 5 years'."""
    return (f"DCO > {DCO_MAX:.0%}, microscopically verified < {MV_MIN:.0%} or median follow-up "
            f"< {FOLLOWUP_MIN_YEARS:g} years")


def _num(row, col) -> float | None:
    v = row.get(col) if hasattr(row, "get") else None
    return None if v is None or pd.isna(v) else float(v)


def quality_flag(row: pd.Series) -> str:
    """A short flag for a chart row or table cell: 'DCO 7.3%, follow-up 2.1 y' for the
    indicators beyond their cut-off (empty when none is; a missing value never flags)."""
    parts = []
    dco, mv, fu = _num(row, "dco_share"), _num(row, "mv_share"), _num(row, "median_followup_years")
    if dco is not None and dco > DCO_MAX:
        parts.append(f"DCO {dco:.1%}")
    if mv is not None and mv < MV_MIN:
        parts.append(f"MV {mv:.0%}")
    if fu is not None and fu < FOLLOWUP_MIN_YEARS:
        parts.append(f"follow-up {fu:.1f} y")
    return ", ".join(parts)


def caveats(row: pd.Series, pooled_under5: float | None = None) -> str:
    """Plain words for a country's data-quality and case-mix flags (empty when none)."""
    notes = []
    if bool(row.get("no_population", False)):  # first: it explains the empty incidence columns
        notes.append("no population (person-years) for its years: no incidence rate")
    u5 = _num(row, "under5_share")
    if pooled_under5 is not None and u5 is not None and abs(u5 - pooled_under5) > UNDER5_MAX_DIFFERENCE:
        notes.append(f"case mix: {u5:.0%} under 5 years vs {pooled_under5:.0%} in the pool")
    dco, mv, fu = _num(row, "dco_share"), _num(row, "mv_share"), _num(row, "median_followup_years")
    if dco is not None and dco > DCO_MAX:
        notes.append(f"{dco:.1%} registered from death certificates only (flag above {DCO_MAX:.0%}): "
                     f"incidence may be incomplete and survival over-estimated")
    if mv is not None and mv < MV_MIN:
        notes.append(f"only {mv:.0%} microscopically verified (flag below {MV_MIN:.0%})")
    if fu is not None and fu < FOLLOWUP_MIN_YEARS:
        notes.append(f"median follow-up {fu:.1f} years (flag under {FOLLOWUP_MIN_YEARS:g}): "
                     f"5-year survival partly extrapolated")
    return "; ".join(notes)
