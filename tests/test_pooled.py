"""A pool of row-level and aggregate partners gives the numbers of the same tumours loaded as rows
(issue 14): one warehouse holds every tumour as rows; in the other, KEN is an aggregate partner
(its case counts and survival events, made by `python -m analytics aggregate` from the same rows).
Incidence (cases, crude and age-standardised rates with CIs, by country and by tumour group),
Kaplan-Meier (survival at times, CIs, numbers at risk, medians) and the log-rank test must agree
to 1e-9; what a table cannot give (a stage filter for incidence, net survival) leaves KEN out and
says so."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import incidence, pooled, survival, warehouse
from analytics.aggregate import aggregate_file
from analytics.filters import Selection
from analytics.ingest import ingest_file
from tests.conftest import random_rows, write_csv

TOL = 1e-9


def _rows() -> list[dict]:
    rows = random_rows(3000, seed=14, countries=("FRA", "DEU", "KEN"))
    for i, r in enumerate(rows):
        if i % 29 == 0:  # death certificate only
            r.update(basis="0", vital_status="2", last_contact_date=r["diagnosis_date"])
        if i % 13 == 0 and r["morphology"] == "9500":
            r["stage"] = "L2"
    return rows


@pytest.fixture(scope="module")
def pools(tmp_path_factory):
    d = tmp_path_factory.mktemp("pooled")
    rows = _rows()
    ken = [r for r in rows if r["country"] == "KEN"]
    others = [r for r in rows if r["country"] != "KEN"]
    all_rows = warehouse.connect(d / "rows.duckdb")
    ingest_file(all_rows, write_csv(d / "all.csv", rows))
    mixed = warehouse.connect(d / "mixed.duckdb")
    ingest_file(mixed, write_csv(d / "others.csv", others))
    done = aggregate_file(write_csv(d / "KEN.csv", ken), d / "send")
    ingest_file(mixed, done.case_counts)
    ingest_file(mixed, done.survival_events)
    assert mixed.execute("SELECT count(*) FROM cases WHERE country = 'KEN'").fetchone()[0] == 0
    yield all_rows, mixed
    all_rows.close()
    mixed.close()


def _same(a: pd.DataFrame, b: pd.DataFrame):
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        if pd.api.types.is_numeric_dtype(a[c]) and not pd.api.types.is_bool_dtype(a[c]):
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=TOL, atol=TOL, err_msg=c)
        else:
            assert a[c].tolist() == b[c].tolist(), c


@pytest.mark.parametrize("by,filters", [(["country"], {}), (["iccc_main"], {"country": ["KEN"]}),
                                        (["age_group", "iccc_main"], {}), (["period"], {"iccc_main": ["I", "III"]}),
                                        ([], {"country": ["KEN", "FRA"]})])
def test_incidence_is_that_of_the_rows(pools, by, filters):
    rows, mixed = pools
    sel = Selection.build(filters)
    a = incidence.incidence(rows, sel, by, min_cases=0)
    b = incidence.incidence(mixed, sel, by, min_cases=0)
    assert b.table["cases"].sum() > 0
    _same(a.table, b.table)
    _same(a.age_specific, b.age_specific)
    assert a.notes == b.notes


def test_incidence_trend_is_that_of_the_rows(pools):
    rows, mixed = pools
    _same(incidence.trend(rows, Selection(), ["country"], min_cases=0),
          incidence.trend(mixed, Selection(), ["country"], min_cases=0))


@pytest.mark.parametrize("by,filters,years", [
    (["country"], {}, None), (["iccc_main"], {"country": ["KEN"]}, None),
    (["sex"], {"period": ["2010-2014"]}, None), (["stage"], {"iccc_main": ["IV"]}, None),
    ([], {"country": ["KEN"], "age_group": ["1-4", "5-9"]}, None),
    (["country"], {}, (2000, 2019)),  # the pages' default: every year, i.e. whole periods
    (["country"], {"iccc_main": ["I"]}, (2005, 2014)),
    (["country"], {"year": [str(y) for y in range(2010, 2015)]}, None)])
def test_kaplan_meier_is_that_of_the_rows(pools, by, filters, years):
    rows, mixed = pools
    sel = Selection.build(filters, years)
    ea, eb = survival.event_table(rows, sel, by), survival.event_table(mixed, sel, by)
    assert ea.n_analysed == eb.n_analysed > 0
    a = survival.kaplan_meier(ea, times=(1, 3, 5, 7), min_cases=0)
    b = survival.kaplan_meier(eb, times=(1, 3, 5, 7), min_cases=0)
    _same(a.at_times, b.at_times)
    _same(a.medians, b.medians)
    for key, curve in a.curves.items():
        _same(curve.table, b.curves[key].table)
    if len(by) == 1:
        la, lb = survival.logrank(ea, by[0]), survival.logrank(eb, by[0])
        for k in ("chisq", "df", "p"):
            np.testing.assert_allclose(la[k], lb[k], rtol=TOL, atol=TOL, err_msg=k)


def test_death_certificate_only_tumours_are_not_in_the_events(pools):
    """The partner's events leave DCO registrations out (they have no survival time): the mixed
    pool analyses the same children, and selects the DCO ones only where rows are."""
    rows, mixed = pools
    ea, eb = survival.event_table(rows, Selection(), ["country"]), survival.event_table(mixed, Selection(), ["country"])
    ken_dco = rows.execute("SELECT count(*) FROM cases WHERE country = 'KEN' AND dco").fetchone()[0]
    assert ken_dco > 0
    assert eb.n_analysed == ea.n_analysed and eb.n_dco == ea.n_dco - ken_dco


def test_a_column_a_table_lacks_leaves_the_partner_out_and_says_so(pools):
    rows, mixed = pools
    by_stage = Selection.build({"stage": ["L2"]})
    res = incidence.incidence(mixed, by_stage, ["country"], min_cases=0)
    assert "KEN" not in set(res.table["country"])
    ken = rows.execute("SELECT count(*) FROM cases WHERE country = 'KEN'").fetchone()[0]
    assert f"Left out: {ken:,} tumours Kenya sent as aggregate case counts (tables without stage, which this " \
           "selection uses)." in res.notes
    # survival events carry stage but no calendar year
    ev = survival.event_table(mixed, Selection.build({"year": [2012]}), ["country"])
    assert "KEN" not in set(ev.table["country"])
    assert any("Kenya sent as aggregate survival events (tables without calendar year of diagnosis" in str(n)
               for n in ev.notes)
    assert "Kenya" in survival.event_table(mixed, Selection(), ["country"]).notes[0]
    assert not survival.event_table(mixed, Selection.build({"country": ["FRA"]}), ["country"]).notes
    rows_only = survival.event_table(mixed, Selection(), ["country"], rows_only="this needs rows")
    assert "KEN" not in set(rows_only.table["country"])
    analysed = rows.execute("SELECT count(*) FROM cases WHERE country = 'KEN' AND NOT dco").fetchone()[0]
    assert [str(n) for n in rows_only.notes] == [
        f"Left out: {analysed:,} tumours Kenya sent as aggregate survival events (this needs rows)."]


@pytest.mark.parametrize("covariates,filters", [(["country", "sex", "age_group"], {}),
                                                (["iccc_main", "period"], {"country": ["KEN", "DEU"]})])
def test_cox_is_that_of_the_rows(pools, covariates, filters):
    rows, mixed = pools
    sel = Selection.build(filters)
    a, b = survival.cox(rows, sel, covariates), survival.cox(mixed, sel, covariates)
    _same(a.drop(columns=[]), b)
    assert (a.attrs["n"], a.attrs["events"]) == (b.attrs["n"], b.attrs["events"])
    _same(a.attrs["ph"](), b.attrs["ph"]())
    assert b.attrs["notes"] == []


def test_cox_on_single_year_age_leaves_the_partner_out(pools):
    rows, mixed = pools
    res = survival.cox(mixed, Selection(), ["age_years", "sex"])
    assert any("Kenya sent as aggregate survival events (tables without single-year age" in str(n)
               for n in res.attrs["notes"])
    only_rows = survival.cox(rows, Selection.build({"country": ["FRA", "DEU"]}), ["age_years", "sex"])
    _same(res, only_rows)


def test_years_that_split_a_period_leave_the_partner_out_and_say_how_to_include_it(pools):
    rows, mixed = pools
    ev = survival.event_table(mixed, Selection.build({}, (2003, 2012)), ["country"])
    assert "KEN" not in set(ev.table["country"])
    assert any("choose years from the first year of a period" in str(n) for n in ev.notes)
    notes = survival.event_table(mixed, Selection.build({}, (2000, 2019)), ["country"]).notes
    assert len(notes) == 1 and str(notes[0]).startswith("Included from aggregate survival events")
    res = survival.cox(mixed, Selection.build({"year": ["2012"]}), ["sex"])
    assert any("Kenya sent as aggregate survival events" in str(n) for n in res.attrs["notes"])


def test_data_quality_of_an_aggregate_partner_is_that_of_its_rows(pools):
    """What the tables can give (tumours, DCO, MV: every basis is known in these rows, sex unknown,
    under 5, median follow-up) equals the rows'; what they cannot (stage unknown at the Toronto
    types' extended level, follow-up completeness) is missing, never 0."""
    from analytics import quality

    rows, mixed = pools
    a = quality.indicators(rows, None, ["country"]).set_index("country").loc["KEN"]
    b = quality.indicators(mixed, None, ["country"]).set_index("country").loc["KEN"]
    assert b["from_tables"] and not a["from_tables"]
    for c in ("cases", "dco_share", "mv_share", "sex_unknown_share", "under5_share", "median_followup_years"):
        np.testing.assert_allclose(float(a[c]), float(b[c]), rtol=TOL, err_msg=c)
    assert pd.isna(b["stage_unknown_share"]) and pd.isna(b["followup_completeness"])
    fra = quality.indicators(mixed, None, ["country"]).set_index("country").loc["FRA"]
    assert not fra["from_tables"]


def test_a_viewer_reads_the_left_out_tumours_as_a_released_count(pools):
    """The pages' notes carry the released number (perturbed, or 'fewer than T'), never the exact one."""
    from analytics.disclosure import count
    from analytics.release import rates

    rows, mixed = pools
    sel = Selection.build({"stage": ["L2"], "country": ["KEN", "FRA"]})
    res = rates.incidence(mixed, sel)
    note = next(n for n in res.notes if "sent as aggregate case counts" in n)
    left = pooled.left_out(mixed, "agg_case_counts", sel, [])
    assert note == left[0].text(str(count(left[0].n, left[0].key)))
    small = pooled.left_out(mixed, "agg_case_counts", Selection.build({"stage": ["L2"], "country": ["KEN"],
                                                                       "iccc_sub": ["IVa"], "year": ["2012"]}), [])
    assert 0 < small[0].n < 16 and "fewer than 16 tumours Kenya" in pooled.released_notes(
        small, lambda n, k: count(n, k))[0]


def test_events_sent_without_stage_are_left_out_of_a_selection_by_stage(tmp_path):
    """`aggregate --without-stage`: the partner's stage is absent, not unknown: a breakdown or a filter
    by stage leaves its tables out and says so; other selections use them."""
    rows = random_rows(400, seed=3, countries=("KEN",))
    done = aggregate_file(write_csv(tmp_path / "KEN.csv", rows), tmp_path / "send", stage=False)
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, done.survival_events)
    assert con.execute("SELECT bool_and(NOT stage_sent) FROM agg_survival_events").fetchone()[0]
    assert survival.event_table(con, Selection(), ["sex"]).n_analysed == 400
    by_stage = survival.event_table(con, Selection(), ["stage"])
    assert by_stage.n_analysed == 0
    assert [str(n) for n in by_stage.notes] == [
        "Left out: 400 tumours Kenya sent as aggregate survival events (tables sent without stage, which this "
        "selection uses)."]


def test_net_survival_names_the_partner_it_cannot_use(pools):
    from analytics.netsurvival import net_survival
    from analytics.release.international import international

    rows, mixed = pools
    res = net_survival(mixed, Selection.build({"country": ["KEN"]}), ["country"])
    assert any("Kenya sent as aggregate survival events (net survival needs each child's age" in n for n in res.notes)
    reason = international(mixed, Selection.build({"iccc_main": ["I"]}))["net_reason"]
    assert "No net survival for Kenya: it sent aggregate tables, not records" in reason
    assert "loaded for" not in reason or "Kenya" not in reason.split("No net survival for")[0]


def test_cohorts_on_a_mixed_pool(pools):
    """Overlap counts the partner's shared tumours (it warns of children counted in two cohorts),
    and the characteristics, from records only, say whose tumours they leave out."""
    from analytics import cohorts as C

    rows, mixed = pools
    pair = [C.Cohort("Kenya", Selection.build({"country": ["KEN"]})),
            C.Cohort("Kenya boys", Selection.build({"country": ["KEN"], "sex": ["1"]}))]
    assert C.overlap(mixed, pair)["shared_cases"].tolist() == C.overlap(rows, pair)["shared_cases"].tolist()
    notes = [str(n) for n in C.characteristics(mixed, pair)["notes"]]
    assert len(notes) == 2 and all("Kenya sent as aggregate case counts (the characteristics of a cohort" in n
                                   for n in notes)
    ev = C.combined_events(mixed, [C.Cohort("Kenya 2003-2012", Selection.build({"country": ["KEN"]}, (2003, 2012))),
                                   C.Cohort("France", Selection.build({"country": ["FRA"]}))])
    assert any("cohort Kenya 2003-2012" in str(n) for n in ev.notes)


def test_a_partners_two_tables_give_its_tumours_the_same_keys(pools):
    """Over whole cells (country, period, sex, age group, subgroup and their unions), the tumours
    with a survival time have the same record-key sum in the case counts as in the survival events,
    so a viewer reads one number for them on every page."""
    rows, mixed = pools
    for group in ("country", "iccc_sub", "period", "sex, age_group"):
        a = mixed.execute(f"""SELECT {group}, sum(cases - coalesce(dco, 0)),
                                     sum(key_cases - key_dco + 4294967296) % 4294967296
                              FROM agg_case_counts GROUP BY ALL ORDER BY ALL""").fetchall()
        b = mixed.execute(f"""SELECT {group}, sum(deaths + censored), sum(key_event + key_censor) % 4294967296
                              FROM agg_survival_events GROUP BY ALL ORDER BY ALL""").fetchall()
        assert a == b, group


def test_a_country_with_records_and_tables_says_whose_indicators(tmp_path):
    from analytics.release import quality as rq

    rows = random_rows(300, seed=9, countries=("FRA",))
    r02 = [dict(r, registry="R02") for r in rows[150:]]
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "FRA_R01.csv", rows[:150]))
    done = aggregate_file(write_csv(tmp_path / "FRA_R02.csv", r02), tmp_path / "send")
    ingest_file(con, done.case_counts)
    t = rq.by_country(con)
    assert t.loc[t["country"] == "FRA", "sent_as"].tolist() == ["records and aggregate tables"]
    from analytics import quality

    whole = warehouse.connect(tmp_path / "rows.duckdb")
    ingest_file(whole, write_csv(tmp_path / "all.csv", rows[:150] + r02))
    a = quality.indicators(whole, None, ["country"]).set_index("country").loc["FRA"]
    b = quality.indicators(con, None, ["country"]).set_index("country").loc["FRA"]
    for c in ("cases", "dco_share", "mv_share", "sex_unknown_share", "under5_share"):
        np.testing.assert_allclose(float(a[c]), float(b[c]), rtol=TOL, err_msg=c)
    assert b["also_tables"] and pd.isna(b["median_followup_years"]) and pd.isna(b["followup_completeness"])


@pytest.fixture(scope="module")
def month_pool(tmp_path_factory):
    """The pool of `pools` in which KEN sent its survival events in completed months, and DEU its
    own in completed years (each a partner's `aggregate --unit`)."""
    d = tmp_path_factory.mktemp("months")
    rows = _rows()
    db = warehouse.connect(d / "months.duckdb")
    ingest_file(db, write_csv(d / "FRA.csv", [r for r in rows if r["country"] == "FRA"]))
    for country, unit in (("KEN", "month"), ("DEU", "year")):
        done = aggregate_file(write_csv(d / f"{country}.csv", [r for r in rows if r["country"] == country]),
                              d / f"send_{country}", unit=unit)
        ingest_file(db, done.case_counts)
        ingest_file(db, done.survival_events)
    yield db
    db.close()


@pytest.mark.parametrize("by,filters", [(["country"], {}), ([], {"country": ["KEN", "FRA"]}),
                                        (["sex"], {"iccc_main": ["I", "III"]}), (["stage"], {})])
def test_the_life_table_in_months_is_that_of_the_rows(pools, month_pool, by, filters):
    """KEN in completed months: the monthly life table of the pool is that of the same tumours
    sent as rows (and as tables in days); DEU in completed years cannot be put in months and is
    left out, with a note."""
    rows, mixed = pools
    sel = Selection.build(filters)
    ref = survival.event_table(rows, Selection.build({**filters, "country": ["FRA", "KEN"]}), by, unit="month")
    res = {}
    for name, con in (("rows", rows), ("days", mixed), ("months", month_pool)):
        narrowed = sel if name == "months" else Selection.build({**filters, "country": ["FRA", "KEN"]})
        ev = survival.event_table(con, narrowed, by, unit="month")
        assert ev.unit == "month" and ev.n_analysed == ref.n_analysed > 0
        res[name] = survival.kaplan_meier(ev, times=(1, 3, 5, 7), min_cases=0)
    a = res["rows"]
    assert a.notes[0].startswith("Actuarial life table (Cutler-Ederer), monthly intervals")
    for b in (res["days"], res["months"]):
        _same(a.at_times, b.at_times)
        _same(a.medians, b.medians)
        for key, curve in a.curves.items():
            _same(curve.table, b.curves[key].table)
    if "country" not in filters:
        assert any("Deutschland" in n or "Germany" in n for n in res["months"].notes if n.startswith("Left out"))
        assert any("coarser than the months" in n for n in res["months"].notes)


def test_yearly_intervals_take_every_partner(pools, month_pool):
    rows, _ = pools
    a = survival.kaplan_meier(survival.event_table(rows, Selection(), ["country"], unit="year"), min_cases=0)
    b = survival.kaplan_meier(survival.event_table(month_pool, Selection(), ["country"], unit="year"), min_cases=0)
    assert not [n for n in b.notes if n.startswith("Left out")]
    _same(a.at_times, b.at_times)
    _same(a.medians, b.medians)


def test_kaplan_meier_leaves_tables_in_months_out_and_names_the_life_table(month_pool):
    ev = survival.event_table(month_pool, Selection(), ["country"])
    assert ev.unit == "day" and sorted(k[0] for k, *_ in ev.groups()) == ["FRA"]
    note = [n for n in ev.notes if isinstance(n, pooled.TablesLeftOut)]
    assert len(note) == 1 and set(note[0].countries) == {"DEU", "KEN"}
    assert "Kaplan-Meier needs the day of each death" in str(note[0])
    assert "actuarial life table pools them" in str(note[0])
    cox = [n for n in pooled.left_out(month_pool, "agg_survival_events", Selection(), ["sex"], what="the Cox model")]
    assert "the Cox model needs the day" in str(cox[0]) and "actuarial" not in str(cox[0])


def test_units_a_life_table_takes_and_the_unit_of_a_selection(month_pool):
    assert pooled.usable_units("day") == ["day"]
    assert pooled.usable_units("month") == ["day", "month"]
    assert pooled.usable_units("year") == ["day", "month", "year"]
    assert pooled.interval_unit(month_pool) == "year"  # DEU sent years
    assert pooled.interval_unit(month_pool, Selection.build({"country": ["FRA", "KEN"]})) == "month"
    assert pooled.interval_unit(month_pool, Selection.build({"country": ["FRA"]})) is None
    assert pooled.interval_unit(month_pool, Selection.build({"country": ["DEU"]}), ["sex"]) == "year"
    (note,) = pooled.left_out(month_pool, "agg_survival_events", Selection(), [], unit="month")
    assert note.countries == ("DEU",) and "coarser than the months of these intervals" in str(note)
    included = pooled.included_events(month_pool, Selection(), [], unit="month")
    assert "counts per follow-up month" in included[0] and "Kenya" in included[0]


def test_the_viewers_life_table_of_a_mixed_pool_is_that_of_the_rows(pools, month_pool):
    """What the Survival page shows with the life table (deaths and censorings rounded): KEN sent
    in months gives exactly what its rows give."""
    from analytics.release import curves

    rows, _ = pools
    sel = Selection.build({"country": ["FRA", "KEN"]})
    a = curves.survival(rows, sel, ["country"], method="actuarial")
    b = curves.survival(month_pool, sel, ["country"], method="actuarial")
    assert a["unit"] == b["unit"] == "month" and a["groups"] == b["groups"] and len(a["groups"]) == 2
    for key in a["groups"]:
        _same(a["curves"][key], b["curves"][key])
    for part in ("at_times", "at_risk", "conditional"):
        _same(a[part], b[part])
    # the released group sizes are perturbed on record keys, which a table's tumours get afresh
    _same(*(r["medians"].drop(columns=["n", "events"]) for r in (a, b)))
    assert "Log-rank test not shown for the life table" in b["logrank_note"]
    assert any(n.startswith("Actuarial life table (Cutler-Ederer), monthly intervals") for n in b["notes"])


def test_the_command_line_says_whom_standardised_survival_and_log_rank_leave_out(month_pool, tmp_path, capsys):
    from analytics.cli import main

    path = tmp_path / "copy.duckdb"
    month_pool.execute(f"ATTACH '{path}' AS copy; COPY FROM DATABASE {month_pool.execute('SELECT current_database()').fetchone()[0]} TO copy; DETACH copy")
    assert main(["survival", "--db", str(path), "--standardise", "cohort", "--method", "actuarial",
                 "--times", "1"]) == 0
    err = capsys.readouterr().err
    assert "Actuarial life table (Cutler-Ederer), monthly intervals" in err
    assert "Germany sent as aggregate survival events (follow-up in completed units coarser" in err
    assert main(["logrank", "--db", str(path), "--by", "country"]) == 0
    err = capsys.readouterr().err
    assert "the log-rank test needs the day of each death" in err and "actuarial" not in err
    assert main(["survival", "--db", str(path), "--interval", "year"]) == 2
    assert "--interval is for --method actuarial" in capsys.readouterr().err
