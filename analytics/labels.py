"""Words for codes: what every page, table, figure and export calls a country, a sex, an age
group, a stage, an ICCC-3 group, a Cox term. One source of truth for display labels; the stored
codes (ISO 3166-1 alpha-3, schema codes) stay in the warehouse and in CSV downloads.

Also the natural order of a column's levels (age groups by age, ICCC-3 groups by number, stages
as the Toronto guidelines list them), used for the order of curves, rows and model reference
levels, instead of text order ("0", "1-4", "10-14", "15-19", "5-9").
"""
from __future__ import annotations

from functools import lru_cache

import pandas as pd
import pycountry

from analytics import iccc
from analytics.schema import AGE_BANDS, AGE_GROUPS, FILE_KINDS, TORONTO_STAGES

#: Sex codes (schema: 1 male, 2 female, 9 unknown; 0 both sexes in population tables).
SEX = {"1": "Male", "2": "Female", "9": "Unknown", "0": "Both sexes"}

#: Age groups at diagnosis (completed years), in words: the five-band scheme and the 0-4 bands.
AGE = {"0": "Under 1 year", "1-4": "1-4 years", "0-4": "0-4 years", "5-9": "5-9 years",
       "10-14": "10-14 years", "15-19": "15-19 years", "0-14": "0-14 years", "0-19": "0-19 years"}

#: Countries whose ISO 3166 name is long or absent in pycountry; otherwise pycountry's common
#: name (e.g. "South Korea", "Iran") or its name ("Kenya").
COUNTRY_OVERRIDES = {"XKX": "Kosovo", "COD": "DR Congo", "GBR": "United Kingdom", "USA": "United States"}

#: Column names in words, for axis titles, legend titles and model terms.
COLUMN = {"country": "Country", "registry": "Registry", "sex": "Sex", "age_group": "Age group",
          "age_band": "Age group", "period": "Period of diagnosis", "stage": "Stage (Toronto)",
          "iccc_main": "ICCC-3 main group", "iccc_sub": "ICCC-3 subgroup", "year": "Year of diagnosis",
          "age_years": "Age (per year)", "cohort": "Cohort"}

#: Glossary of the abbreviations the pages use (the Help page has the full glossary).
ABBREVIATIONS = {
    "DCO": "death certificate only: a tumour known only from a death certificate, without survival time",
    "MV": "microscopically verified: diagnosis confirmed by cytology or histology",
    "ASR": "age-standardised rate per million person-years",
    "CI": "confidence interval (95%)",
    "HR": "hazard ratio",
}


@lru_cache(maxsize=512)
def country(code: str, short: bool = False) -> str:
    """'KEN' -> 'Kenya'; `short` gives the ISO3 code back where space is short. Unknown codes are
    returned as given."""
    if short or code is None:
        return code
    code = str(code)
    if code in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[code]
    c = pycountry.countries.get(alpha_3=code)
    if c is None:
        return code
    return getattr(c, "common_name", None) or c.name


def country_with_code(code: str) -> str:
    """'KEN' -> 'Kenya (KEN)'."""
    name = country(code)
    return name if name == code else f"{name} ({code})"


def stage(code: str) -> str:
    """'L1' -> 'L1: neuroblastoma INRGSS L1'; the Toronto tier-2 meaning beside the code."""
    meaning = TORONTO_STAGES.get(str(code).upper())
    return f"{code}: {meaning}" if meaning else str(code)


def iccc_group(code: str) -> str:
    """'III' -> 'III CNS and miscellaneous ...'; 'IIIb' -> 'IIIb Astrocytomas'."""
    name = iccc.MAIN_GROUPS.get(code) or iccc.subgroup_names().get(code)
    return f"{code} {name}" if name else str(code)


#: Grouping columns whose codes a table or a figure shows as words (`level`); ICCC-3 codes keep
#: their code, with the name beside it (`ui.tables`) or in the label (`figures.group_label`).
WORDED = ("country", "sex", "age_group", "age_band", "stage", "kind")


def level(column: str, value, short: bool = False) -> str:
    """A level of a grouping column in words: country names, 'Male', 'Under 1 year', stage
    meanings, ICCC-3 names; a missing value is 'Unknown'."""
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return "Unknown"
    v = str(value)
    if column == "country":
        return country(v, short)
    if column == "sex":
        return SEX.get(v.split(".")[0], v)
    if column in ("age_group", "age_band"):
        return AGE.get(v, v)
    if column == "stage":
        return v if short else stage(v)
    if column in ("iccc_main", "iccc_sub"):
        return v if short else iccc_group(v)
    if column == "kind":  # of a submission: 'Case counts (aggregate)'
        label = FILE_KINDS[v].label if v in FILE_KINDS else v
        return label[:1].upper() + label[1:]
    return v


def _natural_rank(column: str) -> dict:
    """Code -> rank in the column's natural order (empty when text order is natural)."""
    if column == "age_group":
        return {code: i for i, (code, *_) in enumerate(AGE_GROUPS)}
    if column == "age_band":
        return {code: i for i, (code, *_) in enumerate(AGE_BANDS)}
    if column == "iccc_main":
        return {code: i for i, code in enumerate(iccc.MAIN_GROUPS)}
    if column == "iccc_sub":
        return {code: i for i, code in enumerate(iccc.subgroup_names())}
    if column == "stage":
        return {code: i for i, code in enumerate(TORONTO_STAGES)}
    if column == "sex":
        return {"1": 0, "2": 1, "9": 2, "0": 3}
    return {}


def sort_key(column: str):
    """A key function putting a column's levels in natural order (unknown levels after the known
    ones, in text order; missing last)."""
    rank = _natural_rank(column)

    def key(value):
        if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
            return (2, 0, "")
        v = str(value).split(".")[0] if column == "sex" else str(value)
        return (0, rank[v], "") if v in rank else (1, 0, v)
    return key


def order(column: str, values) -> list:
    """The distinct `values` of `column` in natural order."""
    return sorted(dict.fromkeys(values), key=sort_key(column))


def term(covariate: str, value, reference=None) -> str:
    """A Cox model term in words: 'Kenya vs Australia (reference)', 'Age (per year)'."""
    if value is None:
        return COLUMN.get(covariate, covariate)
    text = level(covariate, value)
    if reference is not None and text == "Unknown":
        text = f"{COLUMN.get(covariate, covariate)} unknown"
    if reference is None:
        return f"{COLUMN.get(covariate, covariate)}: {text}"
    return f"{text} vs {level(covariate, reference)} (reference)"


def split_term(name: str) -> tuple[str, str | None]:
    """'country=KEN' -> ('country', 'KEN'); 'age_years' -> ('age_years', None)."""
    cov, sep, value = str(name).partition("=")
    return cov, (value if sep else None)
