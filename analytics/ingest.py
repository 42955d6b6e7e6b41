"""Loading a partner's submission: read, validate every row, classify, derive, load all-or-nothing.

The path of one file:

1. **Read** (CSV via DuckDB's reader, or Parquet) into a temporary table of text columns, one per
   contract column, with the source line number. A file that cannot be read as a submission at
   all (not CSV/Parquet, not UTF-8, a required column missing) raises `SubmissionError` with one
   clear line before anything in the warehouse is touched.
2. **Validate** in SQL: each rule in `RULES` is a boolean expression over the parsed row; a row's
   reasons are every rule it fails. Malformed CSV lines (wrong number of fields) are rejected rows
   too, so rows read = rows loaded + rows rejected always holds.
3. **Classify** (ICCC-3, `iccc.py`) and **derive** (age, age group, period, follow-up, ...).
4. **Load** in one transaction: the previous version of the submission (same name, or same
   SHA-256) is deleted, then cases, rejected rows and the `submissions` row are inserted. Loading
   the same file again therefore replaces it and never duplicates it.

Validation is SQL inside DuckDB, not a Python loop over rows: see benchmarks/ingest_benchmark.py.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pycountry

from analytics import iccc
from analytics.schema import (AGE_BANDS, AGE_GROUPS, BASIS, BEHAVIOUR, CASE_NAMES, FEMALE_ONLY_SITES,
                              ICCC_VERSION, INPUT_NAMES, MALE_ONLY_SITES, REQUIRED_NAMES,
                              SCHEMA_VERSION, SEX, TORONTO_STAGES, VITAL_STATUS)


class SubmissionError(Exception):
    """The file cannot be read as a submission at all; the message is one line for the user."""


@dataclass(frozen=True)
class Rule:
    """One validation rule. `fails` is SQL over the parsed row (relation `_p`), true when the row
    breaks the rule; NULL counts as passing, so each rule guards its own inputs."""

    column: str
    message: str
    fails: str

    @property
    def reason(self) -> str:
        return f"{self.column}: {self.message}"


def _in(codes: dict[str, str]) -> str:
    return "(" + ", ".join(f"'{c}'" for c in codes) + ")"


def _coded(column: str, codes: dict[str, str], required: bool) -> list[Rule]:
    rules = [Rule(column, "must be one of " + ", ".join(codes),
                  f"{column}_t IS NOT NULL AND {column}_t NOT IN {_in(codes)}")]
    if required:
        rules.insert(0, Rule(column, "missing", f"{column}_t IS NULL"))
    return rules


def _date(column: str, required: bool) -> list[Rule]:
    rules = [Rule(column, "not a valid date in YYYY-MM-DD form",
                  f"{column}_t IS NOT NULL AND {column} IS NULL"),
             Rule(column, "in the future", f"{column} > current_date")]
    if required:
        rules.insert(0, Rule(column, "missing", f"{column}_t IS NULL"))
    return rules


#: Every validation rule, in the order reasons are listed. The data dictionary prints this list.
RULES: list[Rule] = [
    Rule("case_id", "missing", "case_id IS NULL"),
    Rule("case_id", "appears more than once in this submission", "n_same_case_id > 1"),
    Rule("case_id", "already loaded for this country and registry from another submission "
                    "(replace it by loading under its name, or `python -m analytics remove` it first)",
         "loaded_elsewhere"),
    Rule("country", "missing", "country_t IS NULL"),
    Rule("country", "not an ISO 3166-1 alpha-3 country code",
         "country_t IS NOT NULL AND NOT is_iso3"),
    *_coded("sex", SEX, required=True),
    *_date("birth_date", required=False),
    Rule("age_years", "not a whole number of years", "age_years_t IS NOT NULL AND age_given IS NULL"),
    Rule("birth_date/age_years", "both missing (one of them is required)",
         "birth_date_t IS NULL AND age_years_t IS NULL"),
    Rule("age_years", "outside 0-19 years at diagnosis", "age NOT BETWEEN 0 AND 19"),
    Rule("age_years", "does not agree with birth_date and diagnosis_date",
         "age_given IS NOT NULL AND age_from_birth IS NOT NULL AND age_given <> age_from_birth"),
    *_date("diagnosis_date", required=True),
    Rule("diagnosis_date", "before birth_date", "diagnosis_date < birth_date"),
    Rule("topography", "missing", "topography_t IS NULL"),
    Rule("topography", "not an ICD-O-3 topography code C00.0-C80.9",
         "topography_t IS NOT NULL AND (topo IS NULL OR topo > 809)"),
    Rule("morphology", "missing", "morphology_t IS NULL"),
    Rule("morphology", "not an ICD-O-3 histology code 8000-9993",
         "morphology_t IS NOT NULL AND (morph IS NULL OR morph NOT BETWEEN 8000 AND 9993)"),
    *_coded("behaviour", BEHAVIOUR, required=True),
    *_coded("basis", BASIS, required=False),
    Rule("stage", "not a Toronto stage value (see the data dictionary)",
         "stage_t IS NOT NULL AND NOT is_toronto"),
    *_coded("vital_status", VITAL_STATUS, required=True),
    *_date("last_contact_date", required=True),
    Rule("last_contact_date", "before diagnosis_date", "last_contact_date < diagnosis_date"),
    Rule("sex/topography", "male genital site (C60-C63) coded female",
         f"sex_t = '2' AND topo BETWEEN {MALE_ONLY_SITES[0]} AND {MALE_ONLY_SITES[1]}"),
    Rule("sex/topography", "female genital site (C51-C58) coded male",
         f"sex_t = '1' AND topo BETWEEN {FEMALE_ONLY_SITES[0]} AND {FEMALE_ONLY_SITES[1]}"),
]

#: Not a rule over parsed values: a CSV line whose number of fields differs from the header's.
MALFORMED_LINE = Rule("line", "malformed CSV line (wrong number of fields)", "false")

_DATE_SQL = ("CASE WHEN regexp_full_match({t}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
             "THEN CAST(try_strptime({t}, '%Y-%m-%d') AS DATE) END")


def _parse_sql(source: str = "_raw") -> str:
    """SELECT that turns raw text rows (`source`: line_no + contract columns) into the parsed
    relation the rules read. Duplicate case ids come from `_dups`, counted over the whole file."""
    texts = ",\n".join(f"nullif(trim(\"{c}\"), '') AS {c}_t" for c in INPUT_NAMES)
    return f"""
    WITH t AS (SELECT line_no, {texts} FROM {source}),
    d AS (
      SELECT t.*,
        case_id_t AS case_id,
        coalesce(dup.n, 1) AS n_same_case_id,
        l.case_id IS NOT NULL AS loaded_elsewhere,
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
    items = ", ".join(f"CASE WHEN {r.fails} THEN '{r.reason}' END" for r in RULES)
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


def _bad_sql() -> str:
    """True when a parsed row fails any rule (cheap: evaluated on every row)."""
    return " OR ".join(f"coalesce({r.fails}, false)" for r in RULES)


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
  CAST(year(diagnosis_date) // 5 * 5 AS VARCHAR) || '-' || CAST(year(diagnosis_date) // 5 * 5 + 4 AS VARCHAR)
    AS period,
  date_diff('day', diagnosis_date, last_contact_date) AS followup_days,
  date_diff('day', diagnosis_date, last_contact_date) / 365.25 AS followup_years,
  CAST(vital_status_t = '2' AS TINYINT) AS event,
  coalesce(basis_t = '0', false) AS dco,
  k.iccc_main, k.iccc_sub, k.iccc_ext
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
    """What one `ingest` did: the row accounting and why rows were rejected."""

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

    def summary(self) -> str:
        lines = [f"{self.file_name}: read {self.rows_read}, loaded {self.rows_loaded}, "
                 f"rejected {self.rows_rejected}, unclassified (ICCC-3) {self.rows_unclassified}"
                 f"  [submission '{self.submission_id}']"]
        if self.replaced:
            lines.append(f"  replaced the earlier load of: {', '.join(self.replaced)}")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {n:>8}  {reason}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

_DELIMITERS = [",", ";", "\t", "|"]


def _detect_format(path: Path, head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if path.suffix.lower() in (".parquet", ".pq"):
        raise SubmissionError(f"{path.name}: named .parquet but is not a Parquet file")
    if b"\x00" in head[:4096]:
        raise SubmissionError(f"{path.name}: not a CSV or Parquet file (binary content)")
    return "csv"


def _csv_header(path: Path, data: bytes) -> tuple[list[str], str]:
    """Column names (as written) and the delimiter, from the first line."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SubmissionError(f"{path.name}: header line is not UTF-8 text") from None
    if not text.strip():
        raise SubmissionError(f"{path.name}: empty file or empty header line")
    delim = max(_DELIMITERS, key=text.count)
    names = [n.strip().strip('"').strip() for n in text.split(delim)]
    return names, delim


def _check_columns(path: Path, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """Map contract column -> column as named in the file; raise on missing/duplicate columns."""
    lowered = [n.lower() for n in names]
    dupes = sorted({n for n in lowered if lowered.count(n) > 1})
    if dupes:
        raise SubmissionError(f"{path.name}: duplicate column name(s): {', '.join(dupes)}")
    present = dict(zip(lowered, names))
    missing = [c for c in REQUIRED_NAMES if c not in present]
    if "birth_date" not in present and "age_years" not in present:
        missing.append("birth_date or age_years")
    if missing:
        raise SubmissionError(f"{path.name}: missing required column(s): {', '.join(missing)}")
    mapping = {c: present[c] for c in INPUT_NAMES if c in present}
    ignored = [n for n in names if n.lower() not in INPUT_NAMES]
    return mapping, ignored


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _raw_select(mapping: dict[str, str], source: str, keep_rowid: bool = False) -> str:
    """SELECT of the contract columns as text from `source` (NULL for absent optional ones)."""
    cols = ("rowid, " if keep_rowid else "") + ", ".join(
        f"CAST({_quote_ident(mapping[c])} AS VARCHAR) AS \"{c}\"" if c in mapping else f"NULL::VARCHAR AS \"{c}\""
        for c in INPUT_NAMES)
    return f"SELECT {cols} FROM {source}"


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, data: bytes) -> tuple[list[str], int]:
    """Fill temp table `_raw` (line_no + contract columns as text) and `_malformed`.

    Returns (ignored columns, number of physical data lines)."""
    names, delim = _csv_header(path, data)
    mapping, ignored = _check_columns(path, names)
    con.execute("DROP TABLE IF EXISTS _rj; DROP TABLE IF EXISTS _rs")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _csv AS SELECT * FROM read_csv($p, delim=$d, quote='\"', "
            "escape='\"', header=true, all_varchar=true, encoding='utf-8', store_rejects=true, "
            "rejects_table='_rj', rejects_scan='_rs', auto_detect=false, "
            f"columns={{{', '.join(repr(n) + ': ' + repr('VARCHAR') for n in names)}}})",
            {"p": str(path), "d": delim})
    except duckdb.Error as e:
        raise SubmissionError(f"{path.name}: cannot be read as CSV: {str(e).splitlines()[0]}") from None
    enc = con.execute("SELECT min(line) FROM _rj WHERE error_type = 'INVALID ENCODING'").fetchone()[0]
    if enc is not None:
        raise SubmissionError(f"{path.name}: not UTF-8 text (first invalid byte on line {enc}); "
                              f"save the file as UTF-8")
    # DuckDB records one error per affected column; a line is one rejected row.
    con.execute("""CREATE OR REPLACE TEMP TABLE _malformed AS
                   SELECT line AS line_no, any_value(csv_line) AS csv_line,
                          string_agg(DISTINCT error_message, '; ') AS error_message
                   FROM _rj GROUP BY line""")
    n_good = con.execute("SELECT count(*) FROM _csv").fetchone()[0]
    n_bad = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    # Line numbers: DuckDB skips blank lines and allows quoted line breaks; when the file has
    # neither, the k-th good record is on the k-th line (from 2) not taken by a malformed one.
    body = data.split(b"\n", 1)[1] if b"\n" in data else b""
    physical = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
    if physical == n_good + n_bad and n_bad == 0:
        # the common case: record k (from 0, in file order) is on line k + 2
        con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT rowid + 2 AS line_no, r.* "
                    f"FROM ({_raw_select(mapping, '_csv', keep_rowid=True)}) r")
        return ignored, n_good
    if physical == n_good + n_bad:
        con.execute("""CREATE OR REPLACE TEMP TABLE _lines AS
            SELECT line, row_number() OVER (ORDER BY line) - 1 AS idx
            FROM range(2, $n + 2) r(line) WHERE line NOT IN (SELECT line_no FROM _malformed)""",
                    {"n": n_good + n_bad})
    else:
        starts = _record_start_lines(data.decode("utf-8-sig"), delim)
        bad = {r[0] for r in con.execute("SELECT line_no FROM _malformed").fetchall()}
        good = [s for s in starts if s not in bad][:n_good]
        con.execute("CREATE OR REPLACE TEMP TABLE _lines (line BIGINT, idx BIGINT)")
        con.executemany("INSERT INTO _lines VALUES (?, ?)", [(s, i) for i, s in enumerate(good)])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _raw AS
        SELECT l.line AS line_no, r.* FROM ({_raw_select(mapping, '_csv', keep_rowid=True)}) r
        JOIN _lines l ON l.idx = r.rowid""")
    return ignored, n_good + n_bad


def _record_start_lines(text: str, delim: str) -> list[int]:
    """Line on which each non-blank data record starts (slow path for files with blank lines or
    quoted line breaks)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(text), delimiter=delim)
    starts, prev_end = [], 0
    for i, row in enumerate(reader):
        start = prev_end + 1
        prev_end = reader.line_num
        if i == 0 or not any(cell.strip() for cell in row):
            continue
        starts.append(start)
    return starts


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _pq AS SELECT * FROM read_parquet($p)", {"p": str(path)})
    except duckdb.Error as e:
        raise SubmissionError(f"{path.name}: cannot be read as Parquet: {str(e).splitlines()[0]}") from None
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = '_pq'").fetchall())
    mapping, ignored = _check_columns(path, list(types))
    # Integral floats (pandas writes integer columns with gaps as float64) are read as integers.
    for c, name in mapping.items():
        if types[name] in ("FLOAT", "DOUBLE"):
            q = _quote_ident(name)
            con.execute(f"ALTER TABLE _pq ALTER {q} TYPE VARCHAR USING "
                        f"CASE WHEN isfinite({q}) AND abs({q}) < 1e15 AND {q} = floor({q}) "
                        f"THEN CAST(CAST({q} AS BIGINT) AS VARCHAR) "
                        f"ELSE CAST({q} AS VARCHAR) END")
    con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT rowid + 1 AS line_no, r.* "
                f"FROM ({_raw_select(mapping, '_pq', keep_rowid=True)}) r")
    con.execute("CREATE OR REPLACE TEMP TABLE _malformed (line_no BIGINT, csv_line VARCHAR, "
                "error_message VARCHAR)")
    return ignored


# ----------------------------------------------------------------------------------------------
# Validation, classification, load
# ----------------------------------------------------------------------------------------------

def _install_lookups(con: duckdb.DuckDBPyConnection) -> None:
    iso = [(c.alpha_3,) for c in pycountry.countries]
    con.execute("CREATE OR REPLACE TEMP TABLE _iso3 (code VARCHAR)")
    con.executemany("INSERT INTO _iso3 VALUES (?)", iso)
    con.execute("CREATE OR REPLACE TEMP TABLE _stages (code VARCHAR)")
    con.executemany("INSERT INTO _stages VALUES (?)", [(s,) for s in TORONTO_STAGES])


def submission_name(path: Path) -> str:
    """Default submission id: the file name without its extension."""
    return re.sub(r"\.(csv|txt|parquet|pq)$", "", path.name, flags=re.IGNORECASE)


def ingest_file(con: duckdb.DuckDBPyConnection, path: str | Path, *, name: str | None = None,
                synthetic: bool = False) -> IngestReport:
    """Validate and load one submission file into the warehouse open on `con`.

    Raises SubmissionError (warehouse untouched) when the file is not a readable submission.
    """
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    fmt = _detect_format(path, data[:4096])
    sid = name or submission_name(path)

    _install_lookups(con)
    if fmt == "csv":
        ignored, _ = _read_csv(con, path, data)
    else:
        ignored = _read_parquet(con, path)
    del data

    # Classify the distinct codes once (cheap), whatever the rows' validity.
    con.execute("""CREATE OR REPLACE TEMP TABLE _dups AS SELECT trim(case_id) AS dup_id, count(*) AS n
                   FROM _raw GROUP BY 1 HAVING count(*) > 1""")
    iccc.install_rules(con)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _iccc_input AS
        SELECT {iccc.TOPOGRAPHY_INT_SQL.format(col='topography')} AS topo,
               TRY_CAST(trim(morphology) AS INTEGER) AS morph, TRY_CAST(trim(behaviour) AS INTEGER) AS beh
        FROM _raw""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _iccc AS {iccc.CLASSIFY_SQL}")

    try:
        con.execute("BEGIN TRANSACTION")
        replaced = [r[0] for r in con.execute(
            "SELECT submission_id FROM submissions WHERE submission_id = $sid OR sha256 = $sha",
            {"sid": sid, "sha": sha}).fetchall()]
        for old in replaced:
            for table in ("cases", "rejected_rows", "submissions"):
                con.execute(f"DELETE FROM {table} WHERE submission_id = ?", [old])
        # Tumours already in the pool from other submissions (same country, registry, case_id):
        # loading them again would count them twice. Only the countries in this file are read.
        con.execute("""CREATE OR REPLACE TEMP TABLE _loaded AS
            SELECT DISTINCT country, registry, case_id FROM cases
            WHERE country IN (SELECT DISTINCT upper(trim(country)) FROM _raw)""")
        # Pass 1: every row is parsed once; the valid ones go straight into `cases`.
        con.execute(f"INSERT INTO cases ({', '.join(CASE_NAMES)}) {_cases_select()}", {"sid": sid})
        # Pass 2: the rows that did not load (few) are parsed again to list all their reasons.
        con.execute("""CREATE OR REPLACE TEMP TABLE _bad AS SELECT * FROM _raw WHERE line_no NOT IN
                       (SELECT line_no FROM cases WHERE submission_id = $sid)""", {"sid": sid})
        con.execute(f"""INSERT INTO rejected_rows
            SELECT $sid, p.line_no, p.case_id, to_json(struct_pack({', '.join(f'"{c}" := r."{c}"' for c in INPUT_NAMES)})),
                   p.reasons
            FROM (SELECT line_no, case_id, {_reasons_sql()} AS reasons FROM ({_parse_sql('_bad')}) _p) p
            JOIN _bad r USING (line_no)
            UNION ALL
            SELECT $sid, line_no, NULL, to_json({{'csv_line': csv_line, 'error': error_message}}),
                   ['{MALFORMED_LINE.reason}']
            FROM _malformed""", {"sid": sid})
        counts = con.execute("""
            SELECT (SELECT count(*) FROM cases WHERE submission_id = $sid),
                   (SELECT count(*) FROM rejected_rows WHERE submission_id = $sid),
                   (SELECT count(*) FROM cases WHERE submission_id = $sid AND iccc_sub IS NULL)""",
                             {"sid": sid}).fetchone()
        loaded, rejected, unclassified = counts
        rows_read = con.execute("SELECT count(*) FROM _raw").fetchone()[0] + \
            con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
        con.execute("""INSERT INTO submissions VALUES ($sid, $file, $sha, $fmt, $read, $loaded,
                       $rejected, $unclassified, now()::TIMESTAMP, $schema, $iccc, $synthetic)""",
                    {"sid": sid, "file": path.name, "sha": sha, "fmt": fmt, "read": rows_read,
                     "loaded": loaded, "rejected": rejected, "unclassified": unclassified,
                     "schema": SCHEMA_VERSION, "iccc": ICCC_VERSION, "synthetic": synthetic})
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    reasons = _group_reasons(con, sid)
    _drop_scratch(con)
    return IngestReport(sid, path.name, sha, rows_read, loaded, rejected, unclassified, reasons,
                        ignored, replaced)


def remove_submission(con: duckdb.DuckDBPyConnection, submission_id: str) -> tuple[int, int]:
    """Delete one submission with its loaded and rejected rows, in one transaction; returns
    (rows loaded, rows rejected) it had. For a partner's corrected extract under a new file name,
    whose tumours would otherwise be rejected as already loaded."""
    row = con.execute("SELECT rows_loaded, rows_rejected FROM submissions WHERE submission_id = ?",
                      [submission_id]).fetchall()
    if not row:
        known = [r[0] for r in con.execute("SELECT submission_id FROM submissions ORDER BY 1").fetchall()]
        raise SubmissionError(f"no submission '{submission_id[:80]}'; loaded: {', '.join(known[:20]) or 'none'}")
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("cases", "rejected_rows", "submissions"):
            con.execute(f"DELETE FROM {table} WHERE submission_id = ?", [submission_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return row[0][0], row[0][1]


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
