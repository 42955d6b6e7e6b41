"""Survival: Kaplan-Meier with Greenwood CIs, survival at fixed times, medians, conditional
survival, numbers at risk, log-rank tests and Cox hazard ratios, checked against R's `survival`.

The product-limit estimator needs only an *event table*: for each distinct follow-up time, the
number of deaths and of censorings. `event_table()` builds it per group with one aggregate query
in DuckDB, so no case rows reach Python for Kaplan-Meier or log-rank. Cox with categorical
covariates needs only the deaths and cases per covariate pattern and day (`cox()`: one aggregate
query, then Efron's partial likelihood over those counts, `cox_patterns`); a numeric covariate
takes the rows.

Conventions, as R's survival 3.5 (`survfit`, `summary.survfit`, `quantile.survfit`, `survdiff`,
`coxph`), see tests/fixtures/survival/README.md:

* Time in years = follow-up days / 365.25. At risk at time t = follow-up >= t. A death on the
  day of diagnosis is follow-up 0 and gives a step at t = 0; a censoring at a death time is at
  risk for that death.
* Greenwood: se(-log S) = sqrt(sum d / (n (n - d))). 95% CI `log-log` (default; lifelines and
  SEER*Stat too): exp(-exp(log(-log S) -/+ z se / log S)), missing where S = 1; `log`:
  exp(log S -/+ z se), upper clipped at 1; `plain`: S -/+ z se S, clipped to [0, 1]. Where S = 0
  the CI is missing.
* Survival at a time before the group's first observed time is 1 with CI 1-1.
* Median: R's quantile.survfit rule (the first time S <= 0.5; where S is 0.5 on an interval, the
  mid-point of that interval); its CI applies the same rule to the lower and upper curves.
* Log-rank: survdiff (rho = 0): chi-square on (groups with expected > 0) - 1 degrees of freedom;
  stratified by summing observed, expected and variance over strata.
* Cox: Efron ties; categorical covariates as COLUMN=LEVEL against the first level in sort order
  of the stored codes. Categorical only: Newton-Raphson over the counts per pattern and day
  (`cox_patterns`, the rows' own likelihood); with a numeric covariate: lifelines' CoxPHFitter
  on the rows, converged to 1e-12. Both equal R's coxph (tests/test_survival.py).

Death-certificate-only registrations (basis 0) have no survival time and are excluded; the count
is reported beside every result ("n analysed of n selected").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from analytics import labels
from analytics.filters import Selection, SelectionError, check_by, sort_rows
from analytics.suppression import threshold

DAYS_PER_YEAR = 365.25
BY_COLUMNS = ["country", "registry", "iccc_main", "iccc_sub", "sex", "age_group", "age_band",
              "period", "stage"]
CONF_TYPES = ("log-log", "log", "plain")
Z95 = stats.norm.ppf(0.975)


# ------------------------------------------------------------------------------------------------
# Event tables
# ------------------------------------------------------------------------------------------------

class EventTable:
    """Deaths and censorings per distinct follow-up time (days), per group of `by`.

    Columns: the `by` columns, days, n_event, n_censor; the rows of a group are in time order.
    Held as a pandas frame (`table`) or, as `event_table` reads it from DuckDB, as an Arrow table
    with its rows grouped (`group`: one integer code per group) and in time order within a
    group; the frame is then built on first use, so Kaplan-Meier never pays for it."""

    #: Record-key sums of the selected and of the DCO rows (set by `event_table(keys=True)`).
    key_selected: int | None = None
    key_dco: int | None = None
    #: Period analysis: the tumours with follow-up inside the window (`period_event_table`).
    n_window: int | None = None

    def __init__(self, table: pd.DataFrame | None, by, n_selected: int, n_dco: int,
                 notes: list[str] | None = None, *, arrow: pa.Table | None = None,
                 group: np.ndarray | None = None, unit: str = "day"):
        self._table, self._arrow, self._group = table, arrow, group
        #: What the `days` column counts: "day" (follow-up days, for Kaplan-Meier), or completed
        #: "month"s or "year"s (intervals, for the actuarial life table: `analytics.lifetable`).
        self.unit = unit
        self.by = list(by)
        self.n_selected, self.n_dco = n_selected, n_dco
        self.notes = list(notes or [])

    @property
    def table(self) -> pd.DataFrame:
        if self._table is None:
            self._table = self._arrow.to_pandas()
        return self._table

    @property
    def n_analysed(self) -> int:
        return self.n_selected - self.n_dco

    @property
    def entries(self) -> bool:
        """Whether the table is left-truncated: an `n_enter` column counts those entering the
        risk set at each time (period analysis, `analytics.period`), at risk after it."""
        return "n_enter" in (self._arrow.column_names if self._arrow is not None else self.table.columns)

    def groups(self, enter: bool = False):
        """(key tuple, days, n_event, n_censor) per group in display order (missing values such
        as an unknown stage last); the arrays are in time order. With `enter`, n_enter follows
        (zeros where the table has no entries: everyone at risk from time 0)."""
        names = ("days", "n_event", "n_censor") + (("n_enter",) if enter and self.entries else ())
        if self._arrow is not None:
            a = self._arrow
            cols = [a.column(c).to_numpy() for c in names]
            starts = np.flatnonzero(np.diff(self._group, prepend=-1)) if len(self._group) else np.zeros(0, int)
            first = a.take(starts).select(self.by).to_pandas() if self.by else None
        else:
            t = self.table
            order, starts, first = group_order(t, self.by)  # rows of a group stay in time order
            cols = [t[c].to_numpy()[order] for c in names]
        if enter and not self.entries:
            cols.append(np.zeros(len(cols[0]), np.int64))
        bounds = np.append(starts, len(cols[0]))
        if not self.by:
            if len(cols[0]):
                yield (), *cols
            return
        keys = list(first.itertuples(index=False, name=None))
        for i in sort_rows(first.assign(_i=range(len(first))), self.by)["_i"]:
            lo, hi = bounds[i], bounds[i + 1]
            yield keys[i], *(c[lo:hi] for c in cols)


def group_order(t: pd.DataFrame, by: list[str], within: np.ndarray | None = None):
    """The rows of `t` with each group of `by` together (missing = missing): (row order, where
    each group starts in it, each group's `by` values: a frame, one row per group, None without
    `by`). Inside a group the rows keep their order, or follow `within` (e.g. the days)."""
    codes = t.groupby(by, sort=False, dropna=False).ngroup().to_numpy() if by else np.zeros(len(t), int)
    order = np.argsort(codes, kind="stable") if within is None else np.lexsort((within, codes))
    starts = np.searchsorted(codes[order], np.arange(codes.max() + 1)) if len(t) else np.zeros(0, int)
    first = t.iloc[order[starts]][by].reset_index(drop=True) if by else None
    return order, starts, first


def _group_codes(a: pa.Table, by: list[str]) -> np.ndarray:
    """One integer per row, equal exactly when the rows' `by` values are equal (missing = missing)."""
    code = np.zeros(a.num_rows, np.int64)
    for c in by:
        enc = pc.dictionary_encode(a.column(c)).combine_chunks()
        levels = len(enc.dictionary) + 1  # the last code stands for a missing value
        code = code * levels + enc.indices.fill_null(levels - 1).to_numpy().astype(np.int64)
    return code


def event_table(con: duckdb.DuckDBPyConnection, selection: Selection | None = None,
                by: list[str] = (), keys: bool = False, rows_only: str | None = None,
                unit: str = "day", what: str = "Kaplan-Meier", window=None, engine=None) -> EventTable:
    """One aggregate query: per group and follow-up day, deaths and censorings (DCO excluded).

    The result is read as Arrow and put in group and time order with one numpy sort: on a
    3-million-case group, converting to pandas or sorting in SQL each cost about as much as half
    the aggregate itself (benchmarks/survival_benchmark.py).

    With `keys=True` (the viewer's release layer, `analytics.release.curves`), each row also
    holds the record-key sums (`analytics.disclosure.key_sum_sql`, mod 2**32) of its deaths
    (`key_event`) and of its censorings (`key_censor`), and the table carries the key sums of
    all selected rows (`key_selected`) and of the DCO rows (`key_dco`). Nothing else changes.

    The survival events of aggregate partners (`analytics.pooled`) are summed in, unless
    `rows_only` gives a reason (what the statistic needs that a table lacks): then the table holds
    the rows only, and its notes say whose tumours were left out and why.

    `unit` "month" or "year": `days` holds follow-up in completed months or years instead (every
    tumour in the same intervals, survival events in those units included), the input of the
    actuarial life table (`analytics.lifetable.actuarial`). `what`: the statistic, as the note on
    tables it cannot take names it.

    `window` (an `analytics.period.Window`): the period analysis of that calendar window instead,
    a left-truncated table (`period_event_table`).

    `engine` (`analytics.engine`): where the aggregate runs (default: DuckDB on `con`); the notes
    on aggregate partners' tables are read from `con` either way."""
    selection = selection or Selection()
    by = check_by(list(by), BY_COLUMNS)
    if window is not None:
        return period_event_table(con, selection, by, window, keys, engine=engine)
    cols = "".join(f"{b}, " for b in by)
    key_cols = ""
    if keys:
        from analytics.disclosure import key_sum_sql

        key_cols = (f", {key_sum_sql(column='key_event')} AS key_event, "
                    f"{key_sum_sql(column='key_censor')} AS key_censor")
    from analytics import pooled  # the rows, and the survival events of aggregate partners

    source, params = pooled.events_sql(selection, by, tables=rows_only is None, keys=keys,
                                       unit=unit)  # selection inside
    from analytics import engine as engines

    rows = engines.of(con, engine).arrow(f"""
        SELECT {cols}days, CAST(sum(deaths) AS BIGINT) AS n_event,
               CAST(sum(censored) AS BIGINT) AS n_censor, dco{key_cols}
        FROM {source}
        GROUP BY ALL""", params)
    dco = rows.column("dco").to_numpy(zero_copy_only=False)  # one scan; DCO rows counted, then set aside
    n = rows.column("n_event").to_numpy() + rows.column("n_censor").to_numpy()
    if keys:
        k = (rows.column("key_event").to_numpy(zero_copy_only=False).astype(np.int64)
             + rows.column("key_censor").to_numpy(zero_copy_only=False).astype(np.int64))
    rows, group = _in_order(rows.filter(pa.array(~dco)).drop_columns(["dco"]), by)
    notes = pooled.left_out(con, "agg_survival_events", selection, by, needs=rows_only, unit=unit, what=what)
    if rows_only is None:
        notes += pooled.included_events(con, selection, by, unit)
    out = EventTable(None, by, int(n.sum()), int(n[dco].sum()), notes=notes, arrow=rows, group=group, unit=unit)
    if keys:
        out.key_selected, out.key_dco = int(k.sum() % 2 ** 32), int(k[dco].sum() % 2 ** 32)
    return out


def _in_order(rows: pa.Table, by: list[str]) -> tuple[pa.Table, np.ndarray]:
    """The rows with the rows of a group together and in time order, and their group codes."""
    group = _group_codes(rows, by)
    days = rows.column("days").to_numpy().astype(np.int64)
    order = np.argsort(group * (int(days.max(initial=0)) + 1) + days)
    return rows.take(order), group[order]


def period_event_table(con: duckdb.DuckDBPyConnection, selection: Selection, by: list[str], window,
                       keys: bool = False, engine=None) -> EventTable:
    """The left-truncated event table of a period analysis (`analytics.period`): per group and
    day, deaths and censorings at exit and entries (`n_enter`) at entry, of the selected tumours
    with follow-up inside `window`. `n_selected` and `n_dco` count the whole selection;
    `n_window` (set here) those in the window. Rows only: aggregate partners' tables are left out
    with a note. With `keys` and `engine`, as `event_table`."""
    from analytics import engine as engines
    from analytics import period, pooled
    from analytics.disclosure import KEY_MODULUS

    cols = "".join(f"{b}, " for b in by)
    where, params = selection.where()
    params = params | {"w_start": window.start, "w_end": window.end}
    m = KEY_MODULUS
    key_cols = (f", CAST(sum(key_event) % {m} AS BIGINT) AS key_event, "
                f"CAST(sum(key_censor) % {m} AS BIGINT) AS key_censor" if keys else "")
    key_all = (f", CAST(coalesce(sum(record_key), 0) % {m} AS BIGINT), "
               f"CAST(coalesce(sum(record_key) FILTER (WHERE dco), 0) % {m} AS BIGINT)" if keys else "")
    run = engines.of(con, engine)
    c = f"WITH c AS ({period.cases_sql(cols, where, keys)}), w AS (SELECT * FROM c WHERE NOT dco AND exit > entry)"
    rows = run.arrow(f"""{c}
        SELECT {cols}days, CAST(sum(deaths) AS BIGINT) AS n_event, CAST(sum(censored) AS BIGINT) AS n_censor,
               CAST(sum(entered) AS BIGINT) AS n_enter{key_cols}
        FROM ({period.events_sql(cols, keys, m)}) GROUP BY ALL""", params)
    totals = run.rows(f"""{c}
        SELECT count(*), count(*) FILTER (WHERE dco), count(*) FILTER (WHERE NOT dco AND exit > entry){key_all}
        FROM c""", params)[0]
    rows, group = _in_order(rows, by)
    notes = [window.note()]
    notes += pooled.left_out(con, "agg_survival_events", selection, by, needs=period.NEEDS_ROWS, unit="day",
                             what="period analysis")
    out = EventTable(None, by, int(totals[0]), int(totals[1]), notes=notes, arrow=rows, group=group)
    out.n_window = int(totals[2])
    if keys:
        out.key_selected, out.key_dco = int(totals[3]), int(totals[4])
    return out


def event_table_from_rows(df: pd.DataFrame, days: str, event: str, by: list[str] = ()) -> EventTable:
    """The same table from individual rows (tests, and data that is not in a warehouse)."""
    t = (df.assign(_e=df[event].astype(int), _c=1 - df[event].astype(int))
           .groupby(list(by) + [days], sort=True, dropna=False)[["_e", "_c"]].sum().reset_index()
           .rename(columns={days: "days", "_e": "n_event", "_c": "n_censor"}))
    return EventTable(t, list(by), len(df), 0)


# ------------------------------------------------------------------------------------------------
# Disclosure control: the viewer's event table (docs/disclosure-control.md, section 4.1)
# ------------------------------------------------------------------------------------------------

MONTH_DAYS = DAYS_PER_YEAR / 12


def roundmid(x, base: int):
    """OpenSAFELY's midpoint rounding (`roundmid_any` in opensafely-actions/kaplan-meier-function,
    analysis/km.R): ceil(x / base) * base - floor(base / 2) for x > 0, and 0 for 0. With base 16,
    1..16 -> 8, 17..32 -> 24; with base 1 it is the identity. Counts: x must be >= 0.

    Vectorised: an integer array gives an int64 array, a scalar an int64 scalar."""
    base = int(base)
    if base < 1:
        raise ValueError(f"roundmid: base must be a positive integer, not {base}")
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a) & (a == np.floor(a))):
            raise ValueError("roundmid: counts must be whole numbers")
    a = a.astype(np.int64)
    if np.any(a < 0):
        raise ValueError("roundmid: counts must not be negative")
    out = np.where(a > 0, -(-a // base) * base - base // 2, 0).astype(np.int64)  # -(-a // b) = ceil(a / b)
    return out if out.ndim else np.int64(out)


def _rounded_group(days, n_event, n_censor, base: int, bin_days: float):
    """One group of `rounded_events`: (bin end in days, deaths, censorings) with no all-zero row."""
    days = np.asarray(days, dtype=float)
    d = np.asarray(n_event).astype(np.int64)
    c = np.asarray(n_censor).astype(np.int64)
    if not len(days):
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    bins, inv = np.unique(np.ceil(days / bin_days).astype(np.int64), return_inverse=True)  # day 0: bin 0
    E = np.cumsum(np.bincount(inv, weights=d, minlength=len(bins)).round().astype(np.int64))
    C = np.cumsum(np.bincount(inv, weights=c, minlength=len(bins)).round().astype(np.int64))
    E1, C1, N1 = roundmid(E, base), roundmid(C, base), roundmid(E[-1] + C[-1], base)
    d1 = np.diff(E1, prepend=0)
    gone = np.concatenate([[0], (E1 + C1)[:-1]])  # E'_{j-1} + C'_{j-1}
    risk = np.maximum(N1 - gone, 0)  # n'_j = N' - E'_{j-1} - C'_{j-1}, never below 0
    leaving = risk - np.append(risk[1:], 0)  # n'_j - n'_{j+1}; after the last bin nobody is left
    dd = np.minimum(d1, leaving)  # = d'_j except where d'_j > n'_j (clipped) or the risk set runs out
    cc = leaving - dd  # = c'_j, plus N' - E'_last - C'_last in the last bin (see rounded_events)
    keep = (dd > 0) | (cc > 0)
    return bins[keep] * bin_days, dd[keep], cc[keep]


def _rounded_entries_group(days, n_event, n_censor, n_enter, base: int, bin_days: float):
    """One group of `rounded_events` on a left-truncated table (period analysis): (bin end in
    days, deaths, censorings, entries), the entries at the start of their bin.

    Exits are binned as in `_rounded_group` (bin ceil(days / bin_days), at its end), entries at
    floor(days / bin_days): an exit falls after its entry (exit > entry), so a tumour's exit bin
    is after its entry bin, and those entering in bin j are at risk from bin j + 1. The
    cumulative deaths E_j, censorings C_j and entries A_j are each rounded with `roundmid`, and
    the risk set of bin j is r_j = max(A'_(j-1) - E'_(j-1) - C'_(j-1), 0) (0 after the last bin).
    Deaths are d'_j = E'_j - E'_(j-1) clipped to r_j, entries a'_j = A'_j - A'_(j-1), and
    censorings c'_j = C'_j - C'_(j-1) plus whatever else makes the estimator's risk sets exactly
    r_j (the leftover A'_last - E'_last - C'_last in the last bin, as `_rounded_group` does with
    N'; where that would make a count negative, more entries instead). Every risk set is thus a
    difference of rounded cumulative counts, as without entries; with base 1 and bin_days 1 the
    table is the exact one."""
    days = np.asarray(days, dtype=float)
    d, c, e = (np.asarray(x).astype(np.int64) for x in (n_event, n_censor, n_enter))
    leave, enter = (d + c) > 0, e > 0
    if not leave.any():
        return np.zeros(0), *(np.zeros(0, np.int64),) * 3
    xb = np.ceil(days[leave] / bin_days).astype(np.int64)
    eb = np.floor(days[enter] / bin_days + 1e-9).astype(np.int64)
    bins = np.unique(np.concatenate([xb, eb]))
    ix, ie = np.searchsorted(bins, xb), np.searchsorted(bins, eb)

    def cum(at, w):
        return np.cumsum(np.bincount(at, weights=w, minlength=len(bins)).round().astype(np.int64))

    E1, C1, A1 = (roundmid(x, base) for x in (cum(ix, d[leave]), cum(ix, c[leave]), cum(ie, e[enter])))
    risk = np.maximum(np.concatenate([[0], (A1 - E1 - C1)[:-1]]), 0)
    dd = np.minimum(np.diff(E1, prepend=0), risk)
    a1 = np.diff(A1, prepend=0)
    rest = risk - np.append(risk[1:], 0) - dd + a1  # = c'_j where nothing was clipped or left over
    cc, ee = np.maximum(rest, 0), a1 + np.maximum(-rest, 0)
    keep = (dd > 0) | (cc > 0) | (ee > 0)
    return bins[keep] * bin_days, dd[keep], cc[keep], ee[keep]


def rounded_events(events: EventTable, base: int, bin_days: float = MONTH_DAYS) -> EventTable:
    """The event table a viewer's Kaplan-Meier is computed from: time binned, counts rounded.

    What: per group, follow-up is binned, bin j = ceil(days / bin_days) (a month by default; day 0
    stays bin 0, so a death on the day of diagnosis stays at t = 0), and a bin's deaths and
    censorings are put at its end, j * bin_days days (fractional days; `KaplanMeier.fit` divides
    by 365.25), censorings after deaths as always. The cumulative deaths E_j, the cumulative
    censorings C_j and the group size N are each rounded with `roundmid(., base)`, and the table
    holds d'_j = E'_j - E'_{j-1} and c'_j = C'_j - C'_{j-1}, so that the risk set the estimator
    builds (reverse cumulative sum of d + c) is n'_j = N' - E'_{j-1} - C'_{j-1}:

    * N' versus E'_last + C'_last: each is rounded on its own, so they differ by up to about
      1.5 base either way. The difference N' - (E'_last + C'_last) goes into the censorings of
      the last bin, so that the table's total, and the first risk set, is N'. Where it is
      negative, the risk set n'_j is taken as max(N' - E'_{j-1} - C'_{j-1}, 0) and each bin
      gives up n'_j - n'_{j+1} cases (n' = 0 after the last bin): deaths d'_j where there are
      enough (clipped to n'_j otherwise), censorings the rest. The shortfall is thus taken from
      the last bin's censorings, then its deaths, and, should the last bin not hold enough, the
      curve ends at the earlier bin where the rounded risk set runs out (the bins after it have
      nothing left and are dropped). No count is ever negative, and every risk set is N' minus
      rounded cumulative counts, hence a multiple of base/2 for an even base.
    * d'_j is clipped to n'_j where rounding would make it larger (S then reaches 0 there). As
      d'_j <= d_j + base - 1 and n'_j >= n_j - about 1.5 base, this needs fewer than about
      2.5 base cases surviving the bin: it happens only at the very end of a curve, in
      practice in the tail that `truncate(km, base)` removes.
    * Rows where both d' and c' are 0 are dropped.

    The result is a pandas-backed EventTable with the same `by`, n_selected, n_dco and notes,
    rows grouped by group (in `groups()` order) and in time order within a group, so
    `kaplan_meier`, `truncate`, `at_risk_table`, `age_standardised` and `logrank` take it as
    they take the exact one. `kaplan_meier(...).curves[key].n` is then N'.

    Why: OpenSAFELY's disclosure-safe Kaplan-Meier (opensafely-actions/kaplan-meier-function,
    `round_cmlcount`, method "constant"). Each visible step stands for a block of about `base`
    deaths (the first for 1..base, shown at its mid-point base/2), every risk set is a rounded
    count, and follow-up is only known to the month: no follow-up day and no event count below
    the threshold reaches a viewer. With base = 1 and bin_days = 1 on whole-day follow-up the
    table is the exact one and `kaplan_meier` gives exactly the exact curves (unit-tested).

    Bias: at any time the rounded cumulative deaths and censorings differ from the true ones by
    at most base/2 each (roundmid moves a count by -floor(base/2) .. base - 1 - floor(base/2)),
    so S(t) differs from the exact month-binned estimate by up to about (base/2) / n'(t):
    negligible for groups of thousands, about 0.08 for a group of 100 at base 16. Binning adds
    a small delay (a death is drawn at its month's end)."""
    base = int(base)
    if base < 1:
        raise ValueError(f"rounded_events: base must be a positive integer, not {base}")
    if not bin_days > 0:
        raise ValueError(f"rounded_events: bin_days must be positive, not {bin_days}")
    keys, parts = [], []
    enter = events.entries  # period analysis: `_rounded_entries_group`
    for key, days, d, c, *e in events.groups(enter=enter):
        part = _rounded_entries_group(days, d, c, *e, base, bin_days) if enter else \
            _rounded_group(days, d, c, base, bin_days)
        keys.append((key, len(part[0])))
        parts.append(part)
    cols = {b: [k[i] for k, m in keys for _ in range(m)] for i, b in enumerate(events.by)}
    names = ["days", "n_event", "n_censor"] + (["n_enter"] if enter else [])
    if parts:
        arrays = [np.concatenate(x) for x in zip(*parts)]
    else:
        arrays = [np.zeros(0)] + [np.zeros(0, np.int64)] * (len(names) - 1)
    frame = pd.DataFrame({**{b: pd.Series(v, dtype=object) for b, v in cols.items()}, **dict(zip(names, arrays))})
    # intervals (bin_days = 1) stay intervals, for the life table
    out = EventTable(frame, events.by, events.n_selected, events.n_dco, events.notes, unit=events.unit)
    out.n_window = events.n_window
    return out


# ------------------------------------------------------------------------------------------------
# Kaplan-Meier
# ------------------------------------------------------------------------------------------------

def _ci(surv: np.ndarray, se: np.ndarray, conf_type: str, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of S from se = se(-log S), as survfit computes it."""
    s = np.asarray(surv, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            lower = np.exp(np.log(s) - z * se)
            upper = np.minimum(1.0, np.exp(np.log(s) + z * se))
        elif conf_type == "log-log":
            ok = (s > 0) & (s < 1)
            log_s = np.log(np.where(ok, s, 0.5))
            ll = np.log(-log_s)
            half = z * se / log_s
            lower = np.where(ok, np.exp(-np.exp(ll - half)), np.nan)
            upper = np.where(ok, np.exp(-np.exp(ll + half)), np.nan)
        elif conf_type == "plain":
            lower = np.clip(s - z * se * s, 0, 1)
            upper = np.clip(s + z * se * s, 0, 1)
        else:
            raise SelectionError(f"ci: '{conf_type}' is not one of {', '.join(CONF_TYPES)}")
    dead = (s == 0) | ~np.isfinite(se)
    lower = np.where(dead, np.nan, lower)
    upper = np.where(dead, np.nan, upper)
    return lower, upper


class KaplanMeier:
    """Product-limit estimator on an event table (distinct times, deaths, censorings).

    After `fit`, `table` holds one row per distinct time: time (years), n_at_risk, n_events,
    n_censored, survival, std_err (Greenwood, of -log S), lower, upper."""

    def __init__(self, conf_type: str = "log-log"):
        if conf_type not in CONF_TYPES:
            raise SelectionError(f"ci: '{conf_type}' is not one of {', '.join(CONF_TYPES)}")
        self.conf_type = conf_type
        self.arrays: dict[str, np.ndarray] = {}
        self._table: pd.DataFrame | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The step function as a frame (built on first use; the estimator works on arrays)."""
        if self._table is None:
            a = self.arrays
            self._table = pd.DataFrame({
                "time_years": a["t"], "n_at_risk": a["n"].astype(int), "n_events": a["d"].astype(int),
                "n_censored": a["c"].astype(int), "survival": a["surv"], "std_err": a["se"],
                "lower": a["lower"], "upper": a["upper"]})
        return self._table

    def fit(self, days, n_event, n_censor, n_enter=None) -> "KaplanMeier":
        """`n_enter` (left truncation, period analysis): those entering the risk set at each
        time, at risk after it (at risk at t = entry < t <= exit, as R's Surv(entry, exit, dead));
        times with entries only are no steps of the curve."""
        t = np.asarray(days, dtype=float) / DAYS_PER_YEAR
        d = np.asarray(n_event, dtype=float)
        c = np.asarray(n_censor, dtype=float)
        entries = None
        if n_enter is None:
            n = (d + c)[::-1].cumsum()[::-1]  # at risk: follow-up >= t
        else:
            e = np.asarray(n_enter, dtype=float)
            n = (d + c - e)[::-1].cumsum()[::-1]  # exit >= t minus entry >= t
            entries = (t[e > 0], e[e > 0])  # for risk_at: the risk set between exits
            leave = (d + c) > 0
            t, d, c, n = t[leave], d[leave], c[leave], n[leave]
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(1 - d / n)
            green = np.where(d > 0, d / (n * (n - d)), 0.0)
        se = np.sqrt(np.cumsum(green))
        # S and its se change only at death times: compute the CI there (and for "no death yet",
        # S = 1, se = 0) and carry it forward over censoring-only times. Same values, a fraction
        # of the logs and exps on a big table.
        deaths = np.flatnonzero(d > 0)
        lo, hi = _ci(np.append(1.0, surv[deaths]), np.append(0.0, se[deaths]), self.conf_type)
        step = np.cumsum(d > 0)  # index into (no death yet, first death time, ...)
        lower, upper = lo[step], hi[step]
        self.arrays = {"t": t, "n": n, "d": d, "c": c, "surv": surv, "se": se, "lower": lower, "upper": upper}
        self.entries = entries
        self._table = None
        return self

    #: Left truncation: (times in years, counts) of the entries, or None (everyone from time 0).
    entries: tuple[np.ndarray, np.ndarray] | None = None

    def risk_at(self, times) -> np.ndarray:
        """The risk set at each time t (years): those followed to t or later who entered before t,
        #(entry < t) - #(exit < t) (at t = 0, those entering at 0); without entries, follow-up >= t
        (as `at`). With entries this
        is not R's summary(fit, times)$n.risk (`at`: the risk set at the next exit, which counts
        whoever enters in between): the pages show and check this one."""
        x = np.atleast_1d(np.asarray(times, dtype=float))
        if self.entries is None:
            return self._at(x)["n_at_risk"].astype(np.int64)
        x = np.maximum(x, 1e-9)  # at time 0: those entering at 0 (no exit is at 0: exit > entry)
        a = self.arrays
        left = np.concatenate([[0], np.cumsum(a["d"] + a["c"])])[np.searchsorted(a["t"], x - 1e-12, side="left")]
        t_in, e_in = self.entries
        entered = np.concatenate([[0], np.cumsum(e_in)])[np.searchsorted(t_in, x - 1e-12, side="left")]
        return (entered - left).astype(np.int64)

    def fewest_at_risk(self, times) -> np.ndarray:
        """The smallest risk set a value at each time t rests on: that at t and those of every
        step up to t. Without entries risk sets only fall, so it is `risk_at`; with entries an
        early step can rest on few (the children diagnosed in the window) while later times have
        many: a value at t is then no better than its weakest step."""
        x = np.atleast_1d(np.asarray(times, dtype=float))
        now = self.risk_at(x)
        if self.entries is None or not len(self.arrays["t"]):
            return now
        k = np.searchsorted(self.arrays["t"], x + 1e-12, side="right") - 1  # last step <= t
        fewest = np.minimum.accumulate(self.arrays["n"])
        return np.where(k >= 0, np.minimum(now, fewest[np.maximum(k, 0)]), now).astype(np.int64)

    @property
    def n(self) -> int:
        """Subjects: each leaves once, by death or censoring (with left truncation the first
        risk set is not all of them)."""
        return int(self.arrays["d"].sum() + self.arrays["c"].sum())

    def at(self, times) -> pd.DataFrame:
        """Survival at the given times (years), as summary(fit, times, extend=TRUE): n at risk
        (follow-up >= t), S(t), its survival-scale standard error and CI."""
        return pd.DataFrame(self._at(times))

    def _at(self, times) -> dict[str, np.ndarray]:
        t = self.arrays["t"]
        x = np.atleast_1d(np.asarray(times, dtype=float))
        return self._values(x, np.searchsorted(t, x - 1e-12, side="left"),  # follow-up >= x
                            np.searchsorted(t, x + 1e-12, side="right") - 1)  # last time <= x

    def _values(self, x: np.ndarray, first: np.ndarray, k: np.ndarray) -> dict[str, np.ndarray]:
        """The columns of `_at` at times `x`: at risk = those leaving at or after row `first`;
        survival, its survival-scale standard error and CI at row `k` (1 and 1-1 before row 0).
        Shared by the life table (`analytics.lifetable`), which finds its rows by interval."""
        a = self.arrays
        if not len(a["t"]):  # no one: S = 1, none at risk
            one = np.ones(len(x))
            return {"time_years": x, "n_at_risk": np.zeros(len(x), int), "survival": one,
                    "std_err_surv": 0 * one, "lower": one, "upper": one}
        # the risk set at the first time at or after t (0 past the end), as R's summary(fit, times)
        at_risk = np.where(first < len(a["n"]), a["n"][np.minimum(first, len(a["n"]) - 1)], 0)
        before = k < 0
        kk = np.maximum(k, 0)
        surv = np.where(before, 1.0, a["surv"][kk])
        se = a["se"][kk]
        with np.errstate(invalid="ignore"):
            se_surv = np.where(before, 0.0, np.where(np.isfinite(se), surv * se, np.nan))
        return {"time_years": x, "n_at_risk": at_risk.astype(int), "survival": surv, "std_err_surv": se_surv,
                "lower": np.where(before, 1.0, a["lower"][kk]), "upper": np.where(before, 1.0, a["upper"][kk])}

    def median(self) -> tuple[float, float, float]:
        """(median, lower, upper) in years; NaN where not reached (R's quantile.survfit rule)."""
        a = self.arrays
        x = np.concatenate([[0.0], a["t"]])
        q = [_findq(x, np.concatenate([[0.0], 1 - a[col]]), 0.5) for col in ("surv", "lower", "upper")]
        return q[0], q[1], q[2]

    def rmst(self, tau: float) -> tuple[float, float]:
        """Restricted mean survival time to `tau` years and its standard error, as R's
        `summary(survfit(...), rmean = tau)$table` (`rmean`, `se(rmean)`): the area under the
        curve from 0 to tau; variance sum over death times t_i <= tau of A_i^2 d_i / (n_i (n_i -
        d_i)), A_i the area from t_i to tau (0 where n_i = d_i), with no n / (n - 1) factor.
        Computed here from the event table, not by lifelines (whose RMST variance is wrong:
        lifelines issue 1682)."""
        a = self.arrays
        keep = a["t"] <= tau
        t, s = a["t"][keep], a["surv"][keep]
        d, n = a["d"][keep], a["n"][keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            hh = np.where(n - d == 0, 0.0, d / (n * (n - d)))
        ends = np.append(t, tau)
        heights = np.concatenate([[1.0], s])  # S on [0, t_1), [t_1, t_2), ..., [t_k, tau]
        areas = np.diff(np.concatenate([[0.0], ends])) * heights
        after = np.cumsum(areas[::-1])[::-1][1:]  # area from each t_i to tau
        return float(areas.sum()), float(np.sqrt(np.sum(after ** 2 * hh)))

    def conditional(self, t: float, given: float) -> tuple[float, float, float]:
        """S(t | alive at `given`) = S(t) / S(given), with a CI of the same type from the
        Greenwood variance of the interval (given, t]. Years."""
        tab = self.table
        times = tab["time_years"].to_numpy()
        k1 = np.searchsorted(times, given + 1e-12, side="right") - 1
        k2 = np.searchsorted(times, t + 1e-12, side="right") - 1
        s1 = tab["survival"].iloc[k1] if k1 >= 0 else 1.0
        s2 = tab["survival"].iloc[k2] if k2 >= 0 else 1.0
        v1 = tab["std_err"].iloc[k1] ** 2 if k1 >= 0 else 0.0
        v2 = tab["std_err"].iloc[k2] ** 2 if k2 >= 0 else 0.0
        if s1 == 0:
            return (np.nan, np.nan, np.nan)
        s = s2 / s1
        lo, hi = _ci(np.array([s]), np.array([np.sqrt(max(v2 - v1, 0.0))]), self.conf_type)
        if s == 1:
            lo, hi = np.array([1.0]), np.array([1.0])
        return float(s), float(lo[0]), float(hi[0])


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = np.sqrt(np.finfo(float).eps)) -> float:
    """Time where the cumulative distribution y (= 1 - S) reaches p, as R's survival:::findq.
    x, y start with (0, 0); missing y values (CI undefined) are skipped as R's approx() does.

    R first drops repeated y values (duplicated(), NaN counting as one value). That never changes
    which time is found: the first index with y >= p is always a first occurrence. It only
    decides which value is last, for the "curve ends exactly at p" case (`_last_kept`)."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    valid = np.flatnonzero(~np.isnan(y))
    yv = y[valid]

    def index(shift: float) -> int | None:
        """approx(y + shift, 1:n, p, 'constant', f = 1): the smallest index whose value is >= p,
        missing when p lies outside the values' range."""
        yy = yv + shift
        if p < yy.min() or p > yy.max():
            return None
        return int(valid[np.argmax(yy >= p)])

    i1, i2 = index(tol), index(-tol)
    last = _last_kept(y, valid, yv)
    if not np.isnan(last) and abs(p - last) < tol:  # the curve ends exactly at p
        return (x[i1] + xmax) / 2 if i1 is not None else np.nan
    if i1 is None or i2 is None:
        return np.nan
    return (x[i1] + x[i2]) / 2


def _last_kept(y: np.ndarray, valid: np.ndarray, yv: np.ndarray) -> float:
    """The last value of y after R's duplicated() drops repeats: the value first seen last.
    `valid` are the positions of the non-missing values `yv`."""
    if np.all(yv[1:] >= yv[:-1]):  # non-decreasing, as 1 - S and its CI limits are in practice
        first_max = valid[np.argmax(yv)]  # where the largest value first appears
        missing = np.flatnonzero(np.isnan(y))
        return np.nan if len(missing) and missing[0] > first_max else float(yv.max())
    _, first = np.unique(y, return_index=True, equal_nan=True)
    return float(y[first.max()])


# ------------------------------------------------------------------------------------------------
# Results by group, with suppression
# ------------------------------------------------------------------------------------------------

@dataclass
class SurvivalResult:
    """Kaplan-Meier per group: step functions, survival at times, medians; notes and exclusions."""

    by: list[str]
    curves: dict[tuple, KaplanMeier]
    at_times: pd.DataFrame
    medians: pd.DataFrame
    n_selected: int
    n_dco: int
    suppressed: list[tuple]
    notes: list[str] = field(default_factory=list)

    def steps(self) -> pd.DataFrame:
        """The full step functions, one frame (by columns first)."""
        frames = [km.table.assign(**dict(zip(self.by, key))) for key, km in self.curves.items()]
        cols = self.by + ["time_years", "n_at_risk", "n_events", "n_censored", "survival", "lower", "upper"]
        return pd.concat(frames)[cols].reset_index(drop=True) if frames else pd.DataFrame(columns=cols)


def kaplan_meier(events: EventTable, times=(1, 3, 5, 10), conf_type: str = "log-log",
                 min_cases: int | None = None) -> SurvivalResult:
    """Kaplan-Meier per group of the event table; groups with fewer cases than the threshold are
    suppressed (no curve, no figures). An event table in completed months or years goes to the
    actuarial life table instead (`analytics.lifetable`): Kaplan-Meier needs days."""
    if events.unit != "day":
        from analytics.lifetable import actuarial

        return actuarial(events, times, conf_type, min_cases)
    return per_group(events, times, min_cases, estimator("day", conf_type), method_note("day", conf_type))


def method_note(unit: str, conf_type: str) -> str:
    """The sentence naming the observed-survival method of an event table in `unit` (Kaplan-Meier
    for days, else the actuarial life table), on pages, figures and the command line."""
    if unit != "day":
        from analytics.lifetable import method_note as life_table_note

        return life_table_note(unit, conf_type)
    return (f"Kaplan-Meier; 95% CI {conf_type} (Greenwood variance). Time from diagnosis in years "
            f"(days / 365.25); at risk at time t = follow-up of at least t.")


def estimator(unit: str, conf_type: str):
    """A maker of the estimator of an event table in `unit`: Kaplan-Meier for days, the actuarial
    life table (`analytics.lifetable`) for completed months or years."""
    if unit == "day":
        return lambda: KaplanMeier(conf_type)
    from analytics.lifetable import ActuarialTable
    from analytics.schema import FOLLOWUP_UNITS

    return lambda: ActuarialTable(FOLLOWUP_UNITS[unit], conf_type)


def per_group(events: EventTable, times, min_cases: int | None, estimator, method: str) -> SurvivalResult:
    """One estimator (`estimator()`: a new KaplanMeier or lifetable.ActuarialTable) fitted per
    group of the event table; groups with fewer cases than the threshold suppressed; `method`:
    the first note, naming the method."""
    n_min = min_cases or threshold()
    curves, at_parts, med_rows, suppressed = {}, [], [], []
    enter = events.entries
    for key, days, d, c, *e in events.groups(enter=enter):
        km = estimator().fit(days, d, c, *e)
        if km.n < n_min:
            suppressed.append(key)
            continue
        curves[key] = km
        at_parts.append(km._at(times) | {"n_in_window": np.full(len(np.atleast_1d(times)), km.n)})
        m, lo, hi = km.median()
        med_rows.append(dict(zip(events.by, key)) | {"n": km.n, "events": int(d.sum()),
                                                     "median": m, "median_lower": lo, "median_upper": hi})
    cols = events.by + ["time_years", "n_at_risk", "survival", "std_err_surv", "lower", "upper"]
    if events.entries:
        cols.append("n_in_window")
    n_t = len(np.atleast_1d(times))
    at = pd.DataFrame(
        {b: pd.Series([k[i] for k in curves]).repeat(n_t).to_numpy() for i, b in enumerate(events.by)}
        | {c: np.concatenate([p[c] for p in at_parts]) for c in cols[len(events.by):]},
        columns=cols) if at_parts else pd.DataFrame(columns=cols)
    med = pd.DataFrame(med_rows, columns=events.by + ["n", "events", "median", "median_lower", "median_upper"])
    notes = [
        method,
        f"{events.n_analysed:,} analysed of {events.n_selected:,} selected: {events.n_dco:,} "
        f"death-certificate-only registrations excluded (no survival time).",
    ]
    if events.n_window is not None:
        notes.append(f"{events.n_window:,} of the {events.n_analysed:,} analysed had follow-up inside the window "
                     f"(n_in_window); the others were followed up to before it or diagnosed after it.")
    if suppressed:
        notes.append(f"{len(suppressed)} group(s) with fewer than {n_min} cases suppressed.")
    notes += [str(n) for n in events.notes]  # exact counts: the command line
    return SurvivalResult(events.by, curves, at, med, events.n_selected, events.n_dco, suppressed, notes)


# ------------------------------------------------------------------------------------------------
# Log-rank
# ------------------------------------------------------------------------------------------------

def _logrank_parts(g: pd.DataFrame, group: str) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and variance matrix of one stratum (survdiff, rho = 0)."""
    levels = sorted(g[group].unique().tolist())
    wide = g.pivot_table(index="days", columns=group, values=["n_event", "n_censor"], aggfunc="sum",
                         fill_value=0).sort_index()
    d = wide["n_event"].reindex(columns=levels, fill_value=0).to_numpy(float)
    c = wide["n_censor"].reindex(columns=levels, fill_value=0).to_numpy(float)
    n = (d + c)[::-1].cumsum(axis=0)[::-1]  # at risk per group
    N, D = n.sum(axis=1), d.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(N[:, None] > 0, D[:, None] * n / N[:, None], 0.0)
        f = np.where(N > 1, D * (N - D) / (N * N * (N - 1)), 0.0)
    obs, exp = d.sum(axis=0), e.sum(axis=0)
    v = np.diag((f[:, None] * n * N[:, None]).sum(axis=0)) - (f[:, None, None] * n[:, :, None] * n[:, None, :]).sum(axis=0)
    return levels, obs, exp, v


def logrank(events: EventTable, group: str, strata: str | None = None) -> dict:
    """Log-rank test across the levels of `group` (optionally stratified by `strata`):
    chi-square, degrees of freedom, p, and observed/expected per level.

    Cases whose `group` or `strata` value is missing (an unknown stage, say) are left out, as
    R's survdiff leaves out missing values; `n_excluded` counts them. Where the variance matrix
    is singular (R's survdiff stops there too: for instance a level that only ever occurs alone
    in its strata) chi-square and p are missing and `reason` says why."""
    if events.unit != "day":
        raise SelectionError("the log-rank test needs follow-up in days, not completed intervals")
    t = events.table
    if group not in t.columns or (strata and strata not in t.columns):
        raise SelectionError("the event table is not broken down by the test's columns")
    missing = t[[group] + ([strata] if strata else [])].isna().any(axis=1).to_numpy()
    n_excluded = int((t["n_event"] + t["n_censor"]).to_numpy()[missing].sum())
    t = t[~missing]
    levels = sorted(t[group].unique().tolist())
    O, E, V = np.zeros(len(levels)), np.zeros(len(levels)), np.zeros((len(levels), len(levels)))
    out = {"chisq": np.nan, "df": 0, "p": np.nan, "levels": levels, "observed": O, "expected": E,
           "n_excluded": n_excluded, "reason": None}  # filled in place below, or returned with a reason
    if len(levels) < 2:
        return out | {"reason": "fewer than two groups to compare"}
    for _, g in (t.groupby(strata) if strata else [(None, t)]):
        lv, o, e, v = _logrank_parts(g, group)
        idx = [levels.index(x) for x in lv]
        O[idx] += o
        E[idx] += e
        V[np.ix_(idx, idx)] += v
    keep = np.flatnonzero(E > 0)
    if len(keep) < 2:
        return out | {"reason": "fewer than two groups with expected deaths"}
    k = keep[1:]
    diff = (O - E)[k]
    try:
        chisq = float(diff @ np.linalg.solve(V[np.ix_(k, k)], diff))
    except np.linalg.LinAlgError:
        return out | {"reason": "the variance matrix is singular (a group is never compared with another "
                                "within the same stratum)"}
    df = len(keep) - 1
    return out | {"chisq": chisq, "df": df, "p": float(stats.chi2.sf(chisq, df))}


# ------------------------------------------------------------------------------------------------
# Cox proportional hazards
# ------------------------------------------------------------------------------------------------

def design(df: pd.DataFrame, covariates: list[str], numeric: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """Dummy-code categorical covariates as COLUMN=LEVEL against the first level in natural order
    (`labels.order`: age groups by age, ICCC-3 groups by number; otherwise text order of the
    stored codes, R's factor default); numeric ones enter as linear terms."""
    cols, names = {}, []
    for c in covariates:
        if c in numeric:
            cols[c] = df[c].astype(float)
            names.append(c)
            continue
        levels = labels.order(c, df[c].dropna().unique().tolist())
        for lv in levels[1:]:
            name = f"{c}={lv}"
            cols[name] = (df[c] == lv).astype(float)
            names.append(name)
    return pd.DataFrame(cols, index=df.index), names


def cox_fit(df: pd.DataFrame, duration: str, event: str, covariates: list[str], numeric: set[str],
            strata: list[str] | None = None) -> pd.DataFrame:
    """Hazard ratios with Wald 95% CIs and p-values (lifelines, Efron ties, tight convergence).

    Rows with a missing covariate are dropped (as R's na.omit)."""
    from lifelines import CoxPHFitter

    data = df[[duration, event, *covariates, *(strata or [])]].dropna()
    if data.empty or data[event].sum() == 0:
        raise SelectionError(f"no cases with deaths and all of {', '.join(covariates)} known")
    X, names = design(data, covariates, numeric)
    if not names:
        raise SelectionError(f"{', '.join(covariates)} take(s) a single value in this selection: nothing to compare")
    fit_df = pd.concat([X, data[[duration, event, *(strata or [])]]], axis=1)
    cph = CoxPHFitter()
    try:
        cph.fit(fit_df, duration_col=duration, event_col=event, strata=strata or None,
                fit_options={"precision": 1e-12, "r_precision": 1e-15, "max_steps": 500})
    except Exception as e:  # lifelines: ConvergenceError, singular matrices on degenerate data
        raise SelectionError("the Cox model cannot be fitted on this selection: its estimates do not converge, "
                             "which happens when a covariate is fixed within another or when one level has no "
                             f"deaths; try fewer covariates ({type(e).__name__})") from None
    s = cph.summary
    out = pd.DataFrame({"term": names,
                        "hr": np.exp(s.loc[names, "coef"].to_numpy()),
                        "hr_lower": np.exp(s.loc[names, "coef"] - Z95 * s.loc[names, "se(coef)"]).to_numpy(),
                        "hr_upper": np.exp(s.loc[names, "coef"] + Z95 * s.loc[names, "se(coef)"]).to_numpy(),
                        "p": s.loc[names, "p"].to_numpy(),
                        "coef": s.loc[names, "coef"].to_numpy(), "se": s.loc[names, "se(coef)"].to_numpy()})
    out.attrs["model"] = cph
    out.attrs["reference"] = {c: labels.order(c, data[c].unique().tolist())[0] for c in covariates
                              if c not in numeric}
    out.attrs["n"], out.attrs["events"] = len(data), int(data[event].sum())
    return out


class _EfronCounts:
    """Efron's log partial likelihood, gradient and Hessian over grouped data: row k is a covariate
    pattern X[k] at follow-up time t[k] with d[k] deaths among n[k] people (deaths + censorings).
    The same sums as over the n[k] individual rows (identical rows enter every sum alike), so the
    estimate is that of the rows, ties and all.

    Vectorised over the distinct covariate patterns (P) and death times (J), set up once
    (`cox_patterns` builds the design matrix of the patterns only, not of every row). Two sparse
    J x P matrices hold the counts: M, the cases of pattern k whose follow-up ends between death
    times j and j + 1 (at risk up to death time j), and D, the deaths of pattern k at death time j.
    The risk-set sums at death time j are reverse cumulative sums over j of M @ (pattern weights),
    so nothing loops over rows or deaths in Python and memory grows with the counts, not with
    J x P. Efron's sum over the m-th of a time's d deaths (fraction f = m / d of the deaths' weight
    removed) reduces, per time, to the five sums of 1/den, f/den, 1/den^2, f/den^2 and f^2/den^2
    (one pass over all deaths with `np.bincount`), so the Hessian is a handful of sparse and
    J x p products. The linear predictor is shifted by its maximum (exp cannot overflow); the
    log-likelihood is corrected back (one shift per Efron term), so it is the rows' own. Counts
    must be whole numbers (`cox_patterns` checks)."""

    def __init__(self, pat: np.ndarray, pinv: np.ndarray, t: np.ndarray, d: np.ndarray, n: np.ndarray):
        """`pat`: the P covariate patterns (design rows); `pinv`: each row's pattern."""
        from scipy import sparse

        self.pat = pat
        dead = d > 0
        dt = np.unique(t[dead])  # the death times, ascending
        J, P = len(dt), len(pat)
        last = np.searchsorted(dt, t, side="right") - 1  # the last death time a row is at risk at
        risk = last >= 0  # rows ending before the first death are never in a risk set
        self.M = sparse.csr_matrix((n[risk], (last[risk], pinv[risk])), shape=(J, P))
        self.D = sparse.csr_matrix((d[dead], (np.searchsorted(dt, t[dead]), pinv[dead])), shape=(J, P))
        dj = np.asarray(self.D.sum(axis=1)).ravel()
        # one entry per death: its time index and Efron's fraction f = m / d_j, m = 0 .. d_j - 1
        counts = np.rint(dj).astype(np.int64)
        self.jj = np.repeat(np.arange(J), counts)
        m = np.arange(len(self.jj)) - np.repeat(np.cumsum(counts) - counts, counts)
        self.f = m / dj[self.jj]
        self.J = J
        self.deaths_by_pattern = np.asarray(self.D.sum(axis=0)).ravel()
        #: the patterns in some risk set: only they inform the estimates (`cox_patterns`)
        self.at_risk = np.asarray(self.M.sum(axis=0)).ravel() > 0

    def __call__(self, beta: np.ndarray):
        pat, M, D, jj, f, J = self.pat, self.M, self.D, self.jj, self.f, self.J
        eta = pat @ beta
        shift = eta.max()
        r = np.exp(eta - shift)
        rx = r[:, None] * pat
        S0 = (M @ r)[::-1].cumsum()[::-1]  # at risk at death time j: every later end counts
        S1 = (M @ rx)[::-1].cumsum(axis=0)[::-1]
        D0, D1 = D @ r, D @ rx
        den = S0[jj] - f * D0[jj]
        a, b = np.bincount(jj, 1 / den, J), np.bincount(jj, f / den, J)
        den2 = den ** 2
        c0, c1, c2 = np.bincount(jj, 1 / den2, J), np.bincount(jj, f / den2, J), np.bincount(jj, f * f / den2, J)
        if not (np.all(den > 0) and np.all(np.isfinite(den))):  # weights underflowed: a step too far
            return -np.inf, np.full(len(beta), np.nan), np.full((len(beta), len(beta)), np.nan)
        loglik = self.deaths_by_pattern @ eta - np.log(den).sum() - len(jj) * shift
        grad = self.deaths_by_pattern @ pat - (a @ S1 - b @ D1)
        # sum_j a_j S2_j - b_j D2_j per pattern: a pattern's cases ending after death time j are
        # in S2_j for every j up to their last, so they carry the cumulative sum of a
        w2 = (M.T @ np.cumsum(a) - D.T @ b) * r
        cross = S1.T @ (S1 * c0[:, None]) - S1.T @ (D1 * c1[:, None]) - D1.T @ (S1 * c1[:, None]) \
            + D1.T @ (D1 * c2[:, None])
        hess = -((pat * w2[:, None]).T @ pat - cross)
        return loglik, grad, hess


def cox_grouped(table: pd.DataFrame, time: str, deaths: str, censored: str, covariates: list[str],
                tol: float = 1e-12, max_steps: int = 100) -> pd.DataFrame:
    """Cox hazard ratios (Efron ties, Wald 95% CIs and p-values) from counts instead of rows:
    deaths and censorings per follow-up time and stratum (the survival events of aggregate
    submissions, `analytics.aggregate`, or the warehouse's rows grouped: `cox`), categorical
    covariates only. Equal to `cox_fit` on the rows the counts were made from
    (tests/test_aggregate.py, tests/test_survival.py); same columns as `cox_fit`."""
    data = table[[time, deaths, censored, *covariates]].dropna()
    data = data[(data[deaths] + data[censored]) > 0]
    if data.empty or data[deaths].sum() == 0:
        raise SelectionError(f"no cases with deaths and all of {', '.join(covariates)} known")
    # the covariate patterns (hashing the values, not sorting rows)
    pinv = data.groupby(covariates, sort=False).ngroup().to_numpy()
    first = np.unique(pinv, return_index=True)[1]
    d = data[deaths].to_numpy(dtype=float)
    return cox_patterns(data.iloc[first][covariates], pinv, data[time].to_numpy(dtype=float), d,
                        d + data[censored].to_numpy(dtype=float), covariates, tol, max_steps)


def cox_patterns(patterns: pd.DataFrame, pinv: np.ndarray, t: np.ndarray, d: np.ndarray, n: np.ndarray,
                 covariates: list[str], tol: float = 1e-12, max_steps: int = 100) -> pd.DataFrame:
    """`cox_grouped` on counts already coded by covariate pattern: `patterns` holds one row per
    pattern (its covariate values, none missing), and count row k is pattern pinv[k] at time t[k]
    with d[k] deaths among n[k] (whole numbers). The design matrix is built for the patterns only:
    every level occurs in some pattern, so the terms and reference levels are the rows' own.

    Refused (SelectionError, as lifelines refuses the rows) when the model cannot be estimated:
    a covariate fixed within another, or covariates that add up to a constant (the patterns in
    the risk sets, with a constant column, are not of full rank: Cox has no intercept), or
    estimates that do not converge. Newton-Raphson from 0 with step halving (as R's coxph), until
    the log-likelihood changes by less than `tol` of itself and no estimate moves by 1e-9; or the
    log-likelihood is flat for three steps while an estimate still moves: a level without deaths,
    whose estimate runs off to minus infinity (R's coxph warns "coefficient may be infinite"; the
    release layer hides such a term, it has fewer deaths than any threshold)."""
    ok = np.isfinite(t) & np.isfinite(d) & np.isfinite(n)
    pinv, t, d, n = pinv[ok], t[ok], d[ok], n[ok]
    if np.any(d != np.rint(d)) or np.any(n != np.rint(n)):
        raise ValueError("Cox from counts: deaths and cases must be whole numbers")
    X, names = design(patterns.reset_index(drop=True), covariates, set())
    if not names:
        raise SelectionError(f"{', '.join(covariates)} take(s) a single value in this selection: nothing to compare")
    refusal = ("the Cox model cannot be fitted on this selection: a covariate is fixed within another (an ICCC-3 "
               "subgroup within its main group, say), or two covariates determine each other, or its estimates "
               "do not converge; try fewer covariates")
    Xm = X.to_numpy(dtype=float)
    efron = _EfronCounts(Xm, pinv, t, d, n)
    seen = Xm[efron.at_risk]
    if np.linalg.matrix_rank(np.c_[np.ones(len(seen)), seen]) < len(names) + 1:
        raise SelectionError(refusal)
    beta = np.zeros(len(names))
    loglik, grad, hess = efron(beta)
    flat = 0
    moving = np.zeros(len(names), bool)
    for _ in range(max_steps):
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            raise SelectionError(refusal) from None
        if not np.all(np.isfinite(step)):
            raise SelectionError(refusal)
        step *= min(1.0, MAX_STEP / max(np.max(np.abs(step)), 1e-300))  # no leap past where exp() is exact
        new = beta + step
        new_ll, new_grad, new_hess = efron(new)
        halvings = 0
        # step halving (as R's coxph) when the likelihood falls by more than its rounding (a sum
        # over a million deaths is exact to about 1e-15 of itself: a halving for noise is a wasted
        # pass), or is not a number at all
        worse = lambda ll: not np.isfinite(ll) or ll < loglik - 1e-13 * max(1.0, abs(loglik))  # noqa: E731
        while worse(new_ll) and halvings < 30:
            step /= 2
            new = beta + step
            new_ll, new_grad, new_hess = efron(new)
            halvings += 1
        if worse(new_ll):  # no step along Newton's direction improves: the maximum, if the gradient says so
            if -grad @ np.linalg.solve(hess, grad) > 1e-8 * max(1.0, abs(loglik)):
                raise SelectionError(refusal)
            break
        flat = flat + 1 if abs(new_ll - loglik) <= tol * max(1.0, abs(new_ll)) else 0
        beta, loglik, grad, hess = new, new_ll, new_grad, new_hess
        # converged: the likelihood and the estimates settled; or the likelihood flat for three
        # steps while a coefficient still moves: its estimate is infinite (a level without
        # deaths runs off to minus infinity; one whose cases all die before anyone else's first
        # death, to plus infinity), as R's coxph warns, "coefficient may be infinite"
        if flat and np.max(np.abs(step)) < 1e-9:
            break
        if flat >= 3:
            moving = np.abs(step) > 1e-6
            break
    else:
        raise SelectionError(refusal)
    try:
        se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    except np.linalg.LinAlgError:
        raise SelectionError(refusal) from None
    if not np.all(np.isfinite(se)) or not np.all(np.isfinite(beta)):
        raise SelectionError(refusal)
    z = beta / se
    with np.errstate(over="ignore"):  # a level without deaths: its upper limit is infinite
        out = pd.DataFrame({"term": names, "hr": np.exp(beta), "hr_lower": np.exp(beta - Z95 * se),
                            "hr_upper": np.exp(beta + Z95 * se), "p": 2 * stats.norm.sf(np.abs(z)),
                            "coef": beta, "se": se})
    out.attrs["reference"] = {c: labels.order(c, patterns[c].unique().tolist())[0] for c in covariates}
    out.attrs["n"], out.attrs["events"] = int(n.sum()), int(d.sum())
    out.attrs["loglik"] = float(loglik)
    #: terms whose estimate is infinite (still moving when the likelihood stopped changing): no
    #: hazard ratio to show (the release layer hides them, and the command line says so)
    out.attrs["infinite"] = [t for t, m in zip(names, moving) if m]
    return out


#: The largest Newton step on any log hazard ratio (a hazard ratio of e^5 = 148 at a time): the
#: fit never jumps to where the weights exp(x beta) under- or overflow.
MAX_STEP = 5.0
NUMERIC_COVARIATES = {"age_years", "year"}
COX_COLUMNS = ["country", "registry", "iccc_main", "iccc_sub", "sex", "age_group", "age_band",
               "period", "stage", "age_years", "year"]


def drop_small_levels(df: pd.DataFrame, covariates: list[str], numeric: set[str],
                      min_level: int, weight: str | None = None) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """For the viewer's Cox model (docs/disclosure-control.md, section 4.3): the rows of every
    level of a categorical covariate with fewer than `min_level` cases (among rows with all
    covariates known) left out, repeatedly until every level left has at least `min_level`.
    `weight`: the column saying how many cases a row stands for (grouped rows), else one each.
    Returns the rows kept and the (covariate, level) pairs left out."""
    dropped = []
    while True:
        complete = df[covariates].notna().all(axis=1)
        for c in covariates:
            if c in numeric:
                continue
            counts = df.loc[complete].groupby(c)[weight].sum() if weight else df.loc[complete, c].value_counts()
            small = sorted(counts[counts < min_level].index.tolist())
            if small:
                dropped += [(c, lv) for lv in small]
                df = df[~df[c].isin(small)]
                break
        else:
            return df, dropped


def cox_level_events(df: pd.DataFrame, covariates: list[str], numeric: set[str], event: str = "event",
                     key: str | None = None, event_key: str | None = None) -> dict:
    """What the viewer's release layer needs besides a `cox_fit` result on `df`: the deaths of
    each term's level (`term_events`, by term name as `design` names it) and of each categorical
    covariate's reference level (`reference_events`), among the rows the model uses (all
    covariates known); with `key`, the record-key sums (mod 2**32) of those rows (`key`) and of
    their deaths (`events_key`). Grouped rows (`event` a count of deaths): `key` holds each
    row's key sum and `event_key` that of its deaths."""
    data = df.dropna(subset=list(covariates))
    out = {"term_events": {}, "reference_events": {}}
    for c in covariates:
        if c in numeric:
            continue
        deaths = data.groupby(c)[event].sum()
        levels = labels.order(c, data[c].unique().tolist())  # as `design`: the first is the reference
        if not levels:
            continue
        out["reference_events"][c] = int(deaths[levels[0]])
        out["term_events"].update({f"{c}={lv}": int(deaths[lv]) for lv in levels[1:]})
    if key:
        k = data[key].astype("int64")
        out["key"] = int(k.sum() % 2 ** 32)
        dead = data[event_key].astype("int64") if event_key else k[data[event] == 1]
        out["events_key"] = int(dead.sum() % 2 ** 32)
    return out


def cox(con: duckdb.DuckDBPyConnection, selection: Selection | None, covariates: list[str],
        min_cases: int | None = None, max_terms: int | None = None, min_level: int | None = None,
        keys: bool = False) -> pd.DataFrame:
    """Cox model on the selected cases (DCO excluded): one row per term. With `max_terms`, a model
    with more terms (dummies) than that is refused with the count, before any fitting.

    With categorical covariates only (the pages' models), the partial likelihood needs only the
    deaths and numbers at risk per covariate pattern and day: DuckDB groups the rows by
    (covariates, follow-up day) and `cox_patterns` fits those counts, exactly (Efron ties
    included; tests/test_survival.py checks it against lifelines on the rows, itself checked
    against R's coxph), without millions of rows in Python. A numeric covariate (age_years, year) takes the rows and lifelines (`cox_fit`).
    `attrs["ph"]()` computes the proportional-hazards check (`ph_test`), which needs the rows: it
    reads them when called, so the model itself holds only the counts.

    For the viewer's release layer (both off by default): `min_level` leaves out the levels with
    fewer cases (`drop_small_levels`; listed in `attrs["dropped_levels"]`), and `keys` adds the
    record-key sums of the model's rows and deaths; either adds `cox_level_events` to `attrs`."""
    selection = selection or Selection()
    covariates = check_by(list(covariates), COX_COLUMNS)
    if not covariates:
        raise SelectionError("name at least one covariate")
    from analytics import pooled  # the rows, and the children of aggregate partners' survival events

    grouped = not NUMERIC_COVARIATES & set(covariates)
    source, params = pooled.followup_rows_sql(selection, covariates)  # the selection applied inside
    cols = ", ".join(covariates)

    def rows() -> pd.DataFrame:
        from analytics.snapshots import cursor

        with cursor(con) as cur:  # its own cursor: `ph` may run later, from another session
            df = cur.execute(f"SELECT followup_days, event, {cols}{', record_key' if keys else ''} FROM {source}",
                             params).df()
        for c in covariates:
            if c not in NUMERIC_COVARIATES:
                df[c] = df[c].astype(str).where(df[c].notna())
        return df

    if grouped:  # one row per covariate pattern (`df`), and the counts per pattern and day
        df, (pinv, t, d, n) = pattern_counts(con, source, params, covariates, keys)
        n_cases = int(df["n"].sum())
    else:
        df = rows()
        n_cases = len(df)
    notes = pooled.left_out(con, "agg_survival_events", selection, covariates, what="the Cox model")
    n_min = min_cases or threshold()
    if n_cases < n_min or df["event"].sum() == 0:
        raise SelectionError(f"too few cases or no deaths for a Cox model (n = {n_cases})")
    dropped = []
    if min_level:
        df, dropped = drop_small_levels(df, covariates, NUMERIC_COVARIATES, min_level, weight="n" if grouped else None)
    levels = {c: 1 if c in NUMERIC_COVARIATES else df[c].nunique() - 1 for c in covariates}
    if max_terms is not None and sum(levels.values()) > max_terms:
        many = ", ".join(f"{c} {n + 1} levels" for c, n in levels.items() if n > 1)
        raise SelectionError(f"the model would have {sum(levels.values())} terms, more than {max_terms} "
                             f"({many}): choose fewer covariates or a narrower selection")
    if grouped:
        res = fit_patterns(df, (pinv, t, d, n), covariates)

        def ph() -> pd.DataFrame:  # the model's rows: the selection's, without the levels left out
            r = rows()
            for c, level in dropped:
                r = r[r[c] != level]
            if r[covariates].notna().all(axis=1).sum() != res.attrs["n"]:  # the counts' rows, or a bug
                raise RuntimeError("the proportional-hazards check read other rows than the model's counts")
            return ph_test(r, "followup_days", "event", covariates, NUMERIC_COVARIATES, hr=res)
        res.attrs["ph"] = ph
    else:
        res = cox_fit(df, "followup_days", "event", covariates, NUMERIC_COVARIATES)
        res.attrs["ph"] = lambda: ph_test(df, "followup_days", "event", covariates, NUMERIC_COVARIATES, hr=res)
    res.attrs["notes"] = notes
    if min_level or keys:
        res.attrs["dropped_levels"] = dropped
        res.attrs.update(cox_level_events(df, covariates, NUMERIC_COVARIATES, "event", "record_key" if keys else None,
                                          "event_key" if keys and grouped else None))
    return res


def pattern_counts(con: duckdb.DuckDBPyConnection, source: str, params: dict, covariates: list[str],
                   keys: bool) -> tuple[pd.DataFrame, tuple[np.ndarray, ...]]:
    """The selection's rows (`source`) as counts for `cox_patterns`: one aggregate query per
    (covariates, follow-up day), read as Arrow; the covariate patterns coded in numpy. Returns the
    patterns (covariate values as text, missing as NaN; `n` cases, `event` deaths and, with
    `keys`, the record-key sums mod 2**32 of the cases, `record_key`, and of the deaths,
    `event_key`: what `drop_small_levels` and `cox_level_events` read), and per count row its
    pattern, day, deaths and cases."""
    from analytics.disclosure import KEY_MODULUS
    from analytics.snapshots import cursor

    m = KEY_MODULUS
    key_cols = (f", CAST(sum(record_key) % {m} AS BIGINT) AS record_key, "
                f"CAST(coalesce(sum(record_key) FILTER (WHERE event = 1), 0) % {m} AS BIGINT) AS event_key"
                if keys else "")
    with cursor(con) as cur:
        # covariates as text in SQL, as the rows path writes them (an integer column with a missing
        # value would come out of Arrow as floats: '1.0', not '1')
        text = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in covariates)
        a = cur.sql(f"""SELECT {text}, followup_days, CAST(sum(event) AS BIGINT) AS event,
                               CAST(count(*) AS BIGINT) AS n{key_cols}
                        FROM {source} GROUP BY ALL""", params=params).to_arrow_table()
    _, first, pinv = np.unique(_group_codes(a, covariates), return_index=True, return_inverse=True)
    pinv = pinv.reshape(-1)
    patterns = a.take(first).select(covariates).to_pandas()
    for c in covariates:
        patterns[c] = patterns[c].where(patterns[c].notna())  # missing as NaN, as the rows path
    col = {c: a.column(c).to_numpy(zero_copy_only=False).astype(float) for c in a.column_names[len(covariates):]}
    size = len(first)
    # per pattern: float sums are exact here (a pattern has at most a few thousand days of counts < 2**32)
    patterns["n"] = np.bincount(pinv, col["n"], size).astype(np.int64)
    patterns["event"] = np.bincount(pinv, col["event"], size).astype(np.int64)
    if keys:
        for k in ("record_key", "event_key"):
            patterns[k] = (np.bincount(pinv, col[k], size).astype(np.int64) % m)
    return patterns, (pinv, col["followup_days"], col["event"], col["n"])


def fit_patterns(patterns: pd.DataFrame, counts: tuple[np.ndarray, ...], covariates: list[str]) -> pd.DataFrame:
    """`cox_patterns` on the patterns of `pattern_counts` that are still in `patterns` (levels
    left out by `drop_small_levels` are not) and have every covariate known; `counts`: its
    (pattern, day, deaths, cases) arrays, the pattern being the patterns' index."""
    pinv, t, d, n = counts
    fitted = patterns.dropna(subset=covariates)
    if fitted["event"].sum() == 0:
        raise SelectionError(f"no cases with deaths and all of {', '.join(covariates)} known")
    code = np.full(int(pinv.max()) + 1, -1)  # pattern -> its place in `fitted` (-1: not fitted)
    code[fitted.index.to_numpy()] = np.arange(len(fitted))
    keep = code[pinv] >= 0
    return cox_patterns(fitted[covariates], code[pinv][keep], t[keep], d[keep], n[keep], covariates)


def at_risk_table(result: SurvivalResult, ticks, min_shown: int | None = None) -> pd.DataFrame:
    """Numbers at risk (follow-up >= t; in a period analysis, entered before t and followed to t:
    `KaplanMeier.risk_at`) per group at the axis ticks (years), for the table under a survival
    plot. Counts below the suppression threshold are shown as missing."""
    n_min = min_shown or threshold()
    ticks = np.atleast_1d(np.asarray(ticks, dtype=float))
    rows = []
    for key, km in result.curves.items():
        for t, n in zip(ticks, km.risk_at(ticks)):
            rows.append(dict(zip(result.by, key)) | {"time_years": t, "n_at_risk": n if n >= n_min or n == 0 else None})
    df = pd.DataFrame(rows, columns=result.by + ["time_years", "n_at_risk"])
    df["n_at_risk"] = df["n_at_risk"].astype("Int64")
    return df


def truncate(km: KaplanMeier, min_at_risk: int = 10) -> pd.DataFrame:
    """The step function up to the last time with at least `min_at_risk` subjects at risk."""
    tab = km.table
    low = np.flatnonzero(tab["n_at_risk"].to_numpy() < min_at_risk)
    return tab if not len(low) else tab.iloc[: low[0]]


AGE_BANDS = ["0-4", "5-9", "10-14", "15-19"]
STANDARD_WEIGHTS = {"cohort": "the pooled cohort's age distribution", "equal": "equal weights (an equal share per age band)"}


def age_standardised(events: EventTable, times=(1, 3, 5, 10), weights: str = "cohort",
                     conf_type: str = "log-log", min_cases: int | None = None) -> pd.DataFrame:
    """Age-standardised survival at `times`: sum_b w_b S_b(t) over the bands 0-4 .. 15-19, with
    variance sum_b w_b^2 Var S_b(t) (Greenwood) and a CI of `conf_type` on that variance.

    `events` must be broken down by age_band (last) and any grouping columns before it. Weights:
    'cohort' = each band's share of all analysed cases in the selection (the same weights for
    every group, so groups are comparable); 'equal' = 1/4 each. A group missing a band, or with
    fewer cases than the threshold, gets no estimate."""
    if "age_band" not in events.by or events.by[-1] != "age_band":
        raise SelectionError("age-standardised survival needs an event table broken down by age_band (last)")
    if weights not in STANDARD_WEIGHTS:
        raise SelectionError(f"weights: '{weights}' is not one of {', '.join(STANDARD_WEIGHTS)}")
    groups = events.by[:-1]
    t = events.table
    n_band = (t.groupby("age_band")[["n_event", "n_censor"]].sum().sum(axis=1)).reindex(AGE_BANDS, fill_value=0)
    w = (n_band / n_band.sum()) if weights == "cohort" else pd.Series(0.25, index=AGE_BANDS)
    n_min = min_cases or threshold()
    rows = []
    for key, g in (t.groupby(groups, sort=False, dropna=False) if groups else [((), t)]):
        key = key if isinstance(key, tuple) else (key,)
        s = np.zeros(len(times))
        var = np.zeros(len(times))
        ok = g["n_event"].sum() + g["n_censor"].sum() >= n_min
        for band in AGE_BANDS:
            gb = g[g["age_band"] == band]
            if gb.empty:
                ok = False
                break
            enter = [gb["n_enter"]] if events.entries else []  # period analysis: left truncation
            at = estimator(events.unit, conf_type)().fit(gb["days"], gb["n_event"], gb["n_censor"], *enter).at(times)
            s += w[band] * at["survival"].to_numpy()
            var += w[band] ** 2 * at["std_err_surv"].fillna(0).to_numpy() ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            se_log = np.sqrt(var) / s
        lower, upper = _ci(s, se_log, conf_type) if ok else (np.full(len(times), np.nan),) * 2
        for i, x in enumerate(times):
            rows.append(dict(zip(groups, key)) | {
                "time_years": float(x), "survival": s[i] if ok else np.nan,
                "lower": lower[i] if ok else np.nan, "upper": upper[i] if ok else np.nan,
                "suppressed": not ok})
    out = pd.DataFrame(rows, columns=groups + ["time_years", "survival", "lower", "upper", "suppressed"])
    out.attrs["weights"] = {b: float(w[b]) for b in AGE_BANDS}
    out.attrs["weights_label"] = STANDARD_WEIGHTS[weights]
    return sort_rows(out, groups + ["time_years"]) if groups else out


def rmst(result: SurvivalResult, tau: float) -> pd.DataFrame:
    """Restricted mean survival time to `tau` years per group of a Kaplan-Meier result
    (`KaplanMeier.rmst`): by columns, tau_years, rmst_years, std_err, lower, upper (95%, rmst
    -/+ z se). The life table has none (its curve is known at interval ends only)."""
    rows = []
    for key, km in result.curves.items():
        m, se = km.rmst(tau)
        rows.append(dict(zip(result.by, key)) | {"tau_years": float(tau), "rmst_years": m, "std_err": se,
                                                  "lower": m - Z95 * se, "upper": m + Z95 * se})
    return pd.DataFrame(rows, columns=result.by + ["tau_years", "rmst_years", "std_err", "lower", "upper"])


def median_followup(events: EventTable, min_cases: int | None = None) -> pd.DataFrame:
    """Median follow-up (years) per group by the reverse Kaplan-Meier method (Schemper & Smith
    1996): the Kaplan-Meier curve with the roles swapped (a censoring is the 'event', a death
    censors follow-up), its median and 95% log-log CI by R's quantile rule, as R's
    `quantile(survfit(Surv(t, 1 - dead) ~ 1, conf.type = "log-log"), 0.5)`. Groups with fewer
    cases than the threshold are left out. Columns: by, n, median_followup_years, lower, upper.

    An event table in completed months or years (`events.unit`) gets the reverse actuarial life
    table instead (`analytics.lifetable`: its median interpolated within the interval), so that a
    pool with a partner who sent months has one definition for every country."""
    n_min = min_cases or threshold()
    reverse = estimator(events.unit, "log-log")
    rows = []
    for key, days, d, c in events.groups():
        rev = reverse().fit(days, c, d)  # censorings are the events of follow-up
        if rev.n < n_min:
            continue
        m, lo, hi = rev.median()
        rows.append(dict(zip(events.by, key)) | {"n": rev.n, "median_followup_years": m, "lower": lo, "upper": hi})
    return pd.DataFrame(rows, columns=events.by + ["n", "median_followup_years", "lower", "upper"])


def conditional_table(result: SurvivalResult, pairs=((5, 1), (10, 5))) -> pd.DataFrame:
    """Conditional survival S(t | alive at s) per group for (t, s) pairs (Kaplan-Meier curves)."""
    rows = []
    for key, km in result.curves.items():
        for t, given in pairs:
            s, lo, hi = km.conditional(t, given)
            rows.append(dict(zip(result.by, key)) | {"years": t, "given_alive_at": given,
                                                     "survival": s, "lower": lo, "upper": hi})
    return pd.DataFrame(rows, columns=result.by + ["years", "given_alive_at", "survival", "lower", "upper"])



def ph_test(df: pd.DataFrame, duration: str, event: str, covariates: list[str], numeric: set[str],
            hr: pd.DataFrame | None = None) -> pd.DataFrame:
    """Proportional-hazards check, as R's survival 3.x `cox.zph(fit, transform = "km")`: a score
    test, at the fitted coefficients, for adding each covariate times g(t) to the model, where
    g(t) = 1 - KM(t-) (the left-continuous Kaplan-Meier of all subjects), centred on its mean over
    the deaths; Efron ties. One row per term (a categorical covariate is one term with one degree
    of freedom per dummy) plus GLOBAL. `hr` is a `cox_fit` result on the same data (fitted here
    when omitted). Checked against R's cox.zph in tests/test_survival.py."""
    hr = hr if hr is not None else cox_fit(df, duration, event, covariates, numeric)
    data = df[[duration, event, *covariates]].dropna()
    X, names = design(data, covariates, numeric)
    X = X[hr["term"].tolist()].to_numpy(float)
    beta = hr["coef"].to_numpy(float)
    time = data[duration].to_numpy(float)
    dead = data[event].to_numpy(int) == 1
    n, p = X.shape

    # g(t) for each subject's time: 1 - KM(t-) of everybody, centred on the mean over deaths
    ut, inv = np.unique(time, return_inverse=True)
    d_t = np.bincount(inv, weights=dead, minlength=len(ut))
    n_t = np.bincount(inv, minlength=len(ut))[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        km = np.cumprod(1 - d_t / n_t)
    km_before = np.concatenate([[1.0], km[:-1]])  # S(t-)
    g_subject = 1 - km_before[inv]
    g_subject = g_subject - g_subject[dead].mean()

    eta = X @ beta
    w = np.exp(eta - eta.max())  # rescaling cancels in every ratio below
    g_time = np.zeros(len(ut))
    g_time[inv[dead]] = g_subject[dead]

    # Walk the distinct times from the last to the first, keeping the risk-set sums over subjects
    # with time >= t (S0, S1, S2 = sums of w, w x, w x x'): memory p x p, not n x p x p.
    order = np.argsort(inv, kind="stable")
    start = np.searchsorted(inv[order], np.arange(len(ut) + 1))
    s0, s1, s2 = 0.0, np.zeros(p), np.zeros((p, p))
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    for k in range(len(ut) - 1, -1, -1):
        rows_k = order[start[k]:start[k + 1]]
        xk, wk = X[rows_k], w[rows_k]
        s0 += wk.sum()
        s1 += wk @ xk
        s2 += (xk * wk[:, None]).T @ xk
        if d_t[k] == 0:
            continue
        dead_k = dead[rows_k]
        xd, wd = xk[dead_k], wk[dead_k]
        dw, dx, dxx = wd.sum(), wd @ xd, (xd * wd[:, None]).T @ xd
        # Efron: the tied deaths leave the risk set in equal fractions f = r / d, r = 0..d-1;
        # sum over r of v_r = a2_r - a1_r a1_r', with a0 = S0 - f dw, a1 = (S1 - f dx) / a0 and
        # a2 = (S2 - f dxx) / a0, written with scalar sums over r.
        dk = int(d_t[k])
        f = np.arange(dk) / dk
        a0 = s0 - f * dw
        c1, c2 = (1 / a0).sum(), (f / a0).sum()
        e1, e2, e3 = (1 / a0 ** 2).sum(), (f / a0 ** 2).sum(), (f ** 2 / a0 ** 2).sum()
        cross = np.outer(s1, dx)
        v = s2 * c1 - dxx * c2 - (np.outer(s1, s1) * e1 - (cross + cross.T) * e2 + np.outer(dx, dx) * e3)
        g = g_time[k]
        imat[:p, :p] += v
        imat[:p, p:] += v * g
        imat[p:, :p] += v * g
        imat[p:, p:] += v * g * g
        u[p:] += g * (xd.sum(axis=0) - (s1 * c1 - dx * c2))
    # terms: the dummies of one categorical covariate together
    term_of = [nm.split("=", 1)[0] for nm in hr["term"]]
    rows = []
    for term in dict.fromkeys(term_of):
        jj = [i for i, t in enumerate(term_of) if t == term]
        kk = list(range(p)) + [p + j for j in jj]
        uu = np.concatenate([np.zeros(p), u[[p + j for j in jj]]])
        stat = float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        rows.append({"term": term, "chisq": stat, "df": len(jj), "p": float(stats.chi2.sf(stat, len(jj)))})
    uu = np.concatenate([np.zeros(p), u[p:]])
    stat = float(np.linalg.solve(imat, uu) @ uu)
    rows.append({"term": "GLOBAL", "chisq": stat, "df": p, "p": float(stats.chi2.sf(stat, p))})
    return pd.DataFrame(rows)
