"""Bad input on the command line gets one clear line on standard error and a non-zero exit,
never a Python traceback (cases found by a crash hunt over every command)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.cli import main
from tests.conftest import valid_row


def run(capsys, *args) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse: usage errors exit 2
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_help_of_every_command_prints(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "incidence" in out  # '95% CIs' in a help text once broke argparse


@pytest.mark.parametrize("make", ["missing", "not_duckdb", "directory"])
def test_a_warehouse_that_cannot_be_opened_is_one_line(capsys, tmp_path, make):
    path = {"missing": tmp_path / "none.duckdb", "not_duckdb": tmp_path / "x.duckdb", "directory": tmp_path}[make]
    if make == "not_duckdb":
        path.write_text("not a database")
    code, out, err = run(capsys, "survival", "--db", path)
    assert code == 2 and out == "" and err.startswith("error:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [
    ["trend", "--filter", "country=ISL"],          # no cases: an empty table, not an exception
    ["logrank", "--filter", "country=ISL", "--by", "sex"],
])
def test_empty_selections(capsys, small_warehouse, args):
    code, out, err = run(capsys, *args, "--db", small_warehouse)
    assert code == 0 and len(out.strip().splitlines()) <= 2


def test_trend_refuses_a_breakdown_by_year(capsys, small_warehouse):
    code, _, err = run(capsys, "trend", "--by", "year", "--db", small_warehouse)
    assert code == 2 and "year" in err


@pytest.mark.parametrize("args", [["--scale", "-1"], ["--scale", "nan"], ["--seed", "-5"]])
def test_demo_options_are_checked(capsys, tmp_path, args):
    code, _, err = run(capsys, "demo", "--db", tmp_path / "d.duckdb", *args)
    assert code == 2 and "argument" in err and not (tmp_path / "d.duckdb").exists()


def test_classify_a_directory(capsys, tmp_path):
    code, _, err = run(capsys, "classify", tmp_path)
    assert code == 1 and err.startswith("error:")


def test_population_file_with_a_huge_field(capsys, tmp_path):
    f = tmp_path / "pop.csv"
    f.write_text("country,year,sex,age_group,population\nFRA,2000,1,0-4," + "x" * 200_000 + "\n")
    code, _, err = run(capsys, "population", "--db", tmp_path / "w.duckdb", f)
    assert code == 1 and "line 2" in err and not (tmp_path / "w.duckdb").exists()


def test_parquet_with_nan_and_infinite_codes_rejects_the_rows(capsys, tmp_path):
    df = pd.DataFrame([valid_row(case_id=f"P{i}") for i in range(3)])
    df["sex"] = [1.0, np.nan, np.inf]
    df["morphology"] = [9811.0, 9811.0, 1e300]
    df.to_parquet(tmp_path / "s.parquet")
    code, out, err = run(capsys, "ingest", "--db", tmp_path / "w.duckdb", tmp_path / "s.parquet")
    assert code == 0 and "read 3, loaded 1, rejected 2" in out


@pytest.mark.parametrize("times", ["-1", "nan", "inf", "", "x"])
def test_survival_times_are_checked(capsys, small_warehouse, times):
    code, out, err = run(capsys, "survival", "--db", small_warehouse, "--times", times)
    assert code == 2 and out == "" and "--times" in err


def test_incidence_with_no_person_years_prints_no_numpy_warnings(capsys, small_warehouse):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a division warning would now raise
        code, _, err = run(capsys, "incidence", "--db", small_warehouse, "--years", "1990-1995")
    assert code == 0


def test_loading_while_the_app_reads_the_warehouse_works(capsys, tmp_path):
    """The app holds the warehouse open for reading all day: a load goes ahead beside it (a new
    version renamed into place: analytics.snapshots), and the reader keeps its own version."""
    import subprocess
    import sys

    from analytics import warehouse
    from tests.conftest import write_csv

    db = tmp_path / "w.duckdb"
    warehouse.connect(db).close()
    reader = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                               "print('held', flush=True); sys.stdin.readline(); "
                               "print(c.execute('SELECT count(*) FROM cases').fetchone()[0], flush=True)", str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "held"
        f = write_csv(tmp_path / "FRA.csv", [valid_row()])
        assert main(["ingest", str(f), "--db", str(db)]) == 0
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "0"  # its version, untouched
        con = warehouse.connect(db, read_only=True)
        assert con.execute("SELECT count(*) FROM cases").fetchone()[0] == 1
        con.close()
    finally:
        reader.kill()


def test_loading_while_another_program_writes_the_warehouse_says_what_to_do(capsys, tmp_path):
    """A program that opened the warehouse read-write itself (not the app, not a load) would have
    its changes lost: the load is refused in one line that says why and what to do, not with
    DuckDB's raw lock error, and changes nothing."""
    import subprocess
    import sys

    from analytics import snapshots, warehouse
    from tests.conftest import write_csv

    db = tmp_path / "w.duckdb"
    warehouse.connect(db).close()
    before = snapshots.version(db)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        f = write_csv(tmp_path / "FRA.csv", [valid_row()])
        assert main(["ingest", str(f), "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert "held by another program that opened it for writing" in err and "Could not set lock" not in err
        assert len(err.strip().splitlines()) == 1
        assert snapshots.version(db) == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("make", ["not_duckdb", "directory"])
def test_reclassify_on_something_that_is_not_a_warehouse_is_one_line(capsys, tmp_path, make):
    path = {"not_duckdb": tmp_path / "x.duckdb", "directory": tmp_path}[make]
    if make == "not_duckdb":
        path.write_text("not a database")
    code, out, err = run(capsys, "reclassify", "--db", path)
    assert code == 2 and out == "" and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_classify_refuses_an_unknown_version(capsys, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("topography,morphology,behaviour\nC42.1,9811,3\n")
    code, out, err = run(capsys, "classify", path, "--version", "3")
    assert code == 1 and out == "" and err.startswith("error: no ICCC-3 version '3'")
