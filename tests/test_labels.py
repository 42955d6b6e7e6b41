"""Words for codes (`analytics.labels`) and tables as read in papers (`analytics.tables`)."""
from __future__ import annotations

import pandas as pd

from analytics import disclosure, labels, tables
from analytics.schema import AGE_GROUPS, TORONTO_STAGES


def test_countries_in_words_with_codes_where_space_is_short():
    assert labels.country("KEN") == "Kenya"
    assert labels.country("KOR") == "South Korea" and labels.country("IRN") == "Iran"
    assert labels.country("XKX") == "Kosovo" and labels.country("USA") == "United States"
    assert labels.country("KEN", short=True) == "KEN"
    assert labels.country("ZZZ") == "ZZZ"  # an unknown code as given
    assert labels.country_with_code("UGA") == "Uganda (UGA)"


def test_levels_in_words():
    assert [labels.level("sex", v) for v in ("1", "2", "9", 1, 2.0)] == ["Male", "Female", "Unknown", "Male", "Female"]
    assert [labels.level("age_group", g) for g, *_ in AGE_GROUPS] == [
        "Under 1 year", "1-4 years", "5-9 years", "10-14 years", "15-19 years"]
    assert labels.level("stage", "L1") == "L1: neuroblastoma INRGSS L1"
    assert labels.level("iccc_main", "V") == "V Retinoblastoma"
    assert labels.level("country", None) == "Unknown" and labels.level("sex", float("nan")) == "Unknown"
    assert set(TORONTO_STAGES) <= {s.split(":")[0] for s in map(labels.stage, TORONTO_STAGES)}


def test_natural_order():
    assert labels.order("age_group", ["15-19", "0", "5-9", "10-14", "1-4"]) == ["0", "1-4", "5-9", "10-14", "15-19"]
    assert labels.order("iccc_main", ["IX", "V", "I", "XII", "II"]) == ["I", "II", "V", "IX", "XII"]
    assert labels.order("sex", ["9", "2", "1"]) == ["1", "2", "9"]
    assert labels.order("country", ["USA", "AUS", None]) == ["AUS", "USA", None]
    assert labels.order("trt", ["2", "1"]) == ["1", "2"]  # unknown columns: text order (R's factor default)


def test_model_terms_in_words():
    assert labels.term("country", "KEN", "AUS") == "Kenya vs Australia (reference)"
    assert labels.term("sex", "9", "1") == "Sex unknown vs Male (reference)"
    assert labels.term("age_years", None) == "Age (per year)"
    assert labels.split_term("age_group=10-14") == ("age_group", "10-14")


def test_cox_reference_is_the_first_level_in_natural_order(small_warehouse):
    from analytics import survival, warehouse

    con = warehouse.connect(small_warehouse, read_only=True)
    hr = survival.cox(con, None, ["age_group"])
    assert hr.attrs["reference"] == {"age_group": "0"}
    assert list(hr["term"]) == [f"age_group={g}" for g in ("1-4", "5-9", "10-14", "15-19")]


def test_estimate_cells_and_the_wide_survival_table():
    assert tables.estimate(0.9342, 0.926, 0.9414) == "93.4 (92.6–94.1)"
    assert tables.estimate(float("nan"), 0.1, 0.2) == tables.NOT_SHOWN
    long = disclosure.stamp(pd.DataFrame({
        "country": ["KEN", "KEN", "AUS", "AUS"], "time_years": [1.0, 5.0, 1.0, 5.0],
        "survival": [0.65, 0.41, 0.91, None], "lower": [0.64, 0.40, 0.90, None],
        "upper": [0.66, 0.42, 0.92, None]}))
    wide = tables.survival_wide(long, ["country"])
    assert disclosure.is_released(wide)
    assert list(wide.columns) == ["country", "1 year, % (95% CI)", "5 years, % (95% CI)"]
    assert list(wide["country"]) == ["KEN", "AUS"]  # the groups' order kept
    assert wide.iloc[1, 2] == tables.NOT_SHOWN
    shown = tables.in_words(wide)
    assert list(shown["country"]) == ["Kenya", "Australia"] and disclosure.is_released(shown)


def test_a_cohort_mix_reads_in_words():
    mix = pd.DataFrame({"characteristic": ["sex", "age_group", "period"], "level": ["9", "0", "2000-2004"]})
    shown = tables.in_words(mix)
    assert list(shown["level"]) == ["Unknown", "Under 1 year", "2000-2004"]
    assert list(shown["characteristic"]) == ["Sex", "Age group", "Period of diagnosis"]
