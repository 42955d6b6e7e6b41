"""Aggregate submissions, the partner's side (issue 14): tables instead of rows.

A partner whose rules forbid sending records runs `python -m analytics aggregate ROWFILE --out DIR`
on its own machine. The row-level file goes through exactly the validation, ICCC-3 classification
and derivations of `python -m analytics ingest` (`analytics.ingest.ingest_file`, into a warehouse
held in memory and thrown away), and two tables of counts come out (`analytics.schema`
CASE_COUNT_COLUMNS and SURVIVAL_EVENT_COLUMNS):

- case counts: tumours by country, registry, year, sex, age group and ICCC-3 subgroup, with the
  death-certificate-only and microscopically verified among them: what incidence counts;
- survival events: deaths and censorings per follow-up time by country, registry, ICCC-3 subgroup,
  sex, age group, period of diagnosis and stage, death-certificate-only registrations left out:
  what Kaplan-Meier, Greenwood's variance, the log-rank test and a Cox model with these covariates
  are computed from. Summed over partners, these tables give the same estimates as the rows would
  (the federated platforms vantage6 and DataSHIELD pool survival the same way).

Rows that ingest would reject are left out and reported to the partner, in a file beside ROWFILE,
never in DIR (what is sent). Follow-up may be coarsened to completed months or years
(`schema.FOLLOWUP_UNITS`) for partners whose rules require it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from analytics import schema, warehouse
from analytics.ingest import IngestReport, ingest_file

#: Strata of each table, in the contract's column order.
COUNT_STRATA = ["country", "registry", "year", "sex", "age_group", "iccc_sub"]
EVENT_STRATA = ["country", "registry", "iccc_sub", "sex", "age_group", "period", "stage"]


@dataclass
class Aggregated:
    """What `aggregate_file` wrote: the ingest report of the row-level file (its accounting and
    reasons), the two tables' paths and row counts, and the rejected rows' file (None if none)."""

    report: IngestReport
    case_counts: Path
    survival_events: Path
    count_rows: int
    event_rows: int
    rejected: Path | None

    def summary(self) -> str:
        r = self.report
        lines = [f"{r.file_name}: read {r.rows_read:,}, valid {r.rows_loaded:,}, left out {r.rows_rejected:,} "
                 f"(rejected as ingest would)",
                 f"  case counts:     {self.case_counts} ({self.count_rows:,} rows)",
                 f"  survival events: {self.survival_events} ({self.event_rows:,} rows)"]
        if self.rejected:
            lines.append(f"  rejected rows, with every reason (stays with you, not in the output folder): "
                         f"{self.rejected}")
        return "\n".join(lines)


def _time_sql(unit: str) -> str:
    """The follow-up time column in `unit` (completed units; days as stored)."""
    return schema.completed_sql(unit)  # ValueError for an unknown unit


def case_counts_sql() -> str:
    """SELECT of the case-counts table from `cases` (every tumour, DCO included)."""
    return """
        SELECT country, coalesce(registry, '') AS registry, year, sex, age_group, coalesce(iccc_sub, '') AS iccc_sub,
               count(*) AS cases, count(*) FILTER (WHERE dco) AS dco,
               count(*) FILTER (WHERE basis IN (5, 6, 7)) AS microscopic
        FROM cases GROUP BY ALL ORDER BY ALL"""


def survival_events_sql(unit: str = "day", stage: bool = True) -> str:
    """SELECT of the survival-events table from `cases` (DCO left out), times in `unit`."""
    strata = [s for s in EVENT_STRATA if stage or s != "stage"]
    cols = ", ".join("coalesce(registry, '') AS registry" if s == "registry" else
                     "coalesce(iccc_sub, '') AS iccc_sub" if s == "iccc_sub" else
                     "coalesce(stage, '') AS stage" if s == "stage" else s for s in strata)
    return f"""
        SELECT {cols}, {_time_sql(unit)} AS {unit},
               CAST(sum(event) AS BIGINT) AS deaths, CAST(count(*) - sum(event) AS BIGINT) AS censored
        FROM cases WHERE NOT dco GROUP BY ALL ORDER BY ALL"""


def aggregate_file(path: str | Path, out_dir: str | Path, unit: str = "day", stage: bool = True,
                   log=None) -> Aggregated:
    """Validate the partner's row-level file as ingest does and write its case counts and survival
    events into `out_dir` as `<name>_case_counts.csv` and `<name>_survival_events.csv`; the rejected
    rows, if any, go to `<name>_rejected.csv` beside the row file. Raises what ingest raises for a
    file that is not a submission (SubmissionError), and ValueError for an unknown unit."""
    path, out_dir = Path(path), Path(out_dir)
    _time_sql(unit)  # an unknown unit fails before any work
    con = duckdb.connect()  # in memory: nothing of the rows is kept on disk by this
    try:
        warehouse.initialise(con)
        report = ingest_file(con, path)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = path.stem
        counts, events = out_dir / f"{stem}_case_counts.csv", out_dir / f"{stem}_survival_events.csv"
        n_counts = _write(con, case_counts_sql(), counts)
        n_events = _write(con, survival_events_sql(unit, stage), events)
        rejected = None
        if report.rows_rejected:
            rejected = path.with_name(f"{stem}_rejected.csv")
            _write(con, """SELECT line_no, case_id, array_to_string(reasons, '; ') AS reasons, raw
                           FROM rejected_rows ORDER BY line_no""", rejected)
    finally:
        con.close()
    return Aggregated(report, counts, events, n_counts, n_events, rejected)


def _write(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> int:
    """Write a query's rows as CSV (text a spreadsheet would run as a formula quoted: `safe_text`)."""
    from analytics.safe_text import csv_frame

    df = con.execute(sql).df()
    csv_frame(df).to_csv(target, index=False, lineterminator="\n")
    return len(df)
