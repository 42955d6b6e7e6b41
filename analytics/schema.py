"""The data contract: one place that says what a harmonized case file contains.

Validation (`ingest.py` applies the `RULES` below), the warehouse table layout (`warehouse.py`)
and the data dictionary (`python -m analytics dictionary`, committed as docs/data-dictionary.md)
are all driven from the lists below. Change a column or a rule here and all three follow. This
module imports nothing of the package: the others import it.

A submission is one file (CSV, UTF-8 with a header row, or Parquet), one row per tumour.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Bumped whenever the input contract or the `cases` layout changes; recorded per submission.
SCHEMA_VERSION = "1.0"

#: ICCC-3 version new submissions are classified by (analytics.iccc.VERSIONS lists the others; see
#: analytics/reference/README.md). Each submission records the version that classified it.
ICCC_VERSION = "ICCC-3/IARC 2017, SEER 2023 update"

#: Earliest diagnosis date the pool accepts: the UN WPP 2022 denominators begin in 1950, and no
#: partner registry reports childhood cancers from before then. Later dates are accepted up to
#: today; years the population table does not cover are kept out of rates, with a note.
DIAGNOSIS_FROM = date(1950, 1, 1)


#: Age groups in display order, with their bounds in completed years (inclusive).
AGE_GROUPS = [("0", 0, 0), ("1-4", 1, 4), ("5-9", 5, 9), ("10-14", 10, 14), ("15-19", 15, 19)]
AGE_BANDS = [("0-4", 0, 4), ("5-9", 5, 9), ("10-14", 10, 14), ("15-19", 15, 19)]


@dataclass(frozen=True)
class InputColumn:
    """One column of the submission file."""

    name: str
    required: str  # "yes", "no", or "one of birth_date/age_years"
    values: str  # human description of allowed values (for the data dictionary)
    codes: dict[str, str] = field(default_factory=dict)  # code -> meaning, when the column is coded


SEX = {"1": "male", "2": "female", "9": "unknown"}
BEHAVIOUR = {"0": "benign", "1": "uncertain/borderline", "2": "in situ", "3": "malignant"}
BASIS = {
    "0": "death certificate only (DCO)",
    "1": "clinical",
    "2": "clinical investigation",
    "4": "specific tumour markers",
    "5": "cytology",
    "6": "histology of a metastasis",
    "7": "histology of the primary tumour",
    "9": "unknown",
}
VITAL_STATUS = {"1": "alive", "2": "dead"}
#: Cause of death of a tumour's patient (optional; issue 15): what competing-risks analysis splits
#: deaths by. Deaths from treatment count as deaths of the cancer (as in the Childhood Cancer
#: Survivor Study's "recurrence/progression" against "health-related" causes).
CAUSE_OF_DEATH = {"1": "the cancer (including its treatment)", "2": "another cause", "9": "unknown"}

#: Toronto childhood cancer stage guidelines, tier 2 (with the tier 1 values partners also send),
#: union over tumour types. Gupta S et al., Lancet Oncol 2016;17:e163-72.
#: Upper-cased before comparison. Empty means "not staged / unknown".
TORONTO_STAGES = {
    # leukaemias: CNS status
    "CNS1": "ALL: no CNS involvement", "CNS2": "ALL: CNS2", "CNS3": "ALL: CNS3",
    "CNS-": "AML/ALL tier 1: CNS negative", "CNS+": "AML/ALL tier 1: CNS positive",
    # roman numeral stages: Ann Arbor (Hodgkin), St Jude/Murphy (NHL), Wilms (NWTS), germ cell,
    # ovarian (FIGO), hepatoblastoma (PRETEXT), rhabdomyosarcoma (TNM pretreatment), sarcoma
    "I": "stage I", "II": "stage II", "III": "stage III", "IV": "stage IV", "V": "stage V (Wilms, bilateral)",
    "IA": "Hodgkin IA", "IB": "Hodgkin IB", "IIA": "Hodgkin IIA", "IIB": "Hodgkin IIB",
    "IIIA": "Hodgkin IIIA", "IIIB": "Hodgkin IIIB", "IVA": "Hodgkin IVA", "IVB": "Hodgkin IVB",
    # neuroblastoma: INRG staging system
    "L1": "neuroblastoma INRGSS L1", "L2": "neuroblastoma INRGSS L2",
    "M": "metastatic (INRGSS M; tier 1 M)", "MS": "neuroblastoma INRGSS MS",
    # retinoblastoma: International Retinoblastoma Staging System
    "0": "retinoblastoma IRSS 0", "1": "retinoblastoma IRSS 1", "2": "retinoblastoma IRSS 2",
    "3": "retinoblastoma IRSS 3", "4": "retinoblastoma IRSS 4",
    # medulloblastoma / ependymoma: metastatic stage
    "M0": "CNS tumour M0", "M1": "CNS tumour M1", "M2": "CNS tumour M2", "M3": "CNS tumour M3",
    "M4": "CNS tumour M4", "M+": "CNS tumour tier 1 metastatic",
    # tier 1 for solid tumours
    "LOCALISED": "localised", "REGIONAL": "regional", "METASTATIC": "metastatic",
}

INPUT_COLUMNS: list[InputColumn] = [
    InputColumn("case_id", "yes", "string, unique within the submission"),
    InputColumn("patient_id", "no", "string; defaults to case_id"),
    InputColumn("country", "yes", "ISO 3166-1 alpha-3 code (e.g. FRA)"),
    InputColumn("registry", "no", "code of the contributing registry"),
    InputColumn("sex", "yes", "coded", SEX),
    InputColumn("birth_date", "one of birth_date/age_years", "YYYY-MM-DD"),
    InputColumn("age_years", "one of birth_date/age_years",
                "completed years at diagnosis, 0-19; must agree with birth_date when both are given"),
    InputColumn("diagnosis_date", "yes", f"YYYY-MM-DD, the incidence date; from {DIAGNOSIS_FROM.isoformat()} to today"),
    InputColumn("topography", "yes", "ICD-O-3 topography C00.0-C80.9, written C71.9 or C719"),
    InputColumn("morphology", "yes", "ICD-O-3 histology, 4 digits, 8000-9993"),
    InputColumn("behaviour", "yes", "ICD-O-3 behaviour", BEHAVIOUR),
    InputColumn("basis", "no", "basis of diagnosis", BASIS),
    InputColumn("stage", "no",
                "Toronto paediatric stage (tier 2, or tier 1) where known, else empty; "
                "allowed values: " + ", ".join(TORONTO_STAGES)),
    InputColumn("vital_status", "yes", "coded", VITAL_STATUS),
    InputColumn("last_contact_date", "yes", "YYYY-MM-DD: date of death if dead, else date last known alive"),
    InputColumn("cause_of_death", "no", "coded, for a death only: empty when alive; a death without "
                "a cause is stored as 9 (unknown)", CAUSE_OF_DEATH),
]

INPUT_NAMES = [c.name for c in INPUT_COLUMNS]
REQUIRED_NAMES = [c.name for c in INPUT_COLUMNS if c.required == "yes"]


# --- aggregate submissions (issue 14): tables instead of rows ---------------------------------------
# A partner who may not send records sends two tables made from them on its own machine by
# `python -m analytics aggregate` (analytics/aggregate.py): counts of tumours for incidence, and
# deaths and censorings per follow-up time for survival. Each is recognised by its header.

#: Follow-up units a survival-events table may use; the time column is named after its unit. Days
#: are exact; months and years (for partners whose rules forbid days) are whole completed units of
#: this many days, pooled by the actuarial life-table method.
FOLLOWUP_UNITS = {"day": 1.0, "month": 365.25 / 12, "year": 365.25}


def completed_sql(unit: str, days: str = "followup_days", given: str = "day") -> str | None:
    """SQL of follow-up in completed `unit`s from `days`, an SQL expression of follow-up counted in
    completed `given`s (days by default); None when `given` is coarser than `unit`. The one
    definition of binning: the partner's `aggregate` writes its tables with it, and the centre
    puts rows and finer tables in the same intervals with it (`pooled.events_sql`), so both agree
    exactly. Nested completed units are whole: floor(floor(d / m) / 12) = floor(d / (12 m))."""
    if unit not in FOLLOWUP_UNITS or given not in FOLLOWUP_UNITS:
        raise ValueError(f"follow-up unit '{unit if unit not in FOLLOWUP_UNITS else given}': "
                         f"use one of {', '.join(FOLLOWUP_UNITS)}")
    if FOLLOWUP_UNITS[given] > FOLLOWUP_UNITS[unit]:
        return None
    if given == unit:
        return days
    if given == "day":
        return f"CAST(floor({days} / {FOLLOWUP_UNITS[unit]!r}) AS INTEGER)"
    return f"CAST(({days}) // {round(FOLLOWUP_UNITS[unit] / FOLLOWUP_UNITS[given])} AS INTEGER)"
#: Five-year periods of diagnosis, as the `period` column of `cases` writes them.
PERIOD_FORM = "five-year period of diagnosis starting in a year ending in 0 or 5, e.g. 2000-2004"
#: SQL of the five-year period of a calendar year (`{year}`: an SQL expression), as written above.
PERIOD_SQL = "CAST(({year}) // 5 * 5 AS VARCHAR) || '-' || CAST(({year}) // 5 * 5 + 4 AS VARCHAR)"

CASE_COUNT_COLUMNS: list[InputColumn] = [
    InputColumn("country", "yes", "ISO 3166-1 alpha-3 code (e.g. FRA)"),
    InputColumn("registry", "no", "code of the contributing registry"),
    InputColumn("year", "yes", f"calendar year of diagnosis, from {DIAGNOSIS_FROM.year}"),
    InputColumn("sex", "yes", "coded", SEX),
    InputColumn("age_group", "yes", "age at diagnosis in completed years: 0, 1-4, 5-9, 10-14, 15-19"),
    InputColumn("iccc_sub", "yes", "ICCC-3 subgroup as this project writes it (Ia, IIIc, V, ...); empty for "
                                   "tumours ICCC-3 does not classify"),
    InputColumn("cases", "yes", "whole number, at least 1: tumours diagnosed (death-certificate-only included)"),
    InputColumn("dco", "no", "whole number, 0 to cases: of them, registered from a death certificate only (basis 0)"),
    InputColumn("microscopic", "no", "whole number, 0 to cases: of them, microscopically verified (basis 5, 6, 7)"),
]
SURVIVAL_EVENT_COLUMNS: list[InputColumn] = [
    InputColumn("country", "yes", "ISO 3166-1 alpha-3 code (e.g. FRA)"),
    InputColumn("registry", "no", "code of the contributing registry"),
    InputColumn("iccc_sub", "yes", "ICCC-3 subgroup, as in case counts"),
    InputColumn("sex", "yes", "coded", SEX),
    InputColumn("age_group", "yes", "as in case counts"),
    InputColumn("period", "yes", PERIOD_FORM),
    InputColumn("stage", "no", "Toronto stage as in a case file; empty when unknown"),
    InputColumn("day", "one of day/month/year",
                "whole number from 0: follow-up (last contact or death minus diagnosis) in days"),
    InputColumn("month", "one of day/month/year",
                "instead of day: follow-up in completed months of 30.44 days (pooled by the actuarial method)"),
    InputColumn("year", "one of day/month/year",
                "instead of day: follow-up in completed years of 365.25 days (pooled by the actuarial method)"),
    InputColumn("deaths", "yes", "whole number from 0: deaths at that follow-up time"),
    InputColumn("censored", "yes", "whole number from 0: children last known alive at that follow-up time"),
]
#: A table's kind by its columns: the columns that only that kind has.
KIND_MARKERS = {"case_counts": {"cases"}, "survival_events": {"deaths", "censored"}}


def submission_kind(columns) -> str:
    """'cases' (one row per tumour: `INPUT_COLUMNS`), 'case_counts' or 'survival_events', from a
    file's column names (case-insensitive)."""
    names = {str(c).strip().lower() for c in columns}
    for kind, marker in KIND_MARKERS.items():
        if marker <= names and "case_id" not in names:
            return kind
    return "cases"


@dataclass(frozen=True)
class FileKind:
    """One kind of submission file: its columns, which must be present, and where it is stored.

    `any_of`: groups of columns of which at least one must be present; `one_of`: groups of which
    exactly one must be (the follow-up time of survival events is in days, months or years)."""

    name: str
    label: str
    columns: list[InputColumn]
    table: str
    any_of: tuple[tuple[str, ...], ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required == "yes"]


FILE_KINDS: dict[str, FileKind] = {
    "cases": FileKind("cases", "case file (one row per tumour)", INPUT_COLUMNS, "cases",
                      any_of=(("birth_date", "age_years"),)),
    "case_counts": FileKind("case_counts", "case counts (aggregate)", CASE_COUNT_COLUMNS, "agg_case_counts"),
    "survival_events": FileKind("survival_events", "survival events (aggregate)", SURVIVAL_EVENT_COLUMNS,
                                "agg_survival_events", one_of=(tuple(FOLLOWUP_UNITS),)),
}

#: Every column name any kind of file may hold (the CSV reader finds the delimiter with these).
ALL_INPUT_NAMES = list(dict.fromkeys(n for k in FILE_KINDS.values() for n in k.names))

#: Sites that are sex-specific: a tumour coded to these sites with the other sex is rejected.
#: ICD-O-3 topography as integers (C600 -> 600). Male genital organs C60-C63; female genital C51-C58.
MALE_ONLY_SITES = (600, 639)
FEMALE_ONLY_SITES = (510, 589)


# --- validation rules: what a row must satisfy (ingest.py applies them, the data dictionary lists them)

@dataclass(frozen=True)
class Rule:
    """One validation rule. `fails` is SQL over the parsed row (the relation `ingest._parse_sql`
    builds), true when the row breaks the rule; NULL counts as passing, so each rule guards its
    own inputs. `reason` is what `rejected_rows` records and the data dictionary lists."""

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


#: A tumour (country, registry, case_id) another submission holds. Re-admitted automatically when
#: that submission is replaced without it or removed.
ALREADY_LOADED = Rule("case_id", "already loaded for this country and registry from another submission "
                                 "(admitted automatically if that submission is removed or replaced "
                                 "without it)", "loaded_elsewhere")

#: A country and registry another submission already holds, as rows or as a table of the same kind:
#: its tumours would be counted twice.
HELD_ELSEWHERE = Rule("country/registry", "already in the pool from another submission (as rows, or as a "
                                          "table of this kind); a tumour is counted once: remove that "
                                          "submission first, or load this file under its name",
                      "held_elsewhere")
#: In a case file, a country and registry an aggregate submission holds.
SENT_AS_TABLES = Rule("country/registry", "already in the pool as aggregate tables from another submission; "
                                          "a tumour is counted once: remove that submission first",
                      "held_as_tables")

#: A Parquet float column holding inf or -inf in a contract column (NaN is read as missing).
NONFINITE = Rule("value", "an infinite number (inf) in a numeric column", "nonfinite_t IS NOT NULL")

#: Morphology in a written form that is not the contract's (upper-cased): M9470, M-9470, 9470/3, M9470/3.
MORPHOLOGY_WRITTEN = "(M-?[0-9]{4}(/[0-9])?|[0-9]{4}/[0-9])"
#: A histology code 8000-9993 written as M9470 or 9470/3 (its own reason; out of range: the range's).
_WRITTEN_HISTOLOGY = (f"(regexp_full_match(upper(morphology_t), '{MORPHOLOGY_WRITTEN}') AND "
                      "TRY_CAST(regexp_extract(morphology_t, '[0-9]{4}') AS INTEGER) BETWEEN 8000 AND 9993)")
#: A valid behaviour digit written with decimals, 3.0 (its own reason; 4.0: the list's).
_DECIMAL_BEHAVIOUR = f"regexp_full_match(behaviour_t, '[{''.join(BEHAVIOUR)}]\\.0+')"

#: Every validation rule, in the order reasons are listed. The data dictionary prints this list.
RULES: list[Rule] = [
    Rule("case_id", "missing", "case_id IS NULL"),
    Rule("case_id", "appears more than once in this submission", "n_same_case_id > 1"),
    ALREADY_LOADED,
    SENT_AS_TABLES,
    NONFINITE,
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
    Rule("diagnosis_date", f"before {DIAGNOSIS_FROM.isoformat()}, the earliest diagnosis date the pool covers",
         f"diagnosis_date < DATE '{DIAGNOSIS_FROM.isoformat()}'"),
    Rule("diagnosis_date", "before birth_date", "diagnosis_date < birth_date"),
    Rule("topography", "missing", "topography_t IS NULL"),
    Rule("topography", "not an ICD-O-3 topography code C00.0-C80.9",
         "topography_t IS NOT NULL AND (topo IS NULL OR topo > 809)"),
    Rule("morphology", "missing", "morphology_t IS NULL"),
    # The contract is the 4 histology digits and the behaviour in its own column (what registry
    # systems export). The written forms M9470 / 9470/3 and a behaviour 3.0 are refused with their
    # own reason rather than guessed at: `python -m analytics classify` reads them, ingest does not.
    Rule("morphology", "written as M9470 or 9470/3: send the 4-digit histology only (9470), and the "
                       "behaviour in its own column",
         f"morphology_t IS NOT NULL AND {_WRITTEN_HISTOLOGY}"),
    Rule("morphology", "not an ICD-O-3 histology code 8000-9993",
         "morphology_t IS NOT NULL AND (morph IS NULL OR morph NOT BETWEEN 8000 AND 9993) "
         f"AND NOT {_WRITTEN_HISTOLOGY}"),
    Rule("behaviour", "missing", "behaviour_t IS NULL"),
    Rule("behaviour", "written with decimals (3.0): send the digit only (3)",
         f"behaviour_t IS NOT NULL AND {_DECIMAL_BEHAVIOUR}"),
    Rule("behaviour", "must be one of " + ", ".join(BEHAVIOUR),
         f"behaviour_t IS NOT NULL AND behaviour_t NOT IN {_in(BEHAVIOUR)} AND NOT {_DECIMAL_BEHAVIOUR}"),
    *_coded("basis", BASIS, required=False),
    Rule("stage", "not a Toronto stage value (see the data dictionary)",
         "stage_t IS NOT NULL AND NOT is_toronto"),
    *_coded("vital_status", VITAL_STATUS, required=True),
    *_date("last_contact_date", required=True),
    Rule("last_contact_date", "before diagnosis_date", "last_contact_date < diagnosis_date"),
    *_coded("cause_of_death", CAUSE_OF_DEATH, required=False),
    Rule("cause_of_death", "given for a patient alive at last contact (vital_status 1): a cause of death "
         "is for deaths only", "cause_of_death_t IS NOT NULL AND vital_status_t = '1'"),
    Rule("sex/topography", "male genital site (C60-C63) coded female",
         f"sex_t = '2' AND topo BETWEEN {MALE_ONLY_SITES[0]} AND {MALE_ONLY_SITES[1]}"),
    Rule("sex/topography", "female genital site (C51-C58) coded male",
         f"sex_t = '1' AND topo BETWEEN {FEMALE_ONLY_SITES[0]} AND {FEMALE_ONLY_SITES[1]}"),
]

def rules_fail_sql(rules: list[Rule]) -> str:
    """SQL true when a parsed row fails any of `rules` (cheap: evaluated on every row)."""
    return " OR ".join(f"coalesce({r.fails}, false)" for r in rules)


def rules_reasons_sql(rules: list[Rule]) -> str:
    """SQL list of the reasons a parsed row fails (evaluate on failing rows only: it is slow)."""
    items = ", ".join(f"CASE WHEN {r.fails} THEN '{r.reason}' END" for r in rules)
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


#: Not rules over parsed values: a CSV record whose number of fields differs from the header's,
#: and one whose quotes do not parse (an opening quote never closed, or text after a closing quote).
MALFORMED_LINE = Rule("line", "malformed CSV line (wrong number of fields)", "false")
UNTERMINATED_QUOTE = Rule("line", "unterminated or misplaced quote (quote a whole field, and double "
                                  "any quote inside it)", "false")


# --- validation rules of the aggregate tables (ingest_tables.py applies them; the dictionary lists them)

#: Largest count or follow-up time one row of a table may hold: far above any childhood-cancer
#: stratum (a million days is 2,700 years), and a bound on the work of keying its tumours.
MAX_COUNT = 1_000_000


def _whole(column: str, required: bool, label: str | None = None) -> list[Rule]:
    """A count column: a whole number from 0 (`{column}` parsed, NULL when not a whole number)."""
    label = label or column
    rules = [Rule(label, "not a whole number", f"{column}_t IS NOT NULL AND {column} IS NULL"),
             Rule(label, "negative", f"{column} < 0"),
             Rule(label, f"more than {MAX_COUNT:,} in one row", f"{column} > {MAX_COUNT}")]
    if required:
        rules.insert(0, Rule(label, "missing", f"{column}_t IS NULL"))
    return rules


AGE_GROUP_CODES = [g for g, _, _ in AGE_GROUPS]

_AGG_STRATUM_RULES = [
    NONFINITE,
    Rule("country", "missing", "country_t IS NULL"),
    Rule("country", "not an ISO 3166-1 alpha-3 country code", "country_t IS NOT NULL AND NOT is_iso3"),
    *_coded("sex", SEX, required=True),
    Rule("age_group", "missing", "age_group_t IS NULL"),
    Rule("age_group", "must be one of " + ", ".join(AGE_GROUP_CODES),
         "age_group_t IS NOT NULL AND age_group_t NOT IN " + _in(dict.fromkeys(AGE_GROUP_CODES))),
    Rule("iccc_sub", "not an ICCC-3 subgroup code such as Ia, IIIc or V (empty when unclassified)",
         "iccc_sub_t IS NOT NULL AND iccc_sub IS NULL"),
]

CASE_COUNT_RULES: list[Rule] = [
    *_AGG_STRATUM_RULES,
    Rule("year", "missing", "year_t IS NULL"),
    Rule("year", "not a whole number", "year_t IS NOT NULL AND year IS NULL"),
    Rule("year", f"before {DIAGNOSIS_FROM.year}, the earliest year of diagnosis the pool covers",
         f"year < {DIAGNOSIS_FROM.year}"),
    Rule("year", "in the future", "year > year(current_date)"),
    *_whole("cases", required=True),
    Rule("cases", "0 (a row counts at least one tumour)", "cases = 0"),
    *_whole("dco", required=False),
    Rule("dco", "more than cases", "dco > cases"),
    *_whole("microscopic", required=False),
    Rule("microscopic", "more than cases", "microscopic > cases"),
    Rule("dco/microscopic", "more than cases together (a death-certificate-only registration is not "
                            "microscopically verified)",
         "dco <= cases AND microscopic <= cases AND dco + microscopic > cases"),
    Rule("stratum", "the same country, registry, year, sex, age group and ICCC-3 subgroup on more than one row",
         "n_same_stratum > 1"),
    HELD_ELSEWHERE,
]

SURVIVAL_EVENT_RULES: list[Rule] = [
    *_AGG_STRATUM_RULES,
    Rule("period", "missing", "period_t IS NULL"),
    Rule("period", f"not a five-year period of diagnosis from {DIAGNOSIS_FROM.year} (1950-1954 ... "
                   "2015-2019 ...)", "period_t IS NOT NULL AND period IS NULL"),
    Rule("period", "in the future", "period_start > year(current_date)"),
    Rule("stage", "not a Toronto stage value (see the data dictionary)", "stage_t IS NOT NULL AND NOT is_toronto"),
    *_whole("time", required=True, label="follow-up time"),
    *_whole("deaths", required=True),
    *_whole("censored", required=True),
    Rule("deaths/censored", "both 0 (a row counts at least one child)", "deaths = 0 AND censored = 0"),
    Rule("stratum", "the same stratum (country, registry, ICCC-3 subgroup, sex, age group, period, stage) and "
                    "follow-up time on more than one row", "n_same_stratum > 1"),
    HELD_ELSEWHERE,
]

#: The rules of each kind of file.
KIND_RULES = {"cases": RULES, "case_counts": CASE_COUNT_RULES, "survival_events": SURVIVAL_EVENT_RULES}


@dataclass(frozen=True)
class StoredColumn:
    """One column of the `cases` table: the validated input plus fields derived at ingest."""

    name: str
    sql_type: str
    description: str


CASE_COLUMNS: list[StoredColumn] = [
    StoredColumn("submission_id", "VARCHAR", "the submission this tumour came from (see `submissions`)"),
    StoredColumn("line_no", "INTEGER", "line of the source file (CSV: the header is line 1; Parquet: row number from 1)"),
    StoredColumn("case_id", "VARCHAR", "as submitted"),
    StoredColumn("patient_id", "VARCHAR", "as submitted, or case_id when empty"),
    StoredColumn("country", "VARCHAR", "ISO 3166-1 alpha-3, upper case"),
    StoredColumn("registry", "VARCHAR", "as submitted (may be empty)"),
    StoredColumn("sex", "TINYINT", "1 male, 2 female, 9 unknown"),
    StoredColumn("birth_date", "DATE", "as submitted (may be empty when age_years was given)"),
    StoredColumn("diagnosis_date", "DATE", "incidence date"),
    StoredColumn("topography", "VARCHAR", "ICD-O-3 topography, normalised to C719 form"),
    StoredColumn("morphology", "SMALLINT", "ICD-O-3 histology"),
    StoredColumn("behaviour", "TINYINT", "ICD-O-3 behaviour"),
    StoredColumn("basis", "TINYINT", "basis of diagnosis (NULL when not given); 0 = DCO"),
    StoredColumn("stage", "VARCHAR", "Toronto stage, upper case (NULL when unknown)"),
    StoredColumn("vital_status", "TINYINT", "1 alive, 2 dead"),
    StoredColumn("last_contact_date", "DATE", "date of death or last known alive"),
    # --- derived at ingest ---
    StoredColumn("age_years", "TINYINT",
                 "derived: completed years at diagnosis by calendar arithmetic (a child diagnosed on a "
                 "birthday has reached that age); from birth_date when given, else as submitted"),
    StoredColumn("age_group", "VARCHAR", "derived: 0, 1-4, 5-9, 10-14, 15-19 (years)"),
    StoredColumn("age_band", "VARCHAR", "derived: five-year band 0-4, 5-9, 10-14, 15-19 (years)"),
    StoredColumn("year", "SMALLINT", "derived: calendar year of diagnosis"),
    StoredColumn("period", "VARCHAR", "derived: five-year period of diagnosis, e.g. 2000-2004"),
    StoredColumn("followup_days", "INTEGER", "derived: last_contact_date - diagnosis_date, in days"),
    StoredColumn("followup_years", "DOUBLE", "derived: followup_days / 365.25"),
    StoredColumn("event", "TINYINT", "derived: 1 if dead (vital_status 2), else 0 (censored)"),
    StoredColumn("dco", "BOOLEAN", "derived: death certificate only (basis 0); excluded from survival"),
    StoredColumn("iccc_main", "VARCHAR", "derived: ICCC-3 main group I-XII (NULL when unclassified)"),
    StoredColumn("iccc_sub", "VARCHAR", "derived: ICCC-3 subgroup, e.g. IIIb; V for retinoblastoma"),
    StoredColumn("iccc_ext", "VARCHAR", "derived: ICCC-3 extended classification code, e.g. Ia.1"),
    StoredColumn("record_key", "UINTEGER",
                 "derived: 32-bit key for disclosure control (cell-key perturbation), from the "
                 "warehouse's secret and country, registry and case_id; never shown"),
    StoredColumn("cause_of_death", "TINYINT",
                 "1 the cancer (including its treatment), 2 another cause, 9 unknown; NULL when alive. "
                 "A death sent without a cause, or before the column existed, is 9"),
]

CASE_NAMES = [c.name for c in CASE_COLUMNS]

_KEY = "; never shown"
#: Table `agg_case_counts`: the validated rows of case-count submissions.
AGG_CASE_COUNT_COLUMNS: list[StoredColumn] = [
    StoredColumn("submission_id", "VARCHAR", "the submission this row came from"),
    StoredColumn("line_no", "INTEGER", "line of the source file"),
    StoredColumn("country", "VARCHAR", "ISO 3166-1 alpha-3, upper case"),
    StoredColumn("registry", "VARCHAR", "as submitted (may be empty)"),
    StoredColumn("year", "SMALLINT", "calendar year of diagnosis"),
    StoredColumn("period", "VARCHAR", "derived: five-year period of diagnosis"),
    StoredColumn("sex", "TINYINT", "1 male, 2 female, 9 unknown"),
    StoredColumn("age_group", "VARCHAR", "0, 1-4, 5-9, 10-14, 15-19"),
    StoredColumn("age_band", "VARCHAR", "derived: five-year band 0-4, 5-9, 10-14, 15-19"),
    StoredColumn("iccc_main", "VARCHAR", "derived from iccc_sub (NULL when unclassified)"),
    StoredColumn("iccc_sub", "VARCHAR", "ICCC-3 subgroup as this project writes it (NULL when unclassified)"),
    StoredColumn("cases", "BIGINT", "tumours diagnosed, death-certificate-only included"),
    StoredColumn("dco", "BIGINT", "of them, death certificate only (NULL when not sent)"),
    StoredColumn("microscopic", "BIGINT", "of them, microscopically verified (NULL when not sent)"),
    StoredColumn("key_cases", "BIGINT", "derived: sum of the row's tumours' record keys mod 2**32" + _KEY),
    StoredColumn("key_dco", "BIGINT", "derived: the same over its death-certificate-only tumours" + _KEY),
    StoredColumn("key_microscopic", "BIGINT", "derived: the same over its microscopically verified ones" + _KEY),
]
#: Table `agg_survival_events`: the validated rows of survival-event submissions.
AGG_SURVIVAL_EVENT_COLUMNS: list[StoredColumn] = [
    StoredColumn("submission_id", "VARCHAR", "the submission this row came from"),
    StoredColumn("line_no", "INTEGER", "line of the source file"),
    StoredColumn("country", "VARCHAR", "ISO 3166-1 alpha-3, upper case"),
    StoredColumn("registry", "VARCHAR", "as submitted (may be empty)"),
    StoredColumn("iccc_main", "VARCHAR", "derived from iccc_sub (NULL when unclassified)"),
    StoredColumn("iccc_sub", "VARCHAR", "ICCC-3 subgroup (NULL when unclassified)"),
    StoredColumn("sex", "TINYINT", "1 male, 2 female, 9 unknown"),
    StoredColumn("age_group", "VARCHAR", "0, 1-4, 5-9, 10-14, 15-19"),
    StoredColumn("age_band", "VARCHAR", "derived: five-year band 0-4, 5-9, 10-14, 15-19"),
    StoredColumn("period", "VARCHAR", "five-year period of diagnosis"),
    StoredColumn("stage", "VARCHAR", "Toronto stage, upper case (NULL when unknown or not sent)"),
    StoredColumn("stage_sent", "BOOLEAN", "whether the file had a stage column (without one, stage is not "
                                          "unknown but absent: a selection by stage leaves the table out)"),
    StoredColumn("unit", "VARCHAR", "follow-up unit of the file: day, month or year"),
    StoredColumn("time", "INTEGER", "follow-up in completed units"),
    StoredColumn("deaths", "BIGINT", "deaths at that time"),
    StoredColumn("censored", "BIGINT", "children last known alive at that time"),
    StoredColumn("key_event", "BIGINT", "derived: sum of the record keys of the row's deaths mod 2**32" + _KEY),
    StoredColumn("key_censor", "BIGINT", "derived: the same over its censorings" + _KEY),
]

#: Columns a selection may filter or group by (pages and CLI); the filter layer checks against this.
DIMENSIONS = ["country", "registry", "sex", "age_group", "age_band", "iccc_main", "iccc_sub",
              "year", "period", "stage", "morphology"]


def _column_rows(columns: list[InputColumn]) -> list[str]:
    """A file's columns as rows of the dictionary's Markdown table (codes with their meanings; the
    stage values are listed in full elsewhere)."""
    rows = []
    for c in columns:
        values = c.values
        if c.codes and c.name != "stage":
            values += ": " + ", ".join(f"{k} {v}" for k, v in c.codes.items())
        rows.append(f"| {c.name} | {c.required} | {values} |")
    return rows


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown, generated from the lists above (docs/data-dictionary.md)."""
    out = [
        "# Data dictionary",
        "",
        f"Generated by `python -m analytics dictionary` from `analytics/schema.py` (schema version "
        f"{SCHEMA_VERSION}). Do not edit by hand.",
        "",
        "## Submission file",
        "",
        "CSV (UTF-8, header row; comma, semicolon, tab or pipe separated) or Parquet; one row per tumour. "
        "Column names are matched case-insensitively; extra columns are ignored and reported.",
        "",
        "What the reader accepts, so that nothing a partner sends is lost:",
        "",
        "- **Encodings**: UTF-8, with or without a byte-order mark (Excel's \"CSV UTF-8\"). UTF-16 and "
        "other encodings are refused with a message naming the line of the first invalid byte.",
        "- **Line endings**: LF, CRLF, or CR alone (old Mac Excel). Line numbers are physical lines, "
        "the header being line 1; a record with a quoted line break is numbered by its first line.",
        "- **Quotes**: RFC 4180 (a field holding the delimiter, a quote or a line break is quoted, and "
        "a quote inside it is doubled). A record whose quote is never closed is rejected on its own "
        "line, and the lines after it are read as records of their own.",
        "- **Excel exports**: a trailing delimiter on every line (an unnamed last column), rows of "
        "nothing but delimiters and blank lines (skipped and counted as blank, not as rows read), and "
        "extra trailing empty fields are accepted.",
        "- **pandas/R exports**: Parquet from pandas (NaN is a missing value, integral floats are "
        "integers, datetime64 columns are dates; inf is rejected); CSV with every field quoted.",
        "- **Rows read** = rows loaded + rows rejected, counted by the reader's own scan of the file, "
        "independently of the parser that reads the fields.",
        "",
        "| column | required | values |",
        "|---|---|---|",
    ]
    out += _column_rows(INPUT_COLUMNS)
    out += [
        "",
        "## Validation rules",
        "",
        "A row failing any rule is kept in `rejected_rows` with every reason that applies; "
        "rows read = rows loaded + rows rejected.",
        "",
    ]
    out += [f"- **{r.column}**: {r.message}" for r in [*RULES, MALFORMED_LINE]]
    out += [
        "",
        "## Aggregate submissions (tables instead of rows)",
        "",
        "A partner who may not send records sends two tables made from them on its own machine by "
        "`python -m analytics aggregate ROWFILE --out DIR`, after the same validation as a case file (the "
        "rejected rows stay with the partner). Each file is recognised by its header: a table with a "
        "`cases` column holds case counts, one with `deaths` and `censored` holds survival events.",
        "",
        "### Case counts (for incidence): one row per country, registry, year, sex, age group and ICCC-3 subgroup",
        "",
        "| column | required | values |",
        "|---|---|---|",
        *_column_rows(CASE_COUNT_COLUMNS),
        "",
        "### Survival events (for survival): deaths and censorings per follow-up time and stratum",
        "",
        "Tumours with a survival time only: death-certificate-only registrations are left out, as "
        "survival leaves them out.",
        "",
        "| column | required | values |",
        "|---|---|---|",
        *_column_rows(SURVIVAL_EVENT_COLUMNS),
        "",
        "### Validation rules of the tables",
        "",
        "As for a case file: a row failing any rule is kept in `rejected_rows` with every reason; rows read = "
        "rows loaded + rows rejected; loading a file again under its name replaces it. A follow-up time "
        "column must be exactly one of `day`, `month`, `year`.",
        "",
        "Case counts:",
        "",
        *[f"- **{r.column}**: {r.message}" for r in CASE_COUNT_RULES],
        "",
        "Survival events:",
        "",
        *[f"- **{r.column}**: {r.message}" for r in SURVIVAL_EVENT_RULES],
    ]
    out += [
        "",
        "## Table `cases`",
        "",
        "| column | type | description |",
        "|---|---|---|",
    ]
    out += [f"| {c.name} | {c.sql_type} | {c.description} |" for c in CASE_COLUMNS]
    for table, columns in (("agg_case_counts", AGG_CASE_COUNT_COLUMNS),
                           ("agg_survival_events", AGG_SURVIVAL_EVENT_COLUMNS)):
        out += ["", f"## Table `{table}`", "", "| column | type | description |", "|---|---|---|"]
        out += [f"| {c.name} | {c.sql_type} | {c.description} |" for c in columns]
    out.append("")
    return "\n".join(out)
