"""ICCC-3 classification of tumours from ICD-O-3 topography, morphology and behaviour.

Versions (`VERSIONS`; each submission records the one that classified it, `submissions.iccc_version`):

- "ICCC-3/IARC 2017, SEER 2023 update" (the default, `DEFAULT_VERSION`): the International
  Classification of Childhood Cancer, third edition (Steliarova-Foucher E, Stiller C, Lacour B,
  Kaatsch P. Cancer 2005;103:1457-67) in its 2017 update by IARC, as published by SEER as the "ICCC
  site recode 3rd edition/IARC 2017" and revised by SEER in September 2023 for ICD-O-3.2 codes. It
  classifies 19 newer codes the first table leaves out (e.g. the AML subtypes 9877-9879, 9968, 9993,
  9366-9368, 8859, 9126) and changes nothing else.
- "ICCC-3/IARC 2017": the same table as first published (what every warehouse used before the update).

Both classify the ICD-O-3.1 / WHO 2008 haematological codes (e.g. B-lymphoblastic leukaemia
9811-9818). `--version 2017` / `--version 2023` name them on the command line.

The definition is data, not code: `reference/iccc3_2017_updated_2023.csv` (derived from SEER's raw
table by `reference/iccc3_seer.py`) and `reference/iccc3_2017.csv` (provenance in
reference/README.md), one row per rule. A tumour gets the subgroup of the rule whose morphology
ranges, topography ranges and behaviour digits all contain it. The rules do not overlap
(tests/test_iccc.py checks this), so at most one applies. What no rule covers is unclassified (NULL
main group, subgroup and extended code); in-situ tumours (behaviour 2) are never classified, and
benign or borderline tumours (behaviour 0, 1) only where a rule allows them (groups III and Xa),
exactly as the published table says, whatever the site. The IICC-3 data scope for non-malignant
tumours (intracranial and intraspinal only) is a question of what to count, not of classification;
see README.md.

Classification runs in DuckDB: the distinct (topography, morphology, behaviour) combinations of a
submission are joined to the expanded rule ranges, so the cost grows with the number of distinct
codes, not rows. `reclassify` does the same over a whole warehouse.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

from analytics.schema import ICCC_VERSION

_REFERENCE = Path(__file__).parent / "reference"


@dataclass(frozen=True)
class Version:
    """One definition of ICCC-3: `name` is what a submission records, `key` its short name on the
    command line, `file` its rules."""

    name: str
    key: str
    file: Path
    about: str


#: The definitions this project can classify by, oldest first.
VERSIONS: dict[str, Version] = {v.name: v for v in (
    Version("ICCC-3/IARC 2017", "2017", _REFERENCE / "iccc3_2017.csv",
            "SEER's ICCC site recode 3rd edition/IARC 2017 as first published"),
    Version("ICCC-3/IARC 2017, SEER 2023 update", "2023", _REFERENCE / "iccc3_2017_updated_2023.csv",
            "the same as revised by SEER in September 2023 for ICD-O-3.2 codes (19 more codes classified)"),
)}

#: The version new submissions are classified by (unless a warehouse was re-classified by another:
#: `warehouse_version`). Named in the data contract (`schema.ICCC_VERSION`).
DEFAULT_VERSION = ICCC_VERSION
assert DEFAULT_VERSION in VERSIONS, DEFAULT_VERSION

#: The default definition file (kept for callers that read it directly).
DEFINITION_CSV = VERSIONS[DEFAULT_VERSION].file

#: ICCC-3 main groups (Steliarova-Foucher et al. 2005, Table 1), in order.
MAIN_GROUPS: dict[str, str] = {
    "I": "Leukaemias, myeloproliferative and myelodysplastic diseases",
    "II": "Lymphomas and reticuloendothelial neoplasms",
    "III": "CNS and miscellaneous intracranial and intraspinal neoplasms",
    "IV": "Neuroblastoma and other peripheral nervous cell tumours",
    "V": "Retinoblastoma",
    "VI": "Renal tumours",
    "VII": "Hepatic tumours",
    "VIII": "Malignant bone tumours",
    "IX": "Soft tissue and other extraosseous sarcomas",
    "X": "Germ cell tumours, trophoblastic tumours and neoplasms of gonads",
    "XI": "Other malignant epithelial neoplasms and malignant melanomas",
    "XII": "Other and unspecified malignant neoplasms",
}

#: ICD-O-3 behaviour codes (0 benign, 1 uncertain/borderline, 2 in situ, 3 malignant, 6 metastatic
#: site, 9 malignant, uncertain whether primary or metastatic).
ICDO3_BEHAVIOURS = (0, 1, 2, 3, 6, 9)


def classify_sql(rules_table: str = "iccc_rules") -> str:
    """SQL that classifies the relation `_iccc_input(topo INTEGER, morph INTEGER, beh INTEGER)`
    against the rules in `rules_table`; returns one row per input combination."""
    return f"""
SELECT i.topo, i.morph, i.beh,
       any_value(r.main_group) AS iccc_main,
       any_value(r.subgroup) AS iccc_sub,
       any_value(r.ext) AS iccc_ext
FROM (SELECT DISTINCT topo, morph, beh FROM _iccc_input) i
LEFT JOIN {rules_table} r
  ON i.morph BETWEEN r.morph_lo AND r.morph_hi
 AND i.topo BETWEEN r.topo_lo AND r.topo_hi
 AND list_contains(r.behaviours, i.beh)
GROUP BY ALL
"""


#: `classify_sql()` against the table `iccc_rules` (what `install_rules` makes).
CLASSIFY_SQL = classify_sql()


def version(name: str | None = None) -> Version:
    """The version called `name` (its full name or short key, any case; None: the default).
    Raises ValueError naming the versions there are."""
    if name is None:
        return VERSIONS[DEFAULT_VERSION]
    wanted = name.strip().casefold()
    for v in VERSIONS.values():
        if wanted in (v.name.casefold(), v.key.casefold()):
            return v
    choices = "; ".join(f"{v.key} ({v.name})" for v in VERSIONS.values())
    raise ValueError(f"no ICCC-3 version '{name}'; there are: {choices}")


def versions_help() -> str:
    """The versions in a line, for --version's help: '2017 = ICCC-3/IARC 2017; 2023 = ... (default)'."""
    return "; ".join(f"{v.key} = {v.name}" + (" (default)" if v.name == DEFAULT_VERSION else "")
                     for v in VERSIONS.values())


def _ranges(text: str) -> list[tuple[int, int]]:
    """'9811-9818,9837' -> [(9811, 9818), (9837, 9837)]; 'C000-C809' -> [(0, 809)]."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        lo_i = int(lo.lstrip("C"))
        out.append((lo_i, int(hi.lstrip("C")) if hi else lo_i))
    return out


@lru_cache(maxsize=None)
def _definition(name: str) -> pd.DataFrame:
    df = pd.read_csv(VERSIONS[name].file, dtype=str, keep_default_na=False)
    return df[df["subgroup"] != "unclassified"].reset_index(drop=True)


def definition(version_name: str | None = None) -> pd.DataFrame:
    """The definition table of a version (default: `DEFAULT_VERSION`) as published (one row per
    rule), without the 'unclassified' row."""
    return _definition(version(version_name).name)


@lru_cache(maxsize=None)
def _rules(name: str) -> pd.DataFrame:
    rows = []
    for rule_id, r in _definition(name).iterrows():
        behaviours = [int(b) for b in r["behaviour"].split(",")]
        for m_lo, m_hi in _ranges(r["morphology_ranges"]):
            for t_lo, t_hi in _ranges(r["topography_ranges"]):
                rows.append((rule_id, r["main_group"], r["subgroup"], r["extended_subgroup"],
                             m_lo, m_hi, t_lo, t_hi, behaviours, name))
    return pd.DataFrame(rows, columns=["rule_id", "main_group", "subgroup", "ext",
                                       "morph_lo", "morph_hi", "topo_lo", "topo_hi", "behaviours", "version"])


def rules(version_name: str | None = None) -> pd.DataFrame:
    """A version's definition expanded to one row per (morphology range x topography range) of each rule."""
    return _rules(version(version_name).name)


def subgroup_names() -> dict[str, str]:
    """Subgroup code -> name, e.g. 'IIIb' -> 'Astrocytomas' (the same in every version)."""
    d = definition()
    return dict(zip(d["subgroup"], d["subgroup_name"]))


def extended_names() -> dict[str, str]:
    """Extended-classification code -> name, e.g. 'Ia.1' -> 'Precursor cell leukemias'."""
    d = definition()
    return dict(zip(d["extended_subgroup"], d["extended_name"]))


def install_rules(con: duckdb.DuckDBPyConnection, temp: bool = True, version_name: str | None = None,
                  table: str = "iccc_rules") -> None:
    """Create (or replace) the rules table (`iccc_rules`) in `con` from a version's definition."""
    kind = "TEMP TABLE" if temp else "TABLE"
    con.register("_iccc_rules_df", rules(version_name))
    con.execute(f"CREATE OR REPLACE {kind} {table} AS SELECT * FROM _iccc_rules_df")
    con.unregister("_iccc_rules_df")


#: What an aggregate submission records as its version: a partner's tables arrive with their ICCC-3
#: groups (its `aggregate` classified them), by a version they do not state.
PARTNER_CLASSIFIED = "as sent (partner's tables)"


def warehouse_version(con: duckdb.DuckDBPyConnection) -> str:
    """The version a warehouse classifies new submissions by: the one it was last re-classified by
    (`reclassify`, kept in `meta`); else the one every case submission it holds was classified by
    (a warehouse made before versions were kept stays on its version until re-classified); else
    `DEFAULT_VERSION`."""
    row = con.execute("SELECT value FROM meta WHERE key = 'iccc_version'").fetchone()
    if row and row[0] in VERSIONS:
        return row[0]
    held = [r[0] for r in con.execute(
        "SELECT DISTINCT iccc_version FROM submissions WHERE kind = 'cases'").fetchall()]
    return held[0] if len(held) == 1 and held[0] in VERSIONS else DEFAULT_VERSION


def versions_label(names) -> str:
    """The ICCC-3 version(s) of a pool's case submissions, for footnotes: the one name, or 'ICCC-3
    versions 2017 and 2023 (mixed)' by their short keys."""
    names = sorted({n for n in names if n in VERSIONS}, key=list(VERSIONS).index)
    if not names:
        return DEFAULT_VERSION
    if len(names) == 1:
        return names[0]
    return "ICCC-3 versions " + " and ".join(VERSIONS[n].key for n in names) + " (mixed)"


#: Normalises a topography string ('C71.9', 'c719', ' C719 ') to its integer (719), else NULL.
TOPOGRAPHY_INT_SQL = (
    "CASE WHEN regexp_full_match(upper(trim({col})), 'C[0-9]{{2}}\\.?[0-9]') "
    "THEN CAST(replace(substr(upper(trim({col})), 2), '.', '') AS INTEGER) END"
)

# --- `python -m analytics classify`: codes as people write them, and why a row is unclassified --

#: Morphology as written: 9470, M9470, M-9470, optionally with its behaviour, 9470/3 (any case).
_MORPH_FORM = "(M-?)?[0-9]{4}(/[0-9])?"
#: Behaviour as written: one digit, or a digit with zero decimals as spreadsheets write it (3.0).
_BEH_FORM = "[0-9](\\.0+)?"

_BEHAVIOUR_LIST = ", ".join(map(str, ICDO3_BEHAVIOURS[:-1])) + f" or {ICDO3_BEHAVIOURS[-1]}"

#: The parsed codes of `_src(_row, topography, morphology, behaviour)` (text, '' when missing),
#: with `problem`: why they cannot be read (NULL when they can).
_PARSE_SQL = f"""
WITH s AS (
  SELECT _row, nullif(trim(topography), '') AS t_txt, nullif(upper(trim(morphology)), '') AS m_txt,
         trim(morphology) AS m_as_written, nullif(trim(behaviour), '') AS b_txt
  FROM _src),
p AS (
  SELECT *, {TOPOGRAPHY_INT_SQL.format(col='t_txt')} AS topo,
    CASE WHEN regexp_full_match(m_txt, '{_MORPH_FORM}')
         THEN CAST(regexp_extract(m_txt, '[0-9]{{4}}') AS INTEGER) END AS morph,
    CASE WHEN regexp_full_match(m_txt, '{_MORPH_FORM}') AND contains(m_txt, '/')
         THEN CAST(right(m_txt, 1) AS INTEGER) END AS m_beh,
    CASE WHEN regexp_full_match(b_txt, '{_BEH_FORM}') THEN CAST(left(b_txt, 1) AS INTEGER) END AS b_beh
  FROM s),
q AS (
  SELECT *, coalesce(b_beh, m_beh) AS beh,
    concat_ws('; ',
      CASE WHEN t_txt IS NULL THEN 'topography missing'
           WHEN topo IS NULL THEN 'topography ''' || t_txt || ''' is not an ICD-O-3 topography code '
                                  || '(written C71.9 or C719)'
           WHEN topo > 809 THEN 'topography ' || t_txt || ' is outside ICD-O-3 (C00.0-C80.9)' END,
      CASE WHEN m_txt IS NULL THEN 'morphology missing'
           WHEN regexp_full_match(m_txt, 'M?-?[0-9]{{5}}')
             THEN 'morphology ''' || m_as_written || ''' has 5 digits: write the histology and the behaviour '
                  || 'apart (9470/3, or 9470 with behaviour 3)'
           WHEN morph IS NULL THEN 'morphology ''' || m_as_written || ''' is not an ICD-O-3 histology code '
                                   || '(written 9470, M9470 or 9470/3)'
           WHEN morph NOT BETWEEN 8000 AND 9993
             THEN 'morphology ' || m_as_written || ' is outside ICD-O-3 histology (8000-9993)' END,
      CASE WHEN b_txt IS NOT NULL AND b_beh IS NULL
             THEN 'behaviour ''' || b_txt || ''' is not an ICD-O-3 behaviour code ({_BEHAVIOUR_LIST})'
           WHEN b_txt IS NULL AND m_beh IS NULL AND morph IS NOT NULL
             THEN 'behaviour missing (give it in the behaviour column, or as in 9470/3)'
           WHEN b_beh IS NOT NULL AND m_beh IS NOT NULL AND b_beh <> m_beh
             THEN 'behaviour ' || b_txt || ' contradicts the /' || m_beh || ' of morphology ' || m_as_written
           WHEN coalesce(b_beh, m_beh) NOT IN {ICDO3_BEHAVIOURS}
             THEN 'behaviour ' || coalesce(b_beh, m_beh) || ' is not an ICD-O-3 behaviour code ({_BEHAVIOUR_LIST})'
      END) AS problem
  FROM p)
SELECT _row, topo, morph, beh, nullif(problem, '') AS problem FROM q
"""

#: Why a tumour with readable codes (`c.topo`, `c.morph`, `c.beh`) has no ICCC-3 group: '{version}' and
#: '{others}' (an SQL expression: what the other versions make of it, or NULL) are filled in.
_UNCLASSIFIED_SQL = """
CASE WHEN c.beh = 2 THEN 'in situ (behaviour 2): ICCC-3 classifies no in-situ tumour'
     WHEN c.beh = 6 THEN 'behaviour 6 (metastatic site): ICCC-3 classifies the primary tumour, coded with behaviour 3'
     WHEN c.beh = 9 THEN 'behaviour 9 (uncertain whether primary or metastatic): ICCC-3 classifies the primary '
                       || 'tumour, coded with behaviour 3'
     WHEN c.beh IN (0, 1) THEN 'behaviour ' || c.beh || ' ('
                       || CASE c.beh WHEN 0 THEN 'benign' ELSE 'uncertain or borderline' END
                       || '): {version} classifies benign and borderline tumours only in groups III and Xa, '
                       || 'and not this histology at this site'
     ELSE 'no rule of {version} covers histology ' || lpad(CAST(c.morph AS VARCHAR), 4, '0') || '/' || c.beh
          || ' at site C' || lpad(CAST(c.topo // 10 AS VARCHAR), 2, '0') || '.' || CAST(c.topo % 10 AS VARCHAR)
END || coalesce({others}, '')
"""


@dataclass
class Classified:
    """What `classify_csv` did: rows written, rows without an ICCC-3 group (`unclassified`), and of
    those the rows whose codes could not be read at all (`unreadable`); the version used."""

    rows: int
    unclassified: int
    unreadable: int
    version: str
    reasons: dict[str, int] = field(default_factory=dict)


def classify_frame(df: pd.DataFrame, version_name: str | None = None, with_reason: bool = False) -> pd.DataFrame:
    """Append iccc_main, iccc_sub, iccc_ext to a frame with columns topography, morphology and
    (optionally) behaviour, classified by a version (default `DEFAULT_VERSION`).

    Values are read as text, written as people write them: topography C71.9 or C719; morphology
    9470, M9470, M-9470 or 9470/3 (then the behaviour column may be empty); behaviour 3 or 3.0.
    A row that cannot be read, or that no rule covers, is unclassified (empty strings); with
    `with_reason`, a fourth column `iccc_reason` says why (empty when classified). Other columns
    are returned unchanged.
    """
    chosen = version(version_name)
    con = duckdb.connect()
    install_rules(con, version_name=chosen.name)
    others = [v for v in VERSIONS.values() if v.name != chosen.name]
    for i, v in enumerate(others):
        install_rules(con, version_name=v.name, table=f"_iccc_rules_{i}")

    def text(col: str) -> list[str]:
        if col not in df.columns:
            return [""] * len(df)
        return ["" if pd.isna(x) else str(x) for x in df[col].to_numpy(dtype=object)]

    src = pd.DataFrame({"_row": range(len(df)),
                        **{c: pd.Series(text(c), dtype="string") for c in ("topography", "morphology", "behaviour")}})
    con.register("_src", src)
    con.execute(f"CREATE TEMP TABLE _coded AS {_PARSE_SQL}")
    con.execute("CREATE TEMP VIEW _iccc_input AS SELECT topo, morph, beh FROM _coded WHERE problem IS NULL")
    con.execute(f"CREATE TEMP TABLE _k AS {CLASSIFY_SQL}")
    hint = "NULL"
    for i, v in enumerate(others):
        con.execute(f"CREATE TEMP TABLE _k{i} AS {classify_sql(f'_iccc_rules_{i}')}")
        hint = (f"coalesce({hint}, (SELECT '; ' || {_sql_text(v.name)} || ' classifies it (' || o.iccc_ext "
                f"|| ')' FROM _k{i} o WHERE o.topo = c.topo AND o.morph = c.morph AND o.beh = c.beh "
                f"AND o.iccc_sub IS NOT NULL))")
    reason = _UNCLASSIFIED_SQL.format(version=chosen.name, others=hint)
    out = con.execute(f"""
        SELECT c._row, coalesce(k.iccc_main, '') AS iccc_main, coalesce(k.iccc_sub, '') AS iccc_sub,
               coalesce(k.iccc_ext, '') AS iccc_ext,
               CASE WHEN c.problem IS NOT NULL THEN c.problem
                    WHEN k.iccc_sub IS NULL THEN {reason} ELSE '' END AS iccc_reason,
               c.problem IS NOT NULL AS unreadable
        FROM _coded c LEFT JOIN _k k ON c.problem IS NULL AND c.topo = k.topo AND c.morph = k.morph AND c.beh = k.beh
        ORDER BY c._row""").df()
    con.close()
    result = df.copy()
    for col in ("iccc_main", "iccc_sub", "iccc_ext") + (("iccc_reason",) if with_reason else ()):
        result[col] = out[col].to_numpy()
    result.attrs["unreadable"] = int(out["unreadable"].sum())
    result.attrs["iccc_version"] = chosen.name
    return result


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def classify_csv(in_path: str | Path, out_stream, version_name: str | None = None) -> Classified:
    """The `classify` command: read CSV, write it back with the ICCC columns (iccc_main, iccc_sub,
    iccc_ext) and `iccc_reason` (why a row is unclassified) appended. Requires the columns
    topography and morphology; behaviour may be a column or written in the morphology (9470/3)."""
    chosen = version(version_name)
    df = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    missing = [c for c in ("topography", "morphology") if c not in df.columns]
    if missing:
        raise ValueError(f"{in_path}: missing column(s) {', '.join(missing)} (and behaviour, unless the "
                         f"morphology carries it as in 9470/3)")
    result = classify_frame(df, chosen.name, with_reason=True)
    result.to_csv(out_stream, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    un = result[result["iccc_sub"] == ""]
    return Classified(len(result), len(un), result.attrs["unreadable"], chosen.name,
                      un["iccc_reason"].value_counts().to_dict())


# --- re-classifying a warehouse ------------------------------------------------------------------

@dataclass
class Reclassification:
    """What `reclassify` did: tumours looked at and changed (another extended group, or classified
    or unclassified where they were not), the changes by subgroup (old, new, tumours; '' for
    unclassified), the versions the case submissions had before (version -> submissions), and the
    aggregate submissions left as their partners classified them; `previous`: the version the
    warehouse classified new submissions by before."""

    version: str
    tumours: int
    changed: int
    transitions: list[tuple[str, str, int]]
    before: dict[str, int]
    aggregate_submissions: int
    changed_submissions: int
    previous: str

    @property
    def nothing_to_do(self) -> bool:
        """Whether the warehouse was already wholly classified by this version."""
        return not self.changed and not self.changed_submissions and self.previous == self.version

    def lines(self) -> list[str]:
        out = [f"re-classified {self.tumours:,} tumour(s) by {self.version}: {self.changed:,} changed group"]
        if self.before:
            out.append("  before: " + "; ".join(f"{n} submission(s) by {v}" for v, n in self.before.items()))
        for old, new, n in self.transitions:
            out.append(f"  {old or 'unclassified'} -> {new or 'unclassified'}: {n:,}")
        if self.aggregate_submissions:
            out.append(f"  {self.aggregate_submissions} aggregate submission(s) (tables, no codes) keep the "
                       "groups their partners' tables give")
        return out


def reclassify(con: duckdb.DuckDBPyConnection, version_name: str | None = None) -> Reclassification:
    """Classify every tumour of the warehouse open on `con` again by a version (default
    `DEFAULT_VERSION`), in SQL and in one transaction: the tumours' groups, each case submission's
    `iccc_version` and `rows_unclassified`, the warehouse's `iccc_rules` table and its version for
    new submissions (`warehouse_version`). Aggregate submissions hold no codes and are left as they
    are. Run it inside `snapshots.writing` (with its audit entry: `access.reclassify`)."""
    chosen = version(version_name)
    con.execute("DROP TABLE IF EXISTS temp.iccc_rules")  # a scratch copy would hide the warehouse's own
    from analytics.warehouse import transaction  # (warehouse imports this module)

    try:
        with transaction(con):
            previous = warehouse_version(con)
            before = dict(con.execute("""SELECT iccc_version, count(*) FROM submissions WHERE kind = 'cases'
                                         GROUP BY 1 ORDER BY 1""").fetchall())
            install_rules(con, temp=False, version_name=chosen.name)
            con.execute("""CREATE OR REPLACE TEMP VIEW _iccc_input AS
                SELECT CAST(substr(topography, 2) AS INTEGER) AS topo, CAST(morphology AS INTEGER) AS morph,
                       CAST(behaviour AS INTEGER) AS beh FROM cases""")
            con.execute(f"CREATE OR REPLACE TEMP TABLE _reclassified AS {CLASSIFY_SQL}")
            join = """CAST(substr(c.topography, 2) AS INTEGER) = k.topo AND c.morphology = k.morph
                      AND c.behaviour = k.beh"""
            differs = "c.iccc_ext IS DISTINCT FROM k.iccc_ext OR c.iccc_sub IS DISTINCT FROM k.iccc_sub " \
                      "OR c.iccc_main IS DISTINCT FROM k.iccc_main"
            transitions = [(o or "", n or "", int(k)) for o, n, k in con.execute(f"""
                SELECT c.iccc_sub, k.iccc_sub, count(*) FROM cases c JOIN _reclassified k ON {join}
                WHERE {differs} GROUP BY ALL ORDER BY 3 DESC, 1 NULLS FIRST, 2 NULLS FIRST""").fetchall()]
            tumours, changed = con.execute(f"""
                SELECT count(*), count(*) FILTER (WHERE {differs})
                FROM cases c JOIN _reclassified k ON {join}""").fetchone()
            con.execute(f"""UPDATE cases c SET iccc_main = k.iccc_main, iccc_sub = k.iccc_sub, iccc_ext = k.iccc_ext
                            FROM _reclassified k WHERE {join} AND ({differs})""")
            changed_submissions = con.execute("""SELECT count(*) FROM submissions WHERE kind = 'cases'
                                                 AND iccc_version <> $v""", {"v": chosen.name}).fetchone()[0]
            con.execute("""UPDATE submissions SET iccc_version = $v,
                             rows_unclassified = (SELECT count(*) FROM cases c
                                                  WHERE c.submission_id = submissions.submission_id
                                                    AND c.iccc_sub IS NULL)
                           WHERE kind = 'cases'""", {"v": chosen.name})
            con.execute("INSERT OR REPLACE INTO meta VALUES ('iccc_version', $v)", {"v": chosen.name})
            aggregate = con.execute("SELECT count(*) FROM submissions WHERE kind <> 'cases'").fetchone()[0]
    finally:
        con.execute("DROP VIEW IF EXISTS _iccc_input")
        con.execute("DROP TABLE IF EXISTS _reclassified")
    return Reclassification(chosen.name, int(tumours), int(changed), transitions, before, int(aggregate),
                            int(changed_submissions), previous)
