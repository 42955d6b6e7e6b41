"""The Incidence page's numbers as a viewer gets them (`analytics.release.rates`): counts perturbed
on their own key sum and hidden below the threshold, rates from perturbed band counts with the
exact estimator, rounded to 0.01 per million; the exact path (`analytics.incidence`) unchanged.

The pool: 1,200 ordinary tumours in FRA, DEU and KEN (2000-2019), a small partner (ISL, 6
tumours), 20 tumours in a country without population figures (ATA) and 3 FRA tumours diagnosed
after the population table ends (2023), so that both a large and a small number of cases are left
out of the rates."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from analytics import disclosure, warehouse
from analytics import incidence as exact
from analytics.filters import Selection
from analytics.ingest import ingest_file
from analytics.reference.standard import weights
from analytics.release import rates
from tests.conftest import random_rows, valid_row, write_csv

YEARS = (2000, 2024)


def _extra_rows() -> list[dict]:
    rows = [valid_row(case_id=f"ISL{i}", country="ISL", diagnosis_date=f"{2005 + 2 * i}-04-01",
                      birth_date=f"{2001 + 2 * i}-01-01", last_contact_date=f"{2010 + 2 * i}-01-01")
            for i in range(6)]
    rows += [valid_row(case_id=f"ATA{i}", country="ATA", diagnosis_date=f"{2010 + i % 5}-05-01",
                       birth_date=f"{2004 + i % 5}-01-01", topography="C649", morphology="8960")
             for i in range(20)]
    rows += [valid_row(case_id=f"LATE{i}", country="FRA", diagnosis_date="2023-03-01", birth_date="2015-01-01",
                       last_contact_date="2024-01-01") for i in range(3)]
    return rows


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    d = tmp_path_factory.mktemp("release_rates")
    c = warehouse.connect(d / "w.duckdb")
    report = ingest_file(c, write_csv(d / "pool.csv", random_rows(1200, seed=7) + _extra_rows()), synthetic=True)
    assert report.rows_rejected == 0, report.summary()
    c.close()
    c = warehouse.connect(d / "w.duckdb", read_only=True)
    yield c
    c.close()


@pytest.fixture
def pol(monkeypatch):
    monkeypatch.delenv("CCOE_MIN_CELL", raising=False)
    return disclosure.policy()


def sel(**filters) -> Selection:
    return Selection.build({k: v for k, v in filters.items()}, YEARS)


def _exact_cells(con, where: str = "TRUE") -> dict:
    """country -> (tumours, key sum) straight from the cases table."""
    rows = con.execute(f"SELECT country, count(*), {disclosure.key_sum_sql()} FROM cases WHERE {where} "
                       f"GROUP BY country").fetchall()
    return {c: (n, k) for c, n, k in rows}


def _rounded(values) -> bool:
    v = pd.Series(values, dtype="float64").dropna().to_numpy()
    return bool(np.allclose(v * 100, np.round(v * 100), atol=1e-6))


# --- the exact path -------------------------------------------------------------------------------

@pytest.mark.parametrize("by", [[], ["country"], ["country", "iccc_main"], ["year"]])
def test_key_sums_leave_the_exact_band_counts_as_they_are(con, by):
    plain = exact.band_counts(con, sel(), by)
    keyed = exact.band_counts(con, sel(), by, keys=True)
    pd.testing.assert_frame_equal(plain, keyed.drop(columns="cases_key"))
    assert plain.attrs["left_out"] == keyed.attrs["left_out"]  # the key is not part of LeftOut's identity
    assert (keyed.loc[keyed["cases"] == 0, "cases_key"] == 0).all()


def test_band_key_sums_are_the_key_sums_of_the_cells_tumours(con):
    keyed = exact.band_counts(con, sel(), ["country"], keys=True)
    got = keyed.groupby("country")[["cases", "cases_key"]].sum()
    # covered country-years only: FRA 2023 and ATA are left out
    want = _exact_cells(con, "country <> 'ATA' AND year <= 2021")
    for c, (n, k) in want.items():
        assert got.loc[c, "cases"] == n
        assert got.loc[c, "cases_key"] % disclosure.KEY_MODULUS == k


def test_exact_results_do_not_change(con):
    """`incidence`, `trend`, `rate_ratio` give what they gave before key sums existed: their
    counts are the plain counts (the R-validated formulas are tests/test_incidence.py's)."""
    res = exact.incidence(con, sel(), ["country"], min_cases=1)
    counts = exact.band_counts(con, sel(), ["country"])
    assert list(res.table.columns) == ["country", "cases", "person_years", "crude_rate", "crude_lower",
                                       "crude_upper", "asr", "asr_lower", "asr_upper", "suppressed"]
    assert dict(zip(res.table["country"], res.table["cases"])) == counts.groupby("country")["cases"].sum().to_dict()
    assert res.notes[-1] == "Rates from fewer than 1 cases are suppressed."
    assert res.left_out.cases == 23 and res.notes[0] == res.left_out.note()
    assert "cases_key" not in exact.trend(con, sel()).columns
    assert set(exact.rate_ratio(con, sel(), (2000, 2004), (2015, 2019))) == {"rate_ratio", "lower", "upper",
                                                                              "suppressed"}


# --- released rates -------------------------------------------------------------------------------

def _expected_rates(con, selection, by, ages="0-19", standard="segi", ci="tiwari") -> pd.DataFrame:
    """The exact estimator on perturbed band counts, per million, rounded: what a viewer sees."""
    counts = exact.band_counts(con, selection, by, ages, keys=True)
    pert = counts.assign(cases=disclosure.perturb(counts["cases"].to_numpy(), counts["cases_key"].to_numpy()))
    w = weights(con, standard, exact._bands(selection, ages))
    t = exact.asr_table(pert, by, w, ci)
    # the crude rate: the row's own count as shown (perturbed on the row's key) over its person-years
    rows = counts.groupby(by, sort=False)[["cases", "cases_key"]].sum() if by else counts[["cases", "cases_key"]].sum().to_frame().T
    n = disclosure.perturb(rows["cases"].to_numpy(), rows["cases_key"].to_numpy()).astype(float)
    lo, hi = exact.poisson_ci(n, t["person_years"].to_numpy())
    t["crude_rate"], t["crude_lower"], t["crude_upper"] = n / t["person_years"].to_numpy(), lo, hi
    for c in rates.RATE_COLUMNS:
        t[c] = (t[c] * 1e6).round(2)
    return t


@pytest.mark.parametrize("by,ci", [(["country"], "tiwari"), (["country"], "fay-feuer"), (["country", "iccc_main"], "tiwari"),
                                   (["year"], "tiwari")])
def test_released_rates_are_asr_table_on_perturbed_counts(con, pol, by, ci):
    """Age-standardised rates: `asr_table` on the perturbed band counts; crude rates: the row's
    shown count over its person-years (crude rate x person-years gives the shown count)."""
    got = rates.incidence(con, sel(), by, ci=ci, standard="who2000").table
    want = _expected_rates(con, sel(), by, ci=ci, standard="who2000")
    merged = got.merge(want, on=by, suffixes=("", "_want"))
    assert len(merged) == len(got) == len(want)
    shown = ~merged["suppressed"]
    assert shown.any()
    for c in rates.RATE_COLUMNS:
        np.testing.assert_allclose(merged.loc[shown, c], merged.loc[shown, f"{c}_want"], atol=1e-9)
        assert merged.loc[~shown, c].isna().all()


def test_pooled_metrics(con, pol):
    res = rates.incidence(con, sel(), [])
    p = res.pooled
    counts = exact.band_counts(con, sel(), [], keys=True)
    n, k = int(counts["cases"].sum()), int(counts["cases_key"].sum())
    assert p.cases == disclosure.count(n, k) and p.cases.released and f"{p.cases}" == f"{disclosure.perturb(n, k):,}"
    want = _expected_rates(con, sel(), []).iloc[0]
    assert (p.asr, p.asr_lower, p.asr_upper) == (want["asr"], want["asr_lower"], want["asr_upper"])
    assert p.person_years == counts["person_years"].sum() and not p.no_cases
    assert res.table.iloc[0]["cases"] == disclosure.perturb(n, k)  # the same cell in the table
    assert disclosure.is_released(res.table) and disclosure.is_released(res.age_specific)


def test_a_small_selection_shows_no_count_and_no_rate(con, pol):
    p = rates.incidence(con, sel(country=["ISL"]), []).pooled
    assert not p.cases.released and f"{p.cases}" == pol.fewer and p.cases.label == pol.below
    assert (p.asr, p.asr_lower, p.asr_upper) == (None, None, None)
    empty = rates.incidence(con, sel(country=["FRA"], iccc_sub=["XIIb"]), [], ages="15-19").pooled
    assert empty.no_cases and f"{empty.cases}" == "0" and empty.asr == 0  # 0 is a released count


def test_a_countrys_cases_are_its_tumours_perturbed(con, pol):
    """The by-country count is the same cell as a per-country count(*) with its key sum (the
    Overview and International pages), so it reads the same number on every page."""
    t = rates.incidence(con, sel(), ["country"]).table.set_index("country")
    for c, (n, k) in _exact_cells(con, "year <= 2021").items():  # every tumour of a covered country
        if c == "ATA":
            continue
        if t.loc[c, "suppressed"]:  # below the threshold, or hidden with a neighbour (complementary)
            assert pd.isna(t.loc[c, "cases"]) and pd.isna(t.loc[c, "asr"])
        else:
            assert t.loc[c, "cases"] == disclosure.release(n, k), c
    assert t.loc["ISL", "suppressed"] and t["suppressed"].sum() == 2  # ISL and its complement
    assert (t.loc[~t["suppressed"], "cases"] >= pol.threshold).all()


@pytest.mark.parametrize("by", [["country"], ["country", "iccc_main"], ["year"]])
def test_nothing_below_the_threshold_and_rates_rounded(con, pol, by):
    res = rates.incidence(con, sel(), by)
    for df, rate_cols in ((res.table, rates.RATE_COLUMNS), (res.age_specific, ["rate", "lower", "upper"])):
        assert disclosure.is_released(df) and "cases_key" not in df.columns
        shown = df["cases"].dropna()
        assert ((shown == 0) | (shown >= pol.threshold)).all()
        assert df.loc[df["cases"].isna(), rate_cols].isna().all().all()
        assert df["suppressed"].to_numpy().tolist() == df["cases"].isna().to_numpy().tolist() or by == ["country", "iccc_main"]
        for c in rate_cols:
            assert _rounded(df[c]), c
    if by == ["country", "iccc_main"]:
        # complementary suppression by row and by column: no slice has exactly one hidden cell
        for cols in (["country"], ["iccc_main"]):
            hidden = res.table.groupby(cols)["suppressed"].sum()
            assert (hidden != 1).all(), hidden[hidden == 1]


def test_age_specific_rates_from_perturbed_band_counts(con, pol):
    age = rates.incidence(con, sel(country=["FRA", "DEU"]), []).age_specific
    counts = exact.band_counts(con, sel(country=["FRA", "DEU"]), [], keys=True).set_index("age_band")
    for _, r in age.iterrows():
        n, k = counts.loc[r["age_band"], ["cases", "cases_key"]]
        assert r["cases"] == disclosure.release(n, k)
        assert r["rate"] == round(disclosure.perturb(n, k) / counts.loc[r["age_band"], "person_years"] * 1e6, 2)


def test_rates_follow_the_threshold(con, monkeypatch):
    monkeypatch.setenv("CCOE_MIN_CELL", "5")
    low = rates.incidence(con, sel(country=["ISL"]), [])
    n, k = 6, con.execute(f"SELECT {disclosure.key_sum_sql()} FROM cases WHERE country = 'ISL'").fetchone()[0]
    assert low.threshold == 5 and low.pooled.cases == disclosure.count(n, k)
    assert low.pooled.cases.released == (disclosure.perturb(n, k) >= 5)
    assert (low.pooled.asr is not None) == low.pooled.cases.released
    assert "Rates from fewer than 5 cases are suppressed." in low.notes
    two = disclosure.Policy(threshold=2)  # an explicit policy (the pages' cache key) is the one applied
    assert rates.incidence(con, sel(country=["ISL"]), [], pol=two).pooled.cases == disclosure.count(n, k, two)


# --- notes ----------------------------------------------------------------------------------------

def test_left_out_note_is_a_released_count(con, pol):
    big = rates.incidence(con, sel(), []).left_out  # 20 ATA + 3 FRA 2023
    lo = exact.band_counts(con, sel(), []).attrs["left_out"]
    assert lo.cases == 23
    n = disclosure.count(lo.cases, lo.key)
    assert big == f"{str(n).capitalize()} cases left out of rates: no population (person-years) for {lo.where}."
    small = rates.incidence(con, sel(country=["FRA"]), []).left_out
    assert small.startswith(f"Fewer than {pol.threshold} cases left out of rates") and "FRA 2022-2023" in small
    assert rates.incidence(con, sel(country=["DEU"]), []).left_out is None


def test_left_out_key_is_the_key_sum_of_the_left_out_cases(con):
    lo = exact.band_counts(con, sel(), []).attrs["left_out"]
    k = con.execute(f"SELECT {disclosure.key_sum_sql()} FROM cases WHERE country = 'ATA' OR year > 2021").fetchone()[0]
    assert lo.key == k and replace(lo, key=0) == lo


def test_notes_say_counts_are_perturbed_and_not_additive(con, pol):
    notes = rates.incidence(con, sel(), ["country"]).notes
    assert f"Rates from {pol.fewer} cases are suppressed." in notes
    assert any("parts need not add up to totals" in n for n in notes)
    assert notes[0] == rates.incidence(con, sel(), []).left_out  # the released note, not LeftOut.note()


# --- trend and rate ratio -------------------------------------------------------------------------

def test_trend_apc_from_the_years_shown(con, pol):
    """The APC is fitted to the yearly rates shown (from perturbed counts); hidden years are left
    out and the note says so; the trend's count is the selection's perturbed total."""
    for filters in ({}, {"country": ["FRA"]}):
        s = sel(**filters)
        tr = rates.trend(con, s)
        yearly = rates.incidence(con, s, ["year"]).table
        shown = yearly[~yearly["suppressed"]]
        a, lo, hi = exact.apc(shown["year"], shown["asr"])
        assert disclosure.is_released(tr) and "cases_key" not in tr.columns
        row = tr.iloc[0]
        assert (row["apc"], row["apc_lower"], row["apc_upper"]) == (round(a, 2), round(lo, 2), round(hi, 2))
        assert _rounded(tr[["apc", "apc_lower", "apc_upper"]].to_numpy().ravel())
        assert row["cases"] == rates.incidence(con, s, []).table.iloc[0]["cases"]
        assert (row["first_year"], row["last_year"]) == (shown["year"].min(), shown["year"].max())
        assert (tr.attrs["apc_note"] is not None) == bool(yearly["suppressed"].any())
    assert rates.trend(con, sel(country=["FRA"])).attrs["apc_note"]  # FRA has years below the threshold


def test_trend_of_a_small_selection_is_suppressed(con, pol):
    row = rates.trend(con, sel(country=["ISL"])).iloc[0]
    assert row["suppressed"] and pd.isna(row["cases"]) and pd.isna(row["apc"]) and pd.isna(row["first_year"])


def test_rate_ratio_from_perturbed_period_counts(con, pol):
    rr = rates.rate_ratio(con, sel(), (2000, 2004), (2015, 2019))
    assert not rr["suppressed"] and all(c.released for c in rr["cases"])
    y = []
    for years in ((2000, 2004), (2015, 2019)):
        counts = exact.band_counts(con, Selection({}, years), [], keys=True)
        pert = counts.assign(cases=disclosure.perturb(counts["cases"].to_numpy(), counts["cases_key"].to_numpy()))
        t = exact.asr_table(pert, [], weights(con, "segi", exact._bands(Selection(), "0-19")), "tiwari").iloc[0]
        y.append((t["asr"], t["asr_var"]))
    (y1, v1), (y2, v2) = y
    z = 1.959963984540054 * np.sqrt(v1 / y1 ** 2 + v2 / y2 ** 2)
    assert rr["rate_ratio"] == round(y2 / y1, 2)
    assert (rr["lower"], rr["upper"]) == (round(y2 / y1 * np.exp(-z), 2), round(y2 / y1 * np.exp(z), 2))


def test_rate_ratio_suppressed_unless_both_periods_are_released(con, pol):
    rr = rates.rate_ratio(con, sel(country=["ISL"]), (2000, 2009), (2010, 2019))
    assert rr["suppressed"] and np.isnan(rr["rate_ratio"]) and rr["reason"] == f"{pol.fewer} cases in a period"
    # one period large, the other small: still suppressed
    one = rates.rate_ratio(con, sel(country=["FRA"], iccc_main=["I"]), (2000, 2000), (2000, 2019))
    assert one["suppressed"] and not one["cases"][0].released and one["cases"][1].released
    none = rates.rate_ratio(con, sel(country=["ATA"]), (2010, 2012), (2013, 2014))
    assert none["suppressed"] and "no population (person-years) for ATA" in none["reason"]


# --- figures --------------------------------------------------------------------------------------

def test_figures_from_released_frames_are_stamped(con, pol):
    from analytics import figures

    res = rates.incidence(con, sel(), ["country"])
    assert disclosure.is_released(figures.rate_bars(res.table, "country", "t", "x"))
    assert disclosure.is_released(rates.country_map(res.table, "t", "per million"))
    grid = rates.incidence(con, sel(), ["country", "iccc_main"]).table
    assert disclosure.is_released(figures.heatmap(grid, "country", "iccc_main", "asr", "t", "c"))
    assert disclosure.is_released(figures.rate_points(res.age_specific, "age_band", "t", "x", "y"))
    assert disclosure.is_released(figures.trend_lines(rates.incidence(con, sel(), ["year"]).table, "t", "y"))
    # an exact frame gives an unstamped figure, and the map refuses it
    raw = exact.incidence(con, sel(), ["country"]).table
    assert not disclosure.is_released(figures.rate_bars(raw, "country", "t", "x"))
    with pytest.raises(disclosure.DisclosureError):
        rates.country_map(raw, "t", "per million")


def test_the_pages_cache_is_keyed_by_the_threshold(con, monkeypatch):
    """ui.cached_incidence / cached_trend / cached_rate_ratio call the release layer with the
    policy in their cache key: a change of CCOE_MIN_CELL is not served from the cache."""
    import ui

    from analytics.snapshots import Snapshots

    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    db = Snapshots(path).current()  # what a page passes: the warehouse version it reads
    args = (db, (("country", ("ISL",)),), YEARS, "0-19", "segi", "tiwari")
    monkeypatch.delenv("CCOE_MIN_CELL", raising=False)
    high = ui.cached_incidence(*args)
    assert isinstance(high, rates.Rates) and high.threshold == 16 and not high.pooled.cases.released
    assert disclosure.is_released(high.table) and disclosure.is_released(ui.cached_trend(*args))
    monkeypatch.setenv("CCOE_MIN_CELL", "2")
    low = ui.cached_incidence(*args)
    assert low.threshold == 2 and "Rates from fewer than 2 cases are suppressed." in low.notes
    rr = ui.cached_rate_ratio(db, args[1], "0-19", "segi", (2000, 2009), (2010, 2019))
    assert rr["cases"][0].threshold == 2
