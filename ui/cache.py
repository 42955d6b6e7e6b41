"""What the pages show, from the release layer (`analytics.release`), cached across sessions.

Each public `cached_*` / `pool_summary` function takes the warehouse snapshot the page reads
(`ui.connection.snapshot()`) and adds its version and the disclosure policy (or its threshold) to
the arguments of a private `st.cache_data` function: a result is cached per warehouse version (a
load makes a new one: `analytics.snapshots`), and a change of CCOE_MIN_CELL is never served from
the cache. The snapshot itself (`_snap`) is not hashed. Selections arrive as hashable tuples (`ui.widgets.checked_filters`).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import disclosure
from analytics.filters import Selection
from analytics.snapshots import Snapshot


def _selection(filters: tuple, years: tuple) -> Selection:
    return Selection.build({k: list(v) for k, v in filters}, years)


# --- once per server -----------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def warm_up() -> None:
    """Start, once per server process, a background build of what every process builds on first
    use whatever the data: the world map's country shapes (`analytics.reference.world`, about 3 s
    from the shipped Natural Earth file), so that the first person to open the International page
    does not wait for it. Called by app.py."""
    import threading

    from analytics.reference.world import world_geojson

    threading.Thread(target=world_geojson, name="warm-world-map", daemon=True).start()


# --- the pool ------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, ttl=600, max_entries=16)
def _pool_summary(_snap, version: str, threshold: int) -> dict:
    from analytics.release import pool

    return pool.summary(_snap.cursor())


def pool_summary(snap: Snapshot) -> dict:
    """The pool in figures as a viewer sees it (`analytics.release.pool.summary`: the tumours as a
    released `Count`, `empty` for an empty warehouse, the data-version line), cached per
    warehouse version and threshold."""
    from analytics.disclosure import policy

    return _pool_summary(snap, snap.version, policy().threshold)


# --- incidence -----------------------------------------------------------------------------------

def cached_incidence(snap: Snapshot, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                     by: tuple = ()):
    """The Incidence page's released rates (`analytics.release.rates.incidence`: a `Rates`),
    cached per selection and disclosure policy (a change of CCOE_MIN_CELL is not served from the
    cache)."""
    from analytics.disclosure import policy

    return _cached_incidence(snap, snap.version, filters, years, ages, standard, ci, tuple(by), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=256)
def _cached_incidence(_snap, version: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                      by: tuple, pol):
    from analytics.release import rates

    return rates.incidence(_snap.cursor(), _selection(filters, years), list(by), ages=ages,
                           standard=standard, ci=ci, pol=pol)


def cached_trend(snap: Snapshot, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                 by: tuple = ()) -> pd.DataFrame:
    """The released annual percent change (`analytics.release.rates.trend`), cached per selection
    and disclosure policy."""
    from analytics.disclosure import policy

    return _cached_trend(snap, snap.version, filters, years, ages, standard, ci, tuple(by), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=256)
def _cached_trend(_snap, version: str, filters: tuple, years: tuple, ages: str, standard: str, ci: str,
                  by: tuple, pol) -> pd.DataFrame:
    from analytics.release import rates

    return rates.trend(_snap.cursor(), _selection(filters, years), list(by), ages=ages,
                       standard=standard, ci=ci, pol=pol)


def cached_rate_ratio(snap: Snapshot, filters: tuple, ages: str, standard: str, period1: tuple,
                      period2: tuple) -> dict:
    """The released rate ratio of two periods (`analytics.release.rates.rate_ratio`), cached per
    selection and disclosure policy."""
    from analytics.disclosure import policy

    return _cached_rate_ratio(snap, snap.version, filters, ages, standard, tuple(period1), tuple(period2), policy())


@st.cache_data(show_spinner=False, ttl=600, max_entries=128)
def _cached_rate_ratio(_snap, version: str, filters: tuple, ages: str, standard: str, period1: tuple,
                       period2: tuple, pol) -> dict:
    from analytics.release import rates

    return rates.rate_ratio(_snap.cursor(), _selection(filters, None), period1, period2,
                            ages=ages, standard=standard, pol=pol)


# --- survival ------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, ttl=600, max_entries=128)
def _cached_survival(_snap, version: str, filters: tuple, years: tuple | None, by: tuple, conf_type: str, method: str,
                     min_at_risk: int, threshold: int, window: str | None) -> dict:
    from analytics.release import curves

    return curves.survival(_snap.cursor(), _selection(filters, years), list(by), conf_type,
                           method=method, min_at_risk=min_at_risk, window=window)


def cached_survival(snap: Snapshot, filters: tuple, years: tuple | None, by: tuple, conf_type: str,
                    method: str = "km", min_at_risk: int = 10, window: str | None = None) -> dict:
    """What the Survival page shows of Kaplan-Meier (or net survival) per group, released
    (`analytics.release.curves.survival`: rounded, truncated curves, numbers at risk, survival at
    1/3/5/10 years, medians, notes, the log-rank test), cached per selection and threshold;
    `window` ('2018-2022'): the period analysis of that calendar window."""
    return _cached_survival(snap, snap.version, filters, years, by, conf_type, method, min_at_risk,
                            disclosure.policy().threshold, window)


@st.cache_data(show_spinner=False, ttl=600, max_entries=16)
def _cached_period_windows(_snap, version: str) -> list[str]:
    from analytics import period

    return period.windows(_snap.cursor())


def cached_period_windows(snap: Snapshot) -> list[str]:
    """The calendar windows of period analysis the pages offer (`analytics.period.windows`)."""
    return _cached_period_windows(snap, snap.version)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_cumulative_incidence(_snap, version: str, filters: tuple, years: tuple | None, by: tuple,
                                 min_at_risk: int, threshold: int) -> dict:
    from analytics.release import curves

    return curves.cumulative_incidence(_snap.cursor(), _selection(filters, years), list(by), min_at_risk=min_at_risk)


def cached_cumulative_incidence(snap: Snapshot, filters: tuple, years: tuple | None, by: tuple,
                                min_at_risk: int = 10) -> dict:
    """Death by cause with competing risks, released (`analytics.release.curves.cumulative_incidence`),
    cached per selection and threshold."""
    return _cached_cumulative_incidence(snap, snap.version, filters, years, by, min_at_risk,
                                        disclosure.policy().threshold)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_age_standardised(_snap, version: str, filters: tuple, years: tuple | None, by: tuple, weights: str,
                             conf_type: str, threshold: int, unit: str, window: str | None) -> pd.DataFrame:
    from analytics.release import curves

    return curves.age_standardised(_snap.cursor(), _selection(filters, years), list(by),
                                   weights=weights, conf_type=conf_type, unit=unit, window=window)


def cached_age_standardised(snap: Snapshot, filters: tuple, years: tuple | None, by: tuple, weights: str,
                            conf_type: str, unit: str = "day", window: str | None = None) -> pd.DataFrame:
    """Age-standardised survival from the rounded curves (`analytics.release.curves`; `unit`
    'month' or 'year': from life tables; `window`: period analysis), cached per selection and
    threshold."""
    return _cached_age_standardised(snap, snap.version, filters, years, by, weights, conf_type,
                                    disclosure.policy().threshold, unit, window)


COX_MAX_TERMS = 25  # more hazard ratios than a forest plot can show, and minutes of fitting


@st.cache_resource(show_spinner=False, ttl=600, max_entries=16)
def _cox_model(_snap, version: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    """The fitted model (levels with fewer cases than the threshold left out) with its lazily
    computed proportional-hazards check (not picklable, so a resource: the same read-only result
    for every session). Exact: pages get it only through `cached_cox` and `cached_ph_test`."""
    from analytics.release import curves

    return curves.cox_model(_snap.cursor(), _selection(filters, years), list(covariates),
                            max_terms=COX_MAX_TERMS)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_cox(_snap, version: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    from analytics.release import curves

    return curves.cox_table(_cox_model(_snap, version, filters, years, covariates, threshold))


def cached_cox(snap: Snapshot, filters: tuple, years: tuple | None, covariates: tuple) -> pd.DataFrame:
    """Hazard ratios as a viewer sees them (`analytics.release.curves.cox_table`; `attrs["note"]`
    says which levels were left out or hidden), cached per selection and threshold."""
    return _cached_cox(snap, snap.version, filters, years, covariates, disclosure.policy().threshold)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_ph_test(_snap, version: str, filters: tuple, years: tuple | None, covariates: tuple, threshold: int) -> pd.DataFrame:
    from analytics.release import curves

    return curves.ph_table(_cox_model(_snap, version, filters, years, covariates, threshold))


def cached_ph_test(snap: Snapshot, filters: tuple, years: tuple | None, covariates: tuple) -> pd.DataFrame:
    """The proportional-hazards check of `cached_cox`'s model (computed when first asked for)."""
    return _cached_ph_test(snap, snap.version, filters, years, covariates, disclosure.policy().threshold)


# --- international comparison and cohorts --------------------------------------------------------

def cached_international(snap: Snapshot, filters: tuple, years: tuple | None, ages: str, standard: str,
                         ci: str, window: str | None = None) -> dict:
    """The International page, released (`analytics.release.international`; `window`: observed
    survival by period analysis), cached per selection and disclosure policy."""
    return _cached_international(snap, snap.version, filters, years, ages, standard, ci, disclosure.policy().threshold,
                                 window)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_international(_snap, version: str, filters: tuple, years: tuple | None, ages: str, standard: str,
                          ci: str, min_cell: int, window: str | None) -> dict:
    from analytics.release.international import international

    return international(_snap.cursor(), _selection(filters, years), ages=ages,
                         standard=standard, ci=ci, window=window)


def _cohorts(spec: tuple):
    from analytics.release.curves import Cohort

    return [Cohort(name, _selection(filters, years)) for name, filters, years in spec]


@st.cache_data(show_spinner=False, ttl=600, max_entries=32)
def _cached_cohorts(_snap, version: str, spec: tuple, conf_type: str, min_at_risk: int, threshold: int) -> dict:
    from analytics.release import curves

    return curves.cohorts(_snap.cursor(), _cohorts(spec), conf_type, min_at_risk)


def cached_cohorts(snap: Snapshot, spec: tuple, conf_type: str, min_at_risk: int) -> dict:
    """Everything the cohort page shows, released (`analytics.release.curves.cohorts`), for cohorts
    given as (name, filters, years) tuples; cached per cohorts and threshold."""
    return _cached_cohorts(snap, snap.version, spec, conf_type, min_at_risk, disclosure.policy().threshold)


# --- data quality ----------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, ttl=600, max_entries=16)
def _cached_quality(_snap, version: str, threshold: int) -> pd.DataFrame:
    from analytics.release import quality

    return quality.by_country(_snap.cursor())


def cached_quality(snap: Snapshot) -> pd.DataFrame:
    """The data-quality indicators by country, released (`analytics.release.quality.by_country`),
    cached per warehouse version and threshold."""
    return _cached_quality(snap, snap.version, disclosure.policy().threshold)


@st.cache_data(show_spinner=False, ttl=600, max_entries=64)
def _cached_quality_trend(_snap, version: str, country: str, threshold: int) -> pd.DataFrame:
    from analytics.release import quality

    return quality.trend(_snap.cursor(), country)


def cached_quality_trend(snap: Snapshot, country: str) -> pd.DataFrame:
    """One country's data-quality indicators by year of diagnosis, released
    (`analytics.release.quality.trend`), cached per warehouse version, country and threshold."""
    return _cached_quality_trend(snap, snap.version, country, disclosure.policy().threshold)
