"""Net survival (Pohar-Perme) and relative survival (Ederer II), computed as R's relsurv 2.2.9
`rs.surv` computes them, checked against it to 1e-6 (tests/fixtures/survival/README.md).

Net survival is the survival of the cancer patients in the hypothetical world where cancer is
the only cause of death: the observed deaths are corrected for the deaths the general
population of the same country, sex, age and calendar year would have had (life tables,
warehouse table `life_table`).

References:
* Pohar Perme M, Stare J, Esteve J. On estimation in relative survival. Biometrics
  2012;68:113-20 (the Pohar-Perme estimator).
* Ederer F, Heise H. Instructions to IBM 650 programmers in processing survival computations.
  Methodological note 10, End Results Evaluation Section, National Cancer Institute, 1959
  (Ederer II).
* Pohar Perme M, Pavlic K. Nonparametric relative survival analysis with the R package
  relsurv. J Stat Softw 2018;87(8):1-27 (the implementation reproduced here).

What relsurv does, and this module copies (README of the fixtures has the details):

* Population hazard per day: h = -log(1 - qx) / 365.241 (relsurv::transrate.hmd), where qx = 1
  (age 110+) or a missing qx is replaced by 0.999 from that age up. One cell per completed year
  of age (years of 365.241 days), calendar year and sex, constant within the cell; an age or a
  year beyond the table takes the edge cell.
* Follow-up in whole days. Subjects with follow-up 0 are dropped (rs.surv keeps time > 0); the
  count is reported. Age and calendar date advance day by day with follow-up: day k of
  follow-up (k = 0, 1, ...) uses the cell at age `age_days + k`, date `diagnosis_date + k`
  (rs.surv with precision = 1, the hazard looked up at the start of each day).
* At each distinct follow-up time t_j > 0, with Y = {follow-up >= t_j} and S_i the expected
  (population) survival of subject i from diagnosis:
    Ederer II: haz_j = (deaths_j - sum_Y integral of h_i over (t_j-1, t_j]) / |Y|,
               se = sqrt(cumsum(deaths_j / |Y|^2));
    Pohar-Perme: haz_j = sum_{deaths} 1/S_i(t_j) / sum_Y 1/S_i(t_j) - yidlisiw_j,
               se = sqrt(cumsum(sum_{deaths} 1/S_i(t_j)^2 / (sum_Y 1/S_i(t_j))^2)),
    S = cumprod(1 - haz). yidlisiw_j, the weighted population hazard of the interval, is
    relsurv's *running* mean: over the days k of the interval, sum_k (A_k/B_k + C_k/D_k) / 2
    where A_k = sum of (sum_Y h_i/S_i) and B_k = sum of (sum_Y 1/S_i) over the interval's days
    up to k, with S_i at the start of each day (C_k, D_k: at its end). A day-by-day weighted
    mean differs from relsurv by up to 8e-6.
* Standard errors are on the log scale; 95% CI exp(log S -/+ z se), z = sqrt(qchisq(0.95, 1)),
  NOT clipped at 1 (relsurv's behaviour: net survival can exceed 1 when patients die less than
  the population).

Period analysis (Brenner; `net_survival(..., window=)`, `net_survival_rows(..., entry_days=)`):
left-truncated data, entry < exit in days since diagnosis (`analytics.period` defines them for a
calendar window). relsurv 2.2.9's rs.surv accepts Surv(entry, exit, status) but IGNORES the
entry: it passes only the exits to its C routine, so the result equals rs.surv(Surv(exit, status))
on the rows with exit > entry (every subject at risk from day 0; not a period estimate). Its C
routine (netfastpinter2, via relsurv:::exp.prep(..., ys = entry)) does take entry times; this
module follows it, with the two corrections that make it a left-truncated estimator:
* Grid: every distinct exit and every entry > 0 (the routine holds the risk set fixed between
  grid times; relsurv's unexported rs.period builds its grid the same way).
* At risk in (t_j-1, t_j]: entry < t_j <= exit, for yi, yisi and the hazard sums alike. (The
  routine counts yi over all with exit >= t_j, ignoring entry, and puts those entering at t_j
  into yisi; its hazard sums yidli, yidlisiw already use entry < t_j.)
* Unchanged: S_i, and so the Pohar-Perme weights 1/S_i, run from diagnosis (time 0) for every
  subject, entered or not; age and date are those at diagnosis advancing with time (rmap);
  rs.surv's formulas above. An interval with nobody at risk adds nothing (no hazard, no variance).
With all entries 0 this is rs.surv exactly; with population hazards 0 it is the left-truncated
Kaplan-Meier of survfit(Surv(entry, exit, dead)). Reference: tests/fixtures/survival/
make_period_net_reference.R (relsurv's routine with ys = entry + 0.5, yi recounted).

Speed: no loop over subjects x days. Each subject's follow-up is cut into pieces of constant
population hazard (a piece ends at a birthday of 365.241 days, on 1 January, at a block boundary
of 512 days, or at the end of follow-up); within a piece exp(cumulative hazard) is geometric, so
the per-day sums over subjects are accumulated per life-table cell (and band of magnitude of
exp(cumulative hazard), to keep the running sums exact) with difference arrays over all subjects,
and one cumulative sum per cell and block at the end (earlier when the cells' arrays reach 64 MB:
many countries in one group, or long follow-up). Calendar years come from lookup tables.
The pages ask for values at 1 to 10 years only (`whole_curve=False`): follow-up is then censored
at the first follow-up time at or after the last of them, which leaves those values unchanged and
saves the later years' work. Measured on 2 cores (benchmarks/page_benchmark.py for the pages):
2.8 million subjects diagnosed 2000-2022 (the USA at scale 16), 5-year net survival: 7.6 s with
the horizon, 13 s without it and 31 s before this accumulation (per-chunk cumulative sums); the
process's peak memory about 1 GB, most of it the rows read.

Time units: everything is computed in days. `time_years` in the results is days / `year_days`;
`year_days` is 365.25 in the app (as Kaplan-Meier, survival.DAYS_PER_YEAR) and 365.241 in
relsurv's summaries (the fixtures). With whole-day follow-up both give the same values at 1, 3,
5 and 10 years (the last observed day <= t is the same, and so is the number with follow-up >= t);
they can differ at other times, e.g. 20 years (7305 vs 7304.82 days).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics.filters import Selection, SelectionError, check_by, sort_rows
from analytics.reference import year_ranges
from analytics.reference.lifetable import MAX_AGE, coverage
from analytics.suppression import threshold
from analytics.survival import _findq

#: relsurv's year (transrate.hmd, age cut points, summary times in the fixtures).
RELSURV_YEAR = 365.241
#: The app's year (Kaplan-Meier time axis, survival.DAYS_PER_YEAR).
APP_YEAR = 365.25
#: Mid-year assumption for a case without birth date: age = age_years * 365.241 + 182 days.
MID_YEAR_DAYS = 182
METHODS = ("pohar-perme", "ederer2")
Z95 = float(np.sqrt(stats.chi2.ppf(0.95, 1)))
BY_COLUMNS = ["country", "registry", "iccc_main", "iccc_sub", "sex", "age_group", "age_band",
              "period", "stage"]
AGE_CUTS = np.arange(MAX_AGE + 1) * RELSURV_YEAR  # relsurv: (0:110) * 365.241 days
_BLOCK = 512  # days per block of the difference-array accumulation (keeps exp() well scaled)
_EPOCH = np.datetime64("1970-01-01", "D")

REFERENCES = ("Pohar Perme M, Stare J, Esteve J. Biometrics 2012;68:113-20 (net survival); "
              "Ederer F, Heise H. NCI methodological note 10, 1959 (Ederer II); "
              "computed as R relsurv 2.2.9 rs.surv: Pohar Perme M, Pavlic K. "
              "J Stat Softw 2018;87(8).")


# ------------------------------------------------------------------------------------------------
# Population hazards (relsurv ratetable)
# ------------------------------------------------------------------------------------------------

def daily_hazard(qx: np.ndarray) -> np.ndarray:
    """relsurv::transrate.hmd on a (years x 111 ages) qx array: -log(1 - qx) / 365.241 per day,
    with qx = 1 or missing replaced by 0.999 from the first such age up (per year)."""
    q = np.array(qx, dtype=float, copy=True)
    bad = np.isnan(q) | (q >= 1)
    first = np.where(bad.any(axis=1), bad.argmax(axis=1), q.shape[1])
    q[np.arange(q.shape[1])[None, :] >= first[:, None]] = 0.999
    return -np.log(1 - q) / RELSURV_YEAR


@dataclass
class RateTable:
    """Daily population hazards per (country, sex): first calendar year and a (years x 111) array.

    As relsurv's ratetable: the age cell is the completed years of 365.241 days, capped to
    0..110; the calendar year is capped to the table's first and last year."""

    tables: dict[tuple[str, int], tuple[int, np.ndarray]]

    def __post_init__(self):
        # every table's cells in one flat array (cell code = offset of the table + year index *
        # 111 + age index), so that a cell is one integer (the daily sums group by it)
        tabs = list(self.tables.values())
        sizes = [tab.size for _, tab in tabs]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if tabs else np.zeros(0, np.int64)
        self._first = np.array([y0 for y0, _ in tabs], dtype=np.int64)
        self._n_years = np.array([tab.shape[0] for _, tab in tabs], dtype=np.int64)
        self.flat = np.concatenate([tab.ravel() for _, tab in tabs]) if tabs else np.zeros(0)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, country: str | None = None) -> RateTable:
        """From rows year, age (0..110), sex (1, 2), qx, and `country` (or the `country`
        argument for a single-country frame). Years missing inside a table's range get NaN
        hazards (caught when used)."""
        df = df.assign(country=country) if country is not None else df
        tables = {}
        for (c, s), g in df.groupby(["country", "sex"]):
            y0, y1 = int(g["year"].min()), int(g["year"].max())
            qx = np.full((y1 - y0 + 1, MAX_AGE + 1), np.nan)
            qx[g["year"].to_numpy(int) - y0, g["age"].to_numpy(int)] = g["qx"].to_numpy(float)
            h = daily_hazard(qx)
            missing_year = np.isnan(qx).all(axis=1)
            h[missing_year] = np.nan
            tables[(str(c), int(s))] = (y0, h)
        return cls(tables)

    @classmethod
    def from_warehouse(cls, con: duckdb.DuckDBPyConnection, countries) -> RateTable:
        df = con.execute("SELECT country, year, sex, age, qx FROM life_table "
                         "WHERE list_contains($c, country) AND sex IN (1, 2)",
                         {"c": sorted(set(countries))}).df()
        return cls.from_frame(df)

    def ids(self, country, sex) -> np.ndarray:
        """Index of each subject's (country, sex) table in `self.keys()`; SelectionError when a
        table is missing."""
        sex = np.asarray(sex, dtype=int)
        country = np.broadcast_to(np.asarray(country, dtype=object), sex.shape)
        keys = list(self.tables)
        c_codes, c_uniq = pd.factorize(country.ravel())
        s_codes, s_uniq = pd.factorize(sex.ravel())
        if (c_codes < 0).any():  # a missing country (factorize codes it -1)
            raise SelectionError("no life table for a subject without country")
        table_of = np.empty((len(c_uniq), len(s_uniq)), dtype=np.int64)
        for i, c in enumerate(c_uniq):
            for j, x in enumerate(s_uniq):
                table_of[i, j] = keys.index((c, int(x))) if (c, int(x)) in self.tables else -1
        out = table_of[c_codes, s_codes].reshape(sex.shape)
        if (out < 0).any():
            k = int(np.flatnonzero(out.ravel() < 0)[0])
            raise SelectionError(f"no life table for {country.ravel()[k]} sex {sex.ravel()[k]}")
        return out

    def cells(self, ids, age_days, day) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell code, daily hazard `flat[code]`, age index) at age `age_days` (days) and date
        `day` (days since 1970-01-01) for subjects with table index `ids`."""
        age_i, _, code = self._locate(ids, age_days, day)
        return code, self.flat[code], age_i

    def hazard(self, ids, age_days, day) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(age index, calendar year of the cell, daily hazard) at age `age_days` (days) and
        date `day` (days since 1970-01-01) for subjects with table index `ids`."""
        age_i, yi, code = self._locate(ids, age_days, day)
        return age_i, self._first[np.asarray(ids, dtype=np.int64)] + yi, self.flat[code]

    def _locate(self, ids, age_days, day) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(age index, year index within the subject's table, cell code) of the cell relsurv
        uses: completed years of 365.241 days capped to 0..110, the calendar year capped to the
        table's years."""
        ids = np.asarray(ids, dtype=np.int64)
        age_i = np.clip(np.searchsorted(AGE_CUTS, np.asarray(age_days, dtype=float),
                                        side="right") - 1, 0, MAX_AGE)
        yi = np.clip(_year(day) - self._first[ids], 0, self._n_years[ids] - 1)
        return age_i, yi, self._offsets[ids] + yi * (MAX_AGE + 1) + age_i

    def lookup(self, country, sex, age_days, date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(age index, calendar year of the cell, daily hazard) at age `age_days` (days) on
        `date` (datetime64/ISO strings or days since 1970-01-01), per subject: the cell
        relsurv's ratetable uses."""
        return self.hazard(self.ids(country, sex), age_days, _days(date))


def _days(x) -> np.ndarray:
    """Days since 1970-01-01 from dates (datetime64, ISO strings, date objects) or integers."""
    a = np.asarray(x)
    if np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating):
        return a.astype(np.int64)
    return (a.astype("datetime64[D]") - _EPOCH).astype(np.int64)


def _year_by_calendar(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days, dtype=np.int64).astype("datetime64[D]")
            .astype("datetime64[Y]").astype(np.int64) + 1970)


def _jan1_by_calendar(year: np.ndarray) -> np.ndarray:
    return ((np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]")
            .astype("datetime64[D]").astype(np.int64))


# Calendar lookups for 1800-2199 (a gather is some 10x faster than numpy's calendar arithmetic,
# which the daily sums would otherwise do for every piece of follow-up)
_Y_LO, _Y_HI = 1800, 2200
_D_LO = int(_jan1_by_calendar(np.array([_Y_LO]))[0])
_JAN1 = _jan1_by_calendar(np.arange(_Y_LO, _Y_HI + 1))
_YEAR_OF = _year_by_calendar(np.arange(_D_LO, _JAN1[-1]))


def _year(days: np.ndarray) -> np.ndarray:
    """Calendar year of days since 1970-01-01."""
    d = np.asarray(days, dtype=np.int64) - _D_LO
    if d.size and (d.min() < 0 or d.max() >= len(_YEAR_OF)):
        return _year_by_calendar(days)
    return _YEAR_OF[d]


def _jan1(year: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of 1 January of `year`."""
    y = np.asarray(year, dtype=np.int64) - _Y_LO
    if y.size and (y.min() < 0 or y.max() >= len(_JAN1)):
        return _jan1_by_calendar(year)
    return _JAN1[y]


# ------------------------------------------------------------------------------------------------
# Per-day sums over the risk set
# ------------------------------------------------------------------------------------------------

def _pieces(y, age, t0, ids, rates: RateTable, block: int = _BLOCK, entry=None):
    """Cut each subject's follow-up [0, y) into pieces of constant population hazard that do not
    cross a block boundary (nor the entry day). Returns flat arrays start, end (days), hazard,
    its cell (`RateTable.cells` code), cumulative hazard at the piece start, and the total
    cumulative hazard per subject (at day y).
    With `entry` (days, left truncation) only the pieces from entry on are returned; their
    cumulative hazards still run from diagnosis (day 0), as relsurv's S_i."""
    n = len(y)
    e = np.zeros((n, 1)) if entry is None else np.asarray(entry, dtype=float)[:, None]
    ymax = int(y.max())
    n_age = int(np.floor(ymax / RELSURV_YEAR)) + 2
    n_year = ymax // 365 + 2
    n_block = ymax // block + 1
    yy = y[:, None]
    # birthdays: the first day d with age + d >= k * 365.241 (same float comparison as relsurv)
    k0 = np.searchsorted(AGE_CUTS, age, side="right") - 1
    k = k0[:, None] + np.arange(1, n_age + 1)[None, :]
    cut = np.arange(n_age + MAX_AGE + 2) * RELSURV_YEAR
    ck = cut[np.clip(k, 0, len(cut) - 1)]
    a = age[:, None]
    d_age = np.ceil(ck - a)
    d_age -= (a + (d_age - 1) >= ck)
    d_age += (a + d_age < ck)
    d_age = np.where((k <= MAX_AGE) & (k >= 1), d_age, ymax)
    # 1 January of the following calendar years
    y0 = _year(t0)
    d_year = _jan1(y0[:, None] + np.arange(1, n_year + 1)[None, :]) - t0[:, None]
    d_block = np.broadcast_to(np.arange(1, n_block + 1) * block, (n, n_block))
    bp = np.concatenate([np.zeros((n, 1)), e, d_age, d_year, d_block, yy], axis=1)
    bp = np.sort(np.clip(bp, 0, yy), axis=1).astype(np.int64)
    start, end = bp[:, :-1], bp[:, 1:]
    length = end - start
    ok = length > 0
    # hazard of each piece: the cell at its first day
    row = np.broadcast_to(np.arange(n)[:, None], start.shape)
    s_ok, r_ok = start[ok], row[ok]
    code_ok, h_ok, _ = rates.cells(ids[r_ok], age[r_ok] + s_ok, t0[r_ok] + s_ok)
    if np.isnan(h_ok).any():
        raise SelectionError("the life table has no rates for some calendar years of follow-up")
    h = np.zeros(start.shape)
    h[ok] = h_ok
    code = np.zeros(start.shape, dtype=np.int64)
    code[ok] = code_ok
    inc = h * length
    cum = np.cumsum(inc, axis=1)
    cum_start = cum - inc
    use = ok & (start >= e)  # at risk: from entry on (all of [0, y) without entry)
    return start[use], end[use], h[use], code[use], cum_start[use], cum[:, -1]


def _daily_sums(y, age, t0, ids, rates: RateTable, cells_per_chunk: int = 1_000_000,
                block: int = _BLOCK, entry=None, budget: int = 8_000_000):
    """Per follow-up day d = 0 .. max(y) - 1, sums over subjects with y > d (at risk on day d;
    with `entry`, entry <= d < y): H = sum h_i(d), A = sum h_i/S_i(d), B = sum 1/S_i(d),
    C = sum h_i/S_i(d+1), D = sum 1/S_i(d+1), S_i the population survival from diagnosis. Also
    the cumulative population hazard of each subject (from diagnosis) at its y.

    The subjects' pieces (`_pieces`, made a chunk of subjects at a time to bound memory) are
    added into one difference array per day for H, and for exp(cumulative hazard) extrapolated to
    the block start, w, into one per (life-table cell, band) and day (`_CellDays`), whose
    geometric growth within each block is applied once per cell at the end (or whenever the
    cells' arrays reach `budget` numbers: many countries or long follow-up). The band (log w
    within a factor e^8) keeps a large w ending from swamping small ones in the running sums
    (old ages, long follow-up)."""
    T = int(y.max())
    nb = T // block + 1
    ND = nb * block
    acc = _CellDays(rates, nb, block, budget)
    H = np.zeros(ND)
    cum_total = np.empty(len(y))
    width = T / RELSURV_YEAR + T / 365 + T / block + 6  # pieces per subject, at most
    chunk = max(1000, int(cells_per_chunk / width))
    for i in range(0, len(y), chunk):
        sl = slice(i, i + chunk)
        s, e, h, code, L, tot = _pieces(y[sl], age[sl], t0[sl], ids[sl], rates, block,
                                        None if entry is None else entry[sl])
        cum_total[sl] = tot
        inside = (e % block) != 0  # a piece ending on a block boundary needs no end mark
        H += np.bincount(np.concatenate([s, e[inside]]), np.concatenate([h, -h[inside]]), minlength=ND)
        log_w = L - h * (s % block)
        band = np.clip(np.floor(log_w / 8 + 0.5), 0, _N_BAND - 1).astype(np.int64)
        acc.add(code, band, s, e, np.exp(log_w), inside)
    A, B, C, D = acc.finish()[:, :T]
    return np.cumsum(H.reshape(nb, block), axis=1).ravel()[:T], A, B, C, D, cum_total


_N_BAND = 128  # bands of log w (8 each): exp() overflows long before the last


class _CellDays:
    """For `_daily_sums`: per (life-table cell, band) and day, the sum of w over the pieces
    running that day (difference arrays W, one row per pair, rows made as pairs appear), turned
    into A, B, C, D (`_emit`) at the end, or early whenever W would pass `budget` numbers (then
    W starts again empty: the sums are linear in W). Memory: at most `budget` numbers for W, and
    the mappings in proportion to the cells used."""

    def __init__(self, rates: RateTable, nb: int, block: int, budget: int):
        self.rates, self.nb, self.block = rates, nb, block
        self.ND = nb * block
        self.max_rows = max(1, budget // self.ND)
        self.out = np.zeros((4, self.ND))
        self.slot_of = np.full(len(rates.flat), -1, dtype=np.int64)  # cell -> slot
        self._reset()

    def _reset(self):
        self.slot_of.fill(-1)
        self.slot_cell = np.zeros(0, dtype=np.int64)  # cell of each slot
        self.row_of = np.full((16, _N_BAND), -1, dtype=np.int64)  # slot x band -> row of W
        self.lam = np.zeros(0)  # hazard of each row
        self.W = np.zeros((0, self.ND))

    def _rows(self, code, band) -> np.ndarray:
        """Rows of W for the pieces' (cell, band) pairs, made for pairs not seen before."""
        slot = self.slot_of[code]
        if (slot < 0).any():
            mark = np.zeros(len(self.slot_of), dtype=bool)
            mark[code[slot < 0]] = True
            cells = np.flatnonzero(mark)
            self.slot_of[cells] = np.arange(len(self.slot_cell), len(self.slot_cell) + len(cells))
            self.slot_cell = np.concatenate([self.slot_cell, cells])
            if len(self.slot_cell) > len(self.row_of):
                more = max(len(self.slot_cell), 2 * len(self.row_of)) - len(self.row_of)
                self.row_of = np.vstack([self.row_of, np.full((more, _N_BAND), -1, dtype=np.int64)])
            slot = self.slot_of[code]
        rows = self.row_of[slot, band]
        if (rows < 0).any():
            mark = np.zeros(self.row_of.shape, dtype=bool)
            mark[slot[rows < 0], band[rows < 0]] = True
            s_new, b_new = np.nonzero(mark)
            self.row_of[s_new, b_new] = np.arange(len(self.lam), len(self.lam) + len(s_new))
            self.lam = np.concatenate([self.lam, self.rates.flat[self.slot_cell[s_new]]])
            rows = self.row_of[slot, band]
        return rows

    def add(self, code, band, s, e, w, inside):
        """Pieces [s, e) of cell `code` and `band`, each with its w (`inside`: e is not on a
        block boundary, so needs an end mark)."""
        rows = self._rows(code, band)
        if len(self.lam) > self.max_rows:  # W would pass the budget: emit it, start again
            if len(self.W):
                self._emit(self.W, self.lam[:len(self.W)])
            self._reset()
            rows = self._rows(code, band)
            if len(self.lam) > self.max_rows:  # this chunk alone: its rows a batch at a time
                order = np.argsort(rows, kind="stable")
                rows, s, e, w, inside = rows[order], s[order], e[order], w[order], inside[order]
                bounds = np.searchsorted(rows, np.arange(0, len(self.lam) + self.max_rows, self.max_rows))
                for k in range(len(bounds) - 1):
                    p = slice(bounds[k], bounds[k + 1])
                    r0 = k * self.max_rows
                    g = min(self.max_rows, len(self.lam) - r0)
                    self._emit(self._dense(rows[p] - r0, s[p], e[p], w[p], inside[p], g),
                               self.lam[r0:r0 + g])
                self._reset()
                return
        if len(self.W) < len(self.lam):
            grow = min(self.max_rows, max(len(self.lam), 2 * len(self.W))) - len(self.W)
            self.W = np.vstack([self.W, np.zeros((grow, self.ND))])
        # only the rows this chunk touches, compacted, then added into W
        mark = np.zeros(len(self.lam), dtype=bool)
        mark[rows] = True
        touched = np.flatnonzero(mark)
        local = np.cumsum(mark) - 1
        self.W[touched] += self._dense(local[rows], s, e, w, inside, len(touched))

    def _dense(self, rows, s, e, w, inside, g) -> np.ndarray:
        ND = self.ND
        idx = np.concatenate([rows * ND + s, (rows * ND + e)[inside]])
        return np.bincount(idx, np.concatenate([w, -w[inside]]), minlength=g * ND).reshape(g, ND)

    def _emit(self, W, lam):
        """A, B, C, D of the rows of W (hazards `lam`) added to the output."""
        nb, block = self.nb, self.block
        kk = np.arange(block)
        step = max(1, 2_000_000 // self.ND)
        for g0 in range(0, len(lam), step):
            g1 = min(g0 + step, len(lam))
            lg = lam[g0:g1]
            M = np.cumsum(W[g0:g1].reshape(g1 - g0, nb, block), axis=2)
            X = M * np.exp(lg[:, None] * kk[None, :])[:, None, :]  # sum of exp(Lambda_i(d))
            r = np.exp(lg)
            self.out[0] += np.tensordot(lg, X, axes=1).ravel()
            self.out[1] += X.sum(axis=0).ravel()
            self.out[2] += np.tensordot(lg * r, X, axes=1).ravel()
            self.out[3] += np.tensordot(r, X, axes=1).ravel()

    def finish(self) -> np.ndarray:
        """A, B, C, D per day (4 x days)."""
        if len(self.W):
            self._emit(self.W, self.lam[:len(self.W)])
        self._reset()
        return self.out


# ------------------------------------------------------------------------------------------------
# The estimators
# ------------------------------------------------------------------------------------------------

@dataclass
class NetSurvivalCurve:
    """Pohar-Perme or Ederer II curve of one group, at every distinct follow-up time > 0.

    `table`: time_days, time_years (days / year_days), n_at_risk (follow-up >= t), n_events,
    n_censored, survival, std_err (of log S), lower, upper. `internals`: relsurv's per-time sums
    (time, yi, dni, yidli, yisi, dnisi, dnisisq, yidlisiw), from which either estimator follows.

    Left-truncated (period analysis, `entry` set): the times are every distinct exit and every
    entry day > 0, n_at_risk is entry < t <= follow-up, and `table` has n_entered (entering at
    t, at risk from the next day)."""

    method: str
    table: pd.DataFrame
    internals: pd.DataFrame
    followup: np.ndarray  # follow-up (exit) days of the subjects used (> entry)
    status: np.ndarray
    n_zero: int  # subjects dropped: follow-up 0 (with entry: follow-up <= entry)
    year_days: float = APP_YEAR
    entry: np.ndarray | None = None  # entry days (left truncation), None: all from day 0
    #: Last day the table was computed to (`net_survival_rows(horizon_days=)`), None: the whole
    #: follow-up. The values up to it are those of the whole curve.
    horizon_days: int | None = None
    #: What the table was made from, to add the curves of disjoint groups (`combined`).
    sums: _Sums | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.followup)

    def at_days(self, days) -> pd.DataFrame:
        """Values at the given times in days, as relsurv's summary(fit, times, extend = TRUE):
        the values at the last observed time <= t (1, SE 0 before the first), n at risk =
        follow-up >= t (with entry: entry < t <= follow-up), n events in (previous time asked,
        t]."""
        tab = self.table
        t = tab["time_days"].to_numpy(float)
        ev = tab["n_events"].to_numpy()
        rows, prev = [], -np.inf
        days = np.atleast_1d(np.asarray(days, dtype=float))
        if self.horizon_days is not None and len(days) and days.max() > self.horizon_days:
            raise ValueError(f"the curve was computed to day {self.horizon_days} only")
        for x in days:
            n_risk = int(((self.followup >= x) if self.entry is None
                          else (self.entry < x) & (self.followup >= x)).sum())
            n_ev = int(ev[(t > prev) & (t <= x)].sum())
            k = np.searchsorted(t, x, side="right") - 1
            if k < 0:
                rows.append((x, n_risk, n_ev, 1.0, 0.0, 1.0, 1.0))
            else:
                r = tab.iloc[k]
                rows.append((x, n_risk, n_ev, r["survival"], r["survival"] * r["std_err"],
                             r["lower"], r["upper"]))
            prev = x
        out = pd.DataFrame(rows, columns=["time_days", "n_at_risk", "n_events", "survival",
                                          "std_err_surv", "lower", "upper"])
        out.insert(0, "time_years", out["time_days"] / self.year_days)
        return out

    def median(self) -> tuple[float, float, float]:
        """(median, lower, upper) in years of `year_days`, by R's quantile.survfit rule applied
        to the curve and to its CI limits (as Kaplan-Meier); NaN where not reached."""
        if self.horizon_days is not None:
            raise ValueError("the median needs the whole curve (this one stops at a horizon)")
        tab = self.table
        x = np.concatenate([[0.0], tab["time_years"].to_numpy()])
        q = [_findq(x, np.concatenate([[0.0], 1 - tab[col].to_numpy()]), 0.5)
             for col in ("survival", "lower", "upper")]
        return q[0], q[1], q[2]

    def at(self, years, year_days: float | None = None) -> pd.DataFrame:
        """Values at times in years of `year_days` days (default: the curve's, 365.25 in the
        app; relsurv's summaries use 365.241)."""
        yd = year_days or self.year_days
        out = self.at_days(np.asarray(years, dtype=float) * yd)
        out["time_years"] = np.asarray(years, dtype=float)
        return out


def net_survival_rows(followup_days, status, age_days, diagnosis_date, sex, rates: RateTable,
                      country="USA", method: str = "pohar-perme",
                      year_days: float = APP_YEAR, entry_days=None,
                      horizon_days: float | None = None) -> NetSurvivalCurve:
    """rs.surv(Surv(followup_days, status) ~ 1, ratetable, method, conf.type = "log",
    rmap = list(age = age_days, sex = sex, year = diagnosis_date)) on individual rows.

    `followup_days`: whole days; rows with follow-up 0 are dropped (counted in `n_zero`).
    `age_days`: age at diagnosis in days (may be fractional). `diagnosis_date`: dates
    (datetime64/ISO strings) or days since 1970-01-01. `sex`: 1 or 2. `country`: one code or
    one per row, keys of `rates`.

    `entry_days` (whole days since diagnosis, >= 0; period analysis): left truncation, at risk
    at time t if entry < t <= follow-up; rows with follow-up <= entry are dropped (`n_zero`).
    Age and date stay those at diagnosis: the population survival S_i of the Pohar-Perme weights
    runs from diagnosis, as relsurv's C routine with entry times (module docstring: rs.surv
    itself ignores the entry of Surv(entry, exit, status)).

    `horizon_days`: compute the curve only up to the first follow-up time (grid time) at or
    after it, its `horizon_days`: follow-up beyond it is censored there before the daily sums,
    which leaves every value up to it unchanged (the risk sets and population sums of the days
    before it, the deaths up to it, the grid) and saves the work of the later years; `at_days`
    refuses later times and `median` the curve. The subjects counted (`n`, `followup`) are
    all of them."""
    if method not in METHODS:
        raise SelectionError(f"method: '{method}' is not one of {', '.join(METHODS)}")
    y = np.asarray(followup_days, dtype=float)
    if np.isnan(y).any() or (y != np.round(y)).any() or (entry_days is None and (y < 0).any()):
        raise SelectionError("net survival needs follow-up in whole days >= 0")
    if entry_days is not None:  # exit < 0 (diagnosed after a window): dropped with exit <= entry
        entry = np.broadcast_to(np.asarray(entry_days, dtype=float), y.shape)
        if np.isnan(entry).any() or (entry < 0).any() or (entry != np.round(entry)).any():
            raise SelectionError("net survival needs entry in whole days >= 0")
    status = np.asarray(status, dtype=int)
    age = np.asarray(age_days, dtype=float)
    t0 = _days(diagnosis_date)
    sex = np.asarray(sex, dtype=int)
    if not np.isin(sex, (1, 2)).all():
        raise SelectionError("net survival needs sex 1 or 2 for every subject")
    country = np.broadcast_to(np.asarray(country, dtype=object), y.shape)
    keep = y > 0 if entry_days is None else y > entry
    n_zero = int((~keep).sum())
    y, status, age, t0, sex, country = (y[keep].astype(np.int64), status[keep], age[keep],
                                        t0[keep], sex[keep], country[keep])
    entry = None if entry_days is None else entry[keep].astype(np.int64)
    ids = rates.ids(country, sex)
    horizon, use, yc, sc, ec = _cut(y, status, entry, horizon_days)
    if len(yc):
        H, A, B, C, D, cum = _daily_sums(yc, age[use], t0[use], ids[use], rates, entry=ec)
        sums = _Sums(yc, sc, ec, cum, np.vstack([H, A, B, C, D]), horizon_days)
    else:
        sums = _Sums(yc, sc, ec, np.zeros(0), np.zeros((5, 0)), horizon_days)
    internals = _internals(sums)
    table = _curve(internals, method, year_days)
    return NetSurvivalCurve(method, table, internals, y, status, n_zero, year_days, entry, horizon, sums)


@dataclass
class _Sums:
    """A curve's subjects as its table was computed (follow-up `y` and `status` after the horizon
    cut, `entry`), each one's cumulative population hazard at its y (`cum`), the per-day sums over
    them (`daily`: H, A, B, C, D of `_daily_sums`, one row each) and the horizon asked for (days,
    None: the whole follow-up). Sums over subjects add across disjoint groups: `combined`."""

    y: np.ndarray
    status: np.ndarray
    entry: np.ndarray | None
    cum: np.ndarray
    daily: np.ndarray
    horizon_asked: float | None


def _cut(y, status, entry, horizon_days, cut_before: bool = False):
    """Follow-up censored at the first grid time (distinct y, entry days > 0) at or after
    `horizon_days` (`net_survival_rows`): (that time or None when nothing is cut, the subjects
    kept (those entering after it are not), y, status and entry of the kept). `cut_before`: the
    follow-up was already cut there (some of `combined`'s parts), so it is the time even when it
    is now the last."""
    if horizon_days is not None and len(y):
        grid = y if entry is None else np.concatenate([y, entry[entry > 0]])
        later = grid[grid >= horizon_days]
        if len(later) and (later.min() < grid.max() or cut_before):
            horizon = int(later.min())
            use = slice(None) if entry is None else entry <= horizon
            return (horizon, use, np.minimum(y, horizon)[use], np.where(y > horizon, 0, status)[use],
                    None if entry is None else entry[use])
    return None, slice(None), y, status, entry


def combined(curves: list[NetSurvivalCurve]) -> NetSurvivalCurve:
    """The curve of the union of disjoint groups' subjects (a country's age bands, say: computed
    once for age-standardisation, added for the country) from the groups' sums, without cutting
    anyone's follow-up into pieces again: the same table as `net_survival_rows` on all their rows
    with the same method, year and horizon (tested to 1e-12)."""
    first = curves[0]
    parts = [c.sums for c in curves]
    if any(c.method != first.method or c.year_days != first.year_days for c in curves) or \
            len({p.horizon_asked for p in parts}) != 1 or len({p.entry is None for p in parts}) != 1:
        raise ValueError("curves computed differently cannot be added")
    cat = lambda xs: np.concatenate(xs) if len(xs) else np.zeros(0)  # noqa: E731
    y, status, cum = cat([p.y for p in parts]), cat([p.status for p in parts]), cat([p.cum for p in parts])
    entry = None if parts[0].entry is None else cat([p.entry for p in parts])
    horizon, use, yc, sc, ec = _cut(y, status, entry, parts[0].horizon_asked,
                                    any(c.horizon_days is not None for c in curves))
    T = int(yc.max()) if len(yc) else 0  # entries are before exits, at most at the cut
    daily = np.zeros((5, T))
    for p in parts:  # a group's sums end with its last follow-up: zeros after it
        k = min(T, p.daily.shape[1])
        daily[:, :k] += p.daily[:, :k]
    sums = _Sums(yc, sc, ec, cum[use], daily, parts[0].horizon_asked)
    internals = _internals(sums)
    table = _curve(internals, first.method, first.year_days)
    orig_entry = None if first.entry is None else cat([c.entry for c in curves])
    return NetSurvivalCurve(first.method, table, internals, cat([c.followup for c in curves]),
                            cat([c.status for c in curves]), sum(c.n_zero for c in curves), first.year_days,
                            orig_entry, horizon, sums)


def _internals(sums: _Sums) -> pd.DataFrame:
    """relsurv's per-time sums (netfastpinter2) at every grid time: the distinct follow-up times
    and, with `entry` (left truncation, days), every entry day > 0 as well, so that the risk set
    {entry < t <= y} is constant within each interval (t_j-1, t_j]; then also `n_enter`, the
    subjects entering at t_j (at risk from the next day on)."""
    y, status, entry, cum = sums.y, sums.status, sums.entry, sums.cum
    cols = ["time", "yi", "dni", "yidli", "yisi", "dnisi", "dnisisq", "yidlisiw"]
    if entry is not None:
        cols.append("n_enter")
    if len(y) == 0:
        return pd.DataFrame(columns=cols, dtype=float)
    H, A, B, C, D = sums.daily
    tis = np.unique(y if entry is None else np.concatenate([y, entry[entry > 0]]))
    J = len(tis)
    T = int(tis[-1])
    seg = np.searchsorted(tis, np.arange(T), side="right")  # interval of each day
    # relsurv's running means inside each interval (restarted at every grid time); an interval
    # with nobody at risk (left truncation only) has no population hazard
    csum = pd.DataFrame({"A": A, "B": B, "C": C, "D": D}).groupby(seg).cumsum()
    Bc, Dc = csum["B"].to_numpy(), csum["D"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        fint = np.where(Bc > 0, (csum["A"].to_numpy() / Bc + csum["C"].to_numpy() / Dc) / 2, 0.0)
    j_of = np.searchsorted(tis, y)
    dead = status == 1
    inv = np.exp(cum[dead])  # 1 / S_i(t) at the death time
    n_by_time = np.bincount(j_of, minlength=J)
    yi = n_by_time[::-1].cumsum()[::-1]  # follow-up >= t
    out = {}
    if entry is not None:  # minus those entering at t or later: entry < t <= y
        n_enter = np.bincount(np.searchsorted(tis, entry[entry > 0]), minlength=J)
        yi = yi - n_enter[::-1].cumsum()[::-1]
        out["n_enter"] = n_enter.astype(float)
    return pd.DataFrame({
        "time": tis.astype(float),
        "yi": yi.astype(float),
        "dni": np.bincount(j_of[dead], minlength=J).astype(float),
        "yidli": np.bincount(seg, H, minlength=J),
        "yisi": D[tis - 1],
        "dnisi": np.bincount(j_of[dead], inv, minlength=J),
        "dnisisq": np.bincount(j_of[dead], inv ** 2, minlength=J),
        "yidlisiw": np.bincount(seg, fint, minlength=J),
    } | out)


def _curve(it: pd.DataFrame, method: str, year_days: float) -> pd.DataFrame:
    """rs.surv's estimators on the sums. An interval with nobody at risk (possible only with
    left truncation) changes neither the survival nor the variance."""
    yi, dni = it["yi"].to_numpy(), it["dni"].to_numpy()
    ok = yi > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "pohar-perme":
            haz = it["dnisi"].to_numpy() / it["yisi"].to_numpy() - it["yidlisiw"].to_numpy()
            var = it["dnisisq"].to_numpy() / it["yisi"].to_numpy() ** 2
        else:
            haz = dni / yi - it["yidli"].to_numpy() / yi
            var = dni / yi ** 2
    haz, var = np.where(ok, haz, 0.0), np.where(ok, var, 0.0)
    surv = np.cumprod(1 - haz)
    se = np.sqrt(np.cumsum(var))
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.exp(np.log(surv) - Z95 * se)
        upper = np.exp(np.log(surv) + Z95 * se)
    n_next = np.append(yi[1:], 0)
    enter = it["n_enter"].to_numpy() if "n_enter" in it else 0  # join after t: yi_j+1 = yi_j - exits + enter
    t = it["time"].to_numpy()
    out = pd.DataFrame({"time_days": t, "time_years": t / year_days,
                        "n_at_risk": yi.astype(int), "n_events": dni.astype(int),
                        "n_censored": (yi - n_next + enter - dni).astype(int), "survival": surv,
                        "std_err": se, "lower": lower, "upper": upper})
    if "n_enter" in it:
        out.insert(5, "n_entered", it["n_enter"].to_numpy().astype(int))
    return out


# ------------------------------------------------------------------------------------------------
# Over the warehouse
# ------------------------------------------------------------------------------------------------

@dataclass
class NetSurvivalResult:
    """Net (or relative) survival per group: curves, values at times, notes and exclusions."""

    method: str
    by: list[str]
    curves: dict[tuple, NetSurvivalCurve]
    at_times: pd.DataFrame
    medians: pd.DataFrame
    n_selected: int
    n_dco: int
    n_sex_unknown: int
    n_zero_followup: int
    n_age_assumed: int
    suppressed: list[tuple]
    year_days: float = APP_YEAR
    notes: list[str] = field(default_factory=list)
    #: Period analysis: the calendar window (`analytics.period.Window`) and the non-DCO tumours
    #: with follow-up inside it (exit > entry); None without a window.
    window: object = None
    n_window: int | None = None

    @property
    def n_analysed(self) -> int:
        return self.n_selected - self.n_dco - self.n_sex_unknown - self.n_zero_followup

    def steps(self) -> pd.DataFrame:
        """The full step functions, one frame (by columns first)."""
        cols = self.by + ["time_years", "n_at_risk", "n_events", "n_censored", "survival",
                          "lower", "upper"]
        frames = [c.table.assign(**dict(zip(self.by, key))) for key, c in self.curves.items()]
        return pd.concat(frames)[cols].reset_index(drop=True) if frames else pd.DataFrame(columns=cols)


def _coverage_error(con, needed: dict[str, tuple[int, int]]) -> str | None:
    """None when every country x sex x calendar year of follow-up has a life table, else the
    one-line reason."""
    loaded = con.execute("SELECT country, list(DISTINCT year) FROM life_table "
                         "WHERE sex IN (1, 2) GROUP BY country ORDER BY country").fetchall()
    have = {c: ys for c, ys in loaded}
    absent = [c for c in sorted(needed) if c not in have]
    gaps = []
    for c in sorted(needed):
        if c in have:
            ok, reason = coverage(con, [c], range(needed[c][0], needed[c][1] + 1))
            if not ok:
                gaps.append(reason.removeprefix("no life table for "))
    if not absent and not gaps:
        return None
    what = "; ".join(([", ".join(absent)] if absent else [])
                     + ([f"calendar years of follow-up: {'; '.join(gaps)} missing"] if gaps else []))
    loaded_txt = (", ".join(f"{c} {year_ranges(ys)}" for c, ys in loaded) if loaded else "none")
    if absent and len(loaded) and not gaps:
        tail = f"only {loaded_txt} {'is' if len(loaded) == 1 else 'are'} loaded"
    else:
        tail = f"loaded: {loaded_txt}"
    return (f"net survival needs life tables for {what} ({tail}); load them with "
            f"`python -m analytics lifetable FILE --country XXX --sex 1|2`")


def net_survival(con: duckdb.DuckDBPyConnection, selection: Selection | None = None,
                 by: list[str] = (), method: str = "pohar-perme", times=(1, 3, 5, 10),
                 min_cases: int | None = None, year_days: float = APP_YEAR,
                 window=None, whole_curve: bool = True) -> NetSurvivalResult:
    """Net survival (Pohar-Perme, default) or relative survival (Ederer II) of the selected
    cases, per group of `by`, as relsurv's rs.surv.

    Reads only country, sex, birth_date, diagnosis_date, age_years, followup_days, event (and the
    `by` columns) of the selected non-DCO cases. Exclusions, each counted in the notes:
    death-certificate-only cases (no survival time); sex 9 (unknown: no life table to match);
    follow-up 0 (rs.surv drops time 0). Age at diagnosis in days = diagnosis_date - birth_date,
    or, without birth date, age_years * 365.241 + 182 days (the middle of the year of age).

    Raises SelectionError when the life tables do not cover every included country, sex (1, 2)
    and calendar year in which follow-up runs (diagnosis date to the last day of follow-up).
    Groups with fewer analysed cases than the suppression threshold are suppressed. `times` are
    in years of `year_days` days (365.25, the app's year; relsurv's summaries use 365.241).

    `window` (an `analytics.period.Window`): the period analysis (Brenner) of that calendar
    window instead, with entry, exit and death as `analytics.period` defines them (its SQL,
    `period.cases_sql`): left-truncated net survival, at risk at time t if entry < t <= exit,
    population survival weights from diagnosis (module docstring). Tumours with exit <= entry
    (no follow-up inside the window) are excluded in place of follow-up 0 and counted;
    `n_window` counts the non-DCO tumours with follow-up inside the window, `at_times` gets
    n_in_window per group. The life tables must cover diagnosis to exit: the weights need the
    population hazard before the window too.

    `whole_curve=False` (what the pages ask for): each curve is computed only up to the largest of
    `times` (`net_survival_rows(horizon_days=)`): the values at `times` are the same, the work of
    the later follow-up is saved, the curves' tables stop there and `medians` is NaN."""
    if method not in METHODS:
        raise SelectionError(f"method: '{method}' is not one of {', '.join(METHODS)}")
    selection = selection or Selection()
    horizon = None if whole_curve or not len(np.atleast_1d(times)) else \
        float(np.max(np.atleast_1d(np.asarray(times, dtype=float)))) * year_days
    by = check_by(list(by), BY_COLUMNS)
    where, params = selection.where()
    extra = "".join(f", {b}" for b in by if b not in ("country", "sex"))
    cols = f"""country, sex{extra},
               CASE WHEN birth_date IS NOT NULL
                    THEN CAST(date_diff('day', birth_date, diagnosis_date) AS DOUBLE)
                    ELSE CAST(age_years AS DOUBLE) * CAST({RELSURV_YEAR} AS DOUBLE)
                         + {MID_YEAR_DAYS} END AS age_days,
               birth_date IS NULL AS age_assumed,
               date_diff('day', DATE '1970-01-01', diagnosis_date) AS t0"""
    if window is None:
        rows_sql, first_day = f"SELECT {cols}, followup_days, event FROM cases WHERE {where} AND NOT dco", "0"
        rows_params = params
    else:  # period analysis: entry, exit and death in the window by period.py's SQL
        from analytics import period

        rows_sql = (f"SELECT * EXCLUDE (dco, exit, dead), exit AS followup_days, CAST(dead AS INT) AS event "
                    f"FROM ({period.cases_sql(cols + ', ', where, False)}) WHERE NOT dco")
        first_day = "entry"
        rows_params = params | {"w_start": window.start, "w_end": window.end}
    # the calendar years each country's analysed follow-up spans, from diagnosis to its last day:
    # checked against the life tables before any row is read
    span = con.execute(f"""
        SELECT country, min(year(DATE '1970-01-01' + CAST(t0 AS INTEGER))),
               max(year(DATE '1970-01-01' + CAST(t0 + followup_days - 1 AS INTEGER)))
        FROM ({rows_sql}) WHERE sex IN (1, 2) AND followup_days > {first_day}
        GROUP BY country""", rows_params).fetchall()
    if any(c is None for c, _, _ in span):
        raise SelectionError("net survival needs the country of every case (to match a life table)")
    needed = {c: (int(y0), int(y1)) for c, y0, y1 in span}
    if needed:
        err = _coverage_error(con, needed)
        if err:
            raise SelectionError(err)
        rates = RateTable.from_warehouse(con, needed)
    df = con.execute(rows_sql, rows_params).df()
    n_sel, n_dco = con.execute(f"SELECT count(*), coalesce(sum(dco::INT), 0) FROM cases "
                               f"WHERE {where}", params).fetchall()[0]
    n_window = None if window is None else int((df["followup_days"] > df["entry"]).sum())
    sex_known = df["sex"].isin([1, 2]).to_numpy()
    n_sex9 = int((~sex_known).sum())
    df = df[sex_known]
    zero = (df["followup_days"] <= (0 if window is None else df["entry"])).to_numpy()
    n_zero = int(zero.sum())
    df = df[~zero].reset_index(drop=True)

    n_min = min_cases or threshold()
    curves, at_rows, med_rows, suppressed = {}, [], [], []
    if by and len(df):
        keys = sort_rows(df[by].drop_duplicates(), by)
        groups = []
        for key in keys.itertuples(index=False):
            m = np.logical_and.reduce([(df[b] == v).to_numpy() if pd.notna(v) else df[b].isna().to_numpy()
                                       for b, v in zip(by, key)])
            groups.append((tuple(key), df[m]))
    else:
        groups = [((), df)] if len(df) else []
    for key, g in groups:
        if len(g) < n_min:
            suppressed.append(key)
            continue
        curve = net_survival_rows(g["followup_days"], g["event"], g["age_days"], g["t0"],
                                  g["sex"], rates, g["country"].to_numpy(object), method,
                                  year_days, None if window is None else g["entry"], horizon)
        curves[key] = curve
        at = curve.at(times).assign(**dict(zip(by, key)))
        at_rows.append(at if window is None else at.assign(n_in_window=curve.n))
        m, lo, hi = curve.median() if curve.horizon_days is None else (np.nan, np.nan, np.nan)
        med_rows.append(dict(zip(by, key)) | {"n": curve.n, "events": int(curve.status.sum()),
                                              "median": m, "median_lower": lo, "median_upper": hi})
    cols = by + ["time_years", "time_days", "n_at_risk", "n_events", "survival", "std_err_surv",
                 "lower", "upper"] + ([] if window is None else ["n_in_window"])
    at = pd.concat(at_rows)[cols].reset_index(drop=True) if at_rows else pd.DataFrame(columns=cols)
    med = pd.DataFrame(med_rows, columns=by + ["n", "events", "median", "median_lower",
                                               "median_upper"])
    n_assumed = int(df["age_assumed"].sum()) if len(df) else 0
    name = "Pohar-Perme net survival" if method == "pohar-perme" else "Ederer II relative survival"
    n_an = int(n_sel) - int(n_dco) - n_sex9 - n_zero
    notes = [
        (f"{name} (product-limit form), computed as R relsurv 2.2.9 rs.surv; 95% CI "
         f"exp(log S -/+ 1.96 se), not clipped at 1. Time from diagnosis in years of "
         f"{year_days:g} days; population hazards from the life tables by country, sex, single "
         f"year of age and calendar year, updated day by day during follow-up."),
        (f"{n_an:,} analysed of {int(n_sel):,} selected: {int(n_dco):,} death-certificate-only "
         f"registrations, {n_sex9:,} of unknown sex (no life table to match) and {n_zero:,} with "
         + ("no follow-up time (follow-up 0 days, as relsurv) excluded." if window is None else
            "no follow-up inside the window (followed up to before it or diagnosed after it) "
            "excluded.")),
        "References: " + REFERENCES,
    ]
    if window is not None:
        notes[:0] = [
            (f"Period analysis (Brenner): {name} experienced during "
             f"{window.start.isoformat()} to {window.end.isoformat()}, by whoever was diagnosed when "
             f"(left truncation: at risk at time t = entered the window before t and followed to t or "
             f"later; deaths outside the window censored; the population survival in the Pohar-Perme "
             f"weights runs from diagnosis), computed as relsurv 2.2.9's C routine given the entry "
             f"times (its rs.surv ignores them)."),
            (f"{n_window:,} of the {int(n_sel) - int(n_dco):,} selected tumours that are not "
             f"death-certificate-only had follow-up inside the window (n_in_window); the others "
             f"were followed up to before it or diagnosed after it."),
        ]
    if n_assumed:
        notes.append(f"{n_assumed:,} case(s) without birth date: age at diagnosis taken as the "
                     f"middle of the year of age (age_years * 365.241 + 182 days).")
    if suppressed:
        notes.append(f"{len(suppressed)} group(s) with fewer than {n_min} cases suppressed.")
    from analytics import pooled  # aggregate partners: records only here, and said so

    notes += [str(n) for n in pooled.left_out(con, "agg_survival_events", selection, by,
                                              needs=pooled.NET_NEEDS_ROWS)]
    return NetSurvivalResult(method, by, curves, at, med, int(n_sel), int(n_dco), n_sex9, n_zero,
                             n_assumed, suppressed, year_days, notes, window, n_window)


def age_standardised(con: duckdb.DuckDBPyConnection, selection: Selection | None = None,
                     by: list[str] = (), method: str = "pohar-perme", times=(1, 3, 5, 10),
                     weights: str = "cohort", min_cases: int | None = None,
                     year_days: float = APP_YEAR, window=None) -> pd.DataFrame:
    """Age-standardised net (or relative) survival at `times` (years), as CONCORD reports it:
    net survival in each age band 0-4, 5-9, 10-14, 15-19 (`net_survival` by `by` + age_band),
    S = sum_b w_b S_b(t), Var = sum_b w_b^2 Var S_b(t) (each band's survival-scale standard
    error, relsurv's), 95% CI exp(log S -/+ z sqrt(Var) / S), not clipped (relsurv's log CI).

    Weights as Kaplan-Meier's (`survival.age_standardised`): 'cohort' = each band's share of the
    analysed tumours of the whole selection (the same weights for every group, so groups are
    comparable), 'equal' = equal shares. The bands are the four, or those the selection's
    age_band filter keeps (ages 0-14: three). A group lacking one of them, or with fewer analysed
    tumours than the threshold, gets no estimate (`suppressed`). `window`: period analysis per
    band. Checked against relsurv per band and summed (tests/test_net_standardised.py). Columns:
    by, time_years, survival, std_err_surv, lower, upper, suppressed; attrs: weights,
    weights_label, notes (those of `net_survival`), bands (per group, band and time: n_at_risk
    and deaths_by, the deaths up to then: what a viewer's release checks)."""
    from analytics.survival import STANDARD_WEIGHTS

    if weights not in STANDARD_WEIGHTS:
        raise SelectionError(f"weights: '{weights}' is not one of {', '.join(STANDARD_WEIGHTS)}")
    by = check_by(list(by), BY_COLUMNS)
    if "age_band" in by:
        raise SelectionError("age-standardised survival cannot also be broken down by age band")
    res = net_survival(con, selection, [*by, "age_band"], method=method, times=times, min_cases=1,
                       year_days=year_days, window=window, whole_curve=False)
    return standardise(res, selection, times, weights, min_cases)


def standardise(res: NetSurvivalResult, selection: Selection | None, times, weights: str = "cohort",
                min_cases: int | None = None) -> pd.DataFrame:
    """`age_standardised` from the per-band curves it computes (`net_survival` by the groups and
    age_band last, min_cases=1, at least to the last of `times`): for a caller that also wants
    each group's curve over all bands (`combined`) without computing the bands twice."""
    from analytics.survival import AGE_BANDS as ALL_BANDS, STANDARD_WEIGHTS

    if weights not in STANDARD_WEIGHTS:
        raise SelectionError(f"weights: '{weights}' is not one of {', '.join(STANDARD_WEIGHTS)}")
    if res.by[-1:] != ["age_band"]:
        raise ValueError("standardise needs curves broken down by age band last")
    by = res.by[:-1]
    times = np.atleast_1d(np.asarray(times, dtype=float))
    kept = (selection or Selection()).filters.get("age_band")
    bands_kept = [b for b in ALL_BANDS if not kept or b in kept]
    n_band = pd.Series(0.0, index=bands_kept)
    for key, curve in res.curves.items():
        if key[-1] in n_band.index:
            n_band[key[-1]] += curve.n
    w = n_band / n_band.sum() if weights == "cohort" and n_band.sum() else \
        pd.Series(1 / len(bands_kept), index=bands_kept)
    n_min = min_cases or threshold()
    groups = sorted({k[:-1] for k in res.curves}, key=lambda k: tuple("" if v is None else str(v) for v in k))
    rows, band_rows = [], []
    for g in groups:
        bands = [res.curves.get(g + (b,)) for b in bands_kept]
        ok = all(c is not None for c in bands) and sum(c.n for c in bands if c is not None) >= n_min
        s, var = np.zeros(len(times)), np.zeros(len(times))
        if ok:
            for b, curve in zip(bands_kept, bands):
                at = curve.at(times)
                s += w[b] * at["survival"].to_numpy(float)
                var += w[b] ** 2 * at["std_err_surv"].to_numpy(float) ** 2
                band_rows += [dict(zip(by, g)) | {"age_band": b, "time_years": float(t), "n_at_risk": int(r),
                                                  "deaths_by": int(e)}
                              for t, r, e in zip(times, at["n_at_risk"], at["n_events"].cumsum())]
        with np.errstate(divide="ignore", invalid="ignore"):
            half = Z95 * np.sqrt(var) / s
            lower, upper = np.exp(np.log(s) - half), np.exp(np.log(s) + half)
        for i, t in enumerate(times):
            rows.append(dict(zip(by, g)) | {
                "time_years": float(t), "survival": s[i] if ok else np.nan,
                "std_err_surv": np.sqrt(var[i]) if ok else np.nan, "lower": lower[i] if ok else np.nan,
                "upper": upper[i] if ok else np.nan, "suppressed": not ok})
    out = pd.DataFrame(rows, columns=by + ["time_years", "survival", "std_err_surv", "lower", "upper", "suppressed"])
    out = sort_rows(out, by + ["time_years"]) if by and len(out) else out
    out.attrs = {"weights": {b: float(w[b]) for b in bands_kept}, "weights_label": STANDARD_WEIGHTS[weights],
                 "notes": list(res.notes),
                 "bands": pd.DataFrame(band_rows, columns=by + ["age_band", "time_years", "n_at_risk", "deaths_by"])}
    return out
