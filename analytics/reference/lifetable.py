"""All-cause life tables (`life_table`): the expected mortality behind relative survival.

Format: Human Mortality Database (HMD) period life tables by single year of age and calendar year
("1x1"), one file per sex: `mltper_1x1.txt` (males), `fltper_1x1.txt` (females). A title line,
a blank line, then a whitespace-separated table with the header
`Year Age mx qx ax lx dx Lx Tx ex` and one row per year and age 0, 1, ..., 109, '110+'.
Kept: mx (central death rate, deaths per person-year at that age and year) and qx (probability
of dying between exact ages x and x+1); '110+' is stored as age 110.

Default data: the USA tables shipped in the PyPI package lifetables==0.0.11
(`lifetables/data/hmd/{m,f}ltper_1x1.txt`, last modified 05 Sep 2024, HMD Methods Protocol v6),
source 'Human Mortality Database, USA (CC BY 4.0)'. Citation: HMD. Max Planck Institute for
Demographic Research (Germany), University of California, Berkeley (USA), and French Institute
for Demographic Studies (France). Available at www.mortality.org. Data licensed CC BY 4.0.

Years kept: all the file has (USA: 1933-2022), not only 1990 onwards. Keeping them all costs
nothing that matters (2 x 90 x 111 = 19,980 rows, a few milliseconds to load) and a registry
whose diagnoses start before 1990 needs expected survival for those years.

A partner's own table (`python -m analytics lifetable FILE --country XXX --sex 1|2`) replaces
that country and sex, all-or-nothing, after validation (see `read_life_table_file`).
"""
from __future__ import annotations

import importlib.resources
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd
import pycountry

from analytics.reference import ReferenceFileError, problems_line, year_ranges

HMD_COLUMNS = ("Year", "Age", "mx", "qx", "ax", "lx", "dx", "Lx", "Tx", "ex")
HMD_SOURCE_USA = "Human Mortality Database, USA (CC BY 4.0)"
SHIPPED = {1: "mltper_1x1.txt", 2: "fltper_1x1.txt"}
SEX_NAMES = {1: "males", 2: "females"}
MAX_AGE = 110
AGES = MAX_AGE + 1  # rows per country, year and sex: ages 0..110
#: Years a life table may cover (HMD's earliest series starts in 1751).
YEAR_RANGE = (1750, 2100)


@dataclass
class LifeTable:
    """A validated life table for one country and sex, in the `life_table` layout."""

    name: str
    country: str
    sex: int
    rows: pd.DataFrame  # country, year, sex, age, mx, qx, source

    def summary(self, replaced: int = 0) -> str:
        years = year_ranges(self.rows["year"])
        out = (f"{self.name}: loaded {len(self.rows)} life-table rows for {self.country} "
               f"{SEX_NAMES[self.sex]}, years {years}, ages 0-{MAX_AGE}")
        if replaced:
            out += f"\n  replaced {replaced} earlier rows for {self.country} {SEX_NAMES[self.sex]}"
        return out


def parse_hmd(text: str, name: str, sex: int | None = None) -> pd.DataFrame:
    """Parse and validate the text of an HMD 1x1 period life table.

    Returns columns year, age (0..110), mx, qx. Raises ReferenceFileError (one line naming the
    first problems) when the text is not such a table, a value is unreadable, 0 <= qx <= 1 or
    mx >= 0 fails, a year lacks any age 0..110 or repeats one, or the title names the other sex
    than `sex` (1 male, 2 female; a 'Both sexes' table is refused when `sex` is given)."""
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines[:10])
                 if line.split()[:3] == ["Year", "Age", "mx"]), None)
    if head is None:
        raise ReferenceFileError(f"{name}: not an HMD 1x1 life table (no header line "
                                 f"'{' '.join(HMD_COLUMNS)}' in the first lines)")
    if lines[head].split() != list(HMD_COLUMNS):
        raise ReferenceFileError(f"{name}: header is '{' '.join(lines[head].split())}', expected "
                                 f"'{' '.join(HMD_COLUMNS)}'")
    title = " ".join(lines[:head]).lower()
    if sex is not None:
        # HMD titles end in "Males", "Females" or "Total" (both sexes; bltper files)
        said = ("both" if "both sexes" in title or re.search(r"\btotal\b", title) else
                1 if re.search(r"\bmales\b", title) else 2 if "females" in title else None)
        if said == "both":
            raise ReferenceFileError(f"{name}: a both-sexes table; give the male or the female "
                                     f"table (mltper/fltper) with --sex 1 or 2")
        if said is not None and said != sex:
            raise ReferenceFileError(f"{name}: the title says {SEX_NAMES[said]} but sex {sex} "
                                     f"({SEX_NAMES[sex]}) was given")

    problems: list[str] = []
    records = []
    for no, line in enumerate(lines[head + 1:], start=head + 2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(HMD_COLUMNS):
            problems.append(f"line {no}: {len(fields)} columns, expected {len(HMD_COLUMNS)}")
            continue
        records.append((no, *fields[:4]))
    if not records and not problems:
        raise ReferenceFileError(f"{name}: no table rows after the header")
    df = pd.DataFrame(records, columns=["line", "year_t", "age_t", "mx_t", "qx_t"])
    year = pd.to_numeric(df["year_t"].where(df["year_t"].str.fullmatch(r"\d{4}")), errors="coerce")
    age_t = df["age_t"].str.replace(f"{MAX_AGE}+", str(MAX_AGE), regex=False)
    age = pd.to_numeric(age_t.where(age_t.str.fullmatch(r"\d{1,3}")), errors="coerce")
    mx = pd.to_numeric(df["mx_t"], errors="coerce")
    qx = pd.to_numeric(df["qx_t"], errors="coerce")
    checks = [
        (year.isna() | ~year.between(*YEAR_RANGE), "Year", "year_t",
         f"not a year {YEAR_RANGE[0]}-{YEAR_RANGE[1]}"),
        (age.isna() | ~age.between(0, MAX_AGE), "Age", "age_t",
         f"not an age 0-{MAX_AGE - 1} or '{MAX_AGE}+'"),
        (mx.isna() | ~np.isfinite(mx), "mx", "mx_t", "not a number"),
        (mx < 0, "mx", "mx_t", "negative"),
        (qx.isna() | ~np.isfinite(qx), "qx", "qx_t", "not a number"),
        ((qx < 0) | (qx > 1), "qx", "qx_t", "outside 0-1"),
    ]
    masks = [(fails.fillna(False).to_numpy(dtype=bool), col, raw, msg)
             for fails, col, raw, msg in checks]
    bad = np.logical_or.reduce([m for m, *_ in masks])
    for i in np.flatnonzero(bad):
        reasons = [f"{col} {df.at[i, raw]!r} {msg}" for m, col, raw, msg in masks if m[i]]
        problems.append(f"line {df.at[i, 'line']}: " + ", ".join(reasons))
    if problems:
        problems.sort(key=lambda p: int(p.split(":")[0].split()[1]))
        raise ReferenceFileError(problems_line(name, problems))

    out = pd.DataFrame({"year": year.astype("int16"), "age": age.astype("int16"),
                        "mx": mx.astype("float64"), "qx": qx.astype("float64")})
    per_year = out.groupby("year")["age"].agg(["count", "nunique", "min", "max"])
    incomplete = per_year[(per_year["count"] != AGES) | (per_year["nunique"] != AGES)]
    for y in incomplete.index:
        ages = out.loc[out["year"] == y, "age"]
        gone = sorted(set(range(AGES)) - set(ages))
        twice = sorted(ages[ages.duplicated()].unique())
        what = []
        if gone:
            what.append(f"missing age{'s' if len(gone) > 1 else ''} {_ages(gone)}")
        if twice:
            what.append(f"age{'s' if len(twice) > 1 else ''} {_ages(twice)} repeated")
        problems.append(f"year {y}: {' and '.join(what)} (each year needs ages 0-{MAX_AGE} once)")
    if problems:
        raise ReferenceFileError(problems_line(name, problems))
    return out.sort_values(["year", "age"], ignore_index=True)


def _ages(ages: list[int]) -> str:
    return year_ranges(ages).replace(str(MAX_AGE), f"{MAX_AGE}+") if ages else ""


def _iso3(country: str, name: str) -> str:
    code = country.strip().upper()
    if code not in {c.alpha_3 for c in pycountry.countries}:
        raise ReferenceFileError(f"{name}: country {country!r} is not an ISO 3166-1 alpha-3 code")
    return code


def read_life_table_file(path: str | Path, country: str, sex: int | str) -> LifeTable:
    """Read and validate a partner's HMD-format life table for one country and sex (1 male,
    2 female). Raises ReferenceFileError with one line; touches no warehouse."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceFileError(f"{path}: no such file")
    name = path.name
    code = _iso3(country, name)
    if str(sex).strip() not in ("1", "2"):
        raise ReferenceFileError(f"{name}: sex {sex!r} must be 1 (male) or 2 (female)")
    sex = int(sex)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # HMD titles are ASCII; a stray byte must not block a table
    table = parse_hmd(text, name, sex)
    return LifeTable(name, code, sex, _rows(table, code, sex, f"partner file {name}"))


def _rows(table: pd.DataFrame, country: str, sex: int, source: str) -> pd.DataFrame:
    return pd.DataFrame({"country": country, "year": table["year"], "sex": np.int8(sex),
                         "age": table["age"], "mx": table["mx"], "qx": table["qx"],
                         "source": source})


@lru_cache(maxsize=2)
def shipped_table(sex: int) -> pd.DataFrame:
    """The USA life table for `sex` from the lifetables package, in the `life_table` layout."""
    ref = importlib.resources.files("lifetables") / "data" / "hmd" / SHIPPED[sex]
    table = parse_hmd(ref.read_text(encoding="utf-8"), f"lifetables/{SHIPPED[sex]}", sex)
    return _rows(table, "USA", sex, HMD_SOURCE_USA)


def load_shipped(con: duckdb.DuckDBPyConnection) -> int:
    """Insert the shipped USA life tables for each sex that has no USA rows yet (a partner's
    replacement survives a re-run of `init`). Returns rows inserted. Runs inside the caller's
    transaction when there is one."""
    inserted = 0
    for sex in SHIPPED:
        have = con.execute("SELECT count(*) FROM life_table WHERE country = 'USA' AND sex = ?",
                           [sex]).fetchall()[0][0]
        if have:
            continue
        con.register("_life_rows", shipped_table(sex))
        try:
            con.execute("INSERT INTO life_table (country, year, sex, age, mx, qx, source) "
                        "SELECT country, year, sex, age, mx, qx, source FROM _life_rows")
        finally:
            con.unregister("_life_rows")
        inserted += len(shipped_table(sex))
    return inserted


def replace_life_table(con: duckdb.DuckDBPyConnection, table: LifeTable) -> int:
    """Replace, in one transaction, every `life_table` row of the table's country and sex by its
    rows. Returns the number of rows replaced."""
    from analytics.warehouse import transaction

    try:
        with transaction(con):
            con.register("_life_rows", table.rows)
            old = con.execute("SELECT count(*) FROM life_table WHERE country = ? AND sex = ?",
                              [table.country, table.sex]).fetchall()[0][0]
            con.execute("DELETE FROM life_table WHERE country = ? AND sex = ?",
                        [table.country, table.sex])
            con.execute("INSERT INTO life_table (country, year, sex, age, mx, qx, source) "
                        "SELECT country, year, sex, age, mx, qx, source FROM _life_rows")
    finally:
        con.unregister("_life_rows")
    return old


def import_life_table_file(con: duckdb.DuckDBPyConnection, path: str | Path, country: str,
                           sex: int | str) -> tuple[LifeTable, int]:
    """Validate a partner's life table and, when it is valid, load it; returns the table and
    the number of rows it replaced. A bad file raises ReferenceFileError and leaves the
    warehouse unchanged."""
    table = read_life_table_file(path, country, sex)
    return table, replace_life_table(con, table)


def coverage(con: duckdb.DuckDBPyConnection, countries: Iterable[str],
             years: Iterable[int]) -> tuple[bool, str]:
    """Whether the life table covers every country x year x sex (males and females, ages
    0-110) asked for: (True, '') or (False, reason), the reason naming what is missing, e.g.
    'no life table for KEN males and females 2000-2019; USA males and females 2023'."""
    countries, years = sorted(set(countries)), sorted({int(y) for y in years})
    if not countries or not years:
        return False, "no countries or years to check"
    gaps = con.execute(f"""
        SELECT w.country, w.sex, w.year FROM
          (SELECT * FROM unnest($c) t(country) CROSS JOIN unnest($y) u(year)
                         CROSS JOIN (VALUES (1), (2)) s(sex)) w
        LEFT JOIN (SELECT country, year, sex, count(*) AS n FROM life_table
                   WHERE list_contains($c, country) GROUP BY ALL) lt
          USING (country, year, sex)
        WHERE coalesce(lt.n, 0) < {AGES}
        ORDER BY 1, 2, 3""", {"c": countries, "y": years}).fetchall()
    if not gaps:
        return True, ""
    missing: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for country, sex, year in gaps:
        missing[country][sex].append(year)
    parts = []
    for country, by_sex in missing.items():
        if by_sex.get(1) == by_sex.get(2):
            parts.append(f"{country} males and females {year_ranges(by_sex[1])}")
        else:
            parts.extend(f"{country} {SEX_NAMES[s]} {year_ranges(ys)}" for s, ys in by_sex.items())
    return False, "no life table for " + "; ".join(parts)
