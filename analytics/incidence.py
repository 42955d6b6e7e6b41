"""Incidence: rates per million person-years, age-standardised, with confidence intervals; trends.

Conventions (IICC-3, SEER*Stat, NCCR*Explorer):

* Cases per age band (0-4, 5-9, 10-14, 15-19) come from aggregate SQL over `cases`; person-years
  from `population` (UN WPP 2022 unless a partner supplied its own): both-sexes denominators
  unless the selection is by sex, which needs sex-specific denominators (else an error says so).
* Each country contributes the person-years of the calendar years its cases cover (first to last
  year of diagnosis in the warehouse), intersected with `years` when given.
* A country-year without person-years (a country with no denominators, such as ATA; a year after
  the population table ends; a partner file covering fewer years) is left out of the rate, its
  cases from the numerator and its (absent) person-years from the denominator alike, and the
  result says how many cases were left out and where (`LeftOut`). A country-year counts as covered
  when every age band (and, for sex-specific rates, every chosen sex) has person-years > 0.
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

from analytics import engine as engines
from analytics import pooled
from analytics.disclosure import KEY_MODULUS, key_sum_sql
from analytics.filters import AGE_RANGES, Selection, SelectionError, check_by, sort_rows
from analytics.reference.standard import weights as standard_weights
from analytics.schema import PERIOD_SQL
from analytics.suppression import suppress, threshold

#: Columns incidence may be broken down by (age_group means the five-year band here).
BY_COLUMNS = ["country", "iccc_main", "iccc_sub", "sex", "age_group", "year", "period"]
#: Breakdowns whose denominators differ by value (the others share the stratum's person-years).
_POPULATION_DIMS = {"country", "year", "period", "sex", "age_group"}
STANDARDS = {"segi": "Segi 1960 world standard (Doll)", "who2000": "WHO world standard 2000-2025",
             "esp2013": "European Standard Population 2013"}
CI_METHODS = {"tiwari": "Tiwari et al. 2006 modified gamma", "fay-feuer": "Fay-Feuer 1997 gamma"}
PER = 1e6


class NoDenominators(SelectionError):
    """No country-year of the selection has person-years: there is no rate to compute."""


@dataclass(frozen=True)
class LeftOut:
    """Cases of a selection left out of its rates because their country-year has no person-years.

    `cases`: how many (the person-years of those country-years are absent from the denominator
    too); `where`: which countries and years, e.g. "ATA (all years), FRA 2022-2024"."""

    cases: int
    where: str
    sex_specific: bool = False
    #: record-key sum of those cases (`analytics.disclosure`), for the viewers' released note
    key: int = field(default=0, repr=False, compare=False)

    def note(self) -> str:
        """The plain-language note pages and the command line show."""
        pop = "population (person-years" + (" by sex)" if self.sex_specific else ")")
        if 0 < self.cases < threshold():  # a small count is not printed (see suppression.py)
            return f"Fewer than {threshold()} cases left out of rates: no {pop} for {self.where}."
        if self.cases:
            return (f"{self.cases:,} case{'s' if self.cases != 1 else ''} left out of rates: "
                    f"no {pop} for {self.where}.")
        return f"Left out of rates (no case of this selection there): no {pop} for {self.where}."


@dataclass
class IncidenceResult:
    """Rates by the breakdown (`table`), age-specific rates (`age_specific`), and plain-words notes.

    `left_out` says which cases had no person-years and were left out of every rate (None when
    all were covered); its note is also the first of `notes` and `table.attrs["left_out"]` (a
    string, so it survives the pages' cache)."""

    table: pd.DataFrame
    age_specific: pd.DataFrame
    by: list[str]
    notes: list[str] = field(default_factory=list)
    left_out: LeftOut | None = None


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
        return PERIOD_SQL.format(year="p.year")
    return f"{alias}.{col}"


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
                ages: str = "0-19", keys: bool = False, engine=None) -> pd.DataFrame:
    """Cases and person-years per (breakdown values, age band), zero-filled, from aggregate SQL,
    over the country-years that have person-years (see the module docstring).

    Columns: the `by` columns, age_band, cases, person_years; with `keys`, also `cases_key`, the
    record-key sum of each cell's cases (`analytics.disclosure`, 0 for an empty cell).
    `attrs["left_out"]` is a `LeftOut` when cases were left out for want of person-years, else
    None. Raises NoDenominators when no country-year of the selection has person-years but some
    has cases."""
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
    pop_year_sql = " WHERE list_contains($pop_years, year)" if pop_years is not None else ""
    if pop_years is not None:
        params["pop_years"] = pop_years
    pop_dims = [b for b in by if b in _POPULATION_DIMS]
    case_dims = [b for b in by if b not in _POPULATION_DIMS]
    source = pooled.tumours_sql(selection, by)  # the rows and the case counts of aggregate partners
    if sex_specific:
        sexes = list(selection.filters.get("sex", (1, 2)))
        if 9 in sexes:
            raise SelectionError("sex 9 (unknown) has no denominator; choose 1 or 2")
        params["sexes"] = sexes
        pop_sex = "p.sex IN (1, 2) AND list_contains($sexes, p.sex)"
    else:
        sexes = [0]
        pop_sex = "p.sex = 0"
    params["cells"] = len(bands) * len(set(sexes))  # population rows a covered country-year has
    p_cols = ", ".join([f"{_dim_sql(b, 'p')} AS {b}" for b in pop_dims] + ["p.age_group AS age_band"])
    c_cols = ", ".join([f"{_dim_sql(b, 'c')} AS {b}" for b in by] + ["c.age_band"])
    join_on = " AND ".join([f"n.{b} IS NOT DISTINCT FROM d.{b}" for b in pop_dims + ["age_band"]])
    values = (", ".join(f"v.{b}" for b in case_dims) + ", ") if case_dims else ""
    # values of the non-population breakdowns: those with cases, plus those asked for by a filter
    case_values = (f"CROSS JOIN (SELECT DISTINCT {', '.join(case_dims)} FROM num) v") if case_dims else ""
    # coverage: each country's years with cases (within the selection's years); needed: those
    # years one by one; covered: the needed country-years with person-years in every cell.
    ctes = f"""
    coverage AS (
        SELECT c.country, greatest(min(c.year), $cy0) AS y0, least(max(c.year), $cy1) AS y1
        FROM {source} c WHERE {cov_where} GROUP BY c.country),
    needed AS (
        SELECT * FROM (SELECT country, CAST(y AS INTEGER) AS year
                       FROM (SELECT country, unnest(range(y0, y1 + 1)) AS y FROM coverage)){pop_year_sql}),
    covered AS (
        SELECT nd.country, nd.year FROM needed nd
        JOIN population p ON p.country = nd.country AND p.year = nd.year
        WHERE p.person_years > 0 AND {pop_sex} AND list_contains($bands, p.age_group)
        GROUP BY ALL HAVING count(*) = $cells)"""
    run = engines.of(con, engine)  # where the aggregates run (analytics.engine; default DuckDB on con)
    left_out = _left_out(run, ctes, source, where, params, pop_sex, sex_specific)
    key_col = f", {key_sum_sql(column='c.key')} AS cases_key" if keys else ""
    key_out = ", coalesce(n.cases_key, 0) AS cases_key" if keys else ""
    sql = f"""
    WITH {ctes},
    denom AS (
        SELECT {p_cols}, sum(p.person_years) AS person_years
        FROM population p JOIN covered cv ON p.country = cv.country AND p.year = cv.year
        WHERE {pop_sex} AND list_contains($bands, p.age_group)
        GROUP BY ALL),
    num AS (  -- only cases in covered country-years, as the denominator
        SELECT {c_cols}, CAST(sum(c.n) AS BIGINT) AS cases{key_col}
        FROM {source} c JOIN covered cv ON c.country = cv.country AND c.year = cv.year
        WHERE {where} AND list_contains($bands, c.age_band)
        GROUP BY ALL)
    SELECT {values}d.*, coalesce(n.cases, 0) AS cases{key_out}
    FROM denom d {case_values}
    LEFT JOIN num n ON {join_on}{''.join(f' AND n.{b} IS NOT DISTINCT FROM v.{b}' for b in case_dims)}
    ORDER BY ALL  -- a fixed order: the rate sums over age bands then agree to the last bit, run after run
    """
    df = run.df(sql, params)
    if sex_specific and df.empty is False and (df["person_years"] <= 0).any():
        raise SelectionError("sex-specific denominators are not available for this selection")
    if sex_specific and df.empty:
        raise SelectionError("sex-specific rates are unavailable: the population table has only "
                             "both-sexes denominators (UN WPP) for this selection")
    df = df[by + ["age_band", "cases", "person_years"] + (["cases_key"] if keys else [])]
    df.attrs["left_out"] = left_out
    df.attrs["notes"] = pooled.left_out(con, "agg_case_counts", selection, by)
    return df


def _left_out(run, ctes: str, source: str, where: str, params: dict, pop_sex: str,
              sex_specific: bool) -> LeftOut | None:
    """The selection's cases in country-years without person-years, and those country-years
    (`ctes` defines needed and covered; "(all years)" for a country the population table does not
    know); None when every country-year is covered. Raises NoDenominators (or, for sex-specific
    rates, the plain both-sexes-only refusal) when no country-year is covered at all. `run`: the
    engine (`analytics.engine`)."""
    rows = run.rows(f"""
        WITH {ctes},
        gaps AS (SELECT country, list_sort(list(year)) AS years
                 FROM (SELECT country, year FROM needed EXCEPT SELECT country, year FROM covered)
                 GROUP BY country),
        lost AS (SELECT c.country, sum(c.n) AS cases, sum(c.key) AS key FROM {source} c
                 ANTI JOIN covered cv ON c.country = cv.country AND c.year = cv.year
                 WHERE {where} AND list_contains($bands, c.age_band) GROUP BY c.country),
        known AS (SELECT DISTINCT p.country FROM population p WHERE {pop_sex})
        SELECT country, g.years, coalesce(l.cases, 0),
               country NOT IN (SELECT country FROM known) AS unknown,
               (SELECT count(*) FROM covered) AS n_covered, CAST(coalesce(l.key, 0) % {KEY_MODULUS} AS BIGINT)
        FROM gaps g FULL JOIN lost l USING (country) ORDER BY country""", params)
    if not rows:
        return None
    nothing_covered = rows[0][4] == 0
    if nothing_covered and sex_specific:
        raise SelectionError("sex-specific rates are unavailable: the population table has only "
                             "both-sexes denominators (UN WPP) for this selection")
    where_txt = ", ".join(f"{c} (all years)" if unknown else f"{c} {_year_ranges(years)}" if years
                          else f"{c} (years outside {params['cy0']}-{params['cy1']})"
                          for c, years, _, unknown, _, _ in rows)
    if nothing_covered:
        raise NoDenominators(f"no population (person-years) for {where_txt}: no rate can be computed. "
                             f"Load them with `python -m analytics population FILE`, or choose other "
                             f"countries or years")
    return LeftOut(int(sum(r[2] for r in rows)), where_txt, sex_specific,
                   key=int(sum(r[5] for r in rows)) % KEY_MODULUS)


# ------------------------------------------------------------------------------------------------
# The estimator
# ------------------------------------------------------------------------------------------------

def check_methods(standard: str, ci: str) -> None:
    """Refuse an unknown standard population or CI method (SelectionError, plain words)."""
    if standard not in STANDARDS:
        raise SelectionError(f"standard: '{standard}' is not one of {', '.join(STANDARDS)}")
    if ci not in CI_METHODS:
        raise SelectionError(f"ci: '{ci}' is not one of {', '.join(CI_METHODS)}")


def incidence(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by: list[str] = (),
              ages: str = "0-19", standard: str = "segi", ci: str = "tiwari",
              min_cases: int | None = None, engine=None) -> IncidenceResult:
    """Rates per million person-years by `by`, for the selection, suppressed below `min_cases`.
    `engine`: where the case and person-year aggregates run (`analytics.engine`; default DuckDB)."""
    selection = selection or Selection()
    by = list(by)
    check_methods(standard, ci)
    counts = band_counts(con, selection, by, ages, engine=engine)
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
    notes = method_notes(ages, bands, standard, ci) + [f"Rates from fewer than {n_min} cases are suppressed."]
    left_out = counts.attrs["left_out"]
    if left_out:
        notes.insert(0, left_out.note())
    notes += [str(n) for n in counts.attrs["notes"]]  # exact counts: the command line
    table.attrs["left_out"] = age.attrs["left_out"] = left_out.note() if left_out else None
    return IncidenceResult(table, age, by, notes, left_out)


def method_notes(ages: str, bands: list[str], standard: str, ci: str) -> list[str]:
    """The methods notes of a table of rates: units, ages, standard, intervals, denominators."""
    return [
        f"Rates per million person-years, ages {ages} ({', '.join(bands)}).",
        f"Age-standardised rate: direct method, {STANDARDS[standard]} weights renormalised over "
        f"{', '.join(bands)}; 95% CI: {CI_METHODS[ci]}. Crude and age-specific rates: exact Poisson 95% CI.",
        "Denominators: UN World Population Prospects 2022 (both sexes) unless a partner supplied its own; "
        "each country contributes the years its cases cover.",
    ]


def _slices(by: list[str]) -> list[list[str]]:
    """Groupings within which complementary suppression must hold: for each breakdown column,
    the rows sharing the values of all the other columns (their total could be shown)."""
    return [[b for b in by if b != col] for col in by] or [[]]


def trend(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by: list[str] = (),
          ages: str = "0-19", standard: str = "segi", ci: str = "tiwari",
          min_cases: int | None = None, engine=None) -> pd.DataFrame:
    """APC of the yearly ASRs per group of `by`, with 95% CI; suppressed where the group has fewer
    cases in all than the threshold. Years without person-years are left out of the yearly rates;
    `attrs["left_out"]` is then the note saying so (as `IncidenceResult`), else None. `engine`: as
    `incidence`."""
    by = list(by)
    if "period" in by or "year" in by:
        raise SelectionError("a trend is over the years of diagnosis: it cannot be broken down by year or period")
    counts = band_counts(con, selection or Selection(), by + ["year"], ages, engine=engine)
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
    df = suppress(df, "cases", ["apc", "apc_lower", "apc_upper"], groups=_slices(by), n=min_cases)
    df.attrs["left_out"] = counts.attrs["left_out"].note() if counts.attrs["left_out"] else None
    return df


def rate_ratio(con: duckdb.DuckDBPyConnection, selection: Selection, period1: tuple[int, int],
               period2: tuple[int, int], ages: str = "0-19", standard: str = "segi",
               min_cases: int | None = None) -> dict:
    """ASR of period2 over ASR of period1 with a log-normal 95% CI (see the module docstring).

    Country-years without person-years are left out of both periods' rates; a period with none
    at all gives no ratio (suppressed, with `reason`)."""
    out = {}
    for name, years in (("1", period1), ("2", period2)):
        sel = Selection(dict(selection.filters), tuple(years))
        try:
            counts = band_counts(con, sel, [], ages)
        except NoDenominators as e:
            return {"rate_ratio": np.nan, "lower": np.nan, "upper": np.nan, "suppressed": True,
                    "reason": str(e)}
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
