"""The synthetic demonstration pool: one harmonized submission per country, loaded through ingest.

    python -m analytics demo [--scale S] [--seed N] [--db PATH] [--format csv|parquet]
                             [--aggregate-countries KEN,UGA [--aggregate-unit day|month|year]]

Cases are drawn from the real UN WPP 2022 populations in the warehouse (`population` table, both
sexes) times age- and ICCC-group-specific incidence rates (`demo_params.BASE_RATES`, calibrated by
`calibrated_rates()` to the verified IICC-3 world-standardised rates), with a calendar trend,
a realistic ICD-O-3 case mix per subgroup, and survival times from piecewise-constant hazards
calibrated to subgroup 5-year survival with age (the published gradient, `demo_params.AGE_SURVIVAL`,
rescaled so that the subgroup's target holds over its age mix), country-income, period and stage
effects.
Real-world mess is added in small proportions: DCO registrations, unknown sex and stage, early
loss to follow-up, and a few invalid rows that ingest must reject.

Everything generated is synthetic and every submission is marked synthetic in the warehouse: the
app then shows the "synthetic demonstration data" notice on every page and export.

`--aggregate-countries` makes those countries aggregate partners (issue 14): their generated rows
never reach the warehouse; `analytics.aggregate` turns them into case counts and survival events,
as the partner would on its own machine, and those two tables are loaded instead.

`--scale 1` produces the case count the populations really produce (about 0.7 million tumours
for 12 countries over 2000-2019); the scale multiplies the expected counts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analytics import demo_params as P
from analytics import audit, snapshots, warehouse
from analytics.ingest import IngestReport, ingest_file

SEGI = {"0-4": 12000, "5-9": 10000, "10-14": 9000, "15-19": 9000}  # Segi (Doll) weights, D1 usage


def _band_rate(group: str, band: str) -> float:
    return P.BASE_RATES[group][P.BANDS.index(band)]


def _wsr(rates: dict[str, list[float]], groups, bands) -> float:
    w = sum(SEGI[b] for b in bands)
    return sum(sum(rates[g][P.BANDS.index(b)] for g in groups) * SEGI[b] for b in bands) / w


def calibrated_rates() -> dict[str, list[float]]:
    """High-income rates per million (reference year 2005.5) that meet the verified IICC-3 WSRs.

    Step 1: groups with a verified WSR (I, II, III at 0-14; II at 15-19) are scaled to it.
    Step 2: the other groups are scaled together so that the all-cancer WSR (140.6 at 0-14,
    185.3 at 15-19) is met. Age pattern within each age range is kept.
    """
    rates = {g: list(v) for g, v in P.BASE_RATES.items()}
    for (ages, bands) in (("0-14", ["0-4", "5-9", "10-14"]), ("15-19", ["15-19"])):
        fixed = [g for g in rates if (g, ages) in P.WSR_TARGETS]
        for g in fixed:
            f = P.WSR_TARGETS[(g, ages)] / _wsr(rates, [g], bands)
            for b in bands:
                rates[g][P.BANDS.index(b)] *= f
        others = [g for g in rates if g not in fixed]
        remaining = P.WSR_TARGETS[("all", ages)] - sum(_wsr(rates, [g], bands) for g in fixed)
        f = remaining / _wsr(rates, others, bands)
        for g in others:
            for b in bands:
                rates[g][P.BANDS.index(b)] *= f
    return rates


def _subgroup_weights(entry_weight, band_idx: np.ndarray) -> np.ndarray:
    if isinstance(entry_weight, list):
        return np.asarray(entry_weight)[band_idx]
    return np.full(len(band_idx), float(entry_weight))


def _choose(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from an (n, k) array of non-negative weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return (u[:, None] > cum).sum(axis=1)


def _cum_hazard_5y(s5: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(s5, 1e-6, 0.999999))


def subgroup_s5() -> dict[str, float]:
    """High-income 5-year survival target of each ICCC-3 subgroup (from `CASE_MIX`)."""
    return {sub: s5 for entries in P.CASE_MIX.values() for sub, _, s5, _ in entries}


def _stage_scale(subgroup: str, s5: float | None = None) -> float:
    """Factor c on the stage hazard ratios such that sum(share * exp(-c * hr * H)) = S5, where H
    is the 5-year cumulative hazard of the target S5 (default: the subgroup's): a mixture of stages
    with mean hazard ratio 1 would otherwise survive better than the target (Jensen's inequality)."""
    s5 = subgroup_s5()[subgroup] if s5 is None else s5
    h = _cum_hazard_5y(np.array([s5]))[0]
    levels = P.STAGES[subgroup][1]
    shares = np.array([lv[1] for lv in levels]) / sum(lv[1] for lv in levels)
    hrs = np.array([lv[2] for lv in levels])
    return _solve_scale(lambda c: (shares * np.exp(-c * hrs * h)).sum(), s5)


def _solve_scale(survival, target: float) -> float:
    """The c > 0 at which the decreasing function survival(c) equals target (bisection)."""
    lo, hi = 1e-3, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if survival(mid) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


AGES = np.arange(20)  # single years of age at diagnosis, 0-19


def expected_age_mix(subgroup: str) -> np.ndarray:
    """Expected share of a subgroup's cases at each single year of age 0-19 in a high-income
    population with equal person-years at every age: the calibrated band rates times the
    subgroup's share of its main group in each band, spread over the band's years as the
    generator spreads them (`AGE_0_4` inside 0-4, evenly elsewhere)."""
    group = next(g for g, entries in P.CASE_MIX.items() for e in entries if e[0] == subgroup)
    rates = calibrated_rates()[group]
    mix = np.zeros(len(AGES))
    for bi in range(len(P.BANDS)):
        weights = {e[0]: (e[1][bi] if isinstance(e[1], list) else e[1]) for e in P.CASE_MIX[group]}
        rate = rates[bi] * weights[subgroup] / sum(weights.values())
        within = np.asarray(P.AGE_0_4.get(group, P.AGE_0_4["default"])) if bi == 0 else np.ones(5)
        mix[bi * 5:bi * 5 + 5] = rate * within / within.sum()
    return mix / mix.sum()


def _relative_age_hazard(subgroup: str) -> np.ndarray:
    """The published age gradient of `AGE_SURVIVAL` as relative cumulative hazards by single year."""
    kind, ranges, _ = P.AGE_SURVIVAL[subgroup]
    rel = np.full(len(AGES), np.nan)
    for first, last, value in ranges:
        rel[first:last + 1] = -np.log(value / 100) if kind == "s5" else value
    return rel


@lru_cache(maxsize=None)
def age_s5(subgroup: str) -> np.ndarray:
    """High-income 5-year survival target of a subgroup by single year of age 0-19 (read-only).

    Subgroups with an `AGE_SURVIVAL` row: S(a) = exp(-c * rel(a)), rel the published gradient as
    relative cumulative hazards, c such that the expected age mix (`expected_age_mix`) averages
    exactly the subgroup's `CASE_MIX` target. Other subgroups: that target at every age."""
    s5 = subgroup_s5()[subgroup]
    if subgroup not in P.AGE_SURVIVAL:
        out = np.full(len(AGES), s5)
    else:
        rel, mix = _relative_age_hazard(subgroup), expected_age_mix(subgroup)
        out = np.exp(-_solve_scale(lambda c: (mix * np.exp(-c * rel)).sum(), s5) * rel)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=None)
def _stage_scales_by_age(subgroup: str) -> np.ndarray:
    """`_stage_scale` for the subgroup's target at each single year of age 0-19 (read-only)."""
    out = np.array([_stage_scale(subgroup, float(s)) for s in age_s5(subgroup)])
    out.setflags(write=False)
    return out


def _draw_survival_years(rng: np.random.Generator, h5: np.ndarray) -> np.ndarray:
    """Time to death (years) under the piecewise-constant hazard with 5-year cumulative hazard h5
    (shape `HAZARD_SHAPE`) and the late hazard after 5 years; inf where none occurs by 60 years."""
    e = rng.exponential(1.0, len(h5))  # death when the cumulative hazard reaches e
    t = np.full(len(h5), np.inf)
    cum = np.zeros(len(h5))
    for lo, hi, share in P.HAZARD_SHAPE:
        seg = h5 * share
        inside = (t == np.inf) & (e <= cum + seg) & (seg > 0)
        t[inside] = lo + (e[inside] - cum[inside]) / seg[inside] * (hi - lo)
        cum += seg
    late = t == np.inf
    t[late] = 5.0 + (e[late] - cum[late]) / P.LATE_HAZARD
    return t


def generate_country(country: str, pop: pd.DataFrame, scale: float, seed: int,
                     rates: dict[str, list[float]]) -> pd.DataFrame:
    """All synthetic tumours of one country as a submission frame (contract columns, text)."""
    cp = P.COUNTRIES[country]
    rng = np.random.default_rng([seed, sum(map(ord, country))])
    # expected counts per (year, band, subgroup)
    cells = []
    for g, entries in P.CASE_MIX.items():
        for sub, w, s5, codes in entries:
            for bi, band in enumerate(P.BANDS):
                wb = w[bi] if isinstance(w, list) else w
                total_w = sum((e[1][bi] if isinstance(e[1], list) else e[1]) for e in entries)
                r = rates[g][bi] * wb / total_w * cp["incidence"]
                r *= P.SUBGROUP_COUNTRY_BOOST.get((sub, country), 1.0)
                if g == "III" and sub in ("IIIe", "IIIf"):
                    r *= cp["cns_nonmalignant"]
                cells.append((g, sub, bi, band, r))
    cells = pd.DataFrame(cells, columns=["group", "sub", "bi", "band", "rate"])
    grid = cells.merge(pop, left_on="band", right_on="age_group")
    trend = np.where(grid["band"] == "15-19", P.ANNUAL_TREND["15-19"], P.ANNUAL_TREND["0-14"])
    expected = grid["rate"] * 1e-6 * grid["person_years"] * (1 + trend) ** (grid["year"] - P.RATE_REFERENCE_YEAR)
    counts = rng.poisson(expected.to_numpy() * scale)
    rows = grid.loc[grid.index.repeat(counts), ["group", "sub", "bi", "band", "year"]].reset_index(drop=True)
    n = len(rows)
    group = rows["group"].to_numpy()
    sub = rows["sub"].to_numpy()
    bi = rows["bi"].to_numpy()

    # age in completed years
    age = bi * 5 + rng.integers(0, 5, n)
    young = bi == 0
    for g in np.unique(group[young]):
        m = young & (group == g)
        probs = np.asarray(P.AGE_0_4.get(g, P.AGE_0_4["default"]))
        age[m] = rng.choice(5, size=m.sum(), p=probs / probs.sum())

    # sex
    male_p = pd.Series(group).map(P.MALE_SHARE).to_numpy()
    sex = np.where(rng.random(n) < male_p, "1", "2").astype(object)

    # codes within subgroup (respecting sex-specific sites)
    topo = np.empty(n, dtype=object)
    morph = np.empty(n, dtype=object)
    beh = np.empty(n, dtype=object)
    s5 = np.empty(n)
    for g, entries in P.CASE_MIX.items():
        for sname, _, _, codes in entries:
            m = sub == sname
            if not m.any():
                continue
            s5[m] = age_s5(sname)[age[m]]  # the subgroup's target, by age where published
            idx = np.flatnonzero(m)
            w = np.array([[c[4] if (c[3] is None or c[3] == s) else 0.0 for c in codes]
                          for s in ("1", "2")])
            # a sex with no compatible code takes the other sex (sex-specific subgroup)
            for si, s in enumerate(("1", "2")):
                if w[si].sum() == 0:
                    sex[idx[sex[idx] == s]] = "2" if s == "1" else "1"
            k = np.empty(len(idx), dtype=int)
            for si, s in enumerate(("1", "2")):
                sel = sex[idx] == s
                if sel.any() and w[si].sum() > 0:
                    k[sel] = rng.choice(len(codes), size=sel.sum(), p=w[si] / w[si].sum())
            topo[idx] = [codes[j][0] for j in k]
            morph[idx] = [codes[j][1] for j in k]
            beh[idx] = [str(codes[j][2]) for j in k]

    # dates: diagnosis uniform in the year; birth date consistent with the completed age
    dx = (pd.to_datetime(rows["year"].astype(str) + "-01-01")
          + pd.to_timedelta(rng.integers(0, 365, n), unit="D")).to_numpy()
    frac = rng.uniform(0.01, 0.99, n)
    birth = dx - ((age + frac) * 365.2425 * 86400).astype("timedelta64[s]")
    birth = birth.astype("datetime64[D]")

    # stage and its hazard ratio, scaled so that the stage mixture still has the subgroup's 5-year
    # survival at that age at the high-income baseline (see _stage_scale)
    stage = np.full(n, "", dtype=object)
    hr = np.ones(n)
    for sname, (unknown, levels) in P.STAGES.items():
        idx = np.flatnonzero(sub == sname)
        if not len(idx):
            continue
        shares = np.array([lv[1] for lv in levels])
        hrs = np.array([lv[2] for lv in levels])
        k = rng.choice(len(levels), size=len(idx), p=shares / shares.sum())
        hr[idx] = hrs[k] * _stage_scales_by_age(sname)[age[idx]]
        known = rng.random(len(idx)) >= unknown
        stage[idx[known]] = [levels[j][0] for j in k[known]]

    # survival: high-income S5 x country factor, then period and stage hazard ratios
    period = pd.Series((rows["year"] // 5 * 5).astype(str) + "-" + (rows["year"] // 5 * 5 + 4).astype(str))
    h5 = _cum_hazard_5y(s5 * cp["survival"]) * period.map(P.PERIOD_HAZARD_RATIO).to_numpy() * hr
    t_death = _draw_survival_years(rng, h5)
    end = np.datetime64(P.FOLLOWUP_END)
    admin_years = (end - dx.astype("datetime64[D]")).astype(float) / 365.25
    lost = rng.random(n) < cp["lost"]
    t_cens = np.where(lost, rng.uniform(0, admin_years), admin_years)
    dead = t_death <= t_cens
    t_obs = np.where(dead, t_death, t_cens)
    last = dx.astype("datetime64[D]") + np.floor(t_obs * 365.25).astype("timedelta64[D]")

    # basis of diagnosis, DCO registrations (death = diagnosis date, no follow-up)
    basis = np.full(n, "7", dtype=object)
    for g in np.unique(group):
        m = group == g
        mix = P.BASIS_MIX.get(g, P.BASIS_MIX["default"])
        basis[m] = rng.choice([b for b, _ in mix], size=m.sum(), p=[p for _, p in mix])
    dco = rng.random(n) < cp["dco"]
    basis[dco] = "0"
    dead = dead | dco
    last = np.where(dco, dx.astype("datetime64[D]"), last)
    stage[dco] = ""

    cause = _causes_of_death(np.random.default_rng([seed, sum(map(ord, country)), 15]),
                             np.where(dco, 0.0, t_obs), dead)
    unknown_sex = (rng.random(n) < P.UNKNOWN_SEX_SHARE) & np.isin(topo, ["C569", "C629"], invert=True)
    sex[unknown_sex] = "9"

    df = pd.DataFrame({
        "case_id": [f"{country}-{i:07d}" for i in range(n)],
        "patient_id": "",
        "country": country,
        "registry": f"{country}-R" + pd.Series(rng.integers(1, 4, n)).astype(str),
        "sex": sex,
        "birth_date": pd.Series(birth).dt.strftime("%Y-%m-%d"),
        "age_years": "",
        "diagnosis_date": pd.Series(dx.astype("datetime64[D]")).dt.strftime("%Y-%m-%d"),
        "topography": pd.Series(topo).str[:3] + "." + pd.Series(topo).str[3:],
        "morphology": morph,
        "behaviour": beh,
        "basis": basis,
        "stage": stage,
        "vital_status": np.where(dead, "2", "1"),
        "last_contact_date": pd.Series(last).dt.strftime("%Y-%m-%d"),
        "cause_of_death": cause,
    })
    return _add_invalid_rows(df, rng)


def _causes_of_death(rng: np.random.Generator, years: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """'1' (the cancer), '2' (another cause) or '9' (unknown) for each death, '' for the living:
    another cause with the share `P.OTHER_CAUSE_SHARE` of the years since diagnosis, unknown with
    `P.UNKNOWN_CAUSE_SHARE`. Its own random stream (`rng`), so the rest of the pool is the same
    with or without causes."""
    share = np.zeros(len(years))
    for lo, hi, s in P.OTHER_CAUSE_SHARE:
        share[(years >= lo) & (years < hi)] = s
    u = rng.random(len(years))
    cause = np.where(u < P.UNKNOWN_CAUSE_SHARE, "9",
                     np.where(u < P.UNKNOWN_CAUSE_SHARE + (1 - P.UNKNOWN_CAUSE_SHARE) * share, "2", "1"))
    return np.where(dead, cause, "").astype(object)


#: Ways a synthetic row is made invalid (each must be rejected by ingest, for the reason named).
_INVALID = [
    ("country", lambda df: "XXX"),
    ("diagnosis_date", lambda df: "2019-02-30"),
    ("morphology", lambda df: "99999"),
    ("sex", lambda df: "3"),
    ("last_contact_date", lambda df: "1999-01-01"),
]


def _add_invalid_rows(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n_bad = rng.binomial(len(df), P.INVALID_SHARE)
    if n_bad == 0:
        return df
    idx = rng.choice(len(df), size=n_bad, replace=False)
    kinds = rng.integers(0, len(_INVALID) + 1, n_bad)
    for j, (col, bad) in enumerate(_INVALID):
        df.loc[idx[kinds == j], col] = bad(df)
    dup = idx[kinds == len(_INVALID)]  # duplicated case ids: copy the previous row's id
    df.loc[dup, "case_id"] = df["case_id"].to_numpy()[np.maximum(dup - 1, 0)]
    return df


def populations(con: duckdb.DuckDBPyConnection, countries: list[str]) -> pd.DataFrame:
    """WPP person-years (both sexes) by country, year and five-year band for the demo years."""
    df = con.execute("""
        SELECT country, year, age_group, person_years FROM population
        WHERE sex = 0 AND age_group IN ('0-4', '5-9', '10-14', '15-19')
          AND year BETWEEN $y0 AND $y1 AND list_contains($countries, country)""",
                     {"y0": P.FIRST_YEAR, "y1": P.LAST_YEAR, "countries": countries}).df()
    missing = sorted(set(countries) - set(df["country"]))
    if missing:
        raise RuntimeError(f"no WPP population in the warehouse for {', '.join(missing)}; "
                           f"run `python -m analytics init` on a new warehouse")
    return df


@dataclass
class DemoStep:
    """One country of the demo build: its ingest report and how long each half took (s)."""

    country: str
    report: IngestReport
    generate_seconds: float
    load_seconds: float
    #: for an aggregate partner, the ingest reports of its two tables (`report` is then that of its
    #: rows, validated on the partner's side and never loaded)
    tables: list[IngestReport] = field(default_factory=list)


def build_demo(db: str | Path | None = None, scale: float = 1.0, seed: int = 2024,
               out_dir: str | Path | None = None, fmt: str = "csv",
               countries: list[str] | None = None, log=print,
               aggregate_countries: list[str] = (), aggregate_unit: str = "day") -> list[DemoStep]:
    """Generate and ingest the demo pool, one submission per country (two tables per country of
    `aggregate_countries`, follow-up in `aggregate_unit`: day, month or year), logging progress."""
    from analytics.aggregate import aggregate_file

    countries = countries or list(P.COUNTRIES)
    unknown = sorted(set(aggregate_countries) - set(countries))
    if unknown:
        raise ValueError(f"--aggregate-countries: {', '.join(unknown)} not in the demo pool "
                         f"({', '.join(countries)})")
    out_dir = Path(out_dir) if out_dir else Path(db or warehouse.DEFAULT_DB).resolve().parent / "demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    who = audit.command_line_user()
    # One new snapshot for the whole pool: an app serving the warehouse sees all of it or none.
    with snapshots.writing(db or warehouse.DEFAULT_DB, log=log) as con:
        pop = populations(con, countries)
        rates = calibrated_rates()
        for i, c in enumerate(countries, 1):
            t0 = time.perf_counter()
            df = generate_country(c, pop[pop["country"] == c], scale, seed, rates)
            path = out_dir / f"{c}_demo.{fmt}"
            _write(df, path)
            t1 = time.perf_counter()
            tables = []
            if c in aggregate_countries:  # the partner's side: rows in, two tables out
                done = aggregate_file(path, out_dir / f"{c}_aggregate", unit=aggregate_unit)
                report = done.report
                for table, what in ((done.case_counts, "counts"), (done.survival_events, "events")):
                    tables.append(ingest_file(con, table, name=f"{c}_demo_{what}", synthetic=True))
                    audit.record_ingest(con, tables[-1], table, who, action="demo")
            else:
                report = ingest_file(con, path, name=f"{c}_demo", synthetic=True)
                audit.record_ingest(con, report, path, who, action="demo")
            reports.append(DemoStep(c, report, t1 - t0, time.perf_counter() - t1, tables))
            how = (f"sent as aggregate tables ({', '.join(f'{t.rows_loaded:,} rows of {t.kind}' for t in tables)})"
                   if tables else "loaded")
            log(f"[{i:>2}/{len(countries)}] {c}: {len(df):,} rows generated in {t1 - t0:.1f} s, "
                f"{report.rows_loaded:,} {how}, rejected {report.rows_rejected:,} "
                f"in {time.perf_counter() - t1:.1f} s")
    return reports


def _write(df: pd.DataFrame, path: Path) -> None:
    con = duckdb.connect()
    con.register("df", df)
    if path.suffix == ".parquet":
        con.execute(f"COPY df TO {_sql_string(path)} (FORMAT parquet)")
    else:
        con.execute(f"COPY df TO {_sql_string(path)} (HEADER, DELIMITER ',')")
    con.close()


def _sql_string(path: Path) -> str:
    """A file path as an SQL string literal (COPY TO takes no parameters; the path is ours)."""
    return "'" + str(path).replace("'", "''") + "'"
