"""ICCC-3 classification of tumours from ICD-O-3 topography, morphology and behaviour.

Version followed: the International Classification of Childhood Cancer, third edition
(Steliarova-Foucher E, Stiller C, Lacour B, Kaatsch P. Cancer 2005;103:1457-67) in its 2017 update
by IARC, as published by SEER as the "ICCC site recode 3rd edition/IARC 2017". It also classifies
the ICD-O-3.1 / WHO 2008 haematological codes (e.g. B-lymphoblastic leukaemia 9811-9818).

The definition is data, not code: `reference/iccc3_2017.csv` (provenance in reference/README.md),
one row per rule. A tumour gets the subgroup of the rule whose morphology ranges, topography ranges
and behaviour digits all contain it. The rules do not overlap (tests/test_iccc.py checks this), so
at most one applies. What no rule covers is unclassified (NULL main group, subgroup and extended
code); in-situ tumours (behaviour 2) are never classified, and benign or borderline tumours
(behaviour 0, 1) only where a rule allows them (groups III and Xa), exactly as the published
table says, whatever the site. The IICC-3 data scope for non-malignant tumours (intracranial and
intraspinal only) is a question of what to count, not of classification; see README.md.

Classification runs in DuckDB: the distinct (topography, morphology, behaviour) combinations of a
submission are joined to the expanded rule ranges, so the cost grows with the number of distinct
codes, not rows.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

DEFINITION_CSV = Path(__file__).parent / "reference" / "iccc3_2017.csv"

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

#: SQL that classifies the relation `_iccc_input(topo INTEGER, morph INTEGER, beh INTEGER)`
#: against the table `iccc_rules`; returns one row per input combination.
CLASSIFY_SQL = """
SELECT i.topo, i.morph, i.beh,
       any_value(r.main_group) AS iccc_main,
       any_value(r.subgroup) AS iccc_sub,
       any_value(r.ext) AS iccc_ext
FROM (SELECT DISTINCT topo, morph, beh FROM _iccc_input) i
LEFT JOIN iccc_rules r
  ON i.morph BETWEEN r.morph_lo AND r.morph_hi
 AND i.topo BETWEEN r.topo_lo AND r.topo_hi
 AND list_contains(r.behaviours, i.beh)
GROUP BY ALL
"""


def _ranges(text: str) -> list[tuple[int, int]]:
    """'9811-9818,9837' -> [(9811, 9818), (9837, 9837)]; 'C000-C809' -> [(0, 809)]."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        lo_i = int(lo.lstrip("C"))
        out.append((lo_i, int(hi.lstrip("C")) if hi else lo_i))
    return out


@lru_cache(maxsize=1)
def definition() -> pd.DataFrame:
    """The definition table as published (one row per rule), without the 'unclassified' row."""
    df = pd.read_csv(DEFINITION_CSV, dtype=str, keep_default_na=False)
    return df[df["subgroup"] != "unclassified"].reset_index(drop=True)


@lru_cache(maxsize=1)
def rules() -> pd.DataFrame:
    """The definition expanded to one row per (morphology range x topography range) of each rule."""
    rows = []
    for rule_id, r in definition().iterrows():
        behaviours = [int(b) for b in r["behaviour"].split(",")]
        for m_lo, m_hi in _ranges(r["morphology_ranges"]):
            for t_lo, t_hi in _ranges(r["topography_ranges"]):
                rows.append((rule_id, r["main_group"], r["subgroup"], r["extended_subgroup"],
                             m_lo, m_hi, t_lo, t_hi, behaviours))
    return pd.DataFrame(rows, columns=["rule_id", "main_group", "subgroup", "ext",
                                       "morph_lo", "morph_hi", "topo_lo", "topo_hi", "behaviours"])


def subgroup_names() -> dict[str, str]:
    """Subgroup code -> name, e.g. 'IIIb' -> 'Astrocytomas'."""
    d = definition()
    return dict(zip(d["subgroup"], d["subgroup_name"]))


def extended_names() -> dict[str, str]:
    """Extended-classification code -> name, e.g. 'Ia.1' -> 'Precursor cell leukemias'."""
    d = definition()
    return dict(zip(d["extended_subgroup"], d["extended_name"]))


def install_rules(con: duckdb.DuckDBPyConnection, temp: bool = True) -> None:
    """Create (or replace) the `iccc_rules` table in `con` from the definition CSV."""
    kind = "TEMP TABLE" if temp else "TABLE"
    con.register("_iccc_rules_df", rules())
    con.execute(f"CREATE OR REPLACE {kind} iccc_rules AS SELECT * FROM _iccc_rules_df")
    con.unregister("_iccc_rules_df")


#: Normalises a topography string ('C71.9', 'c719', ' C719 ') to its integer (719), else NULL.
TOPOGRAPHY_INT_SQL = (
    "CASE WHEN regexp_full_match(upper(trim({col})), 'C[0-9]{{2}}\\.?[0-9]') "
    "THEN CAST(replace(substr(upper(trim({col})), 2), '.', '') AS INTEGER) END"
)


def classify_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Append iccc_main, iccc_sub, iccc_ext to a frame with columns topography, morphology, behaviour.

    Values are read as text; malformed codes leave the row unclassified (empty strings).
    Other columns are returned unchanged.
    """
    con = duckdb.connect()
    install_rules(con)
    src = pd.DataFrame({
        "_row": range(len(df)),
        "topography": df["topography"].astype(str),
        "morphology": df["morphology"].astype(str),
        "behaviour": df["behaviour"].astype(str),
    })
    con.register("_src", src)
    con.execute(f"""
        CREATE TEMP TABLE _coded AS
        SELECT _row,
               {TOPOGRAPHY_INT_SQL.format(col='topography')} AS topo,
               CASE WHEN regexp_full_match(trim(morphology), '[0-9]{{4}}')
                    THEN CAST(trim(morphology) AS INTEGER) END AS morph,
               CASE WHEN regexp_full_match(trim(behaviour), '[0-9]')
                    THEN CAST(trim(behaviour) AS INTEGER) END AS beh
        FROM _src""")
    con.execute("CREATE TEMP VIEW _iccc_input AS SELECT topo, morph, beh FROM _coded "
                "WHERE topo IS NOT NULL AND morph IS NOT NULL AND beh IS NOT NULL")
    out = con.execute(f"""
        SELECT c._row, coalesce(k.iccc_main, '') AS iccc_main, coalesce(k.iccc_sub, '') AS iccc_sub,
               coalesce(k.iccc_ext, '') AS iccc_ext
        FROM _coded c LEFT JOIN ({CLASSIFY_SQL}) k
          ON c.topo = k.topo AND c.morph = k.morph AND c.beh = k.beh
        ORDER BY c._row""").df()
    con.close()
    result = df.copy()
    for col in ("iccc_main", "iccc_sub", "iccc_ext"):
        result[col] = out[col].to_numpy()
    return result


def classify_csv(in_path: str | Path, out_stream) -> int:
    """The `classify` command: read CSV, write it back with the three ICCC columns appended.

    Returns the number of unclassified rows.
    """
    df = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    missing = [c for c in ("topography", "morphology", "behaviour") if c not in df.columns]
    if missing:
        raise ValueError(f"{in_path}: missing column(s) {', '.join(missing)}")
    result = classify_frame(df)
    result.to_csv(out_stream, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return int((result["iccc_sub"] == "").sum())
