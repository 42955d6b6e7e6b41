"""The actuarial life table (Cutler-Ederer): survival from deaths and withdrawals per interval.

Why: some aggregate partners may send follow-up only in completed months or years (issue 14;
`python -m analytics aggregate --unit month`). Kaplan-Meier needs each death's day, so such
tables cannot join it; the life-table method needs only what happened in each interval, and is
what SEER*Stat uses for its monthly intervals. For an estimate over such a pool, every tumour is
put in the same intervals (a row's or a day table's follow-up in completed intervals:
floor(days / width), as the partner's `aggregate` writes them; `analytics.pooled.events_sql`
with a unit), so the estimate over a mixed pool equals the one over the same tumours sent as
rows (tests/test_pooled.py).

Conventions, as KMsurv's `lifetab` (Klein & Moeschberger 2003, section 5.4), checked against it
(tests/fixtures/survival/make_lifetab_reference.R):

* interval j covers follow-up [j w, (j + 1) w), w the width in days (a month is 365.25 / 12
  days, a year 365.25); a tumour with follow-up of j completed intervals died, or was withdrawn
  alive (censored), in interval j.
* entering n_j = N - sum over i < j of (d_i + c_i); effective number at risk
  n'_j = n_j - c_j / 2 (the withdrawn are at risk for half the interval); q_j = d_j / n'_j;
  survival at the end of interval j, S_j = product over i <= j of (1 - q_i).
* Greenwood: se(-log S_j) = sqrt(sum over i <= j of d_i / (n'_i (n'_i - d_i))); the 95% CI from
  it as for Kaplan-Meier (`survival._ci`: log-log by default).
* Survival at t years: S at the last interval end at or before t (1, 3, 5 and 10 years are
  interval ends for months and years). Number at risk at t: those entering the interval that
  starts at the last interval boundary at or before t (followed for at least that long).
* Median: where S, taken as linear within the interval in which it first falls to 0.5 or below,
  equals 0.5 (the usual life-table median; `lifetab` gives none); its CI, the same rule applied
  to the CI's limits. Not reached: NaN.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.filters import SelectionError
from analytics.survival import DAYS_PER_YEAR, EventTable, KaplanMeier, SurvivalResult, _ci, estimator, per_group

#: The units of the life table's intervals (widths in days: `schema.FOLLOWUP_UNITS`), in words.
UNIT_WORDS = {"month": "monthly", "year": "yearly"}


class ActuarialTable(KaplanMeier):
    """Life table of one group on intervals of `width_days`.

    After `fit`, `table` holds one row per interval with a death or a withdrawal: time_years (the
    interval's end), start_years, n_at_risk (entering it), n_effective, n_events, n_censored,
    survival (at its end), std_err (Greenwood, of -log S), lower, upper. A `KaplanMeier` with
    its own fit, survival at times and median: whatever takes a Kaplan-Meier curve (a
    `SurvivalResult`, numbers at risk, conditional survival from S(t) / S(s) and the Greenwood
    variance between, the figures) takes it."""

    def __init__(self, width_days: float, conf_type: str = "log-log"):
        super().__init__(conf_type)
        if not width_days > 0:
            raise ValueError(f"interval width must be positive, not {width_days}")
        self.width_days = float(width_days)

    def fit(self, interval, n_event, n_censor) -> "ActuarialTable":
        """`interval`: distinct interval numbers (0, 1, ...) in increasing order; deaths and
        withdrawals in each. Intervals not given had neither."""
        j = np.asarray(interval, dtype=np.int64)
        if len(j) and (j.min() < 0 or np.any(np.diff(j) <= 0)):
            raise ValueError("intervals must be distinct whole numbers from 0, in increasing order")
        d = np.asarray(n_event, dtype=float)
        c = np.asarray(n_censor, dtype=float)
        n = (d + c)[::-1].cumsum()[::-1]  # entering interval j
        eff = n - c / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(1 - d / eff)
            green = np.where(d > 0, d / (eff * (eff - d)), 0.0)
        se = np.sqrt(np.cumsum(green))
        lower, upper = _ci(surv, se, self.conf_type)
        none_yet = np.cumsum(d) == 0  # S = 1 before the first death: CI 1-1, as Kaplan-Meier's
        lower, upper = np.where(none_yet, 1.0, lower), np.where(none_yet, 1.0, upper)
        w = self.width_days / DAYS_PER_YEAR
        self.arrays = {"j": j, "start": j * w, "t": (j + 1) * w, "n": n, "eff": eff, "d": d, "c": c,
                       "surv": surv, "se": se, "lower": lower, "upper": upper}
        self._table = None
        return self

    @property
    def table(self) -> pd.DataFrame:
        if self._table is None:
            a = self.arrays
            self._table = pd.DataFrame({
                "time_years": a["t"], "start_years": a["start"], "n_at_risk": a["n"].astype(int),
                "n_effective": a["eff"], "n_events": a["d"].astype(int), "n_censored": a["c"].astype(int),
                "survival": a["surv"], "std_err": a["se"], "lower": a["lower"], "upper": a["upper"]})
        return self._table

    def _at(self, times) -> dict[str, np.ndarray]:
        """Survival at `times` (years): the columns `KaplanMeier._at` gives."""
        a = self.arrays
        x = np.atleast_1d(np.asarray(times, dtype=float))
        w = self.width_days / DAYS_PER_YEAR
        k_now = np.floor(x / w + 1e-9).astype(np.int64)  # the interval t falls in (t on a boundary: the next)
        first = np.searchsorted(a["j"], k_now, side="left")  # those entering it
        return self._values(x, first, first - 1)  # S at the last interval ending at or before t

    def rmst(self, tau: float) -> tuple[float, float]:
        raise SelectionError("restricted mean survival time needs Kaplan-Meier (follow-up in days)")

    def median(self) -> tuple[float, float, float]:
        """(median, lower, upper) in years, NaN where not reached (module docstring)."""
        a = self.arrays
        return tuple(_crossing(a["start"], a["t"], a[col], 0.5) for col in ("surv", "lower", "upper"))


def _crossing(start: np.ndarray, end: np.ndarray, s: np.ndarray, p: float) -> float:
    """The time at which a curve, linear within each interval (from its value at the previous
    interval's end, 1 at first, to its value at this one's end), first reaches p; NaN if never.
    Missing values of the curve (a CI undefined) are skipped."""
    ok = ~np.isnan(s)
    start, end, s = start[ok], end[ok], s[ok]
    below = np.flatnonzero(s <= p)
    if not len(below):
        return float("nan")
    i = below[0]
    before = s[i - 1] if i > 0 else 1.0
    if before <= p:  # already at p at the interval's start (a CI limit can start there)
        return float(start[i])
    return float(start[i] + (end[i] - start[i]) * (before - p) / (before - s[i]))


def actuarial(events: EventTable, times=(1, 3, 5, 10), conf_type: str = "log-log",
              min_cases: int | None = None) -> SurvivalResult:
    """The life table per group of an event table in completed months or years
    (`survival.event_table(..., unit=...)`); groups with fewer cases than the threshold are
    suppressed, as for Kaplan-Meier (`survival.kaplan_meier` sends such tables here)."""
    if events.unit not in UNIT_WORDS:
        raise ValueError(f"the actuarial life table needs follow-up in completed months or years, not {events.unit}s")
    return per_group(events, times, min_cases, estimator(events.unit, conf_type),
                     method_note(events.unit, conf_type))


def method_name(unit: str) -> str:
    """The observed-survival method of an event table in `unit`, as a title says it."""
    return "Kaplan-Meier" if unit == "day" else f"actuarial life table, {UNIT_WORDS[unit]} intervals"


def method_note(unit: str, conf_type: str, why: str | None = None) -> str:
    """The sentence that names the method on a page, a figure or the command line."""
    words = UNIT_WORDS.get(unit, unit)
    note = (f"Actuarial life table (Cutler-Ederer), {words} intervals: follow-up counted in completed "
            f"{unit}s, the withdrawn at risk for half their interval; 95% CI {conf_type} (Greenwood "
            f"variance); survival at the end of each interval, the median interpolated within its interval.")
    return f"{note} {why}" if why else note
