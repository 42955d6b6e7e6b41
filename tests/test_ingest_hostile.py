"""Issue 11: ingest that loses nothing and runs nothing -- the partner file as hostile input.

One or more tests per item of the issue, named after it (test_1_..., test_2a_..., ...). The
crafted files come from tests/fuzz_corpus.py (generated into tmp_path; nothing large is
committed). Names that issue 11 adds to analytics.ingest are looked up at run time, so that
each test fails on its own (rather than the whole module failing to import) where they are
still missing.
"""
from __future__ import annotations

import inspect
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import duckdb
import pytest

import analytics.ingest as ingest
from analytics import warehouse
from analytics.ingest import SubmissionError, ingest_file, remove_submission
from tests import fuzz_corpus as fc
from tests.conftest import ROOT, random_rows, valid_row, write_csv

TABLES = ("cases", "rejected_rows", "submissions")
CONSTANTS = ("MALFORMED_LINE", "UNTERMINATED_QUOTE", "NONFINITE", "ALREADY_LOADED")


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------

def spec(name: str):
    """A name issue 11 adds to analytics.ingest; the test fails (not errors) while it is missing."""
    if not hasattr(ingest, name):
        pytest.fail(f"analytics.ingest.{name} does not exist (issue 11)")
    return getattr(ingest, name)


def reason_of(alternative: str) -> str | None:
    """Reason text for a constant name, or the literal reason prefix itself."""
    if alternative == "ALREADY_LOADED":
        return already_loaded_reason()
    if alternative in CONSTANTS:
        rule = getattr(ingest, alternative, None)
        return rule.reason if rule is not None else None
    return alternative


def already_loaded_reason() -> str:
    """ALREADY_LOADED.reason; before issue 11 the rule existed only inside RULES (the API test
    checks the name; here the tests go on to what they are about)."""
    rule = getattr(ingest, "ALREADY_LOADED", None)
    if rule is None:
        rule = next(r for r in ingest.RULES if r.reason.startswith("case_id: already loaded"))
    return rule.reason


def has_reason(reasons, alternatives) -> bool:
    texts = [t for t in (reason_of(a) for a in alternatives) if t is not None]
    assert texts, f"none of {alternatives} exists in analytics.ingest"
    return any(r.startswith(t) for r in reasons for t in texts)


def state(con) -> dict[str, list]:
    """Every row of the three tables a load writes."""
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg and "\r" not in msg, f"message is not one line: {msg!r}"
    return msg


def accounting_holds(con, sid: str) -> None:
    read, loaded, rejected = con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM submissions WHERE submission_id = ?",
        [sid]).fetchone()
    n_cases = con.execute("SELECT count(*) FROM cases WHERE submission_id = ?", [sid]).fetchone()[0]
    n_rej = con.execute("SELECT count(*) FROM rejected_rows WHERE submission_id = ?", [sid]).fetchone()[0]
    assert (read, loaded, rejected) == (loaded + rejected, n_cases, n_rej), \
        f"{sid}: submissions says read {read}, loaded {loaded}, rejected {rejected}; " \
        f"tables hold {n_cases} cases and {n_rej} rejected rows"


def blank_rows(report) -> int:
    if not hasattr(report, "blank_rows"):
        pytest.fail("IngestReport.blank_rows does not exist (issue 11)")
    return report.blank_rows


def marker_tables(con, marker: str) -> list[str]:
    """Tables of the warehouse (not temporary) in which `marker` appears anywhere."""
    found = []
    for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                     "WHERE NOT temporary").fetchall():
        q = f'"{schema}"."{table}"'
        n = con.execute(f"SELECT count(*) FROM {q} t WHERE CAST(t AS VARCHAR) LIKE ?",
                        [f"%{marker}%"]).fetchone()[0]
        if n:
            found.append(table)
    return found


def check_not_leaked(con, c: fc.Crafted) -> None:
    if c.marker is not None:
        assert marker_tables(con, c.marker) == [], "a local file's content reached the warehouse"
    for p in c.must_not_exist:
        assert not p.exists(), f"{p} was written"
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
    assert set(TABLES) <= tables, f"tables missing: {set(TABLES) - tables}"


def check(con, c: fc.Crafted, sid: str | None = None):
    """Ingest a crafted file and check everything its `Crafted` says. Returns the report, or
    None when the file was (acceptably) refused."""
    before = state(con)
    if c.error is not None:
        with pytest.raises(SubmissionError) as e:
            ingest_file(con, c.path)
        msg = one_line(e.value)
        assert c.error in msg, msg
        assert state(con) == before
        return None
    try:
        report = ingest_file(con, c.path)
    except SubmissionError as e:
        if not c.may_refuse:
            raise
        one_line(e)
        check_not_leaked(con, c)
        assert state(con) == before, "a refused file changed the warehouse"
        return None
    check_not_leaked(con, c)
    sid = sid or report.submission_id
    assert report.rows_read == report.rows_loaded + report.rows_rejected
    if c.rows_read is not None:
        assert report.rows_read == c.rows_read, c.description
    accounting_holds(con, sid)
    got = dict(con.execute("SELECT case_id, line_no FROM cases WHERE submission_id = ?", [sid]).fetchall())
    if c.loaded_exact:
        assert got == c.loaded, c.description
    else:
        assert {k: got.get(k) for k in c.loaded} == c.loaded, c.description
    rej = dict(con.execute("SELECT line_no, reasons FROM rejected_rows WHERE submission_id = ?",
                           [sid]).fetchall())
    if c.rejected_exact:
        assert sorted(rej) == sorted(c.rejected), c.description
    for line, alternatives in c.rejected.items():
        assert line in rej, f"line {line} not rejected ({c.description})"
        assert has_reason(rej[line], alternatives), (line, rej[line], alternatives)
    for name in c.ignored:  # (control characters may be listed escaped, to keep summaries one line)
        escaped = name.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
        assert name in report.ignored_columns or escaped in report.ignored_columns, \
            (name, report.ignored_columns)
    for name in c.not_ignored:
        assert name not in report.ignored_columns, report.ignored_columns
    for case_id, expected in c.values.items():
        cols = list(expected)
        row = con.execute(f"SELECT {', '.join(cols)} FROM cases WHERE submission_id = ? AND case_id = ?",
                          [sid, case_id]).fetchone()
        assert row is not None, case_id
        actual = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(cols, row)}
        assert actual == expected, case_id
    if c.blank_rows is not None:  # last: a missing field should not hide a wrong line number
        assert blank_rows(report) == c.blank_rows, c.description
    return report


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A new, empty warehouse built once (creating one loads the reference data: ~2 s)."""
    path = tmp_path_factory.mktemp("template") / "w.duckdb"
    warehouse.connect(path).close()
    return path


@pytest.fixture
def con(template, tmp_path):
    """A new, empty warehouse for one test: a copy of the template, open read-write."""
    path = tmp_path / "w.duckdb"
    shutil.copy(template, path)
    c = warehouse.connect(path)
    yield c
    c.close()


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    return d


def preload(con, tmp_path):
    """A first, ordinary submission, so that "unchanged" has something to compare."""
    path = write_csv(tmp_path / "earlier.csv", random_rows(20, seed=3, countries=("ITA",)))
    ingest_file(con, path)


# ----------------------------------------------------------------------------------------------
# The API issue 11 adds
# ----------------------------------------------------------------------------------------------

def test_api_names_of_issue_11_exist():
    from analytics import schema

    for name in CONSTANTS:
        assert isinstance(spec(name).reason, str)
    assert spec("ALREADY_LOADED").reason.startswith("case_id: already loaded")
    assert issubclass(spec("StrictRejectError"), SubmissionError)
    assert getattr(schema, "DIAGNOSIS_FROM", None) == date(1950, 1, 1)
    params = inspect.signature(ingest_file).parameters
    assert params["strict"].default is False and params["replace"].default is False
    fields = getattr(ingest.IngestReport, "__dataclass_fields__", {})
    assert "blank_rows" in fields and "readmitted" in fields
    assert spec("Removal")._fields == ("loaded", "rejected", "readmitted")


# ----------------------------------------------------------------------------------------------
# 1. SQL from a column name
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,name", fc.HOSTILE_NAMES, ids=[h[0] for h in fc.HOSTILE_NAMES])
def test_1_sql_from_a_column_name_hostile_names(con, tmp_path, corpus, label, name):
    preload(con, tmp_path)
    check(con, fc.hostile_header(corpus, label, name))
    assert con.execute("SELECT count(*) FROM cases WHERE submission_id = 'earlier'").fetchone()[0] == 20


@pytest.mark.parametrize("how", ["read_text", "read_csv"])
def test_1_sql_from_a_column_name_cannot_read_a_local_file(con, tmp_path, corpus, how):
    preload(con, tmp_path)
    secret = fc.write_secret(corpus)
    make = {"read_text": fc.header_reads_secret_with_read_text,
            "read_csv": fc.header_reads_secret_with_read_csv}[how]
    c = make(corpus, secret)
    check(con, c)
    assert marker_tables(con, fc.MARKER) == []
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] in (1, 2)


@pytest.mark.parametrize("how", ["copy_to", "drop_table"])
def test_1_sql_from_a_column_name_cannot_run_a_statement(con, tmp_path, corpus, how):
    preload(con, tmp_path)
    c = fc.header_copies_out(corpus) if how == "copy_to" else fc.header_drops_cases(corpus)
    check(con, c)
    for p in c.must_not_exist:
        assert not p.exists(), f"{p} was written"
    assert con.execute("SELECT count(*) FROM cases WHERE submission_id = 'earlier'").fetchone()[0] == 20


def test_1_sql_from_a_column_name_excel_trailing_delimiter(con, corpus):
    report = check(con, fc.excel_trailing_delimiter(corpus))
    assert report.rows_loaded == 5 and report.rows_rejected == 0
    assert "" not in report.ignored_columns and report.ignored_columns == []


# ----------------------------------------------------------------------------------------------
# 2. Valid tumours silently lost
# ----------------------------------------------------------------------------------------------

def test_2a_valid_tumours_lost_blank_and_delimiter_only_lines(con, corpus):
    report = check(con, fc.blank_and_comma_only_lines(corpus))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected, report.blank_rows) == (3, 3, 0, 2)


def test_2b_valid_tumours_lost_unterminated_quote(con, corpus):
    report = check(con, fc.unterminated_quote(corpus))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 4, 1)


def test_2c_valid_tumours_lost_quoted_line_break(con, corpus):
    report = check(con, fc.quoted_line_break(corpus))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (6, 4, 2)


@pytest.mark.parametrize("seed", fc.FUZZ_SEEDS)
def test_2d_valid_tumours_lost_fuzz_corpus(con, corpus, seed):
    c = fc.fuzz_file(corpus, seed)
    assert c.balanced_quotes
    nonblank, blank = fc.count_records_with_csv_module(c.path, c.delimiter)
    assert (nonblank, blank) == (c.rows_read, c.blank_rows), "the generator and csv disagree"
    report = check(con, c)
    assert report.rows_read == nonblank == report.rows_loaded + report.rows_rejected


@pytest.mark.parametrize("seed", fc.FUZZ_UNBALANCED_SEEDS)
def test_2d_valid_tumours_lost_fuzz_unterminated_quote(con, corpus, seed):
    check(con, fc.fuzz_file(corpus, seed, unbalanced=True))


def test_2d_fuzz_corpus_is_small_and_deterministic(tmp_path):
    a = fc.write_all(tmp_path / "a")
    b = fc.write_all(tmp_path / "b")
    assert len(a) == len(b) > 50
    for x, y in zip(a, b):
        if x.path.is_file() and x.path.suffix == ".csv":  # (some embed their own directory)
            assert x.path.read_bytes().replace(str(tmp_path / "a").encode(), b"D") == \
                y.path.read_bytes().replace(str(tmp_path / "b").encode(), b"D"), x.path.name
            assert x.path.stat().st_size < 4_000_000
    run = subprocess.run([sys.executable, "-m", "tests.fuzz_corpus", str(tmp_path / "c")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "c" / "manifest.json").exists()


# ----------------------------------------------------------------------------------------------
# 3. Dates
# ----------------------------------------------------------------------------------------------

def test_3_dates_before_1950_rejected_edges_loaded(con, corpus):
    report = check(con, fc.dates_at_the_edges(corpus))
    assert (report.rows_loaded, report.rows_rejected) == (3, 2)
    assert any(r.startswith("diagnosis_date: before 1950") for r in report.reasons)


# ----------------------------------------------------------------------------------------------
# 4. Tumours lost across submissions
# ----------------------------------------------------------------------------------------------

def _two_submissions(con, tmp_path):
    """A holds T and V; B (another file) holds T and U: T is rejected in B as already loaded."""
    a = write_csv(tmp_path / "a.csv", [valid_row(case_id="T"), valid_row(case_id="V")])
    b = write_csv(tmp_path / "b.csv", [valid_row(case_id="T"), valid_row(case_id="U")])
    ingest_file(con, a)
    rb = ingest_file(con, b)
    assert (rb.rows_loaded, rb.rows_rejected) == (1, 1)
    assert rb.reasons == {already_loaded_reason(): 1}
    return a, b


def _t_readmitted_into_b(con):
    assert con.execute("SELECT submission_id, line_no FROM cases WHERE case_id = 'T'").fetchall() == [("b", 2)]
    assert con.execute("SELECT count(*) FROM rejected_rows WHERE submission_id = 'b'").fetchone()[0] == 0
    assert con.execute("SELECT rows_read, rows_loaded, rows_rejected FROM submissions "
                       "WHERE submission_id = 'b'").fetchone() == (2, 2, 0)
    accounting_holds(con, "b")


def test_4a_tumours_lost_across_submissions_remove_readmits(con, tmp_path):
    _two_submissions(con, tmp_path)
    removal = remove_submission(con, "a")
    assert (removal.loaded, removal.rejected, removal.readmitted) == (2, 0, {"b": 1})
    _t_readmitted_into_b(con)
    assert con.execute("SELECT count(*) FROM submissions WHERE submission_id = 'a'").fetchone()[0] == 0


def test_4b_tumours_lost_across_submissions_corrected_reload_readmits(con, tmp_path):
    a, _ = _two_submissions(con, tmp_path)
    write_csv(a, [valid_row(case_id="V"), valid_row(case_id="W")])  # corrected: T was not ours
    report = ingest_file(con, a)
    assert report.replaced == ["a"]
    assert getattr(report, "readmitted", None) == {"b": 1}
    _t_readmitted_into_b(con)
    assert sorted(r[0] for r in con.execute("SELECT case_id FROM cases WHERE submission_id = 'a'").fetchall()) \
        == ["V", "W"]
    accounting_holds(con, "a")


def test_4c_tumours_lost_across_submissions_same_name_other_partner(con, tmp_path):
    (tmp_path / "fra").mkdir()
    (tmp_path / "deu").mkdir()
    fra = write_csv(tmp_path / "fra" / "2024.csv", [valid_row(case_id="F1"), valid_row(case_id="F2")])
    deu = write_csv(tmp_path / "deu" / "2024.csv", [valid_row(case_id="D1", country="DEU", registry="B")])
    ingest_file(con, fra)
    before = state(con)
    with pytest.raises(SubmissionError) as e:
        ingest_file(con, deu)
    assert "--replace" in one_line(e.value)
    assert state(con) == before
    report = ingest_file(con, deu, replace=True)
    assert report.replaced == ["2024"] and report.rows_loaded == 1
    assert con.execute("SELECT country, count(*) FROM cases GROUP BY ALL").fetchall() == [("DEU", 1)]


def test_4c_tumours_lost_across_submissions_same_name_same_partner_replaces(con, tmp_path):
    path = write_csv(tmp_path / "fra_2024.csv", [valid_row(case_id="A"), valid_row(case_id="B", registry="R02")])
    ingest_file(con, path)
    write_csv(path, [valid_row(case_id="A"), valid_row(case_id="C", registry="R02")])  # corrected
    report = ingest_file(con, path)
    assert report.replaced == ["fra_2024"] and report.rows_loaded == 2
    assert sorted(r[0] for r in con.execute("SELECT case_id FROM cases").fetchall()) == ["A", "C"]


def test_4d_tumours_lost_across_submissions_same_content_other_name(con, tmp_path):
    x = write_csv(tmp_path / "FRA_2023.csv", random_rows(10, seed=4, countries=("FRA",)))
    ingest_file(con, x)
    before = state(con)
    copy = tmp_path / "resubmitted.csv"
    copy.write_bytes(x.read_bytes())
    with pytest.raises(SubmissionError) as e:
        ingest_file(con, copy)
    assert "FRA_2023" in one_line(e.value)
    assert state(con) == before


def test_4e_tumours_lost_across_submissions_one_load_never_deletes_two(con, tmp_path):
    x = write_csv(tmp_path / "fra_x.csv", [valid_row(case_id="X1")])
    y = write_csv(tmp_path / "fra_y.csv", [valid_row(case_id="Y1"), valid_row(case_id="Y2")])
    ingest_file(con, x)
    ingest_file(con, y)
    y_before = {t: con.execute(f"SELECT * FROM {t} WHERE submission_id = 'fra_y' ORDER BY ALL").fetchall()
                for t in TABLES}
    (tmp_path / "again").mkdir()
    named_x_holding_y = tmp_path / "again" / "fra_x.csv"
    named_x_holding_y.write_bytes(y.read_bytes())
    try:
        ingest_file(con, named_x_holding_y)
    except SubmissionError as e:
        one_line(e)
    y_after = {t: con.execute(f"SELECT * FROM {t} WHERE submission_id = 'fra_y' ORDER BY ALL").fetchall()
               for t in TABLES}
    assert y_after == y_before
    assert con.execute("SELECT count(*) FROM cases WHERE case_id = 'Y1'").fetchone()[0] == 1


# ----------------------------------------------------------------------------------------------
# 5. Crashes and cliffs
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", fc.RESERVED_NAMES)
def test_5a_crashes_reserved_column_name(con, corpus, name):
    check(con, fc.reserved_column_name(corpus, name))


def test_5a_crashes_reserved_column_name_parquet(con, corpus):
    check(con, fc.reserved_column_parquet(corpus))


def test_5b_cliffs_one_blank_line_in_a_large_file(template, tmp_path, corpus):
    plain = fc.large_file(corpus)
    blank = fc.large_file(corpus, blank_after=10_000)

    def load(c: fc.Crafted, tag: str) -> float:
        path = tmp_path / f"{tag}.duckdb"
        shutil.copy(template, path)
        con = warehouse.connect(path)
        try:
            best = float("inf")
            for _ in range(2):  # the second load replaces the first; keep the faster
                t = time.perf_counter()
                report = ingest_file(con, c.path)
                best = min(best, time.perf_counter() - t)
            assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (20_000, 20_000, 0)
            accounting_holds(con, report.submission_id)
            got = dict(con.execute("SELECT case_id, line_no FROM cases").fetchall())
            assert got == c.loaded, f"{tag}: line numbers"
            return best, report
        finally:
            con.close()

    t_plain, _ = load(plain, "plain")
    t_blank, report = load(blank, "blank")
    assert t_blank <= 3 * max(t_plain, 0.25), f"one blank line: {t_blank:.2f} s vs {t_plain:.2f} s"
    assert blank_rows(report) == 1


def test_5c_crashes_parquet_datetime_dates(con, corpus):
    report = check(con, fc.parquet_datetime_dates(corpus))
    assert report.rows_loaded == 12


def test_5d_crashes_parquet_nan_and_inf(con, corpus):
    check(con, fc.parquet_nan_and_inf(corpus))
    for col in ("case_id", "patient_id", "registry", "stage"):
        bad = con.execute(f"SELECT {col} FROM cases WHERE lower({col}) IN ('nan', 'inf', '-inf', 'infinity', "
                          f"'-infinity')").fetchall()
        assert bad == [], (col, bad)


# ----------------------------------------------------------------------------------------------
# 6. --strict
# ----------------------------------------------------------------------------------------------

def test_6_strict_refuses_a_file_with_a_bad_row_and_changes_nothing(con, tmp_path):
    preload(con, tmp_path)
    before = state(con)
    bad = write_csv(tmp_path / "bad.csv", random_rows(5, seed=9) + [valid_row(case_id="B", sex="x")])
    strict_error = spec("StrictRejectError")
    with pytest.raises(strict_error) as e:
        ingest_file(con, bad, strict=True)
    assert isinstance(e.value, SubmissionError)
    one_line(e.value)
    assert (e.value.report.rows_read, e.value.report.rows_loaded, e.value.report.rows_rejected) == (6, 5, 1)
    assert state(con) == before


def test_6_strict_loads_a_clean_file(con, tmp_path):
    good = write_csv(tmp_path / "good.csv", random_rows(5, seed=9))
    report = ingest_file(con, good, strict=True)
    assert (report.rows_loaded, report.rows_rejected) == (5, 0)
    accounting_holds(con, "good")


def test_6_strict_cli_exits_3_and_loads_nothing(template, tmp_path):
    dbp = tmp_path / "cli.duckdb"
    shutil.copy(template, dbp)
    bad = write_csv(tmp_path / "bad.csv", random_rows(5, seed=9) + [valid_row(case_id="B", sex="x")])
    run = subprocess.run([sys.executable, "-m", "analytics", "ingest", str(bad), "--db", str(dbp), "--strict"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 3, (run.returncode, run.stderr)
    ro = duckdb.connect(str(dbp), read_only=True)
    try:
        assert ro.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
        assert ro.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
        assert ro.execute("SELECT count(*) FROM rejected_rows").fetchone()[0] == 0
    finally:
        ro.close()


# ----------------------------------------------------------------------------------------------
# 8. Messages
# ----------------------------------------------------------------------------------------------

def test_8_messages_cr_only_line_endings(con, corpus):
    check(con, fc.cr_only_line_endings(corpus))


def test_8_messages_header_of_delimiters_only(con, tmp_path, corpus):
    preload(con, tmp_path)
    check(con, fc.header_of_delimiters(corpus))


def test_8_messages_semicolons_in_a_column_name(con, corpus):
    check(con, fc.semicolons_in_column_name(corpus))


def test_8_messages_a_directory(con, tmp_path, corpus):
    preload(con, tmp_path)
    check(con, fc.a_directory(corpus))


def test_8_messages_utf16_with_bom(con, tmp_path, corpus):
    preload(con, tmp_path)
    check(con, fc.utf16_with_bom(corpus))


def test_8_messages_a_fifo_is_refused_promptly(con, tmp_path, corpus):
    """ingest must not open the pipe and wait for a writer. If it does, a watchdog opens the
    write end (which succeeds only while a reader waits) and closes it, so the read sees the end
    of the file and the test fails instead of hanging; SIGALRM is the last resort."""
    preload(con, tmp_path)
    c = fc.a_fifo(corpus)
    stop, fired = threading.Event(), []

    def watchdog():
        if stop.wait(5):
            return
        while not stop.is_set():
            try:
                fd = os.open(c.path, os.O_WRONLY | os.O_NONBLOCK)
                fired.append(True)
                os.close(fd)
            except OSError:
                pass
            stop.wait(0.2)

    def alarm(signum, frame):
        raise TimeoutError("ingest_file blocked on a FIFO")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(30)
    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    t = time.perf_counter()
    try:
        check(con, c)
    finally:
        elapsed = time.perf_counter() - t
        stop.set()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        thread.join(2)
    assert not fired and elapsed < 5, f"ingest_file waited on the FIFO ({elapsed:.1f} s)"
