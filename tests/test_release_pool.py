"""The viewer's Overview, Submissions page and data-version line (analytics.release.pool): every
count released (perturbed on its own key sum, hidden from 1 to T - 1), every frame stamped, the
exact path (analytics.overview) unchanged."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from analytics import disclosure, overview, warehouse
from analytics.disclosure import key_sum_sql
from analytics.ingest import ingest_file
from analytics.release import pool
from tests.conftest import random_rows, valid_row, write_csv

T = 16


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """Three submissions: about 400 tumours in FRA and DEU with 3 bad rows, 5 in ISL with 1 bad row,
    3 in ATA (no population); two FRA tumours moved to a year no selection names."""
    d = tmp_path_factory.mktemp("pool")
    big = random_rows(400, seed=7, countries=("FRA", "DEU")) + [
        valid_row(case_id=f"BAD{i}", sex="5") for i in range(3)]
    isl = [valid_row(case_id=f"ISL{i}", country="ISL", diagnosis_date=f"{2015 + i}-03-01") for i in range(5)]
    isl += [valid_row(case_id="ISLBAD", country="ISL", sex="5")]
    ata = [valid_row(case_id=f"ATA{i}", country="ATA", topography="C649", morphology="8960")
           for i in range(3)]
    c = warehouse.connect(d / "w.duckdb")
    for name, rows in (("big", big), ("ISL_2024", isl), ("ATA_2024", ata)):
        ingest_file(c, write_csv(d / f"{name}.csv", rows), synthetic=True)
    c.execute("UPDATE cases SET year = 1899 WHERE case_id IN ('K0', 'K1')")
    c.close()
    c = warehouse.connect(d / "w.duckdb", read_only=True)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _default_threshold(monkeypatch):
    monkeypatch.delenv("CCOE_MIN_CELL", raising=False)


def _cell(con, where: str = "true") -> tuple[int, int]:
    return tuple(int(v) for v in con.execute(f"SELECT count(*), {key_sum_sql()} FROM cases WHERE {where}").fetchone())


def _rejected(con, where: str = "true") -> tuple[int, int]:
    return tuple(int(v) for v in con.execute(
        f"SELECT count(*), {key_sum_sql(column=overview.REJECTED_KEY_SQL)} FROM rejected_rows WHERE {where}",
        {"ck": warehouse.cellkey_secret(con)}).fetchone())


def _no_small(values) -> bool:
    v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna()
    return not ((v >= 1) & (v < T)).any()


# --- the exact path stays as it was -----------------------------------------------------------------

def test_exact_overview_is_unchanged(con):
    assert overview.summary(con)["cases"] == _cell(con)[0] > 400 - 5
    assert "cases_key" not in overview.summary(con)
    assert list(overview.submissions(con).columns) == [
        "submission_id", "file_name", "kind", "countries", "rows_read", "rows_loaded", "rows_rejected",
        "rows_unclassified",
        "synthetic", "loaded_at", "sha256_prefix", "schema_version", "iccc_version"]
    subs = overview.submissions(con).set_index("submission_id")
    assert subs.loc["ISL_2024", ["rows_read", "rows_loaded", "rows_rejected"]].tolist() == [6, 5, 1]
    by_country = overview.cases_by_country(con).set_index("country")
    assert by_country.loc["ISL", "suppressed"] and pd.isna(by_country.loc["ISL", "cases"])
    assert list(overview.rejection_reasons(con).columns) == ["submission_id", "reason", "rows"]
    assert overview.outside_years(con) == 2
    assert list(overview.cases_by_group(con).columns) == ["iccc_main", "name", "cases", "suppressed"]


def test_keys_add_columns_and_change_no_count(con):
    plain, keyed = overview.submissions(con), overview.submissions(con, keys=True)
    pd.testing.assert_frame_equal(plain, keyed[plain.columns])
    assert keyed["rows_read_key"].tolist() == [
        (a + b) % disclosure.KEY_MODULUS for a, b in zip(keyed["rows_loaded_key"], keyed["rows_rejected_key"])]
    g = overview.cases_by_group(con, keys=True)
    assert g["cases"].sum() == _cell(con)[0] and "cases_key" in g and "suppressed" not in g


def test_rejected_key_is_sha256_of_secret_submission_and_line(con):
    """A rejected row's key is computed at query time as a tumour's is (`RECORD_KEY_SQL`), so it
    does not depend on DuckDB's hash() (not stable across versions)."""
    secret = warehouse.cellkey_secret(con)
    sid, line, key = con.execute(f"SELECT submission_id, line_no, {overview.REJECTED_KEY_SQL} FROM rejected_rows "
                                 "ORDER BY 1, 2 LIMIT 1", {"ck": secret}).fetchone()
    expected = int(hashlib.sha256(f"{secret}|rejected|{sid}|{line}".encode()).hexdigest()[:8], 16)
    assert key == expected


# --- the summary and the data-version line ------------------------------------------------------------

def test_summary_releases_the_counts(con):
    info = pool.summary(con)
    n, k = _cell(con)
    assert info["cases"] == disclosure.count(n, k) and not info["empty"]
    assert info["rejected"] == disclosure.count(*_rejected(con))
    assert f"{info['rejected']}" == "fewer than 16"  # 4 rows
    assert info["countries"] == 4 and info["submissions"] == 3
    assert f"{disclosure.perturb(n, k):,} tumours" in info["data_version"]
    # no exact count of tumours or rows travels in the summary: only Counts, and numbers of
    # countries, submissions, years and person-years
    assert all(isinstance(info[k], disclosure.Count) for k in ("cases", "rejected", "unclassified"))
    assert {k for k, v in info.items() if isinstance(v, (int, np.integer)) and not isinstance(v, bool)} <= {
        "countries", "year_min", "year_max", "submissions", "threshold"}


def test_summary_of_an_empty_warehouse(tmp_path):
    warehouse.connect(tmp_path / "e.duckdb").close()
    c = warehouse.connect(tmp_path / "e.duckdb", read_only=True)
    info = pool.summary(c)
    c.close()
    assert info["empty"] and f"{info['cases']}" == "0" and info["data_version"] == "Data: empty warehouse"


def test_data_version_says_fewer_than_t_for_a_small_pool(tmp_path):
    c = warehouse.connect(tmp_path / "s.duckdb")
    ingest_file(c, write_csv(tmp_path / "s.csv", [valid_row(case_id=f"S{i}") for i in range(7)]))
    info = pool.summary(c)
    c.close()
    assert info["data_version"].startswith("Data: 1 submission(s), fewer than 16 tumours, last loaded ")


# --- tables ---------------------------------------------------------------------------------------

def test_cases_by_country_reads_each_countrys_own_cell(con):
    df = pool.cases_by_country(con)
    assert disclosure.is_released(df) and "cases_key" not in df
    for country in ("FRA", "DEU"):
        row = df[df["country"] == country].iloc[0]
        assert row["cases"] == disclosure.perturb(*_cell(con, f"country = '{country}'"))
    small = df[df["country"].isin(["ISL", "ATA"])]
    assert small["suppressed"].all() and small["cases"].isna().all()
    assert small[["first_year", "last_year", "person_years"]].isna().all().all()  # the span of a few tumours
    assert _no_small(df["cases"])


def test_cases_by_group_is_released_with_complementary_suppression(con):
    df = pool.cases_by_group(con)
    assert disclosure.is_released(df) and list(df.columns) == ["iccc_main", "name", "cases", "suppressed"]
    assert _no_small(df["cases"])
    assert df["suppressed"].sum() != 1  # a single hidden group would be total minus the rest
    exact = overview.cases_by_group(con, keys=True)
    shown = df.dropna(subset=["cases"]).merge(exact, on="iccc_main", suffixes=("", "_exact"))
    assert (shown["cases"] == disclosure.perturb(shown["cases_exact"], shown["cases_key"])).all()


def test_tumour_bars_are_built_from_the_released_frame_only(con):
    groups = pool.cases_by_group(con)
    fig = pool.tumour_bars(groups)
    assert disclosure.is_released(fig)
    bars = fig.data[0]
    assert list(bars.x) == groups["cases"].dropna().astype(int).tolist()
    with pytest.raises(disclosure.DisclosureError):
        pool.tumour_bars(overview.cases_by_group(con))


def test_submissions_hide_a_small_submission_and_perturb_the_rest(con):
    assert disclosure.is_released(pool.submissions(con))
    df = pool.submissions(con).set_index("submission_id")
    assert not any(c.endswith("_key") for c in df.columns)
    for sid in ("ISL_2024", "ATA_2024"):
        assert df.loc[sid, "suppressed"]
        assert df.loc[sid, ["rows_read", "rows_loaded", "rows_rejected", "rows_unclassified"]].isna().all()
    big = df.loc["big"]
    loaded = _cell(con, "submission_id = 'big'")
    rejected = _rejected(con, "submission_id = 'big'")
    assert big["rows_loaded"] == disclosure.perturb(*loaded)
    assert big["rows_read"] == disclosure.perturb(loaded[0] + rejected[0], loaded[1] + rejected[1])
    assert pd.isna(big["rows_rejected"])  # 3 rows
    # the same tumours read the same through another selection: all of FRA and DEU came in 'big'
    assert big["rows_loaded"] == disclosure.perturb(*_cell(con, "country IN ('FRA', 'DEU')"))
    for c in ("rows_read", "rows_loaded", "rows_rejected", "rows_unclassified"):
        assert _no_small(df[c])


def test_rejection_reasons_are_released_counts(con):
    df = pool.rejection_reasons(con)
    assert disclosure.is_released(df) and "rows_key" not in df
    assert df["suppressed"].all() and df["rows"].isna().all()  # 3 and 1 rows


def test_outside_years_and_population_gaps_are_counts(con):
    n = pool.outside_years(con)
    assert isinstance(n, disclosure.Count) and f"{n}" == "fewer than 16"
    note = pool.outside_years_note(con)
    assert note.startswith("Fewer than 16 tumours with a year of diagnosis outside 1900-2100")
    gaps = pool.population_gaps(con)
    assert gaps.startswith("Fewer than 16 cases left out of rates") and "ATA (all years)" in gaps


def test_labels_follow_the_threshold(con, monkeypatch):
    monkeypatch.setenv("CCOE_MIN_CELL", "3")
    assert pool.outside_years_note(con).startswith("Fewer than 3 tumours")
    info = pool.summary(con)
    assert info["threshold"] == 3 and info["rejected"].threshold == 3
    assert info["rejected"] == disclosure.count(*_rejected(con))
    assert "from 1 to 2 read <3" in pool.table_note()
    monkeypatch.setenv("CCOE_MIN_CELL", "20")
    assert "from 1 to 19 read <20" in pool.table_note("rows")
