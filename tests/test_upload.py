"""Files from the browser (analytics.upload): hostile uploads get one clear message and change
nothing; a check changes nothing; a load is the command line's ingest, audited under the
data manager's name; the row accounting of awkward files is exact on this path too."""
from __future__ import annotations

import gzip
import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import access, audit, snapshots, upload, warehouse
from analytics.cli import main
from analytics.ingest import SubmissionError
from tests.conftest import random_rows, valid_row, write_csv
from tests.fuzz_corpus import INPUT_NAMES, _record

MARIE = access.parse('[data_managers]\n"marie@registre.example" = ["FRA"]').principal("marie@registre.example")


@pytest.fixture
def pool(tmp_path):
    db = tmp_path / "w.duckdb"
    f = write_csv(tmp_path / "FRA_2024.csv", random_rows(50, seed=1, countries=("FRA",)))
    assert main(["ingest", str(f), "--db", str(db)]) == 0
    return db


def _csv(rows) -> bytes:
    buf = io.StringIO()
    cols = list(rows[0])
    buf.write(",".join(cols) + "\n")
    for r in rows:
        buf.write(",".join(r[c] for c in cols) + "\n")
    return buf.getvalue().encode()


@pytest.mark.parametrize("name, expected", [
    ("FRA_2025.csv", "FRA_2025.csv"),
    ("../../etc/FRA.csv", "FRA.csv"),
    ("C:\\Users\\me\\FRA 2025 (final).CSV", "FRA_2025__final_.csv"),
    ("..\u202eFRA.csv", "_FRA.csv"),
    ("FRA.parquet", "FRA.parquet"),
])
def test_a_file_name_cannot_choose_a_folder_or_hide_characters(name, expected):
    assert upload.safe_file_name(name) == expected


@pytest.mark.parametrize("name", ["FRA.xlsx", "FRA", ".csv", "../..", "", "FRA.csv.exe"])
def test_only_csv_and_parquet_names_are_accepted(name):
    with pytest.raises(upload.UploadError, match="not a CSV or Parquet file"):
        upload.safe_file_name(name)


def test_a_staged_upload_stays_in_its_own_folder(tmp_path):
    path = upload.stage("../../x/FRA.csv", _csv([valid_row()]), tmp_path)
    assert path.parent.parent == tmp_path and path.name == "FRA.csv"
    upload.discard(path)
    assert not path.parent.exists()


def test_hostile_uploads_are_refused_with_one_message(tmp_path, monkeypatch):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("FRA.csv", b"0" * 10_000_000)
    cases = {
        "is a compressed archive": ("FRA.csv", bomb.getvalue()),
        "is a compressed archive ": ("FRA.csv", gzip.compress(b"a,b\n" * 1000)),
        "is empty": ("FRA.csv", b"  \n"),
    }
    for message, (name, data) in cases.items():
        with pytest.raises(upload.UploadError, match=message.strip()):
            upload.stage(name, data, tmp_path)
    monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(upload.UploadError, match="the largest file accepted here is"):
        upload.stage("FRA.csv", b"x" * 2000, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing kept


def test_a_parquet_with_nested_columns_or_that_would_expand_too_far_is_refused(tmp_path, monkeypatch):
    nested = io.BytesIO()
    pq.write_table(pa.table({"case_id": ["1"], "country": [{"code": "FRA"}]}), nested)
    with pytest.raises(upload.UploadError, match="nested columns"):
        upload.stage("FRA.parquet", nested.getvalue(), tmp_path)
    (tmp_path / "nested.parquet").write_bytes(nested.getvalue())  # the command line refuses it too
    db = tmp_path / "w.duckdb"
    assert main(["ingest", str(tmp_path / "nested.parquet"), "--db", str(db)]) == 1
    assert not db.exists()
    big = io.BytesIO()
    # 100,000 copies of one 100 kB value: under a kilobyte on disk, 10 GB once read
    bomb = pa.DictionaryArray.from_arrays(pa.array([0] * 100_000, pa.int32()), pa.array(["x" * 100_000]))
    pq.write_table(pa.table({"case_id": bomb}), big, compression="zstd")
    assert len(big.getvalue()) < 100_000
    with pytest.raises(upload.UploadError, match="would expand to more than 800 MB"):
        upload.stage("FRA.parquet", big.getvalue(), tmp_path)
    with pytest.raises(upload.UploadError, match="cannot be read as Parquet"):
        upload.stage("FRA.parquet", b"PAR1 not really", tmp_path)


def test_a_non_submission_is_refused_and_nothing_changes(pool, tmp_path):
    before = snapshots.version(pool)
    path = upload.stage("notes.csv", b"hello,world\n1,2\n", tmp_path)
    with pytest.raises(SubmissionError, match="missing"):
        upload.check(pool, MARIE, path)
    with pytest.raises(SubmissionError):
        upload.load(pool, MARIE, path)
    assert snapshots.version(pool) == before


def test_a_check_changes_nothing_and_a_load_is_audited_under_the_data_managers_name(pool, tmp_path):
    rows = [{**r, "case_id": "N" + r["case_id"]} for r in random_rows(40, seed=2, countries=("FRA",))]
    rows.append(valid_row(case_id="BAD", country="FRA", sex="7"))
    path = upload.stage("FRA_2025.csv", _csv(rows), tmp_path)
    before = snapshots.version(pool)
    checked = upload.check(pool, MARIE, path)
    assert snapshots.version(pool) == before
    assert (checked.report.rows_read, checked.report.rows_loaded, checked.report.rows_rejected) == (41, 40, 1)
    assert checked.countries == ["FRA"] and list(checked.rejected["case_id"]) == ["BAD"]
    replacing = upload.check(pool, MARIE, path, name="FRA_2024", replace=True)
    assert replacing.replaces == {"FRA_2024": 50}  # what a load under that name would replace
    done = upload.load(pool, MARIE, path)
    assert done.report.rows_loaded == 40 and snapshots.version(pool) != before
    con = warehouse.connect(pool, read_only=True)
    last = audit.entries(con).iloc[-1]
    assert (last["who"], last["action"], last["file_name"]) == ("marie@registre.example", "ingest", "FRA_2025.csv")
    assert last["sha256"] == audit.file_sha256(path)
    con.close()


def test_awkward_files_are_accounted_for_exactly_on_the_upload_path(pool, tmp_path):
    """Blank lines between records, and a last line that opens a quote it never closes: rows read
    = loaded + rejected, equal to the records counted here independently (non-blank lines after
    the header; no field holds a line break), and the blank lines are counted as skipped."""
    cols = INPUT_NAMES
    lines = [",".join(cols)]
    for i in range(1, 7):
        lines.append(_record(valid_row(case_id=f"Z{i}", country="FRA"), cols))
        if i in (2, 4):
            lines += ["", ""]
    lines[-1] = lines[-1].replace(",R01,", ',"R01,', 1)  # the last record's quote never closes
    data = ("\n".join(lines) + "\n").encode()
    records = sum(1 for line in lines[1:] if line.strip())
    blank = sum(1 for line in lines[1:] if not line.strip())
    path = upload.stage("FRA_awkward.csv", data, tmp_path / "staged")
    out = upload.check(pool, MARIE, path)
    r = out.report
    assert r.rows_read == records == r.rows_loaded + r.rows_rejected == 6
    assert r.blank_rows == blank == 4
    assert r.rows_rejected == 1 and list(out.rejected["line_no"]) == [len(lines)]
    assert "quote" in out.rejected["reasons"].iloc[0].lower()


# --- population and life tables from the browser (issue 13, parts 1 and 4) ----------------------------

def test_population_and_life_tables_load_as_the_data_manager_of_their_country(pool, tmp_path):
    from analytics.reference import ReferenceFileError
    from tests.test_reference import hmd_text, pop_rows, write_pop

    fra = upload.stage("fra_pop.csv", write_pop(tmp_path / "fra_pop.csv", pop_rows("FRA")).read_bytes(), tmp_path)
    deu = upload.stage("deu_pop.csv", write_pop(tmp_path / "deu_pop.csv", pop_rows("FRA") + pop_rows("DEU")
                                                ).read_bytes(), tmp_path)
    table = upload.stage("fltper_1x1.txt", hmd_text().encode(), tmp_path, suffixes=upload.LIFETABLE_SUFFIXES)
    before = snapshots.version(pool)
    with pytest.raises(access.PermissionDenied, match="DEU"):  # another country's person-years
        upload.load_population(pool, MARIE, deu)
    with pytest.raises(access.PermissionDenied, match="DEU"):
        upload.load_lifetable(pool, MARIE, table, "DEU", 2)
    with pytest.raises(access.PermissionDenied, match="data manager"):
        upload.load_population(pool, access.VIEWER, fra)
    bad = upload.stage("bad.csv", b"country,year\nFRA,2010\n", tmp_path, suffixes=upload.POPULATION_SUFFIXES)
    with pytest.raises(ReferenceFileError):
        upload.load_population(pool, MARIE, bad)
    assert snapshots.version(pool) == before  # nothing changed by any refusal
    with pytest.raises(upload.UploadError, match=r"\.txt or \.csv"):
        upload.stage("table.xlsx", b"x", tmp_path, suffixes=upload.LIFETABLE_SUFFIXES)

    report = upload.load_population(pool, MARIE, fra)
    assert report.rows_loaded >= len(pop_rows("FRA"))
    _, replaced = upload.load_lifetable(pool, MARIE, table, "FRA", 2)
    assert replaced == 0  # the packaged life tables are the USA's: France had none
    con = warehouse.connect(pool, read_only=True)
    log = audit.entries(con).tail(2)
    assert list(log["action"]) == ["population", "lifetable"]
    assert set(log["who"]) == {"marie@registre.example"}
    assert list(log["sha256"]) == [audit.file_sha256(fra), audit.file_sha256(table)]
    assert con.execute("SELECT count(*) FROM population WHERE country = 'FRA' AND year = 2010 AND sex = 1 "
                       "AND person_years = 1000").fetchone()[0] == 4
    assert con.execute("SELECT count(*) FROM life_table WHERE country = 'FRA' AND sex = 2").fetchone()[0] == 2 * 111
    con.close()


def test_a_data_manager_loads_aggregate_tables_of_their_country_only(pool, tmp_path):
    """From the browser as from the command line: a partner's case counts are recognised by their
    header, checked, loaded and audited; another country's tables are refused."""
    from analytics.aggregate import aggregate_file

    rows = [{**r, "registry": "R02", "case_id": "A" + r["case_id"]} for r in random_rows(60, seed=4, countries=("FRA",))]
    done = aggregate_file(write_csv(tmp_path / "FRA_R02.csv", rows), tmp_path / "send")
    path = upload.stage("FRA_R02_counts.csv", done.case_counts.read_bytes(), tmp_path / "up")
    checked = upload.check(pool, MARIE, path)
    assert (checked.report.kind, checked.countries) == ("case_counts", ["FRA"])
    assert checked.report.rows_rejected == 0
    loaded = upload.load(pool, MARIE, path)
    con = warehouse.connect(pool, read_only=True)
    assert con.execute("SELECT sum(cases) FROM agg_case_counts").fetchone()[0] == 60
    last = audit.entries(con).iloc[-1]
    assert (last["who"], last["action"]) == ("marie@registre.example", "ingest") and "(FRA)" in last["what"]
    con.close()
    assert loaded.report.rows_loaded == checked.report.rows_loaded
    ken = aggregate_file(write_csv(tmp_path / "KEN.csv", random_rows(30, seed=5, countries=("KEN",))), tmp_path / "k")
    with pytest.raises(access.PermissionDenied):
        upload.check(pool, MARIE, upload.stage("KEN_events.csv", ken.survival_events.read_bytes(), tmp_path / "up2"))
