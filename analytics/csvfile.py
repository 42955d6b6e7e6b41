"""Reading a partner's delimited text file: every record counted, located and parsed, and nothing
from the file ever pasted into SQL text.

A partner's file is untrusted input. Three properties hold for any bytes given here:

* **Every record is accounted for.** The records are found by this module's own scan (numpy over
  the bytes: a newline ends a record when an even number of quote characters precede it since the
  record began), independently of the parser that reads the fields. Each non-empty record becomes
  exactly one parsed row or one rejected record with its reason; a row of nothing but delimiters and
  spaces (Excel leaves these) is counted as blank. If DuckDB's reader disagrees with the scan
  (count, or where a bad record is), the slower Python `csv` path reads the scanned records instead.
* **An unterminated quote loses nothing.** A record that spans several lines but does not parse as
  one record (Python's `csv`, strict) is an opening quote that never closed: its first line is rejected and the scan starts
  afresh on the next line, so the following tumours are read as themselves.
* **Column names never reach SQL.** DuckDB reads the fields into generated columns `c0, c1, ...`;
  the caller maps contract columns to positions in Python.

Line numbers are physical lines (the header is line 1, CRLF is one break, a CR-only file breaks at
each CR); a record with a quoted line break is numbered by the line on which it starts.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

LF, CR, QUOTE = 10, 13, 34
#: Delimiters a submission may use (the data dictionary lists them).
DELIMITERS = [",", ";", "\t", "|"]
#: Bytes scanned per numpy step (bounds the scan's extra memory to a few times this).
CHUNK = 1 << 25
#: Re-synchronisations after unterminated quotes before the rest of a broken region is rejected
#: line by line without further restarts (a bound on the work a hostile file can cause).
MAX_RESYNC = 1000
#: Characters of a rejected record's text kept in `rejected_rows.raw`.
KEEP_TEXT = 4000


class CsvFileError(Exception):
    """The file cannot be read as delimited text at all; the message is one line for the user."""


@dataclass
class Records:
    """The data records of a file (header excluded), in file order, empty lines left out.

    Byte offsets index `data`; `ends` exclude the line terminator. `broken` marks a line rejected
    for an unterminated quote (see the module docstring); `blank` a record of nothing but white
    space and delimiters (Excel's `,,,,`), which holds no tumour and is skipped and counted."""

    starts: np.ndarray
    ends: np.ndarray
    lines: np.ndarray
    broken: np.ndarray
    blank: np.ndarray
    empty_lines: int


@dataclass
class ParsedFile:
    """What `read_csv_into` left in DuckDB and what the caller needs to map and count it.

    Temp table `_csv_rows(line_no, c0 .. c{n-1})`: one row per parsed, non-blank record.
    Temp table `_csv_rejects(line_no, text, reason)`: one row per record that could not be split
    into fields; `reason` is "quote" (unterminated or misplaced quote) or "fields" (wrong count)."""

    names: list[str]
    delimiter: str
    records: int  # non-blank data records = rows in _csv_rows + rows in _csv_rejects
    blank: int  # empty lines and rows of only delimiters and white space
    path: str  # "duckdb" or "python": which parser read the fields


def decode_check(name: str, data: bytes) -> bytes:
    """The file's bytes without a UTF-8 byte-order mark; refuses UTF-16/32 and invalid UTF-8
    with the line of the first bad byte, and CR-only files are accepted as they are."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError(f"{name}: UTF-16 text; save the file as UTF-8 (CSV UTF-8 in Excel)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise CsvFileError(f"{name}: not UTF-8 text (first invalid byte on line {line}); "
                           f"save the file as UTF-8") from None
    return data


def newline_byte(data: bytes) -> int:
    """LF, or CR for a file with carriage returns and no line feed at all (classic Mac Excel)."""
    return CR if b"\n" not in data and b"\r" in data else LF


def _newlines(arr: np.ndarray, nl: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every newline byte and the parity (0/1) of quote bytes before each, scanned
    in chunks so memory stays bounded. Parity needs only the count mod 2, so a uint8 running sum
    (which wraps at 256, an even number) is exact."""
    has_quote = bool((arr == QUOTE).any()) if len(arr) < CHUNK else None
    pos, par, carry = [], [], 0
    for off in range(0, len(arr), CHUNK):
        chunk = arr[off:off + CHUNK]
        at = np.flatnonzero(chunk == nl)
        if has_quote is False:
            par.append(np.zeros(len(at), np.uint8))
        else:
            running = np.cumsum(chunk == QUOTE, dtype=np.uint8)
            par.append((running[at] + carry) & 1)
            carry = (carry + int(running[-1])) & 1
        pos.append(at + off)
    if not pos:
        return np.zeros(0, np.int64), np.zeros(0, np.uint8)
    return np.concatenate(pos).astype(np.int64), np.concatenate(par).astype(np.uint8)


def _parse_one(text: bytes, delim: str) -> list[str] | None:
    """The fields of `text` if it is exactly one well-formed record, else None."""
    try:
        rows = list(csv.reader(io.StringIO(text.decode("utf-8"), newline=""), delimiter=delim,
                               strict=True))
    except csv.Error:
        return None
    return rows[0] if len(rows) == 1 else None


def _fits(fields: list[str] | None, n: int) -> bool:
    """True when a record has the header's number of fields; extra fields that are all empty are
    allowed (Excel pads ragged rows with trailing delimiters)."""
    return fields is not None and len(fields) >= n and not any(f.strip() for f in fields[n:])


def header(name: str, data: bytes, contract: list[str]) -> tuple[list[str], str, int]:
    """Column names, delimiter, and the byte offset where the data begins.

    The delimiter is the candidate whose split of the header matches the most contract column
    names (then the most columns), so a column name full of semicolons does not fool it."""
    nl = newline_byte(data)
    arr = np.frombuffer(data, np.uint8)
    pos, par = _newlines(arr[: 1 << 20], nl)  # a header is far shorter than 1 MiB
    ends = pos[par == 0]
    if not len(ends) and len(data) > 1 << 20:
        raise CsvFileError(f"{name}: no end of the header line in the first MiB of the file")
    end = int(ends[0]) if len(ends) else len(data)
    text = data[:end].rstrip(b"\r")
    if not text.strip():
        raise CsvFileError(f"{name}: empty file or empty header line")
    best = None
    wanted = set(contract)
    for delim in DELIMITERS:
        fields = _parse_one(text, delim)
        if fields is None:
            continue
        names = [f.strip() for f in fields]
        score = (len(wanted & {n.lower() for n in names}), len(names))
        if best is None or score > best[0]:
            best = (score, names, delim)
    if best is None:
        raise CsvFileError(f"{name}: the header line has an unterminated or misplaced quote")
    _, names, delim = best
    while names and not names[-1]:
        names.pop()  # Excel's trailing delimiter: the fields beyond are checked to be empty
    if not names:
        raise CsvFileError(f"{name}: the header line has no column names (only delimiters)")
    return names, delim, min(end + 1, len(data))


def split_records(data: bytes, begin: int, delim: str) -> Records:
    """The records from byte `begin` (the start of a line) on; see the module docstring.

    A record holding a quoted line break is kept whole when it parses as exactly one record
    (whatever its number of fields, which is checked later); otherwise its first line is broken."""
    nl = newline_byte(data)
    arr = np.frombuffer(data, np.uint8)
    pos, par = _newlines(arr, nl)
    # a sentinel newline at the end of the data always ends the last record
    pos = np.append(pos, len(data))
    par = np.append(par, 0).astype(np.uint8)
    first = int(np.searchsorted(pos, begin))  # index of the first newline at or after `begin`
    ends_idx, broken_idx = [], []
    j, base, restarts = first, (int(par[first - 1]) if first else 0), 0
    last = len(pos) - 1
    while j <= last:
        idx = j + np.flatnonzero(par[j:last] == base)
        idx = np.append(idx, last)
        prev = np.concatenate([[j - 1], idx[:-1]])
        bad = None
        for m in np.flatnonzero(idx - prev > 1):  # records holding a newline inside quotes
            s = int(pos[prev[m]]) + 1 if prev[m] >= 0 else 0
            if _parse_one(data[s:int(pos[idx[m]])], delim) is None:
                bad = int(m)
                break
        if bad is None:
            ends_idx.append(idx)
            break
        ends_idx.append(idx[:bad])
        line_end = int(prev[bad]) + 1  # the newline ending the broken record's first line
        broken_idx.append(line_end)
        restarts += 1
        if restarts >= MAX_RESYNC:
            # bound the work: every remaining line is its own record, broken if its quotes are odd
            rest = np.arange(line_end + 1, last + 1)
            ends_idx.append(rest)
            break
        j, base = line_end + 1, int(par[line_end])
    ends_all = np.concatenate([*ends_idx, np.array(broken_idx, np.int64)]).astype(np.int64)
    is_broken = np.concatenate([np.zeros(len(ends_all) - len(broken_idx), bool),
                                np.ones(len(broken_idx), bool)])
    order = np.argsort(ends_all, kind="stable")
    ends_all, is_broken = ends_all[order], is_broken[order]
    prev_all = np.concatenate([[first - 1], ends_all[:-1]])
    starts = np.where(prev_all >= 0, pos[np.maximum(prev_all, 0)] + 1, 0)
    starts[0] = begin
    ends = pos[ends_all].copy()
    lines = prev_all + 2
    if nl == LF:  # CRLF: the CR belongs to the terminator
        cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == CR)
        ends -= cr
    keep = ends > starts
    tail = int(len(starts) > 0 and starts[-1] >= len(data))  # after the final newline: no line
    starts, ends, lines, is_broken = starts[keep], ends[keep], lines[keep], is_broken[keep]
    # blank: no byte but white space and delimiters between a record's start and the next one's
    content = np.ones(256, bool)
    content[[9, LF, CR, 32, ord(delim)]] = False
    blank = ~np.logical_or.reduceat(content[arr], starts) if len(starts) else np.zeros(0, bool)
    return Records(starts, ends, lines, is_broken, blank, empty_lines=int((~keep).sum()) - tail)


def read_csv_into(con: duckdb.DuckDBPyConnection, path: str, data: bytes, names: list[str],
                  delim: str, begin: int) -> ParsedFile:
    """Read the records of a delimited text file into temp tables `_csv_rows` and `_csv_rejects`
    (see ParsedFile). `data` is the file's content after `decode_check`, `names`, `delim` and
    `begin` come from `header`; `path` is where DuckDB can read the same bytes."""
    n = len(names)
    recs = split_records(data, begin, delim)
    parsed = None
    try:
        parsed = _read_with_duckdb(con, path, data, recs, delim, n)
    except duckdb.Error:
        parsed = None
    if parsed is None:
        _read_with_python(con, data, recs, delim, n)
        parsed = "python"
    blank = int(recs.blank.sum())
    records = len(recs.starts) - blank
    return ParsedFile(names, delim, records, blank + recs.empty_lines, parsed)


def register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """`con.register`, after running any unfinished result to its end (DuckDB 2.0 refuses to
    register while a result, e.g. after fetchone(), is still open)."""
    con.complete()
    con.register(name, table)


def _columns_sql(n: int) -> str:
    return "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"


def _read_with_duckdb(con, path: str, data: bytes, recs: Records, delim: str, n: int) -> str | None:
    """DuckDB's parallel reader for the fields; returns None when its records do not match the
    scan's (the caller then uses the Python path)."""
    source, tmp = path, None
    if recs.broken.any():
        # DuckDB would swallow what follows an unterminated quote: give it a copy in which each
        # broken line is blanked with spaces (same length, so byte positions still match).
        buf = bytearray(data)
        for s, e in zip(recs.starts[recs.broken], recs.ends[recs.broken]):
            buf[s:e] = b" " * (e - s)
        fd, tmp = tempfile.mkstemp(suffix=".csv")
        with os.fdopen(fd, "wb") as f:
            f.write(buf)
        source = tmp
    elif data is not None and os.path.getsize(path) != len(data):
        fd, tmp = tempfile.mkstemp(suffix=".csv")  # a byte-order mark was removed
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        source = tmp
    try:
        con.execute("DROP TABLE IF EXISTS _rj; DROP TABLE IF EXISTS _rs")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _csv AS SELECT * FROM read_csv($p, delim=$d, quote='\"', "
            "escape='\"', header=true, all_varchar=true, encoding='utf-8', store_rejects=true, "
            "rejects_table='_rj', rejects_scan='_rs', auto_detect=false, "
            f"columns={_columns_sql(n)})", {"p": source, "d": delim})
        rejects = con.execute("""SELECT line_byte_position - 1,
                                        bool_or(error_type = 'UNQUOTED VALUE')
                                 FROM _rj GROUP BY 1 ORDER BY 1""").fetchall()
    finally:
        if tmp:
            os.unlink(tmp)
    n_rows = con.execute("SELECT count(*) FROM _csv").fetchall()[0][0]
    if any(r[0] is None for r in rejects):
        return None
    # Map each reject to the scan's record at or after its position (DuckDB counts the empty
    # lines before a bad record into it); only empty lines may lie in between.
    at = np.searchsorted(recs.starts, np.array([r[0] for r in rejects], np.int64))
    if len(at) and (at.max() >= len(recs.starts) or len(set(at.tolist())) != len(at)):
        return None
    for (p, _), k in zip(rejects, at):
        if data[p:int(recs.starts[k])].strip(b"\r\n"):
            return None
    bad = np.zeros(len(recs.starts), bool)
    bad[at] = True
    if n_rows != len(recs.starts) - int(bad.sum()) or (recs.broken & ~bad).any():
        return None
    quote_err = np.zeros(len(recs.starts), bool)
    quote_err[at] = [r[1] for r in rejects]
    # DuckDB's rows are the scan's records that it did not reject, in order: give them their line
    # numbers and drop the blank ones. A view, not a copy: the common file (lines in step with the
    # rows, nothing blank) needs no join at all.
    lines, blank = recs.lines[~bad], recs.blank[~bad]
    if not blank.any() and (len(lines) == 0 or (np.diff(lines) == 1).all()):
        first = int(lines[0]) if len(lines) else 0
        con.execute(f"CREATE OR REPLACE TEMP VIEW _csv_rows AS SELECT rowid + {first} AS line_no, c.* FROM _csv c")
    else:
        register(con, "_good_lines", pa.table({"line_no": lines, "blank": blank}))
        con.execute("CREATE OR REPLACE TEMP TABLE _lines AS SELECT * FROM _good_lines")
        con.unregister("_good_lines")
        con.execute("""CREATE OR REPLACE TEMP VIEW _csv_rows AS SELECT l.line_no, c.*
                       FROM _csv c POSITIONAL JOIN _lines l WHERE NOT l.blank""")
    _store_rejects(con, data, recs, np.flatnonzero(bad), recs.broken | quote_err, delim)
    return "duckdb"


def _store_rejects(con, data: bytes, recs: Records, which: np.ndarray, quote_bad: np.ndarray,
                   delim: str) -> None:
    """Temp table `_csv_rejects` from the records `which` (blank ones are skipped, not rejected)."""
    rows = []
    for k in which:
        if recs.blank[k]:
            continue
        text = data[int(recs.starts[k]):int(recs.ends[k])]
        rows.append((int(recs.lines[k]), text[:KEEP_TEXT].decode("utf-8", "replace"),
                     "quote" if quote_bad[k] else "fields"))
    con.execute("CREATE OR REPLACE TEMP TABLE _csv_rejects (line_no BIGINT, text VARCHAR, reason VARCHAR)")
    if rows:
        register(con, "_rej_arrow", pa.table({
            "line_no": [r[0] for r in rows], "text": [r[1] for r in rows],
            "reason": [r[2] for r in rows]}))
        con.execute("INSERT INTO _csv_rejects SELECT * FROM _rej_arrow")
        con.unregister("_rej_arrow")


def _read_with_python(con, data: bytes, recs: Records, delim: str, n: int) -> None:
    """Python's csv module over the scanned records, one record at a time (slower; used when
    DuckDB's reader disagrees with the scan)."""
    cols: list[list[str | None]] = [[] for _ in range(n)]
    lines, bad, quote_bad = [], [], np.zeros(len(recs.starts), bool)
    for k in range(len(recs.starts)):
        if recs.blank[k]:
            continue
        if recs.broken[k]:
            bad.append(k)
            quote_bad[k] = True
            continue
        fields = _parse_one(data[int(recs.starts[k]):int(recs.ends[k])], delim)
        if not _fits(fields, n):
            bad.append(k)
            quote_bad[k] = fields is None
            continue
        for i in range(n):
            cols[i].append(fields[i] if fields[i] != "" else None)
        lines.append(int(recs.lines[k]))
    table = pa.table({"line_no": pa.array(lines, pa.int64()),
                      **{f"c{i}": pa.array(cols[i], pa.string()) for i in range(n)}})
    register(con, "_py_rows", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _csv_rows AS SELECT * FROM _py_rows")
    con.unregister("_py_rows")
    _store_rejects(con, data, recs, np.array(bad, np.int64), quote_bad, delim)
