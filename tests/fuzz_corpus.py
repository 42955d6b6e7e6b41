"""Hostile and awkward submission files for issue 11 ("the partner file as hostile input").

Each function below writes one crafted file into a directory and returns a `Crafted`: the path
and what ingest is expected to do with it. The docstring of each says what a partner (or an
attacker posing as one) would do to produce such a file. Everything is deterministic (seeded)
and small: nothing is committed but this script.

    python -m tests.fuzz_corpus OUTDIR     # write the whole corpus + OUTDIR/manifest.json

Expected reasons are written either as the name of a constant of `analytics.ingest`
("MALFORMED_LINE", "UNTERMINATED_QUOTE", "NONFINITE", "ALREADY_LOADED": a Rule, compared by
its `.reason`) or as the start of a reason's text ("diagnosis_date: before 1950"); a tuple
means "any one of these". Nothing here depends on the new names of issue 11, so the corpus
can be written (and the tests run) against any version of analytics/ingest.py.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.conftest import INPUT_NAMES, random_rows, valid_row

#: Marker planted in the "secret" local file that hostile headers try to read.
MARKER = "SECRET-MARKER-7f3a9c"


@dataclass
class Crafted:
    """One crafted file and what ingest must do with it."""

    path: Path
    description: str
    #: substring of the SubmissionError message when the file must be refused (None: must load)
    error: str | None = None
    #: a SubmissionError is an acceptable outcome too (hostile but harmless-if-refused files)
    may_refuse: bool = False
    rows_read: int | None = None
    blank_rows: int | None = None
    #: case_id -> line_no of every record that must load (with that line number)
    loaded: dict[str, int] = field(default_factory=dict)
    #: True when `loaded` is every case that loads
    loaded_exact: bool = True
    #: line_no -> acceptable reasons (constant names or reason prefixes); one must be among the row's
    rejected: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: True when `rejected` lists every rejected line
    rejected_exact: bool = True
    #: column names that must be listed in IngestReport.ignored_columns
    ignored: list[str] = field(default_factory=list)
    #: names that must not be listed there (e.g. the empty name of Excel's trailing delimiter)
    not_ignored: list[str] = field(default_factory=list)
    #: case_id -> {cases column: expected value} (dates as ISO text, None for NULL)
    values: dict[str, dict[str, object]] = field(default_factory=dict)
    #: False when a quote is opened and never closed (an independent CSV parser would disagree)
    balanced_quotes: bool = True
    delimiter: str = ","
    encoding: str = "utf-8"
    #: text that must never reach the warehouse
    marker: str | None = None
    #: files that must not exist after the load (a smuggled COPY ... TO)
    must_not_exist: list[Path] = field(default_factory=list)

    def manifest(self) -> dict:
        d = asdict(self)
        d["path"] = self.path.name
        d["must_not_exist"] = [str(p) for p in self.must_not_exist]
        d["rejected"] = {str(k): list(v) for k, v in self.rejected.items()}
        if len(self.loaded) > 200:  # the large files: the count and the first few
            d["loaded"] = dict(list(self.loaded.items())[:20])
            d["loaded_count"] = len(self.loaded)
        return d


# ----------------------------------------------------------------------------------------------
# Writing helpers
# ----------------------------------------------------------------------------------------------

def _field(value: str, delim: str, quote: bool = False) -> str:
    """One CSV field: quoted (quotes doubled) when needed or asked for."""
    if quote or any(ch in value for ch in (delim, '"', "\n", "\r")) or value != value.strip():
        return '"' + value.replace('"', '""') + '"'
    return value


def _line(values: list[str], delim: str = ",") -> str:
    return delim.join(_field(v, delim) for v in values)


def _record(row: dict[str, str], columns: list[str], delim: str = ",") -> str:
    return _line([row.get(c, "") for c in columns], delim)


def _write_lines(path: Path, lines: list[str], newline: str = "\n", encoding: str = "utf-8",
                 final_newline: bool = True) -> Path:
    text = newline.join(lines) + (newline if final_newline else "")
    path.write_bytes(text.encode(encoding))
    return path


def _simple_file(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None,
                 delim: str = ",") -> Path:
    columns = columns or INPUT_NAMES
    return _write_lines(path, [_line(columns, delim)] + [_record(r, columns, delim) for r in rows])


# ----------------------------------------------------------------------------------------------
# Item 1: SQL from a column name
# ----------------------------------------------------------------------------------------------

#: (label, column name) of extra columns whose names are hostile to naive SQL quoting.
HOSTILE_NAMES: list[tuple[str, str]] = [
    ("single_quote", "it's"),
    ("double_quote", 'say "hi"'),
    ("both_quotes", "'\""),
    ("lone_single_quote", "'"),
    ("lone_double_quote", '"'),
    ("drop_table", '"); DROP TABLE cases; --'),
    ("drop_table_single", "'); DROP TABLE cases; --"),
    ("brace_close_copy", "'}) ; COPY cases TO 'cases_copy.csv'; --"),
    ("dollar_param", "$p"),
    ("dollar_param_d", "$d"),
    ("open_brace", "{"),
    ("close_brace", "}"),
    ("backslashes", "a\\b\\\\c\\"),
    ("backslash_quote", "\\'\\\""),
    ("newline_in_name", "notes\nsecond line"),
    ("crlf_in_name", "notes\r\nsecond line"),
    ("comment_start", "/* x"),
    ("semicolon_only", ";"),
]


def hostile_header(d: Path, label: str, name: str) -> Crafted:
    """A partner's export tool (or an attacker) adds one extra column whose name is `name`;
    the three records are valid. Names with a line break are written quoted, so the header
    spans two physical lines and the first record starts on line 3."""
    columns = INPUT_NAMES + [name]
    rows = [valid_row(case_id=f"H{i}") | {name: f"v{i}"} for i in range(3)]
    path = _simple_file(d / f"hostile_header_{label}.csv", rows, columns)
    first = 2 + name.count("\n")
    return Crafted(path, f"extra column named {name!r}", may_refuse=True, rows_read=3, blank_rows=0,
                   loaded={f"H{i}": first + i for i in range(3)}, ignored=[name])


def _breakout_file(d: Path, stem: str, payload: str, description: str, **kw) -> Crafted:
    """Two valid records and a trailing blank line under a header whose last name is `payload`.
    The name holds both quote kinds, so Python's repr() writes it in single quotes with \\'
    escapes, which SQL does not know: the string ends at the first \\' and the rest runs as SQL
    (string literals inside it use $$...$$, comments swallow the remainder of the line; the
    `"x` after the comment keeps a quote inside the name even after stripping quotes off its
    ends). The trailing blank line makes the physical line count match the record count once
    a smuggled row is added, so a line-numbering shortcut keeps that row."""
    columns = INPUT_NAMES + [payload]
    rows = [valid_row(case_id=f"J{i}") | {payload: "x"} for i in range(2)]
    lines = [",".join(columns)] + [_record(r, columns) for r in rows] + [""]
    path = _write_lines(d / f"{stem}.csv", lines)
    # (not `ignored=[payload]`: the unquoted name ends in a stray quote, which parsers may keep or drop)
    return Crafted(path, description, may_refuse=True, rows_read=2, blank_rows=1,
                   loaded={"J0": 2, "J1": 3}, **kw)


def write_secret(d: Path) -> Path:
    """The local file an attacker wants: readable by the ingest process, never to be loaded.
    It is also a valid one-column CSV (column `registry`) so that read_csv() would return it."""
    secret = d / "secret.txt"
    secret.write_text(f"registry\n{MARKER}\n")
    return secret


def header_reads_secret_with_read_text(d: Path, secret: Path) -> Crafted:
    """An attacker crafts a column name that closes the quoted name in a
    `read_csv(columns={...})` call built with repr() and appends
    `UNION ALL BY NAME SELECT content AS registry FROM read_text(<secret>)`: the secret would
    become a row of the submission (and be kept in rejected_rows.raw)."""
    payload = (f"x' : $$VARCHAR$$}}) UNION ALL BY NAME SELECT content AS registry "
               f"FROM read_text($${secret}$$) -- \"x")
    return _breakout_file(d, "header_read_text", payload,
                          "column name breaks out of the read_csv call to read a local file",
                          marker=MARKER)


def header_reads_secret_with_read_csv(d: Path, secret: Path) -> Crafted:
    """As above, with `SELECT * FROM read_csv(<secret>)`: the secret file's `registry` column
    becomes a row."""
    payload = f"x' : $$VARCHAR$$}}) UNION ALL BY NAME SELECT * FROM read_csv($${secret}$$) -- \"x"
    return _breakout_file(d, "header_read_csv", payload,
                          "column name breaks out of the read_csv call to read_csv a local file",
                          marker=MARKER)


def header_copies_out(d: Path) -> Crafted:
    """An attacker's column name ends the statement and appends `COPY cases TO <file>`."""
    target = d / "pwned.csv"
    payload = f"x' : $$VARCHAR$$}}); COPY cases TO $${target}$$; -- \"x"
    return _breakout_file(d, "header_copy_to", payload,
                          "column name smuggles a COPY ... TO statement", must_not_exist=[target])


def header_drops_cases(d: Path) -> Crafted:
    """An attacker's column name ends the statement and appends `DROP TABLE cases`."""
    payload = "x' : $$VARCHAR$$}); DROP TABLE cases; -- \"x"
    return _breakout_file(d, "header_drop_cases", payload,
                          "column name smuggles a DROP TABLE statement")


def excel_trailing_delimiter(d: Path) -> Crafted:
    """Excel (and some registry software) ends the header and every row with a delimiter,
    i.e. an extra unnamed, empty last column."""
    rows = random_rows(5, seed=11)
    lines = [",".join(INPUT_NAMES) + ","] + [_record(r, INPUT_NAMES) + "," for r in rows]
    path = _write_lines(d / "excel_trailing_comma.csv", lines, newline="\r\n")
    return Crafted(path, "header and rows end with a comma", rows_read=5, blank_rows=0,
                   loaded={r["case_id"]: 2 + i for i, r in enumerate(rows)}, not_ignored=[""])


# ----------------------------------------------------------------------------------------------
# Item 2: valid tumours silently lost
# ----------------------------------------------------------------------------------------------

def blank_and_comma_only_lines(d: Path) -> Crafted:
    """A partner deletes the contents of a row in Excel (leaving `,,,,,,,,,,,,,,`) and an
    empty line between records, then saves as CSV."""
    cols = INPUT_NAMES
    lines = [",".join(cols), _record(valid_row(case_id="A"), cols), "," * (len(cols) - 1), "",
             _record(valid_row(case_id="B"), cols), _record(valid_row(case_id="C"), cols)]
    path = _write_lines(d / "blank_lines.csv", lines)
    return Crafted(path, "a row of only commas and an empty line between records", rows_read=3,
                   blank_rows=2, loaded={"A": 2, "B": 5, "C": 6})


def unterminated_quote(d: Path) -> Crafted:
    """A registry code typed as `"R01` (an opening quote never closed) in record 2 of 5."""
    cols = INPUT_NAMES
    lines = [",".join(cols)]
    for i in range(1, 6):
        rec = _record(valid_row(case_id=f"Q{i}"), cols)
        if i == 2:
            rec = rec.replace(",R01,", ',"R01,', 1)
        lines.append(rec)
    path = _write_lines(d / "unterminated_quote.csv", lines)
    return Crafted(path, "record 2 opens a quote it never closes", rows_read=5, blank_rows=0,
                   loaded={"Q1": 2, "Q3": 4, "Q4": 5, "Q5": 6},
                   rejected={3: ("UNTERMINATED_QUOTE", "MALFORMED_LINE")}, balanced_quotes=False)


def quoted_line_break(d: Path) -> Crafted:
    """A free-text field (here an extra `notes` column and the registry) holds a line break
    inside quotes, as Excel writes a cell with Alt+Enter; a malformed line and a blank line
    follow, so line numbers after the break must still be right."""
    cols = INPUT_NAMES + ["notes"]
    lines = [",".join(cols),
             _record(valid_row(case_id="A") | {"notes": "first"}, cols),
             _record(valid_row(case_id="B") | {"notes": "line one\nline two\nline three"}, cols),  # 3-5
             "only,three,fields",                                                                 # 6
             "",                                                                                  # 7
             _record(valid_row(case_id="C", registry="R\n02") | {"notes": 'say "hi"'}, cols),     # 8-9
             _record(valid_row(case_id="D", sex="x"), cols),                                      # 10
             _record(valid_row(case_id="E"), cols)]                                               # 11
    path = _write_lines(d / "quoted_line_break.csv", lines)
    return Crafted(path, "quoted line breaks, then a malformed line and a blank line", rows_read=6,
                   blank_rows=1, loaded={"A": 2, "B": 3, "C": 8, "E": 11},
                   rejected={6: ("MALFORMED_LINE",), 10: ("sex: must be one of",)},
                   ignored=["notes"], values={"C": {"registry": "R\n02"}})


_NEWLINES = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}
_DELIMS = [",", ";", "\t", "|"]


def fuzz_file(d: Path, seed: int, unbalanced: bool = False) -> Crafted:
    """A randomly messy but well-formed export: any delimiter, LF/CRLF/CR line endings, an
    optional UTF-8 BOM, shuffled and re-cased columns, an extra `notes` column with delimiters,
    doubled quotes and line breaks inside quotes, fields quoted at random, spaces around values,
    blank lines (empty, whitespace, delimiters only), rows with a bad value, rows with too few or
    too many fields, maybe Excel's trailing delimiter. Every record's fate and starting line is
    known. With `unbalanced`, one record opens a quote it never closes and no quote follows it."""
    rng = random.Random(seed)
    delim = rng.choice(_DELIMS)
    nl_name = rng.choice(list(_NEWLINES))
    nl = _NEWLINES[nl_name]
    bom = rng.random() < 0.3
    trailing = rng.random() < 0.25
    columns = INPUT_NAMES + ["notes"]
    rng.shuffle(columns)
    header_names = [c.upper() if rng.random() < 0.2 else c for c in columns]
    n = rng.randrange(20, 150)
    valid_pool = random_rows(n, seed=seed * 7919 + 1)
    bad_at = rng.randrange(n // 3, n) if unbalanced else None

    def join(fields: list[str]) -> str:
        return delim.join(fields) + (delim if trailing else "")

    lines: list[str] = [join([_field(h, delim) for h in header_names])]
    line = 2
    exp = Crafted(Path(), "", rows_read=0, blank_rows=0, delimiter=delim,
                  ignored=[header_names[columns.index("notes")]], balanced_quotes=not unbalanced)
    quotes_allowed = True
    for i in range(n):
        if bad_at is not None and i == bad_at:
            quotes_allowed = False
            row = valid_pool[i] | {"registry": '"R01', "notes": "x"}
            text = join([row[c] for c in columns])  # written raw: the quote is never closed
            exp.rejected[line] = ("UNTERMINATED_QUOTE", "MALFORMED_LINE")
            exp.rows_read += 1
            lines.append(text)
            line += 1
            continue
        kind = rng.choices(["valid", "bad_value", "short", "long", "blank"], [70, 8, 5, 5, 12])[0]
        if kind == "blank":
            ncols = len(columns) + (1 if trailing else 0)
            text = rng.choice(["", " ", "  \t ", delim * (ncols - 1), " " + delim * 3 + "  ",
                               delim * (ncols - 1) + " "])
            if text.strip(" \t" + delim):
                raise AssertionError("blank line generator produced text")
            exp.blank_rows += 1
            lines.append(text)
            line += 1
            continue
        row = dict(valid_pool[i])
        row["notes"] = ""
        if kind == "bad_value":
            row.update(rng.choice([{"sex": "x"}, {"country": "XXX"}, {"morphology": "12"}]))
            row["case_id"] = f"BAD{i}"
        elif kind in ("short", "long"):
            row["case_id"] = f"MAL{i}"
        if quotes_allowed and rng.random() < 0.35:
            row["notes"] = rng.choice([f"a{delim}b", 'he said "no"',
                                       f"two{nl}lines", f"x{nl}{nl}y{delim}z", " padded "])
        fields = []
        for c in columns:
            v = row[c]
            if c in ("country", "sex", "topography") and rng.random() < 0.1:
                v = " " + v + " "
                fields.append(_field(v, delim) if quotes_allowed else v)
                continue
            if quotes_allowed:
                fields.append(_field(v, delim, quote=rng.random() < 0.1))
            else:
                fields.append(v)
        if kind == "short":
            fields = fields[:-rng.randrange(2, 4)]
        elif kind == "long":
            fields = fields + ["extra"] * rng.randrange(2, 4)
        text = join(fields)
        if kind == "valid":
            exp.loaded[row["case_id"]] = line
        else:
            exp.rejected[line] = ("MALFORMED_LINE",) if kind in ("short", "long") else ("",)
        exp.rows_read += 1
        lines.append(text)
        line += text.count(nl) + 1
    # a blank last line keeps its line break (without it, an empty last "line" does not exist)
    final_newline = rng.random() < 0.8 or lines[-1].strip(" \t" + delim) == ""
    path = d / f"fuzz_{seed:03d}{'_unbalanced' if unbalanced else ''}.csv"
    text = nl.join(lines) + (nl if final_newline else "")
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    exp.path = path
    exp.description = (f"fuzz seed {seed}: delimiter {delim!r}, {nl_name}, bom={bom}, "
                       f"trailing delimiter={trailing}, {n} records"
                       + (", one unterminated quote" if unbalanced else ""))
    return exp


FUZZ_SEEDS = range(1, 25)
FUZZ_UNBALANCED_SEEDS = range(101, 107)


def count_records_with_csv_module(path: Path, delimiter: str) -> tuple[int, int]:
    """(non-blank records, blank records) after the header, by Python's csv module: an
    independent parser. A record is blank when every field is empty or whitespace."""
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    nonblank = blank = 0
    for rec in reader:
        if any(cell.strip() for cell in rec):
            nonblank += 1
        else:
            blank += 1
    return nonblank, blank


# ----------------------------------------------------------------------------------------------
# Item 3: dates
# ----------------------------------------------------------------------------------------------

def dates_at_the_edges(d: Path) -> Crafted:
    """A registry's historical back-file (diagnoses from 1899, a typo year 0010) mixed with
    recent data, a tumour at the contract's first day, one from Antarctica (ATA: a valid ISO
    code with no population) and one diagnosed in 2024."""
    rows = [
        valid_row(case_id="OLD1899", birth_date="1895-01-01", diagnosis_date="1899-06-01",
                  last_contact_date="1905-01-01"),
        valid_row(case_id="Y0010", birth_date="0005-03-01", diagnosis_date="0010-01-01",
                  last_contact_date="0011-01-01"),
        valid_row(case_id="FIRST", birth_date="1945-01-01", diagnosis_date="1950-01-01",
                  last_contact_date="1960-01-01"),
        valid_row(case_id="ANTARCTICA", country="ATA"),
        valid_row(case_id="Y2024", birth_date="2015-02-01", diagnosis_date="2024-03-01",
                  last_contact_date="2024-12-31"),
    ]
    path = _simple_file(d / "dates_edges.csv", rows)
    return Crafted(path, "diagnoses before 1950, on 1950-01-01, in Antarctica and in 2024",
                   rows_read=5, blank_rows=0,
                   loaded={"FIRST": 4, "ANTARCTICA": 5, "Y2024": 6},
                   rejected={2: ("diagnosis_date: before 1950",), 3: ("diagnosis_date: before 1950",)},
                   values={"FIRST": {"diagnosis_date": "1950-01-01"},
                           "ANTARCTICA": {"country": "ATA"}, "Y2024": {"year": 2024}})


# ----------------------------------------------------------------------------------------------
# Item 5: crashes and cliffs
# ----------------------------------------------------------------------------------------------

RESERVED_NAMES = ["rowid", "ROWID", "line_no", "_raw"]


def reserved_column_name(d: Path, name: str) -> Crafted:
    """A partner's database export keeps its internal row number as a column called `name`
    (its values deliberately not 1, 2, 3 ...)."""
    columns = [name] + INPUT_NAMES
    rows = [valid_row(case_id=f"R{i}") | {name: str(1000 - i * 7)} for i in range(4)]
    path = _simple_file(d / f"reserved_{name.strip('_').lower()}_{'upper' if name.isupper() else 'lower'}.csv",
                        rows, columns)
    return Crafted(path, f"an extra column named {name!r}", rows_read=4, blank_rows=0,
                   loaded={f"R{i}": 2 + i for i in range(4)}, ignored=[name])


def reserved_column_parquet(d: Path) -> Crafted:
    """The same as a Parquet file written by pandas with an integer `rowid` column."""
    import pandas as pd

    rows = [valid_row(case_id=f"P{i}") for i in range(4)]
    df = pd.DataFrame(rows)
    df.insert(0, "rowid", [900, 17, 3, 55])
    path = d / "reserved_rowid.parquet"
    df.to_parquet(path, index=False)
    return Crafted(path, "Parquet with a column named rowid", rows_read=4, blank_rows=0,
                   loaded={f"P{i}": 1 + i for i in range(4)}, ignored=["rowid"])


def large_file(d: Path, n: int = 20_000, blank_after: int | None = None) -> Crafted:
    """A partner's full extract of `n` tumours (about 2 MB); with `blank_after`, one empty line
    after that many records (a stray Enter at the end of a block)."""
    rows = random_rows(n, seed=2024)
    lines = [",".join(INPUT_NAMES)] + [_record(r, INPUT_NAMES) for r in rows]
    if blank_after is not None:
        lines.insert(1 + blank_after, "")
    stem = f"large_{n}" + ("" if blank_after is None else f"_blank_after_{blank_after}")
    path = _write_lines(d / f"{stem}.csv", lines)
    loaded = {}
    for i, r in enumerate(rows):
        loaded[r["case_id"]] = 2 + i + (1 if blank_after is not None and i >= blank_after else 0)
    return Crafted(path, f"{n} valid records" + ("" if blank_after is None else
                                                  f", one blank line after record {blank_after}"),
                   rows_read=n, blank_rows=0 if blank_after is None else 1, loaded=loaded)


def parquet_datetime_dates(d: Path) -> Crafted:
    """A partner converts the date columns with pd.to_datetime before df.to_parquet: the
    columns are TIMESTAMP (datetime64[ns]/[ms]), not text nor DATE; one birth date is NaT."""
    import pandas as pd

    rows = random_rows(12, seed=5)
    df = pd.DataFrame(rows)
    for c in ("birth_date", "diagnosis_date", "last_contact_date"):
        df[c] = pd.to_datetime(df[c])
    df.loc[3, "birth_date"] = pd.NaT
    df.loc[3, "age_years"] = "10"
    rows[3]["age_years"] = "10"
    rows[3]["birth_date"] = ""
    df["last_contact_date"] = df["last_contact_date"].astype("datetime64[ms]")
    path = d / "datetime_dates.parquet"
    df.to_parquet(path, index=False)
    values = {r["case_id"]: {"birth_date": r["birth_date"] or None, "diagnosis_date": r["diagnosis_date"],
                             "last_contact_date": r["last_contact_date"]} for r in rows}
    return Crafted(path, "Parquet with datetime64 date columns", rows_read=12, blank_rows=0,
                   loaded={r["case_id"]: 1 + i for i, r in enumerate(rows)}, values=values)


def parquet_nan_and_inf(d: Path) -> Crafted:
    """Numeric columns read by pandas from a spreadsheet: case ids and registry codes become
    float64 with NaN for empty cells; a formula error became inf / -inf."""
    import pandas as pd

    rows = [valid_row(case_id=str(i)) for i in range(1, 7)]
    df = pd.DataFrame(rows)
    df["case_id"] = [1.0, 2.0, math.nan, 4.0, 5.0, 6.0]
    df["registry"] = [10.0, math.nan, 10.0, 10.0, 10.0, 10.0]
    df["birth_date"] = ["2010-05-01", "2010-05-01", "2010-05-01", "2010-05-01", "", "2010-05-01"]
    df["age_years"] = [math.nan, math.nan, math.nan, math.nan, math.inf, math.nan]
    df["morphology"] = [9811.0, 9811.0, 9811.0, 9811.0, 9811.0, -math.inf]
    path = d / "nan_inf.parquet"
    df.to_parquet(path, index=False)
    return Crafted(path, "Parquet float columns with NaN, inf and -inf", rows_read=6, blank_rows=0,
                   loaded={"1": 1, "2": 2, "4": 4},
                   rejected={3: ("case_id: missing",), 5: ("NONFINITE",), 6: ("NONFINITE",)},
                   values={"1": {"registry": "10"}, "2": {"registry": None}})


# ----------------------------------------------------------------------------------------------
# Item 8: messages
# ----------------------------------------------------------------------------------------------

def cr_only_line_endings(d: Path) -> Crafted:
    """Saved by Excel for Mac 2011 as "CSV (Macintosh)": every line ends with a lone CR."""
    cols = INPUT_NAMES
    lines = [",".join(cols), _record(valid_row(case_id="A"), cols), _record(valid_row(case_id="B", sex="x"), cols),
             "", _record(valid_row(case_id="C"), cols)]
    path = _write_lines(d / "cr_only.csv", lines, newline="\r")
    return Crafted(path, "CR-only line endings", rows_read=3, blank_rows=1, loaded={"A": 2, "C": 5},
                   rejected={3: ("sex: must be one of",)})


def header_of_delimiters(d: Path) -> Crafted:
    """An Excel sheet whose first row was cleared: the header line is `,,,,` and data follow."""
    path = _write_lines(d / "header_delimiters.csv",
                        [",,,,", _record(valid_row(), INPUT_NAMES)])
    return Crafted(path, "a header of delimiters only", error="no column names")


def semicolons_in_column_name(d: Path) -> Crafted:
    """A comma-separated file with an extra free-text column whose name is full of semicolons
    (more semicolons than the header has commas)."""
    name = "notes" + ";" * 22
    columns = INPUT_NAMES + [name]
    rows = [valid_row(case_id=f"S{i}") | {name: "x"} for i in range(3)]
    path = _simple_file(d / "semicolon_name.csv", rows, columns)
    return Crafted(path, "a column name full of semicolons in a comma-separated file", rows_read=3,
                   blank_rows=0, loaded={"S0": 2, "S1": 3, "S2": 4}, ignored=[name])


def utf16_with_bom(d: Path) -> Crafted:
    """Excel's "Unicode Text" / a Windows tool saving as UTF-16 LE with a BOM."""
    path = d / "utf16.csv"
    text = "\r\n".join([",".join(INPUT_NAMES), _record(valid_row(), INPUT_NAMES)]) + "\r\n"
    path.write_bytes(text.encode("utf-16"))  # BOM + little-endian on every platform we run on
    return Crafted(path, "UTF-16 with a BOM", error="UTF-16", encoding="utf-16")


def a_directory(d: Path) -> Crafted:
    """A user passes a folder (say, the partner's unzipped delivery) instead of a file."""
    path = d / "delivery.csv"
    path.mkdir(exist_ok=True)
    return Crafted(path, "a directory", error="is a directory")


def a_fifo(d: Path) -> Crafted:
    """A named pipe (e.g. `<(zcat file.csv.gz)` or mkfifo): reading it blocks until a writer
    comes. Not written by `write_all` (it would hang anyone who reads the corpus directory)."""
    path = d / "pipe.csv"
    if not path.exists():
        os.mkfifo(path)
    return Crafted(path, "a FIFO", error="not a regular file")


# ----------------------------------------------------------------------------------------------
# The whole corpus
# ----------------------------------------------------------------------------------------------

def write_all(d: Path) -> list[Crafted]:
    """Write every crafted file (but the FIFO) into `d`."""
    d.mkdir(parents=True, exist_ok=True)
    secret = write_secret(d)
    out = [hostile_header(d, label, name) for label, name in HOSTILE_NAMES]
    out += [header_reads_secret_with_read_text(d, secret), header_reads_secret_with_read_csv(d, secret),
            header_copies_out(d), header_drops_cases(d), excel_trailing_delimiter(d),
            blank_and_comma_only_lines(d), unterminated_quote(d), quoted_line_break(d)]
    out += [fuzz_file(d, s) for s in FUZZ_SEEDS]
    out += [fuzz_file(d, s, unbalanced=True) for s in FUZZ_UNBALANCED_SEEDS]
    out += [dates_at_the_edges(d)]
    out += [reserved_column_name(d, n) for n in RESERVED_NAMES]
    out += [reserved_column_parquet(d), large_file(d), large_file(d, blank_after=10_000),
            parquet_datetime_dates(d), parquet_nan_and_inf(d)]
    out += [cr_only_line_endings(d), header_of_delimiters(d), semicolons_in_column_name(d),
            utf16_with_bom(d), a_directory(d)]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.fuzz_corpus OUTDIR", file=sys.stderr)
        return 2
    d = Path(argv[0])
    crafted = write_all(d)
    (d / "manifest.json").write_text(json.dumps([c.manifest() for c in crafted], indent=1, default=str))
    print(f"wrote {len(crafted)} crafted files and manifest.json to {d}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
