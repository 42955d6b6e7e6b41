"""The small-number rule, applied centrally to every frame that leaves `analytics/`.

A count of at least 1 and below the threshold is not shown, nor is any figure computed from it
(NCI/SEER convention: fewer than 16 cases). Pages never decide this themselves.

The threshold comes from the environment variable CCOE_MIN_CELL (default 16) so a partnership can
set its own rule once for the whole deployment.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 16


def threshold() -> int:
    """The configured minimum count that may be shown (CCOE_MIN_CELL, default 16)."""
    value = os.environ.get("CCOE_MIN_CELL", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_THRESHOLD


def notice(n: int | None = None) -> str:
    """Plain words for a suppressed cell."""
    return f"suppressed, fewer than {n or threshold()} cases"


def suppress(df: pd.DataFrame, count_col: str, dependent: list[str] = (), *,
             groups: list[list[str]] | None = None, complementary: bool = True,
             n: int | None = None) -> pd.DataFrame:
    """Return a copy of `df` in which rows with 0 < count < threshold have `count_col` and every
    column in `dependent` set to missing, and a boolean column `suppressed` marks them.

    Complementary suppression (default): a total may be shown beside the rows (the pooled rate, a
    row or column of a table), so within each slice no single suppressed row may stand alone, or
    it could be recovered by subtraction; the next smallest row of that slice is suppressed too.
    `groups` lists the slices as lists of columns whose equal values form one slice (default: the
    whole frame is one slice). Repeated until no slice has exactly one suppressed row.
    """
    n = n or threshold()
    out = df.copy().reset_index(drop=True)
    counts = out[count_col]
    mask = ((counts > 0) & (counts < n)).to_numpy()
    if complementary and mask.any():
        mask = complementary_mask(out, mask, counts, groups)
    out["suppressed"] = mask
    dep = list(dependent)
    if dep:
        out[dep] = out[dep].astype("float64")
        out.loc[mask, dep] = np.nan
    out[count_col] = out[count_col].astype("Int64").mask(mask)  # whole numbers, <NA> when hidden
    return out


def complementary_mask(df: pd.DataFrame, mask: np.ndarray, counts: pd.Series,
                  groups: list[list[str]] | None = None) -> np.ndarray:
    """Complementary suppression: `mask` (rows hidden, positional) grown so that no slice of `df`
    (rows with equal values of the columns of one entry of `groups`; default: the whole frame)
    has exactly one hidden row beside shown ones: the next smallest row by `counts` joins it.
    Repeated until stable. `df` must have a 0..n-1 index."""
    mask = np.asarray(mask, dtype=bool).copy()
    slices = groups or [[]]
    changed = True
    while changed:
        changed = False
        for cols in slices:
            parts = df.groupby(cols, dropna=False).indices.values() if cols else [range(len(df))]
            for idx in parts:
                idx = list(idx)
                if mask[idx].sum() == 1 and len(idx) > 1:
                    others = [i for i in idx if not mask[i]]
                    mask[min(others, key=lambda i: counts.iloc[i])] = True
                    changed = True
    return mask
