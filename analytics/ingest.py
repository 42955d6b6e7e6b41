"""Loading a partner's submission: read, validate every row, classify, derive, load all-or-nothing.

The path of one file:

1. **Read** (CSV: records found and counted by `csvfile.py`, fields by DuckDB's reader; Parquet:
   pyarrow) into a temporary table of text columns, one per contract column, with the source line
   number. Nothing from the file (not even a column name) is pasted into SQL text: columns are
   mapped by position. A file that cannot be read as a submission at all (not CSV/Parquet, not
   UTF-8, a required column missing) raises `SubmissionError` with one clear line before anything
   in the warehouse is touched.
2. **Validate** in SQL: each rule in `RULES` (part of the data contract, `schema.py`) is a
   boolean expression over the parsed row; a row's reasons are every rule it fails. Malformed CSV
   lines (wrong number of fields) are rejected rows too, so rows read = rows loaded + rows
   rejected always holds.
3. **Classify** (ICCC-3, `iccc.py`) and **derive** (age, age group, period, follow-up, ...).
4. **Load** in one transaction: the previous version of the submission (same name) is deleted,
   then cases, rejected rows and the `submissions` row are inserted. Loading the same file again
   therefore replaces it and never duplicates it. Replacement is scoped: a file whose countries
   and registries differ from the submission of that name is refused unless `replace=True`, and a
   file identical to another submission is refused. Tumours another submission had rejected as
   "already loaded" are re-admitted when a replacement or removal frees them. `strict=True` loads
   nothing at all when any row would be rejected.

Validation is SQL inside DuckDB, not a Python loop over rows: see benchmarks/ingest_benchmark.py.
"""
from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pycountry

from analytics import csvfile, iccc, ingest_tables
from analytics.warehouse import RECORD_KEY_SQL, SCOPE_SQL, cellkey_secret, transaction
from analytics.schema import (AGE_BANDS, AGE_GROUPS, ALL_INPUT_NAMES, ALREADY_LOADED, CASE_NAMES, FILE_KINDS,
                              INPUT_NAMES, MALFORMED_LINE, NONFINITE, RULES, SCHEMA_VERSION,
                              PERIOD_SQL, TORONTO_STAGES, UNTERMINATED_QUOTE, FileKind, Rule, rules_fail_sql,
                              rules_reasons_sql, submission_kind)

#: The public names. The validation rules are part of the data contract (`analytics.schema`);
#: they are applied here and importable from here too.
__all__ = ["ALREADY_LOADED", "MALFORMED_LINE", "NONFINITE", "RULES", "UNTERMINATED_QUOTE", "IngestReport",
           "Removal", "Rule", "StrictRejectError", "SubmissionError", "ingest_file", "loaded_words", "readmitted_lines",
           "remove_submission", "submission_name"]


class SubmissionError(Exception):
    """The file cannot be read as a submission at all; the message is one line for the user."""


class StrictRejectError(SubmissionError):
    """`strict=True` and at least one row would be rejected: nothing was loaded. `report` is
    the IngestReport the load would have produced (its counts and reasons)."""

    def __init__(self, report: "IngestReport"):
        super().__init__(f"{report.file_name}: {report.rows_rejected} of {report.rows_read} rows would "
                         f"be rejected; nothing loaded (strict)")
        self.report = report


_DATE_SQL = ("CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
             "THEN CAST(try_strptime({t}, '%Y-%m-%d') AS DATE) END")


def _parse_sql(source: str = "_raw") -> str:
    """SELECT that turns raw text rows (`source`: line_no + contract columns) into the parsed
    relation the rules read. Duplicate case ids come from `_dups`, counted over the whole file."""
    texts = ",\n".join(f"nullif(trim(\"{c}\"), '') AS {c}_t" for c in INPUT_NAMES)
    return f"""
    WITH t AS (SELECT line_no, {texts}, nonfinite AS nonfinite_t FROM {source}),
    d AS (
      SELECT t.*,
        case_id_t AS case_id,
        coalesce(dup.n, 1) AS n_same_case_id,
        l.case_id IS NOT NULL AS loaded_elsewhere,
        {ingest_tables.HELD_FLAG.format(t='t')} AS held_as_tables,
        upper(country_t) AS country,
        upper(country_t) IN (SELECT code FROM _iso3) AS is_iso3,
        upper(stage_t) IN (SELECT code FROM _stages) AS is_toronto,
        {_DATE_SQL.format(t='birth_date_t')} AS birth_date,
        {_DATE_SQL.format(t='diagnosis_date_t')} AS diagnosis_date,
        {_DATE_SQL.format(t='last_contact_date_t')} AS last_contact_date,
        CASE WHEN regexp_full_match(age_years_t, '[0-9]{{1,3}}') THEN CAST(age_years_t AS INTEGER) END
          AS age_given,
        {iccc.TOPOGRAPHY_INT_SQL.format(col='topography_t')} AS topo,
        CASE WHEN regexp_full_match(morphology_t, '[0-9]{{4}}') THEN CAST(morphology_t AS INTEGER) END
          AS morph
      FROM t LEFT JOIN _dups dup ON t.case_id_t = dup.dup_id
        LEFT JOIN _loaded l ON l.case_id = t.case_id_t AND l.country = upper(t.country_t)
                           AND l.registry IS NOT DISTINCT FROM t.registry_t  -- distinct keys: no row repeats
        {ingest_tables.HELD_JOIN.format(t='t')}
    ),
    a AS (
      SELECT d.*,
        CASE WHEN birth_date IS NOT NULL AND diagnosis_date IS NOT NULL THEN
          year(diagnosis_date) - year(birth_date)
          - CASE WHEN month(diagnosis_date) * 100 + day(diagnosis_date)
                      < month(birth_date) * 100 + day(birth_date) THEN 1 ELSE 0 END
        END AS age_from_birth
      FROM d
    )
    SELECT a.*, coalesce(age_from_birth, age_given) AS age FROM a
    """


def _reasons_sql() -> str:
    """List of the reasons a parsed row fails (evaluated on failing rows only: it is slow)."""
    return rules_reasons_sql(RULES)


def _bad_sql() -> str:
    """True when a parsed row fails any rule (cheap: evaluated on every row)."""
    return rules_fail_sql(RULES)


def _bands_sql(bands: list[tuple[str, int, int]]) -> str:
    whens = " ".join(f"WHEN age BETWEEN {lo} AND {hi} THEN '{label}'" for label, lo, hi in bands)
    return f"CASE {whens} END"


_CASES_SELECT = f"""
SELECT
  $sid AS submission_id, line_no, case_id,
  coalesce(patient_id_t, case_id) AS patient_id,
  country, registry_t AS registry,
  CAST(sex_t AS TINYINT) AS sex,
  birth_date, diagnosis_date,
  'C' || lpad(CAST(topo AS VARCHAR), 3, '0') AS topography,
  CAST(morph AS SMALLINT) AS morphology,
  CAST(behaviour_t AS TINYINT) AS behaviour,
  CAST(basis_t AS TINYINT) AS basis,
  upper(stage_t) AS stage,
  CAST(vital_status_t AS TINYINT) AS vital_status,
  last_contact_date,
  CAST(age AS TINYINT) AS age_years,
  {_bands_sql(AGE_GROUPS)} AS age_group,
  {_bands_sql(AGE_BANDS)} AS age_band,
  CAST(year(diagnosis_date) AS SMALLINT) AS year,
  {PERIOD_SQL.format(year='year(diagnosis_date)')} AS period,
  date_diff('day', diagnosis_date, last_contact_date) AS followup_days,
  date_diff('day', diagnosis_date, last_contact_date) / 365.25 AS followup_years,
  CAST(vital_status_t = '2' AS TINYINT) AS event,
  coalesce(basis_t = '0', false) AS dco,
  k.iccc_main, k.iccc_sub, k.iccc_ext,
  {RECORD_KEY_SQL.format(country='country', registry='registry_t', case_id='case_id')} AS record_key,
  CASE WHEN vital_status_t = '2' THEN coalesce(CAST(cause_of_death_t AS TINYINT), 9) END AS cause_of_death
FROM (SELECT * FROM (SELECT *, {{bad}} AS bad FROM ({{parsed}}) _p) WHERE NOT bad) v
LEFT JOIN (SELECT topo AS k_topo, morph AS k_morph, beh AS k_beh, iccc_main, iccc_sub, iccc_ext FROM _iccc) k
  ON k.k_topo = v.topo AND k.k_morph = v.morph AND k.k_beh = CAST(v.behaviour_t AS INTEGER)
"""


def _cases_select() -> str:
    """SELECT of the `cases` rows (parsed, valid, classified, derived) from `_raw`, one pass.

    `bad` is computed as a column and then filtered on: written directly as WHERE NOT (...),
    DuckDB pushes the 40-way OR down into the parse and the query runs 2-3 times slower."""
    return _CASES_SELECT.replace("{parsed}", _parse_sql()).replace("{bad}", _bad_sql())


@dataclass
class IngestReport:
    """What one `ingest` did: the row accounting and why rows were rejected.

    rows_read counts the file's non-blank records (= rows_loaded + rows_rejected); blank_rows the
    empty lines and rows of nothing but delimiters, which hold no tumour and are skipped."""

    submission_id: str
    file_name: str
    sha256: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_unclassified: int
    reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    blank_rows: int = 0
    readmitted: dict[str, int] = field(default_factory=dict)
    kind: str = "cases"
    #: the ICCC-3 version that classified this submission, and (version -> submissions) the other
    #: case submissions in the pool classified by another one
    iccc_version: str = iccc.DEFAULT_VERSION
    other_iccc_versions: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        what = "" if self.kind == "cases" else f" ({FILE_KINDS[self.kind].label}, rows are strata)"
        lines = [f"{self.file_name}{what}: read {self.rows_read}, loaded {self.rows_loaded}, "
                 f"rejected {self.rows_rejected}, unclassified (ICCC-3) {self.rows_unclassified}"
                 f"  [submission '{self.submission_id}']"]
        if self.blank_rows:
            lines.append(f"  skipped {self.blank_rows} blank line(s) or row(s) of empty fields")
        if self.replaced:
            lines.append(f"  replaced the earlier load of: {', '.join(self.replaced)}")
        lines += readmitted_lines(self.readmitted)
        if self.other_iccc_versions:
            others = "; ".join(f"{n} by {v}" for v, n in self.other_iccc_versions.items())
            lines.append(f"  classified by {self.iccc_version}; other submissions in the pool: {others}. "
                         f"`python -m analytics reclassify` puts the whole pool on one version")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {n:>8}  {reason}")
        return "\n".join(lines)


def loaded_words(kind: str, n: int) -> str:
    """What n loaded rows of a submission of `kind` are, in words: '1,234 tumours', or '312 rows of
    survival events (aggregate)' (a row of a table holds many tumours)."""
    if kind == "cases":
        return f"{n:,} tumour{'' if n == 1 else 's'}"
    return f"{n:,} row{'' if n == 1 else 's'} of {FILE_KINDS[kind].label}"


def readmitted_lines(readmitted: dict[str, int]) -> list[str]:
    return [f"  admitted {n} tumour(s) of submission '{sid}' that had been rejected as already loaded"
            for sid, n in sorted(readmitted.items())]


class Removal(NamedTuple):
    """What `remove_submission` deleted, and the tumours of other submissions it re-admitted."""

    loaded: int
    rejected: int
    readmitted: dict[str, int]


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    """The file's content; refuses, with the real reason, what is not a regular file (a FIFO or
    device would block or never end)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SubmissionError(f"{path}: no such file") from None
    except OSError as e:
        raise SubmissionError(f"{path}: cannot be read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SubmissionError(f"{path}: is a directory, not a submission file")
    if not stat.S_ISREG(st.st_mode):
        raise SubmissionError(f"{path}: not a regular file (a pipe, device or socket)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise SubmissionError(f"{path}: cannot be read ({e.strerror})") from None


def _detect_format(path: Path, head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if path.suffix.lower() in (".parquet", ".pq"):
        raise SubmissionError(f"{path.name}: named .parquet but is not a Parquet file")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SubmissionError(f"{path.name}: UTF-16 text; save the file as UTF-8 (CSV UTF-8 in Excel)")
    if b"\x00" in head[:4096]:
        raise SubmissionError(f"{path.name}: not a CSV or Parquet file (binary content)")
    return "csv"


def _printable(name: str) -> str:
    """A column name as it may be quoted in a message: control characters shown escaped, cut."""
    text = name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
    return text if len(text) <= 60 else text[:57] + "..."


def _check_columns(path: Path, names: list[str]) -> tuple[FileKind, dict[str, int], list[str]]:
    """The file's kind (by its header: `schema.submission_kind`) and the map contract column ->
    position of that column in the file; raise on missing/duplicate columns. Unnamed columns
    (Excel's trailing delimiter) are neither mapped nor reported."""
    lowered = [n.strip().lower() for n in names]
    named = [n for n in lowered if n]
    dupes = sorted({n for n in named if named.count(n) > 1})
    if dupes:
        raise SubmissionError(f"{path.name}: duplicate column name(s): {', '.join(map(_printable, dupes))}")
    kind = FILE_KINDS[submission_kind(named)]
    present = {n: i for i, n in enumerate(lowered) if n}
    missing = [c for c in kind.required if c not in present]
    missing += [" or ".join(group) for group in kind.any_of if not any(c in present for c in group)]
    missing += [f"one of {', '.join(group)}" for group in kind.one_of if not any(c in present for c in group)]
    if missing:
        shown = ", ".join(_printable(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
        raise SubmissionError(f"{path.name}: missing required column(s): {', '.join(missing)} (read as a "
                              f"{kind.label}; the header has {len(names)} column(s): {shown})")
    for group in kind.one_of:
        given = [c for c in group if c in present]
        if len(given) > 1:
            raise SubmissionError(f"{path.name}: columns {' and '.join(given)} both given; a {kind.label} "
                                  f"has exactly one of {', '.join(group)}")
    mapping = {c: present[c] for c in kind.names if c in present}
    ignored = [_printable(n) for n, low in zip(names, lowered) if low and low not in kind.names]
    return kind, mapping, ignored


def _quote_ident(name: str) -> str:
    """An SQL identifier for a name this program chose (never a name from a file)."""
    return '"' + name.replace('"', '""') + '"'


def _raw_view(con: duckdb.DuckDBPyConnection, source: str, exprs: dict[str, str], kind: FileKind,
              nonfinite: str = "NULL::VARCHAR") -> None:
    """Temp view `_raw`: line_no, one text column per column of the kind's contract (NULL when
    absent), and `nonfinite` (names of contract columns holding inf, or NULL). `exprs` maps
    contract column -> SQL over `source`'s generated columns c0, c1, ..."""
    cols = ", ".join(f"{exprs[c]} AS \"{c}\"" if c in exprs else f"NULL::VARCHAR AS \"{c}\""
                     for c in kind.names)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT line_no, {cols}, {nonfinite} AS nonfinite "
                f"FROM {source}")
    # which contract columns the file has (an absent one reads NULL in `_raw`, like an empty one)
    con.execute("CREATE OR REPLACE TEMP TABLE _given AS SELECT unnest($names::VARCHAR[]) AS name", {"names": list(exprs)})


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, data: bytes) -> tuple[FileKind, list[str], int]:
    """Fill `_raw` and `_malformed` from a delimited text file; returns (its kind, ignored columns,
    blank rows). Records are found and counted by csvfile.py, independently of the field parser."""
    try:
        data = csvfile.decode_check(path.name, data)
        names, delim, begin = csvfile.header(path.name, data, ALL_INPUT_NAMES)
    except csvfile.CsvFileError as e:
        raise SubmissionError(str(e)) from None
    kind, mapping, ignored = _check_columns(path, names)
    parsed = csvfile.read_csv_into(con, str(path), data, names, delim, begin)
    _raw_view(con, "_csv_rows", {c: f"c{i}" for c, i in mapping.items()}, kind)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _malformed AS
        SELECT line_no, text AS csv_line,
               CASE reason WHEN 'quote' THEN '{UNTERMINATED_QUOTE.reason}' ELSE '{MALFORMED_LINE.reason}' END
                 AS reason
        FROM _csv_rejects""")
    return kind, ignored, parsed.blank


#: Parquet is compressed, and dictionary-encoded text stores a repeated value once: a small file
#: may hold columns that take far more memory once read (a "zip bomb"). Files whose values would
#: take more than this (bytes) are refused before they are read.
MAX_PARQUET_EXPANDED_BYTES = 800 * 1024 * 1024


def check_parquet(source, name: str) -> None:
    """Refuse (SubmissionError, one sentence) a Parquet file with nested columns (lists,
    structs, maps: a submission has one plain value per column) or whose values would take more
    than MAX_PARQUET_EXPANDED_BYTES once read. Measured batch by batch with text kept
    dictionary-encoded, so the measuring itself stays small. `source`: a path or file object."""
    import pyarrow.compute as pc

    try:
        schema = pq.ParquetFile(source).schema_arrow
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise SubmissionError(f"{name}: nested columns ({', '.join(_printable(n) for n in nested[:5])}); "
                                  "a submission has one plain value per column")
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
        if hasattr(source, "seek"):
            source.seek(0)
        expanded = 0
        for batch in pq.ParquetFile(source, read_dictionary=text).iter_batches(batch_size=10_000):
            for col in batch.columns:
                if pa.types.is_dictionary(col.type):
                    lengths = pc.binary_length(col.dictionary).fill_null(0)
                    expanded += pc.sum(pc.take(lengths, col.indices)).as_py() or 0
                else:
                    expanded += col.nbytes
            if expanded > MAX_PARQUET_EXPANDED_BYTES:
                raise SubmissionError(f"{name}: would expand to more than {MAX_PARQUET_EXPANDED_BYTES // 2**20:,} "
                                      "MB when read; the largest accepted is that much")
    except SubmissionError:
        raise
    except (pa.ArrowException, OSError, ValueError) as e:
        raise SubmissionError(f"{name}: cannot be read as Parquet: {str(e).splitlines()[0][:200]}") from None


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[FileKind, list[str]]:
    """Fill `_raw` and `_malformed` (empty) from a Parquet file read by pyarrow. Columns are
    renamed c0, c1, ... before DuckDB sees them, so no column name reaches SQL.

    pandas conventions are honoured: NaN in a float column is a missing value, integral floats
    (pandas writes integer columns with gaps as float64) are integers, datetime64 columns are dates
    (the calendar date written; time-zone-aware ones in UTC). inf/-inf is rejected (NONFINITE)."""
    check_parquet(path, path.name)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise SubmissionError(f"{path.name}: cannot be read as Parquet: {str(e).splitlines()[0][:200]}") from None
    names = table.column_names
    kind, mapping, ignored = _check_columns(path, names)
    exprs, infinite = {}, []
    for c, i in mapping.items():
        x, t = f"c{i}", table.schema.field(i).type
        if pa.types.is_floating(t):
            exprs[c] = (f"CASE WHEN NOT isfinite({x}) THEN NULL "
                        f"WHEN abs({x}) < 1e15 AND {x} = floor({x}) THEN CAST(CAST({x} AS BIGINT) AS VARCHAR) "
                        f"ELSE CAST({x} AS VARCHAR) END")
            infinite.append(f"CASE WHEN isinf({x}) THEN '{c}' END")
        elif pa.types.is_timestamp(t) and t.tz is not None:
            exprs[c] = f"strftime(timezone('UTC', {x}), '%Y-%m-%d')"
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            exprs[c] = f"strftime(CAST({x} AS DATE), '%Y-%m-%d')"
        else:
            exprs[c] = f"CAST({x} AS VARCHAR)"
    table = table.rename_columns([f"c{i}" for i in range(len(names))])
    table = table.append_column("line_no", pa.array(range(1, table.num_rows + 1), pa.int64()))
    csvfile.register(con, "_pq_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _pq AS SELECT * FROM _pq_arrow")
    con.unregister("_pq_arrow")
    nonfinite = f"nullif(concat_ws(', ', {', '.join(infinite)}), '')" if infinite else "NULL::VARCHAR"
    _raw_view(con, "_pq", exprs, kind, nonfinite)
    con.execute("CREATE OR REPLACE TEMP TABLE _malformed (line_no BIGINT, csv_line VARCHAR, reason VARCHAR)")
    return kind, ignored


# ----------------------------------------------------------------------------------------------
# Validation, classification, load
# ----------------------------------------------------------------------------------------------

def _install_lookups(con: duckdb.DuckDBPyConnection) -> None:
    iso = [(c.alpha_3,) for c in pycountry.countries]
    con.execute("CREATE OR REPLACE TEMP TABLE _iso3 (code VARCHAR)")
    con.executemany("INSERT INTO _iso3 VALUES (?)", iso)
    con.execute("CREATE OR REPLACE TEMP TABLE _stages (code VARCHAR)")
    con.executemany("INSERT INTO _stages VALUES (?)", [(s,) for s in TORONTO_STAGES])
    con.execute("CREATE OR REPLACE TEMP TABLE _held (country VARCHAR, registry VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE _held_c (country VARCHAR, any_null BOOLEAN)")


def submission_name(path: Path) -> str:
    """Default submission id: the file name without its extension."""
    return re.sub(r"\.(csv|tsv|txt|parquet|pq)$", "", path.name, flags=re.IGNORECASE)


def _classify_raw(con: duckdb.DuckDBPyConnection, iccc_version: str) -> None:
    """Duplicate ids within `_raw` (`_dups`) and the ICCC-3 class of its distinct codes (`_iccc`),
    by the ICCC-3 version named `iccc_version` (`iccc.VERSIONS`)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _dups AS SELECT trim(case_id) AS dup_id, count(*) AS n
                   FROM _raw GROUP BY 1 HAVING count(*) > 1""")
    iccc.install_rules(con, version_name=iccc_version)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _iccc_input AS
        SELECT {iccc.TOPOGRAPHY_INT_SQL.format(col='topography')} AS topo,
               TRY_CAST(trim(morphology) AS INTEGER) AS morph, TRY_CAST(trim(behaviour) AS INTEGER) AS beh
        FROM _raw""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _iccc AS {iccc.CLASSIFY_SQL}")


def _insert_valid(con: duckdb.DuckDBPyConnection, sid: str) -> None:
    """Insert the valid rows of `_raw` into `cases` under submission `sid` (one parse of every row).
    Tumours already in the pool from other submissions (same country, registry, case_id) are not
    valid: loading them again would count them twice. Only the countries in `_raw` are read."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _loaded AS
        SELECT DISTINCT country, registry, case_id FROM cases
        WHERE country IN (SELECT DISTINCT upper(trim(country)) FROM _raw)""")
    ingest_tables.held(con, "cases")
    con.execute(f"INSERT INTO cases ({', '.join(CASE_NAMES)}) {_cases_select()}",
                {"sid": sid, "ck": cellkey_secret(con)})


def _scope(rows: list[tuple]) -> str:
    """{(country, registry)} as 'FRA (registries R01, R02), DEU' for a message."""
    by: dict[str, list[str]] = {}
    for country, registry in sorted(rows, key=lambda r: (r[0] or "", r[1] or "")):
        by.setdefault(country, [])
        if registry:
            by[country].append(registry)
    parts = [f"{c} (registr{'y' if len(r) == 1 else 'ies'} {', '.join(r[:5])}{', ...' if len(r) > 5 else ''})"
             if r else c for c, r in list(by.items())[:8]]
    return ", ".join(parts) + (", ..." if len(by) > 8 else "") or "no valid country"


def _check_replacement(con: duckdb.DuckDBPyConnection, sid: str, sha: str, path: Path,
                       replace: bool, kind: FileKind) -> list[str]:
    """The submission this load replaces ([] or [sid]); refuses out-of-scope replacements.

    - a file identical (SHA-256) to another submission is refused: it is already in the pool;
    - a file loaded under the name of an existing submission replaces it only when both hold the
      same countries and registries (a partner's corrected extract), or when `replace` confirms it:
      a file that happens to share another partner's file name must not delete that partner's data;
    - nor does a file of another kind (a partner's survival events for its case counts).
    """
    same = con.execute("SELECT submission_id, loaded_at FROM submissions WHERE sha256 = $sha "
                       "AND submission_id <> $sid ORDER BY 1", {"sha": sha, "sid": sid}).fetchall()
    if same:
        other, when = same[0]
        raise SubmissionError(f"{path.name}: identical (same SHA-256) to submission '{other}' loaded "
                              f"{when:%Y-%m-%d %H:%M}; nothing changed. To keep it under the name "
                              f"'{sid}', remove '{other}' first")
    kind_before = con.execute("SELECT kind FROM submissions WHERE submission_id = $sid", {"sid": sid}).fetchall()
    if not kind_before:
        return []
    if replace:
        return [sid]
    if kind_before[0][0] != kind.name:  # a partner's two tables share a stem: never one for the other
        raise SubmissionError(f"{path.name}: submission '{sid}' is a {FILE_KINDS[kind_before[0][0]].label}, this "
                              f"file a {kind.label}; nothing changed. Load it under another name (--name), or "
                              f"confirm the replacement with --replace")
    old = set(con.execute(f"SELECT DISTINCT country, registry FROM ({SCOPE_SQL}) "
                          "WHERE submission_id = $sid", {"sid": sid}).fetchall())
    new = set(con.execute("""SELECT DISTINCT upper(trim(country)), nullif(trim(registry), '') FROM _raw
                             WHERE upper(trim(country)) IN (SELECT code FROM _iso3)""").fetchall())
    if old and old != new:
        raise SubmissionError(f"{path.name}: submission '{sid}' already holds {_scope(old)}, but this file "
                              f"holds {_scope(new)}; nothing changed. Load it under another name "
                              f"(--name), or confirm the replacement with --replace")
    return [sid]


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | Path, *, name: str | None = None,
                synthetic: bool = False, strict: bool = False, replace: bool = False) -> IngestReport:
    """Validate and load one submission file into the warehouse open on `con`.

    Raises SubmissionError (warehouse untouched) when the file is not a readable submission or
    would replace another submission out of scope (see `_check_replacement`; `replace=True`
    confirms), and StrictRejectError (warehouse untouched) when `strict` and any row is rejected.
    """
    path = Path(path)
    data = _read_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    fmt = _detect_format(path, data[:4096])
    sid = name or submission_name(path)
    iccc_version = iccc.warehouse_version(con)  # the default, unless the warehouse was re-classified

    _install_lookups(con)
    try:
        if fmt == "csv":
            kind, ignored, blank = _read_csv(con, path, data)
        else:
            (kind, ignored), blank = _read_parquet(con, path), 0
        del data
        if kind.name == "cases":
            _classify_raw(con, iccc_version)
        else:
            ingest_tables.prepare(con)
        replaced = _check_replacement(con, sid, sha, path, replace, kind)
    except BaseException:
        _drop_scratch(con)
        raise

    try:
        con.execute("BEGIN TRANSACTION")
        for old in replaced:
            _delete_submission(con, old)
        if kind.name == "cases":
            _load_cases(con, sid)
        else:
            ingest_tables.load(con, kind, sid)
        loaded, rejected, unclassified = con.execute(f"""
            SELECT (SELECT count(*) FROM {kind.table} WHERE submission_id = $sid),
                   (SELECT count(*) FROM rejected_rows WHERE submission_id = $sid),
                   (SELECT count(*) FROM {kind.table} WHERE submission_id = $sid AND iccc_sub IS NULL)""",
                                                     {"sid": sid}).fetchone()
        rows_read = con.execute("SELECT (SELECT count(*) FROM _raw) + (SELECT count(*) FROM _malformed)"
                                ).fetchone()[0]
        con.execute("""INSERT INTO submissions (submission_id, file_name, sha256, file_format, rows_read,
                         rows_loaded, rows_rejected, rows_unclassified, loaded_at, schema_version,
                         iccc_version, synthetic, rows_blank, kind)
                       VALUES ($sid, $file, $sha, $fmt, $read, $loaded, $rejected, $unclassified,
                               now()::TIMESTAMP, $schema, $iccc, $synthetic, $blank, $kind)""",
                    {"sid": sid, "file": path.name, "sha": sha, "fmt": fmt, "read": rows_read,
                     "loaded": loaded, "rejected": rejected, "unclassified": unclassified,
                     "schema": SCHEMA_VERSION, "synthetic": synthetic,
                     # a partner's tables arrive classified (by its `aggregate`), not by this warehouse
                     "iccc": iccc_version if kind.name == "cases" else iccc.PARTNER_CLASSIFIED,
                     "blank": blank, "kind": kind.name})
        reasons = _group_reasons(con, sid)
        report = IngestReport(sid, path.name, sha, rows_read, loaded, rejected, unclassified, reasons,
                              ignored, replaced, blank, kind=kind.name,
                              iccc_version=iccc_version if kind.name == "cases" else iccc.PARTNER_CLASSIFIED)
        if kind.name == "cases":
            report.other_iccc_versions = dict(con.execute("""
                SELECT iccc_version, count(*) FROM submissions
                WHERE kind = 'cases' AND iccc_version <> $v GROUP BY 1 ORDER BY 1""", {"v": iccc_version}).fetchall())
        if strict and rejected:
            con.execute("ROLLBACK")
            raise StrictRejectError(report)
        report.readmitted = _readmit(con) if replaced else {}
        con.execute("COMMIT")
    except StrictRejectError:
        raise
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        _drop_scratch(con)
    return report


def _load_cases(con: duckdb.DuckDBPyConnection, sid: str) -> None:
    """Insert a case file's valid rows into `cases` and the others, with every reason, into
    `rejected_rows` (inside the caller's transaction)."""
    # Pass 1: every row is parsed once; the valid ones go straight into `cases`.
    _insert_valid(con, sid)
    # Pass 2: the rows that did not load (few) are parsed again to list all their reasons.
    con.execute("""CREATE OR REPLACE TEMP TABLE _bad AS SELECT * FROM _raw WHERE line_no NOT IN
                   (SELECT line_no FROM cases WHERE submission_id = $sid)""", {"sid": sid})
    con.execute(f"""INSERT INTO rejected_rows
        SELECT $sid, p.line_no, p.case_id, to_json(struct_pack({', '.join(f'"{c}" := r."{c}"' for c in INPUT_NAMES)})),
               p.reasons
        FROM (SELECT line_no, case_id, {_reasons_sql()} AS reasons FROM ({_parse_sql('_bad')}) _p) p
        JOIN _bad r USING (line_no)
        UNION ALL {ingest_tables.MALFORMED_REJECTED_SQL}""", {"sid": sid})


def _delete_submission(con: duckdb.DuckDBPyConnection, sid: str) -> None:
    for table in (*(k.table for k in FILE_KINDS.values()), "rejected_rows", "submissions"):
        con.execute(f"DELETE FROM {table} WHERE submission_id = ?", [sid])


def _readmit(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Load the rows other submissions had rejected only as "already loaded" whose tumour is no
    longer in the pool (its submission was removed, or replaced without it). Each is validated
    again exactly as at ingest, under its own submission and line; submissions are taken in the
    order they were loaded, so the earliest holder of a tumour gets it. Runs inside the caller's
    transaction. Returns submission id -> tumours admitted."""
    sids = [r[0] for r in con.execute("""
        SELECT r.submission_id FROM rejected_rows r JOIN submissions s USING (submission_id)
        WHERE r.reasons = [$reason] GROUP BY r.submission_id ORDER BY min(s.loaded_at), 1""",
                                      {"reason": ALREADY_LOADED.reason}).fetchall()]
    out = {}
    for sid in sids:
        fields = ", ".join(f"json_extract_string(raw, '$.{c}') AS \"{c}\"" for c in INPUT_NAMES)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _readmit_rows AS
            SELECT line_no, {fields}, NULL::VARCHAR AS nonfinite FROM rejected_rows
            WHERE submission_id = $sid AND reasons = [$reason]""",
                    {"sid": sid, "reason": ALREADY_LOADED.reason})
        con.execute("CREATE OR REPLACE TEMP VIEW _raw AS SELECT * FROM _readmit_rows")
        # by the version that classified the rest of that submission, so that it stays one version
        recorded = con.execute("SELECT iccc_version FROM submissions WHERE submission_id = $sid",
                               {"sid": sid}).fetchone()[0]
        _classify_raw(con, recorded if recorded in iccc.VERSIONS else iccc.warehouse_version(con))
        before = con.execute("SELECT count(*) FROM cases WHERE submission_id = $sid", {"sid": sid}).fetchone()[0]
        _insert_valid(con, sid)
        admitted = con.execute("SELECT count(*) FROM cases WHERE submission_id = $sid",
                               {"sid": sid}).fetchone()[0] - before
        if not admitted:
            continue
        con.execute("""DELETE FROM rejected_rows WHERE submission_id = $sid AND reasons = [$reason]
                       AND line_no IN (SELECT line_no FROM cases WHERE submission_id = $sid)""",
                    {"sid": sid, "reason": ALREADY_LOADED.reason})
        con.execute("""UPDATE submissions SET rows_loaded = rows_loaded + $k, rows_rejected = rows_rejected - $k,
                         rows_unclassified = (SELECT count(*) FROM cases
                                              WHERE submission_id = $sid AND iccc_sub IS NULL)
                       WHERE submission_id = $sid""", {"sid": sid, "k": admitted})
        out[sid] = admitted
    return out


def remove_submission(con: duckdb.DuckDBPyConnection, submission_id: str) -> Removal:
    """Delete one submission with its loaded and rejected rows, in one transaction, and re-admit
    the tumours of other submissions that had been rejected because this one held them."""
    row = con.execute("SELECT rows_loaded, rows_rejected FROM submissions WHERE submission_id = ?",
                      [submission_id]).fetchall()
    if not row:
        known = [r[0] for r in con.execute("SELECT submission_id FROM submissions ORDER BY 1").fetchall()]
        raise SubmissionError(f"no submission '{submission_id[:80]}'; loaded: {', '.join(known[:20]) or 'none'}")
    _install_lookups(con)
    try:
        with transaction(con):
            _delete_submission(con, submission_id)
            readmitted = _readmit(con)
    finally:
        _drop_scratch(con)
    return Removal(row[0][0], row[0][1], readmitted)


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary tables and views one ingest made (all named with a leading '_')."""
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE temporary AND view_name LIKE '\\_%' ESCAPE '\\'").fetchall()
    for (v,) in views:
        con.execute(f"DROP VIEW IF EXISTS {_quote_ident(v)}")
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' ESCAPE '\\'").fetchall()
    for (t,) in tables:
        con.execute(f"DROP TABLE IF EXISTS {_quote_ident(t)}")


def _group_reasons(con: duckdb.DuckDBPyConnection, sid: str) -> dict[str, int]:
    """Rejected rows per reason (a row with two reasons counts under both)."""
    return dict(con.execute("""
        SELECT reason, count(*)
        FROM (SELECT unnest(reasons) AS reason FROM rejected_rows WHERE submission_id = $sid)
        GROUP BY reason""", {"sid": sid}).fetchall())
