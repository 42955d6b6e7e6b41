"""Incidence: rates per million person-years, age-standardised, with confidence intervals; trends.

Conventions (IICC-3, SEER*Stat, NCCR*Explorer):

* Cases per age band (0-4, 5-9, 10-14, 15-19) come from aggregate SQL over `cases`; person-years
  from `population` (UN WPP 2022 unless a partner supplied its own): both-sexes denominators
  unless the selection is by sex, which needs sex-specific denominators (else an error says so).
* Each country contributes the person-years of the calendar years its cases cover (first to last
  year of diagnosis in the warehouse), intersected with `years` when given.
* Crude and age-specific rates: cases / person-years x 10^6, exact Poisson 95% CI
  (Garwood 1936: chi-square quantiles).
* Age-standardised rate (direct method): sum_b w_b d_b / n_b x 10^6 with the standard's weights w_b
  renormalised to sum to one over the bands of the chosen age range (Segi 1960 world standard as
  modified by Doll by default; WHO 2000-2025 and European 2013 as options).
  Variance v = sum_b w_b^2 d_b / n_b^2.
* ASR 95% CI: Tiwari RC, Clegg LX, Zou Z. Stat Methods Med Res 2006;15:547-69 (modified gamma,
  SEER*Stat's default): lower = Gamma^-1(alpha/2; y^2/v, v/y); upper = Gamma^-1(1-alpha/2;
  (y+z)^2/(v+z2), (v+z2)/(y+z)) with z = mean_b(w_b/n_b), z2 = mean_b((w_b/n_b)^2).
  Fay MP, Feuer EJ. Stat Med 1997;16:791-801 as an option: z = max_b(w_b/n_b), z2 = z^2
  (as R's epitools::ageadjust.direct). With no cases the lower limit is 0.
* Trend: annual percent change APC = 100 (e^b - 1) from the least-squares line of ln(yearly ASR)
  on calendar year (years with a zero rate left out), 95% CI from the t distribution with n-2
  degrees of freedom (SEER*Stat's method).
* Rate ratio between two periods: ratio of ASRs with a log-normal (delta-method) 95% CI,
  var(ln RR) = v1/y1^2 + v2/y2^2.

Small numbers: rows with fewer cases than the threshold (`suppression.py`) have their counts and
every rate derived from them suppressed before the frame leaves this module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics.filters import AGE_RANGES, Selection, SelectionError, check_by, sort_rows
from analytics.reference.standard import weights as standard_weights
from analytics.suppression import suppress, threshold

#: Columns incidence may be broken down by (age_group means the five-year band here).
BY_COLUMNS = ["country", "iccc_main", "iccc_sub", "sex", "age_group", "year", "period"]
#: Breakdowns whose denominators differ by value (the others share the stratum's person-years).
_POPULATION_DIMS = {"country", "year", "period", "sex", "age_group"}
STANDARDS = {"segi": "Segi 1960 world standard (Doll)", "who2000": "WHO world standard 2000-2025",
             "esp2013": "European Standard Population 2013"}
CI_METHODS = {"tiwari": "Tiwari et al. 2006 modified gamma", "fay-feuer": "Fay-Feuer 1997 gamma"}
PER = 1e6


@dataclass
class IncidenceResult:
    """Rates by the breakdown (`table`), age-specific rates (`age_specific`), and plain-words notes."""

    table: pd.DataFrame
    age_specific: pd.DataFrame
    by: list[str]
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# The formulas, on plain arrays (tested against R)
# ------------------------------------------------------------------------------------------------

def poisson_ci(cases, person_years, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson CI of a rate (per person-year): chi2(a/2, 2d)/2n, chi2(1-a/2, 2d+2)/2n."""
    d = np.asarray(cases, dtype=float)
    n = np.asarray(person_years, dtype=float)
    a = 1 - level
    with np.errstate(divide="ignore", invalid="ignore"):  # no person-years: no rate (NaN/inf), no warning
        lower = np.where(d > 0, stats.chi2.ppf(a / 2, 2 * d) / 2, 0.0) / n
        upper = stats.chi2.ppf(1 - a / 2, 2 * d + 2) / 2 / n
    return lower, upper


def gamma_ci(y, v, z, z2, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Gamma interval of directly standardised rates (arrays): rate y, variance v, and the
    upper-limit terms z, z2 of the chosen method (see the module docstring)."""
    y, v, z, z2 = (np.asarray(x, dtype=float) for x in (y, v, z, z2))
    a = 1 - level
    pos = y > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(pos, stats.gamma.ppf(a / 2, np.where(pos, y ** 2 / v, 1.0),
                                              scale=np.where(pos, v / y, 1.0)), 0.0)
        upper = stats.gamma.ppf(1 - a / 2, (y + z) ** 2 / (v + z2), scale=(v + z2) / (y + z))
    return lower, upper


def asr_terms(d, n, w, ci: str) -> tuple[float, float, float, float]:
    """(y, v, z, z2) of one group from its per-band cases d, person-years n and weights w (sum 1)."""
    wn = w / n
    if ci == "tiwari":
        z, z2 = wn.mean(), (wn ** 2).mean()
    elif ci == "fay-feuer":
        z = wn.max()
        z2 = z ** 2
    else:
        raise ValueError(f"unknown CI method {ci!r}")
    return (w * d / n).sum(), (w ** 2 * d / n ** 2).sum(), z, z2


def direct_asr(cases, person_years, w, ci: str = "tiwari", level: float = 0.95) -> tuple[float, float, float, float]:
    """Directly standardised rate (per person-year) with its gamma CI and variance.

    `cases`, `person_years`, `w` are per age band; `w` sums to one. Returns (asr, lower, upper, var).
    """
    y, v, z, z2 = asr_terms(np.asarray(cases, dtype=float), np.asarray(person_years, dtype=float),
                            np.asarray(w, dtype=float), ci)
    lower, upper = gamma_ci([y], [v], [z], [z2], level)
    return float(y), float(lower[0]), float(upper[0]), float(v)


def asr_table(counts: pd.DataFrame, by: list[str], w_all: dict[str, float], ci: str) -> pd.DataFrame:
    """Vectorised over groups: `counts` has the `by` columns, age_band, cases, person_years; the
    weights are renormalised within each group over the bands it has. Rates per person-year."""
    if ci not in ("tiwari", "fay-feuer"):
        raise ValueError(f"unknown CI method {ci!r}")
    c = counts.assign(w=counts["age_band"].map(w_all))
    keys = by or None
    c["w"] = c["w"] / (c.groupby(keys)["w"].transform("sum") if keys else c["w"].sum())
    c = c.assign(wdn=c["w"] * c["cases"] / c["person_years"],
                 w2dn2=c["w"] ** 2 * c["cases"] / c["person_years"] ** 2,
                 wn=c["w"] / c["person_years"])
    c["wn2"] = c["wn"] ** 2
    agg = {"cases": "sum", "person_years": "sum", "wdn": "sum", "w2dn2": "sum",
           "wn": "mean" if ci == "tiwari" else "max", "wn2": "mean" if ci == "tiwari" else "max"}
    g = c.groupby(by, sort=False, dropna=False).agg(agg).reset_index() if by else c.agg(agg).to_frame().T
    z2 = g["wn2"] if ci == "tiwari" else g["wn"] ** 2
    lower, upper = gamma_ci(g["wdn"], g["w2dn2"], g["wn"], z2)
    clo, chi = poisson_ci(g["cases"], g["person_years"])
    return pd.DataFrame({**{b: g[b] for b in by}, "cases": g["cases"].astype(int),
                         "person_years": g["person_years"].astype(float),
                         "crude_rate": g["cases"] / g["person_years"], "crude_lower": clo, "crude_upper": chi,
                         "asr": g["wdn"].astype(float), "asr_lower": lower, "asr_upper": upper,
                         "asr_var": g["w2dn2"].astype(float)})


def apc(years, rates, level: float = 0.95) -> tuple[float, float, float]:
    """Annual percent change from a log-linear least-squares fit; (apc, lower, upper) in %.
    NaN when fewer than three years have a positive rate."""
    x = np.asarray(years, dtype=float)
    r = np.asarray(rates, dtype=float)
    ok = r > 0
    x, ly = x[ok], np.log(r[ok])
    if len(x) < 3:
        return (np.nan, np.nan, np.nan)
    fit = stats.linregress(x, ly)
    t = stats.t.ppf(1 - (1 - level) / 2, len(x) - 2)
    to_pct = lambda b: 100 * (np.exp(b) - 1)  # noqa: E731
    return (to_pct(fit.slope), to_pct(fit.slope - t * fit.stderr), to_pct(fit.slope + t * fit.stderr))


# ------------------------------------------------------------------------------------------------
# Counts from the warehouse
# ------------------------------------------------------------------------------------------------

def _bands(selection: Selection, ages: str) -> list[str]:
    if ages not in AGE_RANGES:
        raise SelectionError(f"ages: '{ages}' is not one of {', '.join(AGE_RANGES)}")
    bands = AGE_RANGES[ages]
    chosen = set(selection.filters.get("age_band", ())) | set(selection.filters.get("age_group", ()))
    if chosen:
        bad = sorted(chosen - {"0-4", "5-9", "10-14", "15-19"})
        if bad:
            raise SelectionError(f"incidence uses five-year age groups (0-4, 5-9, 10-14, 15-19); "
                                 f"'{bad[0]}' has no WPP denominator")
        bands = [b for b in bands if b in chosen]
        if not bands:
            raise SelectionError(f"the age filter and ages {ages} do not overlap")
    return bands


def _dim_sql(col: str, alias: str) -> str:
    """SQL for a breakdown column in the cases (alias c) or population (alias p) table."""
    if col == "age_group":
        return f"{alias}.age_band" if alias == "c" else f"{alias}.age_group"
    if col == "period" and alias == "p":
        return "CAST(p.year // 5 * 5 AS VARCHAR) || '-' || CAST(p.year // 5 * 5 + 4 AS VARCHAR)"
    return f"{alias}.{col}"


def _check_population_years(con, coverage: str, pop_sex: str, pop_year_sql: str, params: dict,
                            pop_years: list[int] | None) -> None:
    """Every year in which a selected country has cases (within the selection's years) needs
    person-years: a partner population file covering fewer years would otherwise shrink the
    denominator and inflate the rate. Raises SelectionError naming the missing years."""
    rows = con.execute(f"""
        WITH coverage AS ({coverage})
        SELECT cv.country, cv.y0, cv.y1, list(DISTINCT p.year) FILTER (WHERE p.year IS NOT NULL)
        FROM coverage cv LEFT JOIN population p
          ON p.country = cv.country AND p.year BETWEEN cv.y0 AND cv.y1 AND p.person_years > 0
             AND {pop_sex} AND list_contains($bands, p.age_group){pop_year_sql}
        GROUP BY ALL ORDER BY cv.country""", params).fetchall()
    if "sexes" in params and rows and not any(have for *_, have in rows):
        raise SelectionError("sex-specific rates are unavailable: the population table has only "
                             "both-sexes denominators (UN WPP) for this selection")
    gaps = []
    for country, y0, y1, have in rows:
        needed = set(range(y0, y1 + 1)) & (set(pop_years) if pop_years is not None else set(range(y0, y1 + 1)))
        missing = sorted(needed - set(have or []))
        if missing:
            gaps.append(f"{country} {_year_ranges(missing)}")
    if gaps:
        raise SelectionError(f"no population (person-years) for years with cases: {'; '.join(gaps)}. "
                             f"Load them with `python -m analytics population FILE`, or choose other years")


def _year_ranges(years: list[int]) -> str:
    """[2002, 2003, 2004, 2010] -> '2002-2004, 2010'."""
    out, start = [], years[0]
    for a, b in zip(years, years[1:] + [None]):
        if b != a + 1:
            out.append(f"{start}-{a}" if a > start else f"{a}")
            start = b
    return ", ".join(out)


def _filtered_years(selection: Selection) -> list[int] | None:
    """The calendar years a `year` or `period` filter allows (both: the years in both), or None."""
    sets = []
    if "year" in selection.filters:
        sets.append({int(y) for y in selection.filters["year"]})
    if "period" in selection.filters:
        sets.append({y for p in selection.filters["period"]
                     for y in range(int(p[:4]), int(p[5:]) + 1)})
    return sorted(set.intersection(*sets)) if sets else None


def band_counts(con: duckdb.DuckDBPyConnection, selection: Selection, by: list[str],
                ages: str = "0-19") -> pd.DataFrame:
    """Cases and person-years per (breakdown values, age band), zero-filled, from aggregate SQL.

    Columns: the `by` columns, age_band, cases, person_years."""
    by = check_by(by, BY_COLUMNS)
    if "registry" in selection.filters:
        raise SelectionError("incidence by registry needs registry populations, which are not "
                             "loaded; filter by country instead")
    bands = _bands(selection, ages)
    sex_specific = "sex" in by or "sex" in selection.filters
    where, params = selection.where("c", skip=("age_band", "age_group"))
    params["bands"] = bands
    cov_where, cov_params = selection.where("c", skip=tuple(k for k in selection.filters if k != "country") + ("year",))
    params.update(cov_params)
    y_from, y_to = selection.years or (1900, 2100)
    params.update({"cy0": y_from, "cy1": y_to})
    # A year or period filter narrows the person-years to the same years as the cases.
    pop_years = _filtered_years(selection)
    pop_year_sql = " AND list_contains($pop_years, p.year)" if pop_years is not None else ""
    if pop_years is not None:
        params["pop_years"] = pop_years
    pop_dims = [b for b in by if b in _POPULATION_DIMS]
    case_dims = [b for b in by if b not in _POPULATION_DIMS]
    if sex_specific:
        sexes = list(selection.filters.get("sex", (1, 2)))
        if 9 in sexes:
            raise SelectionError("sex 9 (unknown) has no denominator; choose 1 or 2")
        params["sexes"] = sexes
        pop_sex = "p.sex IN (1, 2) AND list_contains($sexes, p.sex)"
    else:
        pop_sex = "p.sex = 0"
    p_cols = ", ".join([f"{_dim_sql(b, 'p')} AS {b}" for b in pop_dims] + ["p.age_group AS age_band"])
    c_cols = ", ".join([f"{_dim_sql(b, 'c')} AS {b}" for b in by] + ["c.age_band"])
    join_on = " AND ".join([f"n.{b} IS NOT DISTINCT FROM d.{b}" for b in pop_dims + ["age_band"]])
    values = (", ".join(f"v.{b}" for b in case_dims) + ", ") if case_dims else ""
    # values of the non-population breakdowns: those with cases, plus those asked for by a filter
    case_values = (f"CROSS JOIN (SELECT DISTINCT {', '.join(case_dims)} FROM num) v") if case_dims else ""
    coverage = f"""
        SELECT c.country, greatest(min(c.year), $cy0) AS y0, least(max(c.year), $cy1) AS y1
        FROM cases c WHERE {cov_where} GROUP BY c.country"""
    _check_population_years(con, coverage, pop_sex, pop_year_sql,
                            {k: v for k, v in params.items() if k in cov_params or k in
                             ("cy0", "cy1", "bands", "sexes", "pop_years")}, pop_years)
    sql = f"""
    WITH coverage AS ({coverage}),
    denom AS (
        SELECT {p_cols}, sum(p.person_years) AS person_years
        FROM population p JOIN coverage cv ON p.country = cv.country AND p.year BETWEEN cv.y0 AND cv.y1
        WHERE {pop_sex} AND list_contains($bands, p.age_group){pop_year_sql}
        GROUP BY ALL),
    num AS (  -- a case's year always lies within its own country's coverage: no join needed
        SELECT {c_cols}, count(*) AS cases
        FROM cases c
        WHERE {where} AND list_contains($bands, c.age_band)
        GROUP BY ALL)
    SELECT {values}d.*, coalesce(n.cases, 0) AS cases
    FROM denom d {case_values}
    LEFT JOIN num n ON {join_on}{''.join(f' AND n.{b} IS NOT DISTINCT FROM v.{b}' for b in case_dims)}
    ORDER BY ALL  -- a fixed order: the rate sums over age bands then agree to the last bit, run after run
    """
    df = con.execute(sql, params).df()
    if sex_specific and df.empty is False and (df["person_years"] <= 0).any():
        raise SelectionError("sex-specific denominators are not available for this selection")
    if sex_specific and df.empty:
        raise SelectionError("sex-specific rates are unavailable: the population table has only "
                             "both-sexes denominators (UN WPP) for this selection")
    return df[by + ["age_band", "cases", "person_years"]]


# ------------------------------------------------------------------------------------------------
# The estimator
# ------------------------------------------------------------------------------------------------

def incidence(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by: list[str] = (),
              ages: str = "0-19", standard: str = "segi", ci: str = "tiwari",
              min_cases: int | None = None) -> IncidenceResult:
    """Rates per million person-years by `by`, for the selection, suppressed below `min_cases`."""
    selection = selection or Selection()
    by = list(by)
    if standard not in STANDARDS:
        raise SelectionError(f"standard: '{standard}' is not one of {', '.join(STANDARDS)}")
    if ci not in CI_METHODS:
        raise SelectionError(f"ci: '{ci}' is not one of {', '.join(CI_METHODS)}")
    counts = band_counts(con, selection, by, ages)
    bands = _bands(selection, ages)
    w_all = standard_weights(con, standard, bands)
    table = asr_table(counts, by, w_all, ci).drop(columns="asr_var")
    for col in ("crude_rate", "crude_lower", "crude_upper", "asr", "asr_lower", "asr_upper"):
        table[col] = table[col] * PER
    rate_cols = ["crude_rate", "crude_lower", "crude_upper", "asr", "asr_lower", "asr_upper"]
    table = sort_rows(table, by)
    table = suppress(table, "cases", rate_cols, groups=_slices(by), n=min_cases)

    age = counts.groupby(by + ["age_band"], dropna=False, sort=False)[["cases", "person_years"]].sum().reset_index()
    lo, hi = poisson_ci(age["cases"], age["person_years"])
    age = age.assign(rate=age["cases"] / age["person_years"] * PER, lower=lo * PER, upper=hi * PER)
    age = sort_rows(age, by + ["age_band"])
    age = suppress(age, "cases", ["rate", "lower", "upper"], groups=_slices(by + ["age_band"]), n=min_cases)

    n_min = min_cases or threshold()
    notes = [
        f"Rates per million person-years, ages {ages} ({', '.join(bands)}).",
        f"Age-standardised rate: direct method, {STANDARDS[standard]} weights renormalised over "
        f"{', '.join(bands)}; 95% CI: {CI_METHODS[ci]}. Crude and age-specific rates: exact Poisson 95% CI.",
        "Denominators: UN World Population Prospects 2022 (both sexes) unless a partner supplied its own; "
        "each country contributes the years its cases cover.",
        f"Rates from fewer than {n_min} cases are suppressed.",
    ]
    return IncidenceResult(table, age, by, notes)


def _slices(by: list[str]) -> list[list[str]]:
    """Groupings within which complementary suppression must hold: for each breakdown column,
    the rows sharing the values of all the other columns (their total could be shown)."""
    return [[b for b in by if b != col] for col in by] or [[]]


def trend(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by: list[str] = (),
          ages: str = "0-19", standard: str = "segi", ci: str = "tiwari",
          min_cases: int | None = None) -> pd.DataFrame:
    """APC of the yearly ASRs per group of `by`, with 95% CI; suppressed where the group has fewer
    cases in all than the threshold."""
    by = list(by)
    if "period" in by or "year" in by:
        raise SelectionError("a trend is over the years of diagnosis: it cannot be broken down by year or period")
    counts = band_counts(con, selection or Selection(), by + ["year"], ages)
    bands = _bands(selection or Selection(), ages)
    yearly = asr_table(counts, by + ["year"], standard_weights(con, standard, bands), ci)
    yearly = yearly[yearly["person_years"] > 0]  # no denominator, no year (an empty selection, say)
    rows = []
    for key, g in (yearly.groupby(by, dropna=False, sort=False) if by else [((), yearly)] if len(yearly) else []):
        key = key if isinstance(key, tuple) else (key,)
        a, lo, hi = apc(g["year"], g["asr"] * PER)
        rows.append(dict(zip(by, key)) | {"cases": int(g["cases"].sum()), "first_year": int(g["year"].min()),
                                           "last_year": int(g["year"].max()), "apc": a, "apc_lower": lo,
                                           "apc_upper": hi})
    df = pd.DataFrame(rows, columns=by + ["cases", "first_year", "last_year", "apc", "apc_lower", "apc_upper"])
    df = sort_rows(df, by)
    return suppress(df, "cases", ["apc", "apc_lower", "apc_upper"], groups=_slices(by), n=min_cases)


def rate_ratio(con: duckdb.DuckDBPyConnection, selection: Selection, period1: tuple[int, int],
               period2: tuple[int, int], ages: str = "0-19", standard: str = "segi",
               min_cases: int | None = None) -> dict:
    """ASR of period2 over ASR of period1 with a log-normal 95% CI (see the module docstring)."""
    out = {}
    for name, years in (("1", period1), ("2", period2)):
        sel = Selection(dict(selection.filters), tuple(years))
        counts = band_counts(con, sel, [], ages)
        t = asr_table(counts, [], standard_weights(con, standard, _bands(sel, ages)), "tiwari").iloc[0]
        out[name] = (t["asr"], t["asr_var"], int(t["cases"]))
    (y1, v1, n1), (y2, v2, n2) = out["1"], out["2"]
    n_min = min_cases or threshold()
    if min(n1, n2) < n_min or y1 == 0 or y2 == 0:
        return {"rate_ratio": np.nan, "lower": np.nan, "upper": np.nan, "suppressed": True}
    rr = y2 / y1
    se = np.sqrt(v1 / y1 ** 2 + v2 / y2 ** 2)
    return {"rate_ratio": rr, "lower": rr * np.exp(-1.959963984540054 * se),
            "upper": rr * np.exp(1.959963984540054 * se), "suppressed": False}
