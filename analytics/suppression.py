"""The small-number rule, applied centrally to every frame that leaves `analytics/`.

A count of at least 1 and below the threshold is not shown, nor is any figure computed from it
(NCI/SEER convention: fewer than 16 cases). Pages never decide this themselves.

The threshold comes from the environment variable CCOE_MIN_CELL (default 16) so a partnership can
set its own rule once for the whole deployment.
"""
from __future__ import annotations

import os

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
             complementary: bool = True, n: int | None = None) -> pd.DataFrame:
    """Return a copy of `df` in which rows with 0 < count < threshold have `count_col` and every
    column in `dependent` set to missing, and a boolean column `suppressed` marks them.

    With `complementary` (default), when exactly one row is suppressed and the frame's total could
    be shown beside it, the next smallest non-zero row is suppressed too, so that no suppressed
    count can be recovered by subtraction.
    """
    n = n or threshold()
    out = df.copy()
    counts = out[count_col]
    mask = (counts > 0) & (counts < n)
    if complementary and mask.sum() == 1:
        others = counts[~mask & (counts > 0)]
        if len(others):
            mask |= out.index == others.idxmin()
    out["suppressed"] = mask
    cols = [count_col, *dependent]
    out[cols] = out[cols].astype("float64").where(~mask)
    return out
