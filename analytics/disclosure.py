"""Disclosure control for what viewers see: the small-number rule with cell-key perturbation.

Design and reasons: docs/disclosure-control.md. In short, a count n of a set of tumours is shown
to a viewer only if n >= T and its perturbed value n' = n + v >= T (or n = 0), where T is the
threshold `CCOE_MIN_CELL` (default 16, the SEER*Stat rule) and v is drawn from a perturbation
table (ptable) with the set's *cell key*: the sum of its tumours' record keys, mod 2**32. The same
set of tumours always has the same key and so always reads the same number, on every page and
through every selection; a difference of two shown numbers carries two independent noises, so
A+B minus B, a total minus its parts or one page against another do not give a hidden count
(the cell-key method of the Australian Bureau of Statistics' TableBuilder and of the 2021 Census
of England and Wales).

Record keys are 32-bit integers stored with every tumour at ingest (`cases.record_key`, made from
a per-warehouse secret and the tumour's identity, see `analytics.warehouse`). Aggregates that
produce a count return the key sum of the same rows with `key_sum_sql()`; key sums are additive
mod 2**32, so a count derived as a union or a difference of disjoint sets has a key too.

The exact path (the command line, the functions validated against R) does not come here.
No Streamlit: the viewer façade (`analytics.release`) and the pages use these objects.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.suppression import complementary_mask, threshold

#: Record and cell keys are 32-bit: sums are kept mod 2**32.
KEY_MODULUS = 2 ** 32

#: The stamp a released frame (`df.attrs["release"]`) or figure (`layout.meta["release"]`) carries.
RELEASED = "ccoe-release-1"


class DisclosureError(RuntimeError):
    """An output that did not pass through the disclosure-control layer was about to be shown."""


# ------------------------------------------------------------------------------------------------
# Policy: one threshold, one perturbation table, one way of rounding survival
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    """What the deployment releases to viewers.

    threshold   smallest count shown (CCOE_MIN_CELL, default 16)
    D, V        the perturbation table: noise within -D..D, mean 0, variance V
    km_base     Kaplan-Meier cumulative deaths and censorings are rounded to blocks of this size
    bin_days    Kaplan-Meier follow-up is counted in bins of this many days (one month)
    """

    threshold: int
    D: int = 5
    V: float = 3.0
    km_base: int = 0
    bin_days: float = 365.25 / 12

    @property
    def below(self) -> str:
        """The short label of a hidden count: '<16'."""
        return f"<{self.threshold}"

    @property
    def fewer(self) -> str:
        """The label in words: 'fewer than 16'."""
        return f"fewer than {self.threshold}"


def policy() -> Policy:
    """The policy of this deployment (read from the environment on every call, so that a change of
    CCOE_MIN_CELL applies at once; callers that cache must key on it)."""
    t = threshold()
    return Policy(threshold=t, km_base=t)


# ------------------------------------------------------------------------------------------------
# The perturbation table
# ------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def ptable(D: int = 5, V: float = 3.0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Perturbation table: for each row i = 1 .. D+1 (row D+1 serves every n > D), the noise
    values v and their cumulative probabilities.

    Row i has support max(-i, -D) .. D (so n + v >= 0), mean 0, variance V, and maximum entropy
    under those constraints: p(v) proportional to exp(a v + b v**2), with (a, b) solved from the
    two moment equations, as the R package `ptable` (sdcTools, Destatis) builds count tables
    (`create_cnt_ptable(D, V, js = 0)`; Giessing 2016)."""
    from scipy.optimize import root

    rows = {}
    for i in range(1, D + 2):
        v = np.arange(max(-i, -D), D + 1, dtype=float)

        def probs(ab):
            z = ab[0] * v + ab[1] * v * v
            p = np.exp(z - z.max())
            return p / p.sum()

        def moments(ab):
            p = probs(ab)
            return [p @ v, p @ (v * v) - V]

        sol = root(moments, [0.0, -0.1], method="hybr")
        p = probs(sol.x)
        if not sol.success or abs(p @ v) > 1e-9 or abs(p @ (v * v) - V) > 1e-9:
            raise ValueError(f"no perturbation table row {i} with D={D}, V={V}")
        rows[i] = (v.astype(np.int64), np.cumsum(p))
    return rows


def cell_key(key_sum) -> np.ndarray | float:
    """The cell key in [0, 1) of a key sum (any integer; taken mod 2**32)."""
    k = np.asarray(key_sum, dtype=np.int64) % KEY_MODULUS
    out = k / KEY_MODULUS
    return float(out) if np.ndim(out) == 0 else out


def noise(n, key_sum, pol: Policy | None = None) -> np.ndarray | int:
    """The perturbation v of count(s) n with key sum(s) `key_sum`: 0 for n = 0, else looked up in
    row min(n, D+1) of the ptable as the smallest value whose cumulative probability exceeds the
    cell key. Deterministic: the same (n, key) always gives the same v."""
    pol = pol or policy()
    n = np.asarray(n, dtype=np.int64)
    k = np.broadcast_to(np.asarray(cell_key(key_sum)), n.shape)
    table = ptable(pol.D, pol.V)
    row = np.minimum(n, pol.D + 1)
    out = np.zeros(n.shape, dtype=np.int64)
    for i, (values, cum) in table.items():
        sel = row == i
        if sel.any():
            idx = np.minimum(np.searchsorted(cum, k[sel], side="right"), len(values) - 1)
            out[sel] = values[idx]
    return int(out) if out.ndim == 0 else out


def perturb(n, key_sum, pol: Policy | None = None) -> np.ndarray | int:
    """n' = n + v (never negative; 0 stays 0)."""
    pol = pol or policy()
    out = np.asarray(n, dtype=np.int64) + np.asarray(noise(n, key_sum, pol), dtype=np.int64)
    out = np.maximum(out, 0)
    return int(out) if out.ndim == 0 else out


def released_mask(n, key_sum, pol: Policy | None = None) -> np.ndarray:
    """True where a count may be shown: n = 0, or n >= T and n' >= T."""
    pol = pol or policy()
    n = np.asarray(n, dtype=np.int64)
    return (n == 0) | ((n >= pol.threshold) & (np.asarray(perturb(n, key_sum, pol)) >= pol.threshold))


def release(n: int, key_sum: int, pol: Policy | None = None) -> int | None:
    """The value a viewer sees for one count: 0, n', or None (hidden: 'fewer than T')."""
    pol = pol or policy()
    n = int(n)
    if n == 0:
        return 0
    return perturb(n, key_sum, pol) if bool(released_mask(n, key_sum, pol)) else None


def key_sum_sql(condition: str | None = None, column: str = "record_key") -> str:
    """SQL for the key sum of the aggregated rows (those meeting `condition`, a trusted SQL
    expression written in analytics/, never user text), mod 2**32, as a BIGINT (never NULL)."""
    agg = f"sum({column})" + (f" FILTER (WHERE {condition})" if condition else "")
    return f"CAST(coalesce({agg}, 0) % {KEY_MODULUS} AS BIGINT)"


# ------------------------------------------------------------------------------------------------
# Released values
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Count:
    """A count on its way to a viewer. Formats as its released value ('1,234') or as 'fewer than
    T'; `exact` is for analytics only (a lint test keeps pages and ui off it)."""

    exact: int = field(repr=False)
    key: int = field(repr=False)
    shown: int | None
    threshold: int

    def __format__(self, spec: str) -> str:
        if self.shown is None:
            return f"fewer than {self.threshold}"
        return format(self.shown, spec or ",")

    def __str__(self) -> str:
        return format(self, "")

    def __int__(self):
        raise TypeError("a released Count is not a number to compute with; use analytics")

    @property
    def released(self) -> bool:
        return self.shown is not None

    @property
    def label(self) -> str:
        """'1,234' or '<16' (for tables and figure labels)."""
        return f"<{self.threshold}" if self.shown is None else f"{self.shown:,}"

    def minus(self, other: "Count") -> "Count":
        """The count of this set without the (disjoint, contained) set `other`."""
        return count(self.exact - other.exact, self.key - other.key)

    def plus(self, other: "Count") -> "Count":
        """The count of the union with the disjoint set `other`."""
        return count(self.exact + other.exact, self.key + other.key)


def count(n: int, key_sum: int, pol: Policy | None = None) -> Count:
    """The released form of a count n of a set of tumours with key sum `key_sum`."""
    pol = pol or policy()
    return Count(int(n), int(key_sum) % KEY_MODULUS, release(n, key_sum, pol), pol.threshold)


@dataclass(frozen=True)
class Share:
    """A proportion on its way to a viewer: `value` in 0..1 rounded to 0.001, or None with the
    reason in `text`."""

    value: float | None
    text: str

    def __format__(self, spec: str) -> str:
        return self.text if self.value is None else format(self.value, spec or ".1%")


def share(num: Count, den: Count, digits: int = 3) -> Share:
    """num / den for a viewer: shown only when the denominator is released and the numerator and
    its complement are each 0 or at least T (so neither the share nor 1 - share, times the shown
    denominator, gives a small count); computed from the perturbed counts and rounded to
    `digits` decimals before it leaves analytics (a display format alone hides nothing: the
    browser receives the full value)."""
    t = num.threshold
    if den.shown is None or den.exact == 0:
        return Share(None, f"fewer than {t}" if den.exact else "no cases")
    rest = den.exact - num.exact
    if num.exact == 0:
        return Share(0.0, "0%")
    if rest == 0:
        return Share(1.0, "100%")
    if num.exact < t or rest < t or num.shown is None:
        return Share(None, f"fewer than {t} {'in' if num.exact < t else 'outside'} this group")
    value = round(min(max(num.shown / den.shown, 0.0), 1.0), digits)
    return Share(value, f"{value:.1%}")


def shares(num, num_key, den, den_key, pol: Policy | None = None, digits: int = 3) -> np.ndarray:
    """`share` over arrays: the proportions num/den, NaN where not releasable."""
    pol = pol or policy()
    num, den = np.asarray(num, dtype=np.int64), np.asarray(den, dtype=np.int64)
    t = pol.threshold
    num_p = np.asarray(perturb(num, num_key, pol), dtype=float)
    den_p = np.asarray(perturb(den, den_key, pol), dtype=float)
    rest = den - num
    den_ok = np.asarray(released_mask(den, den_key, pol)) & (den > 0)
    ok = den_ok & (((num >= t) & (rest >= t) & np.asarray(released_mask(num, num_key, pol)))
                   | (num == 0) | (rest == 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(num == 0, 0.0, np.where(rest == 0, 1.0, np.clip(num_p / den_p, 0.0, 1.0)))
    return np.where(ok, np.round(value, digits), np.nan)


# ------------------------------------------------------------------------------------------------
# Released frames and figures
# ------------------------------------------------------------------------------------------------

def stamp(obj):
    """Mark a frame or a Plotly figure as released (returns it)."""
    if isinstance(obj, pd.DataFrame):
        obj.attrs["release"] = RELEASED
    else:
        meta = obj.layout.meta if isinstance(obj.layout.meta, dict) else {}
        obj.update_layout(meta={**meta, "release": RELEASED})
    return obj


def is_released(obj) -> bool:
    """Whether a frame or figure came out of the disclosure-control layer."""
    if isinstance(obj, pd.DataFrame):
        return obj.attrs.get("release") == RELEASED
    meta = getattr(getattr(obj, "layout", None), "meta", None)
    return isinstance(meta, dict) and meta.get("release") == RELEASED


def release_counts(df: pd.DataFrame, counts: dict[str, str], dependent=(), groups=None,
                   pol: Policy | None = None) -> pd.DataFrame:
    """Release a frame of counts for viewers.

    `counts` maps each count column to the column holding its key sum; the first is the row's
    count: a row whose count is not released (1..T-1, or perturbed below T) is suppressed, with
    complementary suppression within each slice of `groups` (as `suppression.suppress`), and its
    other count columns and `dependent` columns are set to missing. Every other count column is
    perturbed on its own key and hidden where it is not released itself. Counts become nullable
    integers; key columns are dropped; a boolean column `suppressed` marks suppressed rows; the
    frame is stamped. Dependent statistics (rates, shares) must be computed by the caller from
    perturbed counts (`perturb`) before they are passed here."""
    pol = pol or policy()
    out = df.copy().reset_index(drop=True)
    cols = list(counts)
    first = cols[0]
    n = out[first].fillna(0).astype("int64").to_numpy()
    keys = out[counts[first]].fillna(0).astype("int64").to_numpy()
    hidden = ~np.asarray(released_mask(n, keys, pol))
    hidden = complementary_mask(out, hidden, out[first], groups) if hidden.any() else hidden
    for c in cols:
        cn = out[c].fillna(0).astype("int64").to_numpy()
        ck = out[counts[c]].fillna(0).astype("int64").to_numpy()
        shown = pd.array(np.asarray(perturb(cn, ck, pol)), dtype="Int64")
        mask = hidden | ~np.asarray(released_mask(cn, ck, pol))
        out[c] = shown
        out.loc[mask, c] = pd.NA
    dep = [d for d in dependent if d in out.columns]
    if dep:
        out[dep] = out[dep].astype("float64")
        out.loc[hidden, dep] = np.nan
    out["suppressed"] = hidden
    out = out.drop(columns=[k for k in counts.values() if k in out.columns])
    return stamp(out)


# ------------------------------------------------------------------------------------------------
# The methods note (Help page, README)
# ------------------------------------------------------------------------------------------------

def methods_note(pol: Policy | None = None) -> str:
    """What is protected, how, and what a viewer can and cannot learn, in plain words (markdown),
    with this deployment's threshold. Shown on the Help page; the README quotes it for T = 16."""
    pol = pol or policy()
    t, half = pol.threshold, pol.km_base // 2
    return f"""\
Childhood cancers are rare, and a count of a few children in
one country, tumour type and age group could identify a child. No number on this site comes from
fewer than {t} children (the threshold set for this deployment): such counts read "fewer than {t}"
or "{pol.below}".

- **Counts** of tumours, deaths and rows have each been changed by a small random amount (usually
  by 2 or less, at most {pol.D}) that is always the same for the same group of children, so the same
  figure reads the same on every page, while sums and differences of figures do not reveal small
  groups. This is the cell-key method of the Australian Bureau of Statistics' TableBuilder and of
  the 2021 Census of England and Wales. As a result, **parts of a table need not add up to its
  total**.
- **Percentages** are shown only where both the group and what it is compared with hold at least
  {t} children; they are computed from the adjusted counts and rounded to 0.1 percentage point.
- **Rates** are computed from the adjusted counts by age group and exact population figures, and
  shown only where the count they come from is shown.
- **Survival curves** are computed from deaths and censorings counted by month and rounded to
  blocks of {pol.km_base} (the method of OpenSAFELY) before the Kaplan-Meier estimator, and stop where
  fewer than {t} children remain at risk; each step stands for about {pol.km_base} deaths. Survival at
  1, 3, 5 and 10 years, medians and age-standardised survival come from these curves, and may
  differ from the exact estimates by up to {half} deaths' worth (negligible for groups of thousands,
  visible for a group of a hundred).
- **Net and relative survival** are shown as values at fixed years only, where at least {t} deaths
  had occurred and at least {t} children remained at risk.
- **Models and tests** (log-rank, Cox) are shown only when every group compared holds at least
  {t} children; a hazard ratio is not shown for a level with fewer than {t} deaths.

What a viewer cannot learn: the number of children in any group below {t}, the day of any death,
or an exact count. What remains possible in principle: averaging many different routes to the
same figure narrows its noise; this residual risk is why access to the site should come with
terms of use that forbid attempts to re-identify children. Exact figures are available to the registries' data managers through the command-line
tools (`python -m analytics ...`), which read the warehouse itself.
"""
