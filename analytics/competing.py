"""Cumulative incidence with competing risks (issue 15, item 2): the probability of having died of
the cancer by a time, when deaths from other causes (late effects, second cancers, accidents)
compete; and Gray's test comparing it between groups.

Why not 1 - Kaplan-Meier on cancer deaths: that treats children who died of something else as if
they could still die of the cancer, and overstates it. The Aalen-Johansen estimator counts each
cause's deaths against the overall survival just before them, so the causes' curves add up to
1 - overall survival.

Computed as R's cmprsk 2.2 computes it (`cuminc`, `timepoints`; Gray 1988), checked against it
(tests/fixtures/survival/make_competing_reference.R), from an event table per group, cause and
day (no rows in Python):

* Causes: 1 the cancer (including its treatment), 2 another cause, 9 unknown (`schema.
  CAUSE_OF_DEATH`); an unknown cause is a third competing cause, never dropped. Censored: alive
  at the last contact. Death-certificate-only registrations have no survival time: left out.
* At each distinct time t with deaths, with n at risk (follow-up >= t), d_k deaths of cause k and
  d all deaths, and S(t-) the Kaplan-Meier overall survival just before t:
  F_k(t) = F_k(t-) + S(t-) d_k / n.
* Variance: cmprsk's delta-method formula (Gray's `cinc`), with its tie correction
  1 - (d - 1) / (n - 1) for d tied deaths of a kind; see `_cinc`.
* At a time t: the estimate and variance at the last death of that cause at or before t (0 before
  the first); missing after the group's last follow-up time (as `timepoints`). 95% CI on the
  log(-log) scale, as the Kaplan-Meier CIs here: F^exp(+/- z se / (F log F)).
* Gray's test per cause (rho = 0, no strata): the score and its variance of Gray's `crstm`,
  statistic s' V^-1 s, chi-square on (groups - 1) degrees of freedom; missing when V is singular
  (R prints -1 there).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics.filters import Selection, SelectionError, check_by, sort_rows
from analytics.suppression import threshold
from analytics.survival import BY_COLUMNS, DAYS_PER_YEAR, Z95, group_order

#: Cause codes (as stored: `cases.cause_of_death`) and the names the outputs print.
CAUSES = {1: "cancer", 2: "other", 9: "unknown"}
#: Why tables of aggregate partners cannot join: they carry no cause of death.
NEEDS_CAUSE = "cumulative incidence by cause needs each death's cause, which tables of counts do not carry"
_COUNTS = [f"n_{name}" for name in CAUSES.values()]


@dataclass
class CauseTable:
    """Deaths by cause and censorings per distinct follow-up day (days), per group of `by`:
    columns the `by` columns, days, n_cancer, n_other, n_unknown, n_censor."""

    table: pd.DataFrame
    by: list[str]
    n_selected: int
    n_dco: int
    notes: list = field(default_factory=list)

    @property
    def n_analysed(self) -> int:
        return self.n_selected - self.n_dco

    def groups(self):
        """(key tuple, frame in time order) per group in display order."""
        t = self.table
        if not self.by:
            if len(t):
                yield (), t.sort_values("days")
            return
        if not len(t):
            return
        order, starts, first = group_order(t, self.by, t["days"].to_numpy())  # one row per group and day
        bounds = np.append(starts, len(t))
        keys = list(first.itertuples(index=False, name=None))
        for i in sort_rows(first.assign(_i=range(len(first))), self.by)["_i"]:
            yield keys[i], t.iloc[order[bounds[i]:bounds[i + 1]]]


def cause_table(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by=(),
                keys: bool = False, engine=None) -> CauseTable:
    """One aggregate query over `cases`: per group and follow-up day, deaths of each cause and
    censorings (DCO counted, then left out). Aggregate partners' tables carry no cause: their
    tumours are left out, and the notes say whose (`pooled.left_out`). With `keys`, each row
    also holds the record-key sums (mod 2**32) of its tumours (`key`) and of its deaths of each
    cause (`key_cancer` ...), for the release layer. `engine`: where the aggregate runs
    (`analytics.engine`; default DuckDB on `con`)."""
    from analytics import engine as engines
    from analytics import pooled
    from analytics.disclosure import KEY_MODULUS
    from analytics.warehouse import cause_of_death_sql

    selection = selection or Selection()
    by = check_by(list(by), BY_COLUMNS)
    where, params = selection.where()
    cols = "".join(f"{b}, " for b in by)
    cause = cause_of_death_sql(con)
    counts = ", ".join(f"CAST(count(*) FILTER (WHERE event = 1 AND {cause} = {code}) AS BIGINT) AS n_{name}"
                       for code, name in CAUSES.items())
    m = KEY_MODULUS
    key_cols = (f", CAST(sum(record_key) % {m} AS BIGINT) AS key, "
                + ", ".join(f"CAST(coalesce(sum(record_key) FILTER (WHERE event = 1 AND {cause} = {code}), 0) % {m} "
                            f"AS BIGINT) AS key_{name}" for code, name in CAUSES.items())) if keys else ""
    t = engines.of(con, engine).df(f"""
        SELECT {cols}followup_days AS days, {counts},
               CAST(count(*) FILTER (WHERE event = 0) AS BIGINT) AS n_censor, dco
               {key_cols}
        FROM cases WHERE {where} GROUP BY ALL""", params)
    n = t[[*_COUNTS, "n_censor"]].sum(axis=1)
    n_sel, n_dco = int(n.sum()), int(n[t["dco"]].sum())
    t = t[~t["dco"]].drop(columns="dco").reset_index(drop=True)
    notes = pooled.left_out(con, "agg_survival_events", selection, by, needs=NEEDS_CAUSE)
    return CauseTable(t, by, n_sel, n_dco, notes)


def cause_table_from_rows(df: pd.DataFrame, days: str, cause: str, by=()) -> CauseTable:
    """The same table from rows (`cause`: 0 censored, else a code of `CAUSES`): tests, and data
    that is not in a warehouse."""
    d = df.assign(**{f"n_{name}": (df[cause] == code).astype(int) for code, name in CAUSES.items()},
                  n_censor=(df[cause] == 0).astype(int))
    t = d.groupby(list(by) + [days], dropna=False)[[*_COUNTS, "n_censor"]].sum().reset_index()
    return CauseTable(t.rename(columns={days: "days"}), list(by), len(df), 0)


def _cinc(n: np.ndarray, d_k: np.ndarray, d_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incidence of one cause and its variance at each distinct time (rows: times in
    order; n at risk, deaths of the cause, deaths of any cause), as Gray's `cinc`: F jumps by
    S(t-) d_k / n; the variance accumulates v1, v2, v3 over the times with deaths of another cause
    (terms in F / S(t)) and of this cause (terms in 1 + F / S(t)), each term times the tie
    correction 1 - (m - 1) / (n - 1) for m tied deaths, and is v1 + F^2 v3 - 2 F v2. Only its
    values at this cause's deaths are read (`timepoints`)."""
    n, d_k, d_all = (np.asarray(a, dtype=float) for a in (n, d_k, d_all))
    with np.errstate(divide="ignore", invalid="ignore"):
        s_after = np.cumprod(np.where(n > 0, 1 - d_all / n, 1.0))
        s_before = np.concatenate([[1.0], s_after[:-1]])
        f = np.cumsum(np.where(n > 0, s_before * d_k / n, 0.0))
        d_o = d_all - d_k

        def tie(m):
            return np.where(m > 1, 1 - (m - 1) / (n - 1), 1.0)

        inv = np.where(s_after > 0, 1 / s_after, 0.0)
        w_o = np.where((d_o > 0) & (s_after > 0), s_before ** 2 * tie(d_o) * d_o / n ** 2, 0.0)
        w_k = np.where(d_k > 0, s_before ** 2 * tie(d_k) * d_k / n ** 2, 0.0)
        t4_o, t4_k = f * inv, 1 + inv * f
        v1 = np.cumsum(t4_o ** 2 * w_o + t4_k ** 2 * w_k)
        v2 = np.cumsum(inv * t4_o * w_o + inv * t4_k * w_k)
        v3 = np.cumsum(inv ** 2 * (w_o + w_k))
    return f, v1 + f ** 2 * v3 - 2 * f * v2


class CumulativeIncidence:
    """Aalen-Johansen cumulative incidence of each cause for one group (module docstring).

    After `fit`, `curves[name]` holds the step function at that cause's deaths: time_years, cif,
    variance (as cmprsk's `cuminc`), and `last_years` is the group's last follow-up time."""

    def __init__(self):
        self.curves: dict[str, pd.DataFrame] = {}
        self.risk = pd.DataFrame(columns=["time_years", "n_at_risk"])
        self.last_years = np.nan
        self.n = 0

    def fit(self, days, deaths: dict[str, np.ndarray], censored) -> "CumulativeIncidence":
        days = np.asarray(days, dtype=float)
        c = np.asarray(censored, dtype=float)
        d_all = sum(np.asarray(v, dtype=float) for v in deaths.values())
        n = (d_all + c)[::-1].cumsum()[::-1]
        self.n = int(n[0]) if len(n) else 0
        self.last_years = days[-1] / DAYS_PER_YEAR if len(days) else np.nan
        self.risk = pd.DataFrame({"time_years": days / DAYS_PER_YEAR, "n_at_risk": n})
        for name, d_k in deaths.items():
            f, var = _cinc(n, d_k, d_all)
            at = np.asarray(d_k) > 0
            self.curves[name] = pd.DataFrame({"time_years": days[at] / DAYS_PER_YEAR, "cif": f[at], "variance": var[at],
                                              "n_at_risk": n[at]})
        return self

    def at_risk(self, times) -> np.ndarray:
        """The number with follow-up of at least t, at each of `times` (years)."""
        x = np.atleast_1d(np.asarray(times, dtype=float))
        t, n = self.risk["time_years"].to_numpy(), self.risk["n_at_risk"].to_numpy()
        k = np.searchsorted(t, x - 1e-12, side="left")
        return np.where(k < len(t), n[np.minimum(k, len(t) - 1)] if len(t) else 0, 0).astype(int)

    def at(self, times) -> pd.DataFrame:
        """cause, time_years, cif, std_err, lower, upper at each of `times` (years), as
        `timepoints`: the values at the cause's last death at or before t, 0 before its first;
        missing after the group's last follow-up time."""
        x = np.atleast_1d(np.asarray(times, dtype=float))
        rows = []
        for name, curve in self.curves.items():
            k = np.searchsorted(curve["time_years"].to_numpy(), x, side="right") - 1
            est = np.where(k >= 0, curve["cif"].to_numpy()[np.maximum(k, 0)] if len(curve) else 0.0, 0.0)
            var = np.where(k >= 0, curve["variance"].to_numpy()[np.maximum(k, 0)] if len(curve) else 0.0, 0.0)
            beyond = x > self.last_years
            est, var = np.where(beyond, np.nan, est), np.where(beyond, np.nan, var)
            se = np.sqrt(var)
            lower, upper = _loglog_ci(est, se)
            rows.append(pd.DataFrame({"cause": name, "time_years": x, "cif": est, "std_err": se,
                                      "lower": lower, "upper": upper}))
        return pd.concat(rows, ignore_index=True)


def _loglog_ci(est: np.ndarray, se: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% CI of a cumulative incidence on the log(-log) scale: F^exp(+/- z se / (F log F)) (the
    exponent's sign makes the lower limit the higher power), which stays within 0-1; missing
    where F is 0 or 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (est > 0) & (est < 1)
        half = z * se / (est * np.log(est))  # negative: log F < 0
        lower = np.where(ok, est ** np.exp(-half), np.nan)  # a power above 1 lowers F
        upper = np.where(ok, est ** np.exp(half), np.nan)
    return lower, upper


def rounded_causes(table: CauseTable, base: int, bin_days: float) -> CauseTable:
    """The cause table a viewer's cumulative incidence is computed from, as
    `survival.rounded_events` makes the Kaplan-Meier one: per group, follow-up binned (bin
    j = ceil(days / bin_days), counts at the bin's end), the cumulative deaths of each cause,
    the cumulative censorings and the group size each rounded with `survival.roundmid`; a bin's
    risk set is N' minus the rounded counts before it (never below 0) and what leaves it goes to
    its deaths, cause by cause in the order of `CAUSES` (each clipped to what is left), and the
    rest to its censorings. No count below the base reaches a viewer; with base 1 and one-day
    bins the table is the exact one."""
    from analytics.survival import roundmid

    parts = []
    for key, g in table.groups():
        bins, inv = np.unique(np.ceil(g["days"].to_numpy(dtype=float) / bin_days).astype(np.int64),
                              return_inverse=True)
        cum = {c: np.cumsum(np.bincount(inv, weights=g[c].to_numpy(dtype=float), minlength=len(bins)))
               for c in [*_COUNTS, "n_censor"]}
        rounded = {c: roundmid(np.round(v).astype(np.int64), base) for c, v in cum.items()}
        n1 = roundmid(int(round(sum(v[-1] for v in cum.values()))), base)
        gone = np.concatenate([[0], sum(rounded.values())[:-1]])
        risk = np.maximum(n1 - gone, 0)
        left = risk - np.append(risk[1:], 0)  # what leaves each bin
        out = {}
        for c in _COUNTS:
            d = np.minimum(np.diff(rounded[c], prepend=0), left)
            out[c] = d
            left = left - d
        out["n_censor"] = left
        frame = pd.DataFrame({"days": bins * bin_days, **out})
        frame = frame[(frame[[*_COUNTS, "n_censor"]] > 0).any(axis=1)]
        parts.append(frame.assign(**{b: v for b, v in zip(table.by, key)}))
    cols = table.by + ["days", *_COUNTS, "n_censor"]
    t = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    return CauseTable(t, table.by, table.n_selected, table.n_dco, table.notes)


def _deaths(g: pd.DataFrame) -> dict[str, np.ndarray]:
    return {name: g[f"n_{name}"].to_numpy() for name in CAUSES.values()}


def cuminc(table: CauseTable, times=(1, 3, 5, 10), min_cases: int | None = None) -> pd.DataFrame:
    """Cumulative incidence of each cause at `times` (years) per group: by columns, cause,
    time_years, cif, std_err, lower, upper. Groups with fewer cases than the threshold are
    left out (as for Kaplan-Meier)."""
    n_min = min_cases or threshold()
    parts, suppressed = [], 0
    for key, g in table.groups():
        fit = CumulativeIncidence().fit(g["days"], _deaths(g), g["n_censor"])
        if fit.n < n_min:
            suppressed += 1
            continue
        parts.append(fit.at(times).assign(**dict(zip(table.by, key))))
    cols = table.by + ["cause", "time_years", "cif", "std_err", "lower", "upper"]
    out = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    out.attrs["suppressed"] = suppressed  # groups left out: fewer cases than the threshold
    out.attrs["threshold"] = n_min
    return out


def fits(table: CauseTable, min_cases: int | None = None) -> dict[tuple, CumulativeIncidence]:
    """The fitted curves per group (groups below the threshold left out): for figures."""
    n_min = min_cases or threshold()
    out = {}
    for key, g in table.groups():
        fit = CumulativeIncidence().fit(g["days"], _deaths(g), g["n_censor"])
        if fit.n >= n_min:
            out[key] = fit
    return out


def gray_test(table: CauseTable, group: str) -> pd.DataFrame:
    """Gray's test per cause across the levels of `group` (rho = 0, one stratum): cause,
    statistic, df, p, as cmprsk's `cuminc(...)$Tests`. Cases whose group is unknown are left out.
    Needs at least two groups."""
    if table.by != [group]:
        raise SelectionError("Gray's test needs a table broken down by the test's column only")
    t = table.table[table.table[group].notna()]
    levels = sorted(t[group].unique().tolist())
    if len(levels) < 2:
        raise SelectionError("Gray's test needs at least two groups")
    rows = []
    for name in CAUSES.values():
        others = [f"n_{o}" for o in CAUSES.values() if o != name]
        wide = t.assign(d1=t[f"n_{name}"], d2=t[others].sum(axis=1), d0=t["n_censor"]).pivot_table(
            index="days", columns=group, values=["d0", "d1", "d2"], aggfunc="sum", fill_value=0).sort_index()
        d = {k: wide[k].reindex(columns=levels, fill_value=0).to_numpy(dtype=float) for k in ("d0", "d1", "d2")}
        s, v = _crst(d["d0"], d["d1"], d["d2"])
        try:
            stat = float(s @ np.linalg.solve(v, s)) if np.linalg.matrix_rank(v) == len(s) else np.nan
        except np.linalg.LinAlgError:
            stat = np.nan
        df = len(levels) - 1
        rows.append({"cause": name, "statistic": stat, "df": df,
                     "p": float(stats.chi2.sf(stat, df)) if stat == stat else np.nan})
    return pd.DataFrame(rows, columns=["cause", "statistic", "df", "p"])


def _crst(d0: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gray's score (first ng - 1 groups) and its variance matrix for one cause, one stratum,
    rho = 0, from per time (rows, in order) and group (columns) counts of the censored (d0), of
    deaths of the cause (d1) and of other causes (d2): Gray's `crstm` (Gray RJ, Ann Stat
    1988;16:1141-54; cmprsk's Fortran), its recursion over time written as cumulative sums and
    products over the rows with a death (arrays rows x groups, and rows x groups x groups for
    the matrices), so that no Python loop runs per day (a page's table has thousands of days).

    Per row with a death: rs = at risk per group, skm/skmm = all-cause Kaplan-Meier of the group
    after/before the row, f1/f1m = the group's cumulative incidence of the cause after/before,
    h = rs / skmm, tr = sum h, f/fm = the pooled cumulative incidence (sum nd1 / tr), c = the
    running sum of a * nd1 / (tr (1 - fm)) with a = diag(h) - h h' / tr; then the score and the
    three variance parts (v3, v2, v) summed over rows as crstm adds them, row by row (the
    groups x groups terms a block of rows at a time, to bound memory)."""
    ng = d0.shape[1]
    g1 = ng - 1
    leaving = d0 + d1 + d2
    before = np.vstack([np.zeros((1, ng)), np.cumsum(leaving, axis=0)[:-1]])
    dead = (d1.sum(axis=1) > 0) | (d2.sum(axis=1) > 0)  # rows without a death change no sum
    rs = (leaving.sum(axis=0)[None, :] - before)[dead]
    e1, e2 = d1[dead], d2[dead]
    nd1, nd2 = e1.sum(axis=1), e2.sum(axis=1)
    live = rs > 0
    first = np.ones((1, ng))
    with np.errstate(divide="ignore", invalid="ignore"):
        skm = np.cumprod(np.where(live, (rs - e1 - e2) / rs, 1.0), axis=0)
        skmm = np.vstack([first, skm[:-1]])
        f1m = np.vstack([0 * first, np.cumsum(np.where(live, skmm * e1 / rs, 0.0), axis=0)[:-1]])
        h = np.where(live, rs / skmm, 0.0)
        tr = h.sum(axis=1)
        tq = (h * (1 - f1m)).sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate([[0.0], f[:-1]])
        s = np.where(live[:, :g1], e1[:, :g1] - nd1[:, None] * h[:, :g1] * (1 - f1m[:, :g1]) / tq[:, None],
                     0.0).sum(axis=0)
        # deaths of the cause, in every group at risk (weights t3, t4 per row and group)
        m1 = (nd1 > 0)[:, None] & live
        t4a = np.where(m1, np.where(skm > 0, 1 - (1 - f[:, None]) / skm, 1.0), 0.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3a = np.where(m1, t5 * skmm * nd1[:, None] / (tr[:, None] * rs), 0.0)
        # deaths of other causes, in the groups with such deaths and survival left
        m2 = (nd2 > 0)[:, None] & (skm > 0) & (e2 > 0)
        t4b = np.where(m2, (1 - f[:, None]) / skm, 0.0)
        t5 = np.where(e2 > 1, 1 - (e2 - 1) / (rs - 1), 1.0)
        t3b = np.where(m2, t5 * skmm ** 2 * e2 / rs ** 2, 0.0)
        v3 = (t4a * t4a * t3a + t4b * t4b * t3b).sum(axis=0)
        v2, v = np.zeros((g1, ng)), np.zeros((g1, g1))
        weight = nd1 / (tr * (1 - fm))
        c_end = np.zeros((ng, ng))
        diag = np.arange(ng)
        step = max(1, 500_000 // (ng * ng))  # rows x groups x groups arrays, a block of rows at a time
        for r0 in range(0, len(rs), step):
            r = slice(r0, r0 + step)
            a = -h[r, :, None] * h[r, None, :] / tr[r, None, None]
            a[:, diag, diag] = h[r] * (1 - h[r] / tr[r, None])
            c = c_end + np.cumsum(a * weight[r, None, None], axis=0)  # after each row's term
            c_end = c[-1]
            t1 = a[:, :g1, :] - t4a[r, None, :] * c[:, :g1, :]  # rows x (first ng - 1) x groups
            v2 += np.einsum("ijk,ik->jk", t1, t4a[r] * t3a[r])
            v += np.einsum("ijk,ilk,ik->jl", t1, t1, t3a[r])
            t1 = t4b[r, None, :] * c[:, :g1, :]
            v2 -= np.einsum("ijk,ik->jk", t1, t4b[r] * t3b[r])
            v += np.einsum("ijk,ilk,ik->jl", t1, t1, t3b[r])
    cg = c_end[:g1]
    v += (cg * v3) @ cg.T + cg @ v2.T + v2 @ cg.T
    return s, v


def method_notes(table: CauseTable) -> list[str]:
    """What the command line and the pages say under a cumulative incidence."""
    return [
        "Cumulative incidence by cause (Aalen-Johansen; R's cmprsk cuminc): the probability of having "
        "died of that cause by each time, other causes competing; unknown causes are a third cause. "
        "95% CI log(-log). Time from diagnosis in years (days / 365.25).",
        f"{table.n_analysed:,} analysed of {table.n_selected:,} selected: {table.n_dco:,} "
        "death-certificate-only registrations excluded (no survival time).",
        *[str(n) for n in table.notes],
    ]
