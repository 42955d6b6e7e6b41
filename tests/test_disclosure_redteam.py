"""Red-team attacks on disclosure control (issue 10) that tests/test_disclosure_attacks.py does not
try: a careful outsider with the released app, the browser payload (Arrow tables at full precision,
Plotly JSON, CSV downloads, SVG exports) and URLs edited freely, after the suite's attacks were
made to fail.

The pool is the suite's (tests/test_disclosure_attacks.py: four ordinary countries of about 400
tumours, ISL 7, LUX 8, ATA 3, planted small cells), read through its `show` fixture (each page and
set of URL parameters rendered once per module) and its readers. Two further warehouses are built
here: a copy of the pool with life tables (net survival), and a small pool whose one submission
has rejected rows (the Submissions page).

Each test is one attack. It passes when nothing below the threshold T is recovered, and fails when
it is; `need` makes an attack whose inputs are not on the page fail rather than pass untried. An
attack that succeeds against the current code is marked `xfail(strict=True)` with what leaks and
where (the fix then shows as an unexpected pass: remove the mark). "Recovered" is read as in the
suite: a count in 1..T-1 read directly, or given exactly by every route of a differencing attack.
Three of the successful attacks go beyond that and say so in their reason: the value of a hidden
cell *after* perturbation (the design, section 2.1, shows no cell of 1 to T-1 tumours "not even
perturbed"), dates that the Overview hides for a suppressed country, and the order of hidden
counts.

Runs in about a minute on the 2-core machine (one SVG export, marked `browser`, included).
"""
from __future__ import annotations

import html
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from analytics import warehouse
from analytics.ingest import ingest_file
from tests.conftest import valid_row, write_csv
from tests.test_disclosure_attacks import (  # noqa: F401  (pool and show are fixtures used here)
    DAYS_PER_YEAR, ORDINARY, T, Shown, _arr, _cases_metric, _curves, _num, count_shown, findings, need, pool,
    recovered, show, small_in_text, table_count)


def leak(what: str):
    """An attack that succeeds today (a real leak, to be fixed): strict, so that the fix shows."""
    return pytest.mark.xfail(reason="issue 10 red team: " + what, strict=True)


def sql(db, query: str, params: dict | None = None) -> list[tuple]:
    """The truth, read from the warehouse (the attacker does not have it; the test checks with it)."""
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(query, params or {}).fetchall()
    finally:
        con.close()


def _frame(s: Shown, *cols: str) -> pd.DataFrame:
    df = s.frame_with(*cols)
    need([df], f"a table with {cols} on {s.name}")
    return df


def _value(v) -> float | None:
    """A number as the browser receives it (None for missing)."""
    if v is None or v is pd.NA:
        return None
    x = _num(v)
    return None if x is None or x != x else x


def _is_link_or_echo(text: str) -> bool:
    """The share box's link and the notices that echo a URL parameter back hold the viewer's own
    input (e.g. n=3 cohorts), not data."""
    return text.lstrip().startswith("?") or "is not a valid choice" in text


def data_findings(s: Shown) -> list[str]:
    """`findings` (downloads included) without the viewer's own URL text."""
    clean = Shown(s.name, [t for t in s.texts if not _is_link_or_echo(t)], s.frames, s.figures, s.downloads,
                  s.metrics)
    return findings(clean, downloads=True)


# ------------------------------------------------------------------------------------------------
# 1. URLs edited freely: odd selections, single small partners, invalid values
# ------------------------------------------------------------------------------------------------

ODD_VIEWS = {
    "survival-min-at-risk-1": ("survival", {"countries": "FRA,DEU", "tumour": "Ia", "by": "country",
                                            "min_at_risk": "1", "ticks": "on"}),
    "survival-ISL-by-sex": ("survival", {"countries": "ISL", "tumour": "", "by": "sex"}),
    "survival-ISL-one-year": ("survival", {"countries": "FRA,ISL", "tumour": "", "by": "country",
                                           "years": "2016-2016"}),
    "survival-LUX-wilms": ("survival", {"countries": "LUX", "tumour": "VIa", "by": ""}),
    "survival-stage-partners": ("survival", {"countries": "FRA,ISL", "tumour": "Ia", "by": "stage"}),
    "survival-cox-country": ("survival", {"countries": "FRA,DEU,ISL", "tumour": "", "by": "country",
                                          "cox": "country,sex"}),
    "survival-cox-age-stage": ("survival", {"tumour": "Ia", "by": "age_group", "cox": "age_group,stage"}),
    "survival-bogus-params": ("survival", {"by": "bogus", "min_at_risk": "abc", "ci": "x", "measure": "y"}),
    "incidence-ISL": ("incidence", {"countries": "ISL", "ages": "0-19", "tumour": ""}),
    "incidence-ISL-ATA": ("incidence", {"countries": "ISL,ATA", "ages": "0-19", "tumour": ""}),
    "incidence-ATA": ("incidence", {"countries": "ATA", "ages": "0-19", "tumour": ""}),
    "incidence-LUX-wilms-ages": ("incidence", {"countries": "LUX", "ages": "0-14", "tumour": "VIa",
                                               "tab": "By age"}),
    "incidence-adolescent-ALL-trend": ("incidence", {"countries": "FRA", "ages": "15-19", "tumour": "Ia",
                                                     "tab": "Trend"}),
    "incidence-one-year-by-age": ("incidence", {"countries": "FRA", "ages": "0-19", "tumour": "",
                                                "years": "2010-2010", "tab": "By age"}),
    "incidence-bogus-params": ("incidence", {"ages": "3-7", "tab": "Nope", "tumour": "ZZ", "standard": "q"}),
    "cohorts-two-small-partners": ("cohorts", {"c0_tumour": "Ia", "c0_countries": "ISL",
                                               "c1_tumour": "VIa", "c1_countries": "LUX"}),
    "cohorts-overlap-is-a-partner": ("cohorts", {"c0_tumour": "", "c0_countries": "FRA,ISL",
                                                 "c1_tumour": "", "c1_countries": "DEU,ISL"}),
    "cohorts-girls-of-ISL": ("cohorts", {"c0_tumour": "", "c0_countries": "ISL,FRA", "c0_sex": "2",
                                         "c1_tumour": "", "c1_countries": "FRA", "c1_sex": "2"}),
    "cohorts-three-with-partners": ("cohorts", {"n": "3", "c0_tumour": "", "c0_countries": "ISL,LUX,ATA",
                                                "c1_tumour": "", "c1_countries": "FRA",
                                                "c2_tumour": "", "c2_countries": "DEU"}),
    "international-ALL-under-5": ("international", {"tumour": "Ia", "ages": "0-4"}),
    "international-adolescent-ALL": ("international", {"tumour": "Ia", "ages": "15-19"}),
    "international-wilms-partners": ("international", {"tumour": "VIa", "ages": "0-14",
                                                       "countries": "LUX,ATA,FRA"}),
}


@pytest.mark.parametrize("name", list(ODD_VIEWS))
def test_edited_urls_show_no_small_count(show, name):
    """Direct reading on selections a viewer can only reach by editing the URL or choosing a single
    small partner: a minimum at risk of 1, a small partner alone or for one year, a stage with few
    cases, Cox models on a country with a small partner, invalid values, cohorts of small partners
    or sharing one (the overlap warning), a sex filter isolating a partner's girls, adolescents
    with ALL (all in one country). Tables, metrics, texts (info, warning and error messages
    included), the figures' JSON and the CSV downloads with their '#' comments."""
    page, params = ODD_VIEWS[name]
    s = show(page, **params)
    need([s.texts or None], f"{name} rendered")
    if s.downloads:  # the CSV downloads are read with their '#' comments (footnotes with counts)
        need([any(b.startswith(b"#") for b in s.downloads.values()) or None], f"CSV comments on {name}")
    found = data_findings(s)
    assert not found, f"{name}: {found[:5]}"


# ------------------------------------------------------------------------------------------------
# 2. Compare cohorts: the tests of the characteristics
# ------------------------------------------------------------------------------------------------

def _cohort_pair(show, tumour: str, small: str, x: str) -> Shown:
    """Cohort 1: `tumour` in country x and the small partner; cohort 2: the same in x alone."""
    return show("cohorts", c0_name="Pooled", c0_tumour=tumour, c0_countries=f"{x},{small}",
                c1_name="Alone", c1_tumour=tumour, c1_countries=x)


def _chi_square_cell(s: Shown) -> float | None:
    """The hidden cell x of the country table [[a, a], [x, 0]] of the two cohorts (rows: country X,
    the small partner; columns: X with the partner, X alone) from the shown chi-square statistic
    and a, cohort 2's size (the same tumours as cell (X, cohort 1), so the same perturbed number):
    chi2 = (2a + x) x / (2 (a + x)), i.e. x^2 + 2(a - chi2) x - 2 a chi2 = 0. None when the page
    shows no chi-square of the country mix (a fix may withhold it)."""
    tests, summary = _frame(s, "characteristic", "statistic"), _frame(s, "cohort", "n")
    row = tests[(tests["characteristic"] == "country") & (tests["test"] == "chi-square")]
    a = count_shown(summary.loc[summary["cohort"] == "Alone", "n"].iloc[0])
    need([a], f"cohort 2's size on {s.name}")
    if row.empty or _value(row["statistic"].iloc[0]) is None:
        return None
    c = float(row["statistic"].iloc[0])
    b = 2 * (a - c)
    return (-b + np.sqrt(b * b + 8 * a * c)) / 2


def _whole(x: float | None) -> int | None:
    return None if x is None or abs(x - round(x)) > 1e-6 else int(round(x))


def test_chi_square_gives_back_a_hidden_country(show, pool):
    """All tumours of X and LUX against all tumours of X (X = FRA, DEU, GBR): the chi-square statistic
    of the country mix, with cohort 2's size, gives LUX's cell of cohort 1. Every route gives the
    value the cell has after perturbation; when that is the true count (about 1 time in 4 for a
    count above 5) the attacker has it exactly, and all routes agree."""
    routes = [_whole(_chi_square_cell(_cohort_pair(show, "", "LUX", x))) for x in ("FRA", "DEU", "GBR")]
    assert not recovered(routes, pool.truth["by_country"]["LUX"]), routes


def test_chi_square_gives_no_value_of_a_hidden_cell(show, pool):
    """ALL in X and ISL against ALL in X: the value the chi-square implies for ISL's cell (hidden:
    7 tumours) must not be a whole number of tumours in 0..T-1: the cell's perturbed value is a count
    below the threshold, within 5 of the truth, and the same on every route (the same tumours)."""
    derived = [_whole(_chi_square_cell(_cohort_pair(show, "Ia", "ISL", x))) for x in ("FRA", "DEU", "GBR")]
    assert not any(d is not None and 0 <= d < T for d in derived), derived


# ------------------------------------------------------------------------------------------------
# 3. Survival: what the curves' JSON, the tables and the models give away
# ------------------------------------------------------------------------------------------------

Z95 = 1.959963984540054

#: Views with survival curves (log-log CI bands, the default), including a minimum at risk of 1
#: in the URL and a pooled selection holding both small partners.
BAND_VIEWS = {
    "survival-min-at-risk-1": ODD_VIEWS["survival-min-at-risk-1"],
    "survival-partners-pooled": ("survival", {"countries": "FRA,ISL,LUX", "tumour": "Ia", "by": "",
                                              "min_at_risk": "5"}),
    "survival-by-country": ("survival", {"countries": "FRA,DEU,GBR,ITA,ISL,LUX", "tumour": "", "by": "country",
                                         "min_at_risk": "5"}),
    "cohorts-LUX-pooled": ("cohorts", {"c0_name": "Pooled", "c0_tumour": "", "c0_countries": "FRA,LUX",
                                       "c1_name": "Alone", "c1_tumour": "", "c1_countries": "FRA"}),
}


def risk_sets_from_bands(fig: dict) -> list[tuple[str, float, float, float]]:
    """(curve, years, n, d) at each death step of each curve, from the curve and its log-log CI band
    alone: the band gives the Greenwood standard error of -log S at each time,
    se = (log(-log S) - log(-log lower)) log S / z; between two steps se^2 grows by d / (n (n - d))
    and S falls by the factor r = 1 - d/n, so n = (1 - r) / (r * increment) and d = (1 - r) n."""
    bands = {tr.get("legendgroup"): tr for tr in fig.get("data", [])
             if tr.get("fill") == "toself" and (tr.get("line") or {}).get("shape") == "hv"}
    out = []
    for name, group, t, s in _curves(fig, groups=True):
        band = bands.get(group)
        if band is None:
            continue
        bx, by = np.asarray(_arr(band["x"]), float), np.asarray(_arr(band["y"]), float)
        m = len(bx) // 2
        lower = dict(zip(np.round(bx[:m], 9), by[m:][::-1]))
        prev_s, prev_var = 1.0, 0.0
        for tk, sk in zip(t, s):
            lo = lower.get(round(float(tk), 9))
            if lo is None or not (0 < sk < 1 and 0 < lo < sk):
                continue
            se = (np.log(-np.log(sk)) - np.log(-np.log(lo))) * np.log(sk) / Z95
            var = se * se
            if sk < prev_s - 1e-12 and var > prev_var + 1e-15:
                r = sk / prev_s
                n = (1 - r) / (r * (var - prev_var))
                out.append((name, float(tk), n, (1 - r) * n))
            prev_s, prev_var = sk, var
    return out


def test_ci_bands_imply_no_risk_set_below_the_threshold(show):
    """The width of a curve's confidence band gives its Greenwood variance, and with the step it
    gives the risk set and deaths of every step (`risk_sets_from_bands`). Every risk set so derived,
    on views with a minimum at risk of 1 and 5 in the URL, pooled small partners and a cohort
    holding one, is at least T (the curves come from rounded counts and stop below T)."""
    derived, small = [], []
    for name, (page, params) in BAND_VIEWS.items():
        for fig in show(page, **params).figures:
            for curve, years, n, d in risk_sets_from_bands(fig):
                derived.append(n)
                if n < T - 1e-6:
                    small.append(f"{name} {curve}: n = {n:.3f}, d = {d:.3f} at {years:.3f} years")
    need([len(derived) or None], "risk sets derived from CI bands")
    assert not small, small[:5]


def _where(params: dict) -> str:
    """The SQL condition of a page's selection (countries, tumour type, years), for the truth;
    the values come from this file only."""
    cond = ["TRUE"]
    if params.get("countries"):
        cond.append("country IN (" + ", ".join(f"'{c}'" for c in params["countries"].split(",")) + ")")
    tumour = params.get("tumour", "")
    if tumour:
        cond.append(f"{'iccc_sub' if re.search(r'[a-z]$', tumour) else 'iccc_main'} = '{tumour}'")
    if "years" in params:
        y0, y1 = params["years"].split("-")
        cond.append(f"year BETWEEN {int(y0)} AND {int(y1)}")
    return " AND ".join(cond)


def _group_sizes(db, where: str, by: str) -> dict[str, int]:
    """Cases with a survival time (not DCO) per group, keyed as the page's tables show the group."""
    rows = sql(db, f"SELECT CAST({by} AS VARCHAR), count(*) FROM cases WHERE {where} AND NOT dco GROUP BY 1")
    return {("Unknown" if k is None else k): n for k, n in rows}


STAT_COLUMNS = ["survival", "median", "lower", "upper", "age_median", "age_q1", "age_q3"]

SMALL_GROUP_VIEWS = {
    "survival-by-country": (BAND_VIEWS["survival-by-country"], "country"),
    "survival-stage-partners": (ODD_VIEWS["survival-stage-partners"], "stage"),
    "survival-age-groups-ALL": (ODD_VIEWS["survival-cox-age-stage"], "age_group"),
}


def test_no_survival_statistic_of_a_group_below_the_threshold(show, pool):
    """Survival at 1/3/5/10 years, medians and their CIs, conditional and age-standardised survival
    are statistics of their group: none may be shown for a group with fewer than T cases (by
    country with both small partners, by stage with few known stages, by age group of ALL, where
    the adolescents are 5). Each row with a value is checked against the group's true size."""
    shown, checked = [], 0
    for name, ((page, params), by) in SMALL_GROUP_VIEWS.items():
        sizes = _group_sizes(pool.db, _where(params), by)
        for df in show(page, **params).all_frames():
            if by not in df.columns:
                continue
            stats = [c for c in STAT_COLUMNS if c in df.columns]
            for _, row in df.iterrows():
                values = [row[c] for c in stats if str(row[c]) not in ("", "nan", "<NA>", "None", "not reached")]
                if not values:
                    continue
                checked += 1
                group = str(row[by])
                if sizes.get(group, 0) < T:
                    shown.append(f"{name}: {by}={group} ({sizes.get(group, 0)} cases): {dict(row)}")
    need([checked or None], "survival statistics by group")
    assert not shown, shown[:5]


def test_age_standardised_survival_only_with_every_band_above_the_threshold(show, pool):
    """Age-standardised survival averages the curves of the age bands 0-4 .. 15-19: a value is a
    statistic of each band, so none may be shown for a group one of whose bands holds fewer than T
    cases (checked against the true band sizes), on views by country with both small partners
    (whose bands also enter the pooled cohort weights) and of ALL pooled with them."""
    bad, checked = [], 0
    for name in ("survival-by-country", "survival-partners-pooled"):
        page, params = BAND_VIEWS[name]
        by = params["by"]
        bands = {(k, b): n for k, b, n in sql(pool.db, f"""SELECT {f"CAST({by} AS VARCHAR)" if by else "''"}, age_band,
                 count(*) FROM cases WHERE {_where(params)} AND NOT dco GROUP BY ALL""")}
        std = [df for df in show(page, **params).all_frames()
               if {"time_years", "survival"} <= set(df.columns) and "n_at_risk" not in df.columns]
        need(std or [None], f"the age-standardised table on {name}")
        for _, r in std[0].iterrows():
            if _value(r["survival"]) is None:
                continue
            checked += 1
            group = str(r[by]) if by else ""
            small = {b: bands.get((group, b), 0) for b in ("0-4", "5-9", "10-14", "15-19")
                     if bands.get((group, b), 0) < T}
            if small:
                bad.append(f"{name} {group or 'all'} at {r['time_years']} years: bands {small}")
    need([checked or None], "age-standardised values")
    assert not bad, bad[:5]


def test_no_cohort_statistic_of_a_cohort_below_the_threshold(show, pool):
    """The cohorts page's characteristics (median age and quartiles) and survival tables of a cohort
    of a small partner (ISL's ALL, LUX's Wilms tumours): none shown."""
    page, params = ODD_VIEWS["cohorts-two-small-partners"]
    s = show(page, **params)
    need([s.frame_with("cohort", "n")], "the cohorts' characteristics")
    bad = []
    for df in s.all_frames():
        if "cohort" not in df.columns:
            continue
        for c in [c for c in STAT_COLUMNS if c in df.columns]:
            v = pd.to_numeric(df[c].astype(object).map(_num), errors="coerce")
            bad += [f"{c} = {x} for {df.loc[i, 'cohort']}" for i, x in v.items() if x == x]
    assert not bad, bad[:5]


def _cox_terms(s: Shown) -> pd.DataFrame:
    return _frame(s, "term", "hr")


def test_hazard_ratios_only_for_levels_with_enough_deaths(show, pool):
    """A hazard ratio's CI gives its level's deaths (se^2 ~ 1/d1 + 1/d0): a level with fewer than T
    deaths must show none. Each shown hazard ratio (table, and the forest plot's points) is
    checked against the true deaths of its level in the selection, an upper bound of those in the
    model; the forest plot shows no more points than the table."""
    bad, shown = [], 0
    for name in ("survival-cox-country", "survival-cox-age-stage"):
        page, params = ODD_VIEWS[name]
        s = show(page, **params)
        hr = _cox_terms(s)
        where = _where(params)
        for _, r in hr[hr["hr"].notna()].iterrows():
            cov, level = str(r["term"]).split("=", 1)
            deaths = sql(pool.db, f"SELECT count(*) FILTER (WHERE event = 1) FROM cases WHERE {where} AND NOT dco "
                                  f"AND CAST({cov} AS VARCHAR) = $lv", {"lv": level})[0][0]
            shown += 1
            se = (np.log(r["hr_upper"]) - np.log(r["hr_lower"])) / (2 * Z95)
            if deaths < T:
                bad.append(f"{name} {r['term']}: {deaths} deaths, 1/se^2 = {1 / se ** 2:.1f}")
        forest = [f for f in s.figures if "Hazard ratio" in str(f.get("layout", {}).get("xaxis", {}))]
        need(forest, f"the forest plot on {name}")
        points = sum(1 for v in _arr(forest[0]["data"][0].get("x")) if v is not None and v == v)
        if points > hr["hr"].notna().sum():
            bad.append(f"{name}: the forest plot has {points} points, the table {hr['hr'].notna().sum()}")
    need([shown or None], "hazard ratios")
    assert not bad, bad


@pytest.fixture(scope="module")
def lifetables(pool, tmp_path_factory):
    """A copy of the pool with life tables (the USA's rates, shipped with the code, copied under the
    pool's countries) so that net survival can be computed: complete for the ordinary countries
    and LUX, 2010-2022 only for ISL (its follow-up starts in 2006)."""
    db = tmp_path_factory.mktemp("redteam-lifetables") / "pool_lt.duckdb"
    shutil.copy(pool.db, db)
    con = warehouse.connect(db)
    try:
        for country, since in [*((c, 0) for c in (*ORDINARY, "LUX")), ("ISL", 2010)]:
            con.execute("INSERT INTO life_table (country, year, sex, age, mx, qx, source) "
                        "SELECT $c, year, sex, age, mx, qx, source FROM life_table "
                        "WHERE country = 'USA' AND year >= $since", {"c": country, "since": since})
    finally:
        con.close()
    return db


NET_VIEWS = {
    "net-leukaemia-by-country": ("survival", {"countries": "FRA,DEU,GBR,ITA", "tumour": "I", "by": "country",
                                              "measure": "pohar-perme"}),
    "relative-by-sex": ("survival", {"countries": "FRA,LUX", "tumour": "", "by": "sex", "measure": "ederer2"}),
}


def test_net_survival_only_with_enough_deaths_and_survivors(show, pool, lifetables):
    """Net and relative survival are exact estimates (no rounding): a value at t is shown only where
    at least T deaths had occurred by t and T children remained at risk (design 4.2), else it is a
    statistic of fewer than T deaths or survivors. Each shown value is checked against the truth
    (cases with a survival time, sex known and follow-up > 0, as net survival counts them)."""
    bad, checked = [], 0
    for name, (page, params) in NET_VIEWS.items():
        s = show(page, db=lifetables, **params)
        by = params["by"]
        df = _frame(s, by, "time_years", "survival")
        assert not any("not available" in t for t in s.texts), f"{name}: no net survival ({s.texts[:3]})"
        for _, r in df[pd.to_numeric(df["survival"], errors="coerce").notna()].iterrows():
            cut = float(r["time_years"]) * DAYS_PER_YEAR
            deaths, at_risk = sql(pool.db, f"""
                SELECT count(*) FILTER (WHERE event = 1 AND followup_days <= $t),
                       count(*) FILTER (WHERE followup_days >= $t)
                FROM cases WHERE {_where(params)} AND NOT dco AND sex IN (1, 2) AND followup_days > 0
                  AND CAST({by} AS VARCHAR) = $g""", {"t": cut, "g": str(r[by])})[0]
            checked += 1
            if deaths < T or at_risk < T:
                bad.append(f"{name} {by}={r[by]} at {r['time_years']} years: {deaths} deaths, {at_risk} at risk")
    need([checked or None], "net or relative survival values")
    assert not bad, bad[:5]


def test_net_survival_refusal_does_not_date_a_small_partner(show, pool, lifetables):
    """Survival of ISL alone, net survival asked for, ISL's life table from 2010 only: the message
    saying which years are missing must not give the first year of ISL's tumours (7 of them, a
    suppressed country whose first and last year the Overview hides)."""
    s = show("survival", db=lifetables, countries="ISL", tumour="", by="", measure="pohar-perme")
    message = next((t for t in s.texts if "not available" in t), None)
    need([message], "net survival's refusal")
    first_year = sql(pool.db, "SELECT min(year) FROM cases WHERE country = 'ISL'")[0][0]
    gaps = re.findall(r"ISL males and females (\d{4})", message)
    assert str(first_year) not in gaps, message


# ------------------------------------------------------------------------------------------------
# 4. Incidence: rates, person-years, trends, and differencing over years and tumour groups
# ------------------------------------------------------------------------------------------------

RATE_VIEWS = {
    "incidence-by-country": ("incidence", {"ages": "0-19", "tab": "By country"}),
    "incidence-groups-partners": ("incidence", {"countries": "FRA,ISL,LUX", "ages": "0-19", "tab": "Tumour groups"}),
    "incidence-age-partners": ("incidence", {"countries": "FRA,ISL,LUX", "tumour": "Ia", "ages": "0-19",
                                             "tab": "By age"}),
    "incidence-trend-FRA": ("incidence", {"countries": "FRA", "tumour": "", "ages": "0-19", "tab": "Trend"}),
    "international-all": ("international", {"tumour": "", "ages": "0-19"}),
}
RATES = ["crude_rate", "crude_lower", "crude_upper", "asr", "asr_lower", "asr_upper", "rate", "lower", "upper"]


def test_rates_only_where_the_count_is_shown(show):
    """Rate x person-years gives a count back: a rate (crude, age-specific, age-standardised, or a
    CI limit) must not be shown where the count is hidden, and where it is shown, crude or
    age-specific rate x person-years must give the count shown (within the payload's rounding to
    0.01 per million) and not another one. The heatmap colours no more cells than the table shows.
    Tables of the By country, Tumour groups, By age and Trend tabs (with small partners) and of the
    International page."""
    bad, checked = [], 0
    for name, (page, params) in RATE_VIEWS.items():
        s = show(page, **params)
        tables = [df for df in s.frames if "cases" in df.columns and "person_years" in df.columns]
        need(tables or [None], f"a table of counts and rates on {name}")
        for df in tables:
            cols = [c for c in RATES if c in df.columns]
            for _, r in df.iterrows():
                n = count_shown(r["cases"])
                rates = {c: _value(r[c]) for c in cols}
                if n is None and any(v is not None for v in rates.values()):
                    bad.append(f"{name}: a rate beside a hidden count: {dict(r)}")
                for c in ("crude_rate", "rate"):
                    if n is not None and rates.get(c) is not None and r["person_years"] > 0:
                        checked += 1
                        back = rates[c] * r["person_years"] / 1e6
                        if abs(back - n) > 0.005 * r["person_years"] / 1e6 + 1e-6:
                            bad.append(f"{name}: {c} x person-years = {back:.2f}, the count shown is {n}")
        heat = [f for f in s.figures for tr in f.get("data", []) if tr.get("type") == "heatmap"]
        for fig in heat:
            z = np.asarray([v for row in _arr(fig["data"][0]["z"]) for v in row], dtype=float)
            grid = s.frame_with("country", "iccc_main", "asr")
            if int(np.isfinite(z).sum()) > int(grid["asr"].notna().sum()):
                bad.append(f"{name}: the heatmap colours {int(np.isfinite(z).sum())} cells, the table "
                           f"shows {int(grid['asr'].notna().sum())}")
    need([checked or None], "rates beside shown counts")
    assert not bad, bad[:5]


def test_funnel_plot_places_no_small_country(show):
    """The funnel plot's x positions are numbers of cases: each point must be a country whose number
    of cases analysed is shown in the table (so at least T), at that number; the control limits
    start at T or above (they are drawn from n = the threshold up)."""
    page, params = RATE_VIEWS["international-all"]
    s = show(page, **params)
    table = _frame(s, "country", "n_survival")
    shown = {c: _value(v) for c, v in zip(table["country"], table["n_survival"])}
    funnels = [f for f in s.figures if any(tr.get("name") == "Countries" for tr in f.get("data", []))]
    need(funnels or [None], "the funnel plot")
    bad = []
    for tr in funnels[0]["data"]:
        x = [v for v in _arr(tr.get("x")) if v is not None and v == v]
        if tr.get("name") == "Countries":
            need([len(x) or None], "countries on the funnel plot")
            for c, n in zip(_arr(tr.get("text")), x):
                if n < T or shown.get(c) != n:
                    bad.append(f"{c} at n = {n} (table: {shown.get(c)})")
        elif x and min(x) < T:
            bad.append(f"{tr.get('name')} from n = {min(x)}")
    assert not bad, bad


def _spans(db, country: str, person_years: float) -> list[tuple[int, int]]:
    """The runs of years whose population aged 0-19 (public: UN WPP, in the warehouse) adds up to
    `person_years`: how an attacker dates a country from its person-years."""
    py = dict(sql(db, "SELECT year, sum(person_years) FROM population WHERE country = $c AND sex = 0 AND "
                      "age_group IN ('0-4', '5-9', '10-14', '15-19') GROUP BY year", {"c": country}))
    years = sorted(y for y in py if 2000 <= y <= 2019)
    return [(a, b) for i, a in enumerate(years) for b in years[i:]
            if abs(sum(py[y] for y in range(a, b + 1)) - person_years) < 0.5]


@leak("dates, not a count (open, see the issue note): a suppressed row's person-years are hidden now "
      "(analytics/release/rates.py), but the person-years of pooled selections (By age, FRA+ISL minus FRA) "
      "still span each country's first to last tumour (analytics/incidence.py, band_counts: the 'coverage' "
      "CTE), which dates ISL's 7 tumours (2006-2016); needs coverage declared per submission instead")
def test_person_years_do_not_date_a_suppressed_country(show, pool):
    """Two routes to ISL's person-years: its row of the By country table (its count hidden), and the
    By age table of FRA and ISL minus that of FRA alone (summed over the bands). Matched against
    the public population figures, either gives the first and last year of ISL's tumours."""
    page, params = RATE_VIEWS["incidence-by-country"]
    t = _frame(show(page, **params), "country", "person_years")
    isl = t.loc[t["country"] == "ISL", "person_years"]
    route1 = _value(isl.iloc[0]) if len(isl) else None
    both, alone = (_frame(show("incidence", countries=c, tumour="", ages="0-19", tab="By age"), "age_band",
                          "person_years") for c in ("FRA,ISL", "FRA"))
    route2 = float(both["person_years"].sum() - alone["person_years"].sum())
    truth = tuple(sql(pool.db, "SELECT min(year), max(year) FROM cases WHERE country = 'ISL'")[0])
    dated = {name: _spans(pool.db, "ISL", v) for name, v in (("row", route1), ("by age", route2)) if v is not None}
    assert not any(spans == [truth] for spans in dated.values()), (truth, dated)


def test_trend_uses_only_the_years_shown(show, pool):
    """The annual percent change of a selection with hidden years (all tumours of FRA: some years
    below T) refitted by the attacker on the yearly table as shown: if the page's APC differed, it
    would carry the hidden years' rates. And the rate ratio of the first and last five years is
    shown only when both periods hold at least T tumours."""
    page, params = RATE_VIEWS["incidence-trend-FRA"]
    s = show(page, **params)
    yearly = _frame(s, "year", "asr")
    text = next((t for t in s.texts if "Annual percent change (APC)" in t), None)
    need([text], "the annual percent change")
    from analytics.incidence import apc

    shown = yearly[yearly["asr"].notna()]
    need([int((yearly["asr"].isna()).sum()) or None], "years hidden in the yearly table")
    refit = apc(shown["year"].astype(int), shown["asr"].astype(float))[0]
    page_apc = float(re.search(r"APC\): ([+-]?\d+\.\d+)%", text).group(1))
    assert abs(page_apc - refit) < 0.006, (page_apc, refit)
    rr = next((t for t in s.texts if t.startswith("**Rate ratio")), None)
    if rr:
        for y0, y1 in re.findall(r"(\d{4})–(\d{4})", rr):
            n = sql(pool.db, f"SELECT count(*) FROM cases WHERE {_where(params)} AND year BETWEEN {y0} AND {y1}")[0][0]
            assert n >= T, (rr, y0, y1, n)


def test_one_year_of_a_small_partner_by_differencing_year_ranges(show, pool):
    """Years 2000-2019 minus 2000-2015 of the 'Cases' of countries X and ISL, minus the same
    difference of X's own row in the By country table of all countries (X's row is hidden beside
    ISL's: complementary suppression): ISL's tumours of 2016-2019 (one, diagnosed in 2016). Three
    routes (X = FRA, DEU, GBR), each on its own cells."""
    page, params = RATE_VIEWS["incidence-by-country"]
    alone = {"2000-2019": show(page, **params), "2000-2015": show(page, **params, years="2000-2015")}
    routes, inputs = [], []
    for x in ("FRA", "DEU", "GBR"):
        parts = []
        for years, every in alone.items():
            both = _cases_metric(show("incidence", countries=f"{x},ISL", ages="0-19", years=years, tab="By country"))
            own = table_count(every, "country", x)
            inputs += [both, own]
            parts.append(None if both is None or own is None else both - own)
        routes.append(None if None in parts else parts[0] - parts[1])
    need(inputs, "the cases of X with ISL, and of X, in both year ranges")
    truth = sql(pool.db, "SELECT count(*) FROM cases WHERE country = 'ISL' AND year >= 2016")[0][0]
    assert not recovered(routes, truth), routes


def test_tumour_groups_total_minus_its_cells(show, pool):
    """The Tumour groups tab of countries X and ISL: the 'Cases' metric minus X's cells of the table
    (those hidden there, read from the same tab for the ordinary countries alone) gives ISL's
    tumours, plus the noise of every cell. Three routes (X = FRA, DEU, GBR)."""
    alone = _frame(show("incidence", countries="FRA,DEU,GBR", tumour="", ages="0-19", tab="Tumour groups"),
                   "country", "iccc_main", "cases")
    routes, inputs = [], []
    for x in ("FRA", "DEU", "GBR"):
        s = show("incidence", countries=f"{x},ISL", tumour="", ages="0-19", tab="Tumour groups")
        total, grid = _cases_metric(s), _frame(s, "country", "iccc_main", "cases")
        cells = []
        for g in alone.loc[alone["country"] == x, "iccc_main"]:
            here = grid[(grid["country"] == x) & (grid["iccc_main"] == g)]["cases"]
            there = alone[(alone["country"] == x) & (alone["iccc_main"] == g)]["cases"]
            v = count_shown(here.iloc[0]) if len(here) else None
            cells.append(v if v is not None else count_shown(there.iloc[0]))
        inputs += [total, *cells]
        routes.append(None if total is None or None in cells else total - sum(cells))
    need(inputs, "the total and X's cells")
    assert not recovered(routes, pool.truth["by_country"]["ISL"]), routes


# ------------------------------------------------------------------------------------------------
# 5. Differencing through the cohorts page: cases minus cases analysed, sex complements
# ------------------------------------------------------------------------------------------------

_COUNTS_LINE = re.compile(r"^- (?P<name>\w+): (?P<analysed>[\d,]+|fewer than \d+) analysed of "
                          r"(?P<selected>[\d,]+|fewer than \d+) selected \((?P<dco>[\d,]+|fewer than \d+) "
                          r"death-certificate-only")


def _cohort_counts(s: Shown) -> dict[str, dict[str, int | None]]:
    """Per cohort name: analysed, selected and DCO as the Methods section writes them."""
    out = {}
    for t in s.texts:
        m = _COUNTS_LINE.match(t)
        if m:
            out[m["name"]] = {k: count_shown(m[k]) for k in ("analysed", "selected", "dco")}
    return out


def _cohorts(show, cohorts: list[tuple[str, dict]]) -> Shown:
    params = {"n": str(len(cohorts))}
    for i, (name, p) in enumerate(cohorts):
        params |= {f"c{i}_name": name, f"c{i}_tumour": "", **{f"c{i}_{k}": v for k, v in p.items()}}
    return show("cohorts", **params)


YOUNG, OLD = "0,1-4,5-9,10-14", "15-19"
EARLY, LATE = "2000-2004,2005-2009", "2010-2014,2015-2019"


def test_selected_minus_analysed_gives_no_dco_count(show, pool):
    """Tumours selected minus tumours analysed (the Methods line of each cohort: 'a analysed of s
    selected') is the number of death-certificate-only registrations, 3 to 9 per ordinary country.
    Three routes per country on different cells: the whole country; ages 0-14 plus 15-19; the
    diagnoses of 2000-2009 plus those of 2010-2019."""
    targets = ("DEU", "GBR")
    whole = _cohort_counts(_cohorts(show, [(f"All{c}", {"countries": c}) for c in targets]))
    ages = _cohort_counts(_cohorts(show, [(f"{h}{c}", {"countries": c, "ages": a}) for c in targets
                                          for h, a in (("Young", YOUNG), ("Old", OLD))]))
    periods = _cohort_counts(_cohorts(show, [(f"{h}{c}", {"countries": c, "periods": p}) for c in targets
                                             for h, p in (("Early", EARLY), ("Late", LATE))]))
    found, inputs = {}, []

    def diff(counts, name):
        c = counts.get(name, {})
        inputs.extend([c.get("selected"), c.get("analysed")])
        return None if c.get("selected") is None or c.get("analysed") is None else c["selected"] - c["analysed"]

    for c in targets:
        parts = {"whole": [diff(whole, f"All{c}")], "ages": [diff(ages, f"Young{c}"), diff(ages, f"Old{c}")],
                 "periods": [diff(periods, f"Early{c}"), diff(periods, f"Late{c}")]}
        routes = [None if None in p else sum(p) for p in parts.values()]
        if recovered(routes, pool.truth["dco"][c]):
            found[c] = routes
    need(inputs, "selected and analysed per cohort")
    assert not found, found


def test_sex_complement_gives_no_small_partner_count(show, pool):
    """Both sexes minus boys minus girls: cohorts 'X and ISL, both sexes', 'X and ISL, boys' and
    'X, girls' give ISL's girls (3) plus noise. Three routes (X = FRA, DEU, GBR)."""
    routes, inputs = [], []
    for x in ("FRA", "DEU", "GBR"):
        counts = _cohort_counts(_cohorts(show, [("Both", {"countries": f"{x},ISL"}),
                                                ("Boys", {"countries": f"{x},ISL", "sex": "1"}),
                                                ("Girls", {"countries": x, "sex": "2"})]))
        sel = [counts.get(k, {}).get("selected") for k in ("Both", "Boys", "Girls")]
        inputs += sel
        routes.append(None if None in sel else sel[0] - sel[1] - sel[2])
    need(inputs, "the cohorts' numbers selected")
    truth = sql(pool.db, "SELECT count(*) FROM cases WHERE country = 'ISL' AND sex = 2")[0][0]
    assert not recovered(routes, truth), routes


# ------------------------------------------------------------------------------------------------
# 6. Submissions: rows rejected, by reason (a pool whose one submission has rejected rows)
# ------------------------------------------------------------------------------------------------

#: Rows rejected per reason in the submission POL_2024: (reason as the page writes it, rows, how the
#: row is broken). The two small reasons sort alphabetically in the opposite order of their size.
REJECTED = [("stage: not a Toronto stage value (see the data dictionary)", 24, {"stage": "XX"}),
            ("vital_status: must be one of 1, 2", 9, {"vital_status": "7"}),
            ("topography: missing", 4, {"topography": ""})]


@pytest.fixture(scope="module")
def rejected_pool(tmp_path_factory):
    d = tmp_path_factory.mktemp("redteam-rejected")
    rows = [valid_row(case_id=f"P{i}", country="POL", sex="12"[i % 2]) for i in range(60)]
    k = 0
    for _, n, broken in REJECTED:
        rows += [valid_row(case_id=f"R{k + j}", country="POL", **broken) for j in range(n)]
        k += n
    db = d / "rejected.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCOE_CELLKEY_SECRET", "issue-10-red-team")
        con = warehouse.connect(db)
        try:
            report = ingest_file(con, write_csv(d / "POL_2024.csv", rows), synthetic=True)
        finally:
            con.close()
    assert report.rows_rejected == sum(n for _, n, _ in REJECTED), report.summary()
    assert report.reasons == {reason: n for reason, n, _ in REJECTED}, report.reasons
    return db


def test_submissions_page_shows_no_small_count_of_rows(show, rejected_pool):
    """The Submissions page and the Overview of a pool with 9 and 4 rows rejected for two reasons:
    no count of rows below T in the tables, texts, metrics or downloads."""
    bad = []
    for page in ("data_quality", "home"):
        s = show(page, db=rejected_pool)
        need([s.frames or None], f"the {page} page's tables")
        bad += [f"{page}: {x}" for x in data_findings(s)]
    reasons = show("data_quality", db=rejected_pool).frame_with("reason", "rows")
    need([reasons], "the rejection reasons")
    assert not bad, bad[:5]


def test_rejection_reasons_are_not_ordered_by_hidden_counts(show, rejected_pool):
    """The two hidden reasons (9 and 4 rows) must not be listed in the order of their exact sizes
    when that order differs from the alphabetical one (it tells the viewer which is larger; the
    same ordering puts a hidden row among shown ones at its true rank)."""
    df = show("data_quality", db=rejected_pool).frame_with("reason", "rows")
    need([df], "the rejection reasons")
    hidden = [r for r, v in zip(df["reason"], df["rows"]) if count_shown(v) is None]
    need([len(hidden) >= 2 or None], "two hidden reasons")
    assert hidden == sorted(hidden), hidden


# ------------------------------------------------------------------------------------------------
# 7. The Help page, and an exported figure
# ------------------------------------------------------------------------------------------------

def test_help_page_holds_no_data(show, pool, rejected_pool):
    """The Help page reads the same on two very different pools (only the threshold and the
    rounding base, the policy, appear in it): it gives nothing away about either."""
    a, b = show("help"), show("help", db=rejected_pool)
    need([a.texts or None, b.texts or None], "the Help page")
    assert [t for t in a.texts if not _is_link_or_echo(t)] == [t for t in b.texts if not _is_link_or_echo(t)]


@pytest.mark.browser
def test_svg_export_holds_no_small_count(show):
    """The SVG a viewer downloads of the Survival page's figure for FRA, ISL and LUX pooled (ALL,
    the minimum at risk 5 in the URL), rendered as the download button renders it: its numbers at
    risk and every text in it (title, footnote with the counts, legend) hold no count below T."""
    from analytics.export import CHROMIUM, figure_bytes

    if not CHROMIUM.exists():
        pytest.skip("Debian's /usr/bin/chromium is needed to render figures")
    import plotly.graph_objects as go

    page, params = BAND_VIEWS["survival-partners-pooled"]
    fig = next((f for f in show(page, **params).figures if "Number at risk" in str(f.get("layout", {}))), None)
    need([fig], "the survival figure")
    svg = figure_bytes(go.Figure(fig), "svg").decode("utf-8")
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)]
    points = [html.unescape(p) for p in re.findall(r'<g class="textpoint"[^>]*><text[^>]*>([^<]*)</text>', svg)]
    need([points or None], "numbers at risk in the SVG")
    small = [p for p in points if (v := _num(p)) is not None and 1 <= v < T]
    small += [x for t in texts for x in small_in_text(re.sub(r"<[^>]+>", " ", t))]
    assert not small, small[:5]
