"""The pool as the statistics read it: tumours loaded as rows and tumours sent as aggregate tables.

Partners who cannot share rows send case counts and survival events (issue 14; loaded by
`analytics.ingest_tables` into `agg_case_counts` and `agg_survival_events`). Incidence and
Kaplan-Meier are sums over tumours, so they read the union of the rows and the tables:

- `tumours_sql`: one relation row per tumour of `cases` (n = 1) and one per row of case counts
  (n = its tumours), with the columns incidence selects and breaks down by;
- `events_sql`: deaths and censorings per follow-up day, from `cases` and from the survival events
  in days (each aggregated before the union); or, for the actuarial life table
  (`analytics.lifetable`), per completed month or year, every tumour put in the same intervals
  (`schema.completed_sql`), tables in months or years included. Kaplan-Meier, log-rank and Cox
  need days: they leave tables in months or years out, and say so;
- `followup_rows_sql`: one row per child, the survival events expanded back, for the Cox model.

A table carries fewer columns than a row (no stage in case counts, no single-year age, no
morphology, no calendar year in survival events). A selection or breakdown on a column a table
lacks cannot place its tumours, so the table is left out of that statistic as a whole, never
guessed at; `left_out` says whose tumours, how many and why (`TablesLeftOut`: exact on the
command line, a released count on the pages through `released_notes`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from analytics.disclosure import KEY_MODULUS
from analytics.filters import Selection
from analytics.schema import FOLLOWUP_UNITS, completed_sql

#: Columns of `cases` each table carries (the others are NULL in the union).
COUNT_COLUMNS = ["country", "registry", "sex", "age_group", "age_band", "iccc_main", "iccc_sub", "year", "period"]
EVENT_COLUMNS = ["country", "registry", "sex", "age_group", "age_band", "iccc_main", "iccc_sub", "period", "stage"]
#: Every column a selection or breakdown may use in the union (`filters.COLUMNS`).
_ALL = ["country", "registry", "sex", "age_group", "age_band", "iccc_main", "iccc_sub", "year", "period",
        "stage", "morphology"]
#: Why net survival reads rows only: what it needs that an aggregate partner's tables lack.
NET_NEEDS_ROWS = ("net survival needs each child's age and date of diagnosis matched to a life table, which "
                  "tables of counts do not carry (README: why no partner-side sums)")
#: Plain words for a column a table lacks, in a note.
_WORDS = {"year": "calendar year of diagnosis", "stage": "stage", "morphology": "morphology",
          "age_years": "single-year age"}


def lacking(selection: Selection, by, carried: list[str]) -> list[str]:
    """The columns the selection filters on or `by` breaks down by that a table does not carry.
    A table with `period` but no `year` (survival events) places a selection of whole five-year
    periods (years 2000-2019, say): `year` is lacking only for other years."""
    used = set(selection.filters) | set(by) | ({"year"} if selection.years else set())
    missing = used - set(carried)
    if "year" in missing and "period" in carried and "year" not in by and _periods(selection) is not None:
        missing.discard("year")
    return sorted(missing)


def _uses_stage(selection: Selection, by) -> bool:
    return "stage" in selection.filters or "stage" in by


def _periods(selection: Selection) -> tuple[int, int, list[int] | None] | None:
    """The selection's years as whole five-year periods: (first year, last year, or (1900, 2100)
    without a range; the periods' first years when single years are chosen, else None); None when
    some chosen years do not make whole periods."""
    y0, y1 = selection.years or (1900, 2100)
    if selection.years and (y0 % 5 or y1 % 5 != 4):
        return None
    starts = None
    if "year" in selection.filters:
        years = {int(y) for y in selection.filters["year"]}
        starts = sorted({y // 5 * 5 for y in years})
        if any(not set(range(p, p + 5)) <= years for p in starts):
            return None
    return y0, y1, starts


def _cols(carried: list[str]) -> str:
    return ", ".join(c if c in carried else f"NULL AS {c}" for c in _ALL)


def tumours_sql(selection: Selection, by) -> str:
    """A FROM-clause relation of the pool's tumours for counting: the columns of `_ALL`, `n` (how
    many tumours the row stands for) and `key` (their record-key sum; `analytics.disclosure`).
    Case counts carry every column incidence selects by but stage and morphology."""
    usable = "TRUE" if not lacking(selection, by, COUNT_COLUMNS) else "FALSE"
    return f"""(SELECT {', '.join(_ALL)}, 1 AS n, record_key AS key FROM cases
               UNION ALL
               SELECT {_cols(COUNT_COLUMNS)}, cases AS n, key_cases AS key FROM agg_case_counts WHERE {usable})"""


#: The whole pool's tumours (no selection): `tumours_sql` with every table usable.
POOL_TUMOURS = tumours_sql(Selection(), [])


def usable_units(unit: str) -> list[str]:
    """The follow-up units of survival events an estimate in `unit` can take: those as fine or
    finer (days for Kaplan-Meier; days and months for monthly intervals; all for yearly)."""
    return [u for u in FOLLOWUP_UNITS if completed_sql(unit, "time", u) is not None]


def interval_unit(con: duckdb.DuckDBPyConnection, selection: Selection | None = None, by=()) -> str | None:
    """The intervals of the life table that takes every survival-events table of the selection
    (of the whole pool without one): the coarsest unit they were sent in other than days ('month'
    or 'year'), or None when all are in days."""
    where, params = events_where(selection or Selection(), list(by), True, unit=None)
    units = {r[0] for r in con.execute(f"SELECT DISTINCT unit FROM agg_survival_events WHERE {where}",
                                       params).fetchall()}
    return max(units - {"day"}, key=FOLLOWUP_UNITS.get, default=None)


def events_where(selection: Selection, by, tables: bool, unit: str | None = "day") -> tuple[str, dict]:
    """The selection as a condition on `agg_survival_events` (the tables `usable_units(unit)`;
    every table when `unit` is None; years as whole periods), with its parameters (prefixed
    `t_`); 'FALSE' when the table cannot be used."""
    if not tables or lacking(selection, by, EVENT_COLUMNS):
        return "FALSE", {}
    where, params = selection.where(skip=("year",), prefix="t_")
    parts = ["list_contains($t_units, unit)" if unit else "TRUE", where]
    if unit:
        params["t_units"] = usable_units(unit)
    if _uses_stage(selection, by):
        parts.append("stage_sent")  # a table sent without stage has no stage to select or group by
    if "year" in set(selection.filters) or selection.years:
        y0, y1, starts = _periods(selection)
        parts.append("CAST(left(period, 4) AS INTEGER) BETWEEN $t_py0 AND $t_py1")
        params |= {"t_py0": y0, "t_py1": y1}
        if starts is not None:
            parts.append("list_contains($t_starts, CAST(left(period, 4) AS INTEGER))")
            params["t_starts"] = starts
    return " AND ".join(parts), params


def events_sql(selection: Selection, by, tables: bool = True, keys: bool = False,
               unit: str = "day") -> tuple[str, dict]:
    """A FROM-clause relation of the selection's follow-up, and its parameters: per `by` group,
    follow-up (`days`: in days, or in completed `unit`s for the actuarial life table) and `dco`
    (death certificate only: no survival time), the `deaths` and `censored`, and with `keys`
    their record-key sums (`key_event`, `key_censor`, mod 2**32 within a branch: sum them and
    reduce again). Two branches, each aggregated before the union (12 million rows never pass
    through it): `cases`, and the survival events in `usable_units(unit)` (none when `tables` is
    false: a statistic that needs rows). The selection is applied inside (a table's years are its
    periods)."""
    by = list(by)
    where, params = selection.where()
    t_where, t_params = events_where(selection, by, tables, unit)
    rows_time = completed_sql(unit)
    table_time = "CASE unit " + " ".join(f"WHEN '{u}' THEN {completed_sql(unit, 'time', u)}"
                                          for u in usable_units(unit)) + " END"
    m = KEY_MODULUS
    rows_keys = (f", CAST(coalesce(sum(record_key) FILTER (WHERE event = 1), 0) % {m} AS BIGINT) AS key_event, "
                 f"CAST(coalesce(sum(record_key) FILTER (WHERE event <> 1), 0) % {m} AS BIGINT) AS key_censor"
                 if keys else "")
    table_keys = (f", CAST(sum(key_event) % {m} AS BIGINT) AS key_event, "
                  f"CAST(sum(key_censor) % {m} AS BIGINT) AS key_censor" if keys else "")
    cols = "".join(f"{b}, " for b in by)
    t_cols = "".join(f"{b}, " if b in EVENT_COLUMNS else f"NULL AS {b}, " for b in by)
    return f"""(SELECT {cols}{rows_time} AS days, CAST(sum(event) AS BIGINT) AS deaths,
                      CAST(count(*) - sum(event) AS BIGINT) AS censored, dco{rows_keys}
               FROM cases WHERE {where} GROUP BY ALL
               UNION ALL
               SELECT {t_cols}{table_time} AS days, CAST(sum(deaths) AS BIGINT), CAST(sum(censored) AS BIGINT),
                      false AS dco{table_keys}
               FROM agg_survival_events WHERE {t_where} GROUP BY ALL)""", params | t_params


def followup_rows_sql(selection: Selection, by) -> tuple[str, dict]:
    """A FROM-clause relation of one row per selected child with a survival time, for models
    fitted on rows (Cox), and its parameters: `cases` without its death-certificate-only
    registrations, and each row of survival events in days expanded back into its children
    (`deaths` rows with event 1, `censored` rows with event 0; the row's record-key sum on the
    first of them, 0 on the others, so key sums are kept). Columns: those of `_ALL`, age_years,
    followup_days, event, record_key. For a model on categorical covariates the tables carry,
    these rows are the partner's rows as the model sees them (covariates, time, event): the fit
    is that of its rows."""
    where, params = selection.where()
    t_where, t_params = events_where(selection, by, True)
    cols = _cols(EVENT_COLUMNS)
    expand = """SELECT {cols}, NULL::TINYINT AS age_years, time AS followup_days, {event} AS event,
                       CASE WHEN i = 0 THEN {key} ELSE 0 END AS record_key
                FROM (SELECT *, unnest(range({n})) AS i FROM agg_survival_events WHERE {t_where} AND {n} > 0)"""
    return f"""(SELECT {', '.join(_ALL)}, age_years, followup_days, CAST(event AS INTEGER) AS event, record_key
                FROM cases WHERE NOT dco AND {where}
               UNION ALL {expand.format(cols=cols, event=1, key='key_event', n='deaths', t_where=t_where)}
               UNION ALL {expand.format(cols=cols, event=0, key='key_censor', n='censored', t_where=t_where)})""", \
        params | t_params


def included_events(con: duckdb.DuckDBPyConnection, selection: Selection, by, unit: str = "day") -> list[str]:
    """The note on the aggregate partners whose survival events a statistic (in `unit`) includes,
    or []: their death-certificate-only registrations are not in those tables (no survival time),
    so the statistic's 'selected' count holds none of theirs."""
    where, params = events_where(selection, by, True, unit)
    countries = _tumours(con, "agg_survival_events", where, params)[0]
    if not countries:
        return []
    return [f"Included from aggregate survival events (counts per follow-up {unit}, not records): {_names(countries)}; "
            "their death-certificate-only registrations are not in those tables, so none of theirs is counted "
            "among the selected or the excluded."]


@dataclass(frozen=True)
class TablesLeftOut:
    """Tumours of aggregate partners a statistic leaves out: whose (`countries`), why, and how
    many (`n`, exact, with their record-key sum `key`, from which the release layer makes the
    number a viewer sees). `str()` is the exact note (the command line); `text(n)` the note with
    `n` written as given (a released Count)."""

    kind: str
    countries: tuple[str, ...]
    why: str
    n: int = field(repr=False)
    key: int = field(repr=False, compare=False)

    def text(self, n: str) -> str:
        return (f"Left out: {n} tumours {_names(list(self.countries))} sent as aggregate {self.kind} "
                f"({self.why}).")

    def __str__(self) -> str:
        return self.text(f"{self.n:,}")


def released_notes(notes, count) -> list[str]:
    """`notes` (texts and `TablesLeftOut`) as a viewer reads them: each number of tumours left out
    written by `count(n, key)` (the release layer's `disclosure.count`: perturbed, or 'fewer than T')."""
    return [n.text(str(count(n.n, n.key))) if isinstance(n, TablesLeftOut) else n for n in notes]


#: Why a statistic in days leaves out survival events in completed months or years ({what}: its name).
IN_DAYS = "follow-up in completed months or years: {what} needs the day of each death"
#: ... and, for Kaplan-Meier, what does pool them.
ACTUARIAL_POOLS = ("; the actuarial life table pools them (the Survival page's estimator, or "
                   "`survival --method actuarial`)")


def left_out(con: duckdb.DuckDBPyConnection, table: str, selection: Selection, by,
             needs: str | None = None, unit: str = "day", what: str = "Kaplan-Meier") -> list[TablesLeftOut]:
    """The tumours of the aggregate submissions of `table` ('agg_case_counts' or
    'agg_survival_events') a statistic over `selection` and `by` leaves out, one item per reason;
    [] when none is. `needs`: why the statistic uses no table at all (what it needs that a table
    lacks), or None. `unit`: the follow-up unit the statistic works in (survival events coarser
    than it are left out); `what`: the statistic's name, for the note on days."""
    carried = COUNT_COLUMNS if table == "agg_case_counts" else EVENT_COLUMNS
    missing = lacking(selection, by, carried)
    kind = "case counts" if table == "agg_case_counts" else "survival events"
    # the partners the selection would otherwise take (a column the table has not is not filtered on)
    where, params = selection.where(skip=tuple(set(missing) | set(_ALL) - set(carried)))
    if needs or missing:
        words = " or ".join(_WORDS.get(c, c.replace("_", " ")) for c in missing)
        why = needs or f"tables without {words}, which this selection uses"
        if "year" in missing and "period" in carried and not needs:
            why += ("; their periods of diagnosis are five-year periods: choose years from the first year "
                    "of a period to the last of one, 2000-2019 say, to include them")
        found = _tumours(con, table, where, params)
        return [TablesLeftOut(kind, *found[:1], why, *found[1:])] if found[0] else []
    out = []
    if table == "agg_survival_events" and _uses_stage(selection, by):
        found = _tumours(con, table, f"({where}) AND NOT stage_sent", params)
        if found[0]:
            out.append(TablesLeftOut(kind, *found[:1], "tables sent without stage, which this selection uses",
                                     *found[1:]))
        where = f"({where}) AND stage_sent"
    if table == "agg_survival_events":
        found = _tumours(con, table, f"({where}) AND NOT list_contains($t_units, unit)",
                         params | {"t_units": usable_units(unit)})
        if found[0]:
            why = IN_DAYS.format(what=what) + (ACTUARIAL_POOLS if what == "Kaplan-Meier" else "") if unit == "day" else \
                f"follow-up in completed units coarser than the {unit}s of these intervals: choose yearly intervals"
            out.append(TablesLeftOut(kind, *found[:1], why, *found[1:]))
    return out


def _tumours(con: duckdb.DuckDBPyConnection, table: str, where: str, params: dict) -> tuple[tuple[str, ...], int, int]:
    """(countries, tumours, their record-key sum mod 2**32) of the rows of an aggregate table."""
    n, key = ("cases", "key_cases") if table == "agg_case_counts" else \
        ("deaths + censored", "key_event + key_censor")
    row = con.execute(f"""SELECT list(DISTINCT country ORDER BY country), coalesce(sum({n}), 0),
                                 CAST(coalesce(sum({key}), 0) % {KEY_MODULUS} AS BIGINT)
                          FROM {table} WHERE {where}""", params).fetchone()
    return tuple(row[0] or ()), int(row[1]), int(row[2])


def tables_only(con: duckdb.DuckDBPyConnection, countries) -> list[str]:
    """Those of `countries` that sent survival events and no records (a statistic on records has
    none of their children)."""
    rows = con.execute("""SELECT DISTINCT country FROM agg_survival_events
                          WHERE list_contains($c, country) AND country NOT IN (SELECT country FROM cases)
                          ORDER BY 1""", {"c": list(countries)}).fetchall()
    return [r[0] for r in rows]


def partners_note(counts: list[str], events: list[str], unit: str | None = None) -> str | None:
    """The notice every page carries when aggregate partners are in the pool (countries of the
    case counts and of the survival events loaded, ISO codes; `unit`: `interval_unit`, when some
    follow-up came in completed months or years), or None."""
    if not counts and not events:
        return None
    both = [c for c in counts if c in events]
    parts = ([f"{_names(both)} (case counts and survival events)"] if both else []) + \
        ([f"{_names([c for c in counts if c not in both])} (case counts)"] if set(counts) - set(both) else []) + \
        ([f"{_names([c for c in events if c not in both])} (survival events)"] if set(events) - set(both) else [])
    return (f"Aggregate partners: {'; '.join(parts)} sent tables of counts, not records. A statistic that "
            "needs records (net survival, single-year age, a filter the tables lack) leaves them out and says so."
            + (f" Some follow-up came in completed {unit}s: the Survival and International pages "
                  "pool it by the actuarial life table."
               if unit else ""))


def _names(codes: list[str]) -> str:
    from analytics.labels import country

    return ", ".join(country(c) for c in codes)


def partners_footnote(counts: list[str], events: list[str]) -> str | None:
    """One footnote line for figures and downloads: the aggregate partners, or None."""
    codes = sorted(set(counts) | set(events))
    return f"Aggregate partners (tables of counts, not records): {_names(codes)}." if codes else None
