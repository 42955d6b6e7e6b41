"""Period analysis (Brenner & Gefeller 1996): survival of the most recent calendar window.

A cohort estimate of 10-year survival describes children diagnosed at least ten years ago. The
period estimate takes, for each time since diagnosis, the survival experience observed *within*
a recent calendar window, whoever was diagnosed when: an up-to-date estimate of what a child
diagnosed today can expect, as registries (SEER*Stat, CONCORD, EUROCARE) report it.

Definition (issue 15, item 3), for the window `start` .. `end` (both days inclusive, the window
2018-2022 being 2018-01-01 .. 2022-12-31), each tumour with a survival time:

* entry = max(0, start - diagnosis date) days, exit = min(follow-up, end - diagnosis date) days;
* a death counts only inside the window (follow-up <= end - diagnosis), otherwise the tumour is
  censored at exit;
* tumours with exit <= entry (followed up to before the window, diagnosed after it, or dying on
  the window's first day or on the day of diagnosis with entry 0) are left out: R's Surv(entry,
  exit, dead) has no interval for them;
* the estimate is Kaplan-Meier on left-truncated data: at risk at time t = entry < t <= exit, as
  R's `survfit(Surv(entry / 365.25, exit / 365.25, dead) ~ 1)` (`survival.KaplanMeier.fit` with
  `n_enter`). Checked against R in tests/test_period.py.

Rows only: a partner's survival events carry the period of diagnosis, not the date, so they are
left out with a note (`pooled.left_out`).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from analytics.filters import SelectionError

#: Why period analysis reads rows only (the note on partners' tables it leaves out).
NEEDS_ROWS = ("period analysis needs each tumour's date of diagnosis, which tables of survival events "
              "do not carry (they give the five-year period only)")


@dataclass(frozen=True)
class Window:
    """A calendar window of follow-up: first and last day, both inclusive."""

    start: dt.date
    end: dt.date

    @classmethod
    def parse(cls, text: str) -> "Window":
        """'2018-2022' (whole calendar years) or '2018' (one year)."""
        m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", str(text))
        if not m:
            raise SelectionError(f"period window '{text}': write calendar years, e.g. 2018-2022")
        y0, y1 = int(m.group(1)), int(m.group(2) or m.group(1))
        if y1 < y0:
            raise SelectionError(f"period window '{text}': the first year comes first, e.g. 2018-2022")
        return cls(dt.date(y0, 1, 1), dt.date(y1, 12, 31))

    @property
    def label(self) -> str:
        y0, y1 = self.start.year, self.end.year
        return str(y0) if y0 == y1 else f"{y0}-{y1}"

    def note(self) -> str:
        """The sentence naming the method, on the command line and the pages."""
        return (f"Period analysis (Brenner): survival experienced during {self.start.isoformat()} to "
                f"{self.end.isoformat()}, by whoever was diagnosed when (left-truncated Kaplan-Meier: at risk "
                f"at time t = entered the window before t and followed to t or later; deaths outside the "
                f"window censored).")


#: The windows the pages offer: this many years wide, this many of them, most recent first.
WIDTH, OFFERED = 5, 3


def windows(con) -> list[str]:
    """The calendar windows the pages offer (labels, most recent first): `OFFERED` windows of
    `WIDTH` years ending at the pool's latest complete calendar year of follow-up (that of the
    latest date of last contact, or the year before when that date is not 31 December), or at its
    latest year of diagnosis if earlier (so that children diagnosed in the window carry the first
    years after diagnosis), each ending where the next begins, none ending before the first year
    of diagnosis. The command line takes any window."""
    last, first, newest = con.execute(
        "SELECT max(last_contact_date), min(year), max(year) FROM cases WHERE NOT dco").fetchone()
    if last is None:
        return []
    end = min(last.year if (last.month, last.day) == (12, 31) else last.year - 1, newest)
    return [f"{e - WIDTH + 1}-{e}" for e in range(end, end - WIDTH * OFFERED, -WIDTH) if e >= first]


def cases_sql(cols: str, where: str, keys: bool) -> str:
    """Every selected tumour with its entry and exit (days since diagnosis) in the window
    ($w_start, $w_end), whether it died inside the window (`dead`), `dco` and `record_key`
    (with `keys`). `cols`: the breakdown columns, each followed by a comma."""
    key = ", record_key" if keys else ""
    return f"""SELECT {cols}dco{key},
                      greatest(0, date_diff('day', diagnosis_date, $w_start)) AS entry,
                      least(followup_days, date_diff('day', diagnosis_date, $w_end)) AS exit,
                      event = 1 AND followup_days <= date_diff('day', diagnosis_date, $w_end) AS dead
               FROM cases WHERE {where}"""


def events_sql(cols: str, keys: bool, modulus: int) -> str:
    """Per breakdown group and day: deaths and censorings at exit, entries at entry (`entered`),
    over the tumours of the window (relation `w`: `cases_sql` with exit > entry); with `keys`,
    the record-key sums of the deaths and censorings (entries carry none: every tumour is
    counted once, at its exit)."""
    m = modulus
    k_exit = (f", CAST(coalesce(sum(record_key) FILTER (WHERE dead), 0) % {m} AS BIGINT) AS key_event, "
              f"CAST(coalesce(sum(record_key) FILTER (WHERE NOT dead), 0) % {m} AS BIGINT) AS key_censor"
              if keys else "")
    k_entry = ", 0::BIGINT, 0::BIGINT" if keys else ""
    return f"""SELECT {cols}exit AS days, count(*) FILTER (WHERE dead) AS deaths,
                      count(*) FILTER (WHERE NOT dead) AS censored, 0 AS entered{k_exit}
               FROM w GROUP BY ALL
               UNION ALL
               SELECT {cols}entry, 0, 0, count(*){k_entry} FROM w GROUP BY ALL"""
