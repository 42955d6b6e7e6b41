"""Derive `iccc3_2017_updated_2023.csv` from SEER's raw recode table (the one source of truth).

    .venv/bin/python -m analytics.reference.iccc3_seer [RAW_CSV] [--check]

RAW_CSV is `shared/reference/iccc3/seer_recode_2017_updated_2023.csv`: SEER's "ICCC site recode
3rd edition/IARC 2017" as revised on 2023-09-12 for ICD-O-3.2 codes, in the column layout of its
machine-readable source (IMS `algorithms`, BSD licence, commit f8aad8d, file
`iccc-data-third-edition-iarc-2017.csv`): `ID, Group Name, Indentation, Sites IN, Sites OUT,
Hist IN, Hist OUT, Group code, Group content, Group code extended, Behavior IN`.

What is taken from where:

- the rules (morphology, topography, behaviour) and the group codes: from RAW_CSV, row by row;
  SEER's recode numbers become the project's codes (`011` -> main group I, subgroup Ia; the
  extended code `001` -> Ia.1, numbered within its subgroup; a subgroup that is not subdivided
  keeps its own code as extended code, as in `iccc3_2017.csv`);
- the names of subgroups and extended codes: from `iccc3_2017.csv`, the row of the same SEER `ID`
  (the update changed no group; SEER's raw names abbreviate, e.g. "oth fibrous neoplasms", which the
  2017 table spells out).

The derivation checks, and refuses to write otherwise, that every rule row of the 2017 table has
its row here with the same subgroup, extended code, topography and behaviour: the update changed
histology codes only. `--check` writes nothing and exits 1 when the committed file differs from
the derivation (tests/test_iccc.py runs it).
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW_DEFAULT = Path("/work/shared/reference/iccc3/seer_recode_2017_updated_2023.csv")
BASE_CSV = HERE / "iccc3_2017.csv"
OUT_CSV = HERE / "iccc3_2017_updated_2023.csv"

#: The version name recorded per submission for this table (`analytics.iccc.VERSIONS`).
VERSION = "ICCC-3/IARC 2017, SEER 2023 update"
SOURCE = ("SEER iccc-iarc-2017.html as updated 2023-09-12 (ICD-O-3.2 codes); parsed file "
          "imsweb/algorithms@f8aad8d:iccc-data-third-edition-iarc-2017.csv id={id}; derived by "
          "analytics/reference/iccc3_seer.py from shared/reference/iccc3/seer_recode_2017_updated_2023.csv")
COLUMNS = ["subgroup", "subgroup_name", "main_group", "morphology_ranges", "topography_ranges", "behaviour",
           "source", "extended_subgroup", "extended_name", "version"]
ROMAN = ["", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]


def _codes(text: str) -> str:
    """'9210,9220,9240,' -> '9210,9220,9240' (SEER's table has a stray trailing comma)."""
    return ",".join(p.strip() for p in text.split(",") if p.strip())


def _behaviour(text: str) -> str:
    """'0-1,3' -> '0,1,3'; '3' -> '3'."""
    out: list[str] = []
    for part in _codes(text).split(","):
        lo, _, hi = part.partition("-")
        out += [str(b) for b in range(int(lo), int(hi or lo) + 1)]
    return ",".join(out)


def _subgroup(code: str) -> tuple[str, str]:
    """SEER recode number -> (main group, subgroup): '011' -> ('I', 'Ia'); '050' -> ('V', 'V')."""
    main = ROMAN[int(code[:2])]
    letter = int(code[2])
    return main, main + ("abcdef"[letter - 1] if letter else "")


#: The histology codes the 2023 update adds (the shared folder's README lists these 19).
ADDED_CODES = {8348, 8349, 8455, 8859, 8976, 9111, 9126, 9366, 9367, 9368, 9715, 9749, 9819, 9877, 9878, 9879,
               9912, 9968, 9993}


def _histologies(ranges: str) -> set[int]:
    """'9811-9818,9837' -> {9811, ..., 9818, 9837}."""
    out = set()
    for part in ranges.split(","):
        lo, _, hi = part.strip().partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def derive(raw_csv: Path = RAW_DEFAULT, base_csv: Path = BASE_CSV) -> str:
    """The derived table as CSV text (the committed file's exact bytes)."""
    with open(raw_csv, newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    with open(base_csv, newline="", encoding="utf-8") as f:
        base = list(csv.DictReader(f))
    base_by_id = {}
    for r in base:
        if r["subgroup"] != "unclassified":
            base_by_id[int(r["source"].split(" id=")[1].split(";")[0])] = r
    rules = [r for r in raw if r["Sites IN"].strip() and r["Hist IN"].strip()]
    problems = []
    if any(r["Sites OUT"].strip() or r["Hist OUT"].strip() for r in raw):
        problems.append("the raw table uses 'Sites OUT' or 'Hist OUT', which this layout cannot express")
    # extended codes are numbered within their subgroup, in SEER's order
    ext_seen: dict[str, list[str]] = {}
    for r in rules:
        ext_seen.setdefault(r["Group code"], [])
        if r["Group code extended"] not in ext_seen[r["Group code"]]:
            ext_seen[r["Group code"]].append(r["Group code extended"])
    out_rows, added = [], set()
    for r in rules:
        rid = int(r["ID"])
        main, sub = _subgroup(r["Group code"])
        subdivided = any(x["Group code"] == r["Group code"] and x["Indentation"] == "2" for x in rules)
        ext = f"{sub}.{ext_seen[r['Group code']].index(r['Group code extended']) + 1}" if subdivided else sub
        b = base_by_id.pop(rid, None)
        if b is None:
            problems.append(f"raw row {rid} has no row in {base_csv.name}")
            continue
        row = {"subgroup": sub, "subgroup_name": b["subgroup_name"], "main_group": main,
               "morphology_ranges": _codes(r["Hist IN"]), "topography_ranges": _codes(r["Sites IN"]),
               "behaviour": _behaviour(r["Behavior IN"]), "source": SOURCE.format(id=rid),
               "extended_subgroup": ext, "extended_name": b["extended_name"], "version": VERSION}
        for col in ("subgroup", "main_group", "topography_ranges", "behaviour", "extended_subgroup"):
            if row[col] != b[col]:
                problems.append(f"raw row {rid}: {col} {row[col]!r}, but {b[col]!r} in {base_csv.name}")
        old, new = _histologies(b["morphology_ranges"]), _histologies(row["morphology_ranges"])
        if old - new:  # an update that drops or moves a code is not the update this project adopted
            problems.append(f"raw row {rid}: histologies {sorted(old - new)} of {base_csv.name} are missing")
        added |= new - old
        out_rows.append(row)
    problems += [f"{base_csv.name} row id={rid} has no row in the raw table" for rid in base_by_id]
    if added != ADDED_CODES:
        problems.append(f"the update adds histologies {sorted(added)}, not the {len(ADDED_CODES)} its README lists")
    if problems:
        raise ValueError("; ".join(problems))
    last = dict(next(r for r in base if r["subgroup"] == "unclassified"))
    last.update(source="SEER iccc-iarc-2017.html (2023 update): final 'Not classified by SEER or in situ' "
                       "code 999", version=VERSION)
    out_rows.append(last)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(out_rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analytics.reference.iccc3_seer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("raw", nargs="?", type=Path, default=RAW_DEFAULT, help="SEER's raw recode table (CSV)")
    p.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    args = p.parse_args(argv)
    text = derive(args.raw)
    if args.check:
        same = OUT_CSV.exists() and OUT_CSV.read_text(encoding="utf-8") == text
        print(f"{OUT_CSV.name}: {'current' if same else 'differs from the derivation'}", file=sys.stderr)
        return 0 if same else 1
    OUT_CSV.write_text(text, encoding="utf-8")
    print(f"wrote {OUT_CSV} ({text.count(chr(10)) - 1} rows)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
