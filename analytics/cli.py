"""Command-line interface: `python -m analytics COMMAND ...` over the same functions the app uses.

Tables go to standard output as plain CSV; notices and summaries go to standard error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analytics import warehouse


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _writing(args: argparse.Namespace):
    """A change to the warehouse as a new snapshot (`analytics.snapshots.writing`): the app keeps
    serving meanwhile, and sees the change whole on its next interaction."""
    from analytics import snapshots

    return snapshots.writing(args.db or warehouse.DEFAULT_DB, log=_err)


def cmd_ingest(args: argparse.Namespace) -> int:
    from analytics import access, snapshots
    from analytics.ingest import StrictRejectError, SubmissionError

    if args.name and len(args.files) > 1:
        _err("error: --name applies to a single file")
        return 2
    status = 0
    who = access.command_line()
    with _writing(args) as con:
        for f in args.files:
            try:  # as the upload page does, for the command line (the warehouse's owner: an admin)
                report = access.ingest(con, who, f, name=args.name, synthetic=args.synthetic,
                                       strict=args.strict, replace=args.replace)
            except StrictRejectError as e:
                print(e.report.summary(), flush=True)
                _err(f"error: {e}")
                status = status or 3
                continue
            except SubmissionError as e:
                _err(f"error: {e}")
                status = 1
                continue
            print(report.summary(), flush=True)
        if not snapshots.recorded(con):
            raise snapshots.Unchanged  # every file refused: the warehouse stays as it was
    return status


def cmd_rejected(args: argparse.Namespace) -> int:
    con = warehouse.connect(args.db, read_only=True)
    df = con.execute("""SELECT submission_id, line_no, case_id, array_to_string(reasons, '; ') AS reasons,
                               raw FROM rejected_rows
                        WHERE $sid IS NULL OR submission_id = $sid ORDER BY submission_id, line_no""",
                     {"sid": args.submission}).df()
    from analytics.safe_text import csv_frame  # a partner's case_id may be a spreadsheet formula

    csv_frame(df).to_csv(sys.stdout, index=False, lineterminator="\n")
    _err(f"{len(df)} rejected row(s)")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from analytics import audit
    from analytics.safe_text import csv_frame

    con = warehouse.connect(args.db, read_only=True)
    if args.verify:
        problems = audit.verify(con)
        n = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        con.close()
        for p in problems:
            _err(f"error: {p}")
        if not problems:
            _err(f"the audit log is whole: {n} entries, each chained to the one before")
        return 1 if problems else 0
    df = audit.entries(con)
    con.close()
    if args.format == "table":
        cols = ["seq", "at_utc", "who", "action", "what", "file_name", "sha256", "rows_read", "rows_loaded",
                "rows_rejected"]
        print(csv_frame(df[cols]).to_string(index=False), flush=True)
    else:
        csv_frame(df).to_csv(sys.stdout, index=False, lineterminator="\n")
    _err(f"{len(df)} audit entr{'y' if len(df) == 1 else 'ies'} (times in UTC)")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from analytics import access
    from analytics.ingest import SubmissionError, readmitted_lines

    try:
        with _writing(args) as con:
            removal = access.remove(con, access.command_line(), args.submission)
    except SubmissionError as e:
        _err(f"error: {e}")
        return 1
    print(f"removed submission '{args.submission}': {removal.loaded:,} loaded and {removal.rejected:,} "
          f"rejected rows", flush=True)
    for line in readmitted_lines(removal.readmitted):
        print(line, flush=True)
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from analytics.iccc import classify_csv

    try:
        done = classify_csv(args.file, sys.stdout, args.version)
    except (ValueError, OSError) as e:
        _err(f"error: {e}")
        return 1
    _err(f"{done.unclassified} row(s) unclassified of {done.rows}, by {done.version}"
         + (f"; {done.unreadable} of them with codes that could not be read" if done.unreadable else "")
         + ("; why: column iccc_reason" if done.unclassified else ""))
    for reason, n in list(done.reasons.items())[:10]:
        _err(f"  {n:>8}  {reason}")
    if len(done.reasons) > 10:
        _err(f"  ... and {len(done.reasons) - 10} other reason(s)")
    return 0


def cmd_reclassify(args: argparse.Namespace) -> int:
    from analytics import access, iccc, snapshots

    try:
        iccc.version(args.version)  # an unknown version is refused before the warehouse is copied
    except ValueError as e:
        _err(f"error: {e}")
        return 2
    if not Path(args.db).exists():  # a mistyped path would become a new, empty warehouse
        _err(f"error: no warehouse at {args.db}")
        return 2
    try:
        with _writing(args) as con:
            result = access.reclassify(con, access.command_line(), args.version)
            if result.nothing_to_do:
                raise snapshots.Unchanged  # the warehouse stays as it was
    except IsADirectoryError as e:  # --db naming a folder
        _err(f"error: cannot open the warehouse {e.filename}: it is a directory")
        return 2
    if result.nothing_to_do:
        _err(f"nothing to change: every tumour is already classified by {result.version}")
        return 0
    for line in result.lines():
        print(line, flush=True)
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from analytics.schema import data_dictionary_markdown

    sys.stdout.write(data_dictionary_markdown())
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from analytics import audit, reference

    with _writing(args) as con:
        # A new warehouse comes loaded; an older one gets whatever reference data it lacks.
        added = reference.install(con)
        rows = reference.status(con)
        audit.record(con, who=audit.command_line_user(), action="init",
                     what="reference data: " + ", ".join(f"{t} {n} rows" for t, n in rows.items()))
    _err(f"warehouse ready: {args.db or warehouse.DEFAULT_DB}")
    for table, n in rows.items():
        note = f" ({added[table]} added now)" if table != "standard_population" and added[table] else ""
        _err(f"  {table}: {n} rows{note}")
    return 0


def cmd_population(args: argparse.Namespace) -> int:
    from analytics import access
    from analytics.reference import ReferenceFileError
    from analytics.reference.population import read_population_file

    try:
        pf = read_population_file(args.file)  # validated before the warehouse is opened
    except ReferenceFileError as e:
        _err(f"error: {e}")
        return 1
    with _writing(args) as con:
        report = access.population(con, access.command_line(), pf, args.file)
    print(report.summary(), flush=True)
    return 0


def cmd_lifetable(args: argparse.Namespace) -> int:
    from analytics import access
    from analytics.reference import ReferenceFileError
    from analytics.reference.lifetable import read_life_table_file

    try:
        table = read_life_table_file(args.file, args.country, args.sex)
    except ReferenceFileError as e:
        _err(f"error: {e}")
        return 1
    with _writing(args) as con:
        replaced = access.lifetable(con, access.command_line(), table, args.file)
    print(table.summary(replaced), flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from analytics.demo import build_demo

    db = args.db or warehouse.DEFAULT_DB
    _err(f"building the synthetic demonstration pool in {db} (scale {args.scale}, seed {args.seed})")
    try:
        steps = build_demo(db, scale=args.scale, seed=args.seed, fmt=args.format, log=_err,
                           aggregate_countries=args.aggregate_countries, aggregate_unit=args.aggregate_unit)
    except ValueError as e:
        _err(f"error: {e}")
        return 2
    _err(f"done: {sum(s.report.rows_loaded for s in steps):,} synthetic tumours loaded, "
         f"{sum(s.report.rows_rejected for s in steps):,} rows rejected as intended")
    return 0


def cmd_calibration(args: argparse.Namespace) -> int:
    from analytics.calibration import report

    con = warehouse.connect(args.db, read_only=True)
    df = report(con)
    df.to_csv(sys.stdout, index=False, lineterminator="\n")
    failed = df[~df["ok"]]
    _err(f"{len(df) - len(failed)} of {len(df)} calibration targets met")
    return 1 if len(failed) else 0


SYNTHETIC_NOTICE = ("Synthetic demonstration data: simulated cases calibrated to published figures; "
                    "not real patients or outcomes.")


def _engine(args: argparse.Namespace, con):
    """The engine of `--engine` (`analytics.engine`): None for DuckDB (the functions' default), or a
    Spark session over the warehouse's Parquet copy (`--spark-data`, else written to a temporary
    folder) on `--spark-master` (else $CCOE_SPARK_MASTER, else local mode)."""
    from analytics import engine

    if getattr(args, "engine", "duckdb") != "spark":
        if getattr(args, "spark_data", None) or getattr(args, "spark_master", None):
            raise engine.EngineError("--spark-data and --spark-master are for --engine spark")
        return None

    _err("# starting Spark (the aggregates run there; notes on partners' tables are read from the warehouse)")
    return engine.spark_engine(con, data=args.spark_data, master=args.spark_master)


def cmd_parquet(args: argparse.Namespace) -> int:
    """Write the warehouse's tables that the aggregates read as Parquet, for Spark (`--engine spark
    --spark-data DIR`; copy DIR to a cluster's storage as it is)."""
    from analytics.engine import export_parquet

    con = warehouse.connect(args.db, read_only=True)
    manifest = export_parquet(con, args.out)
    print(f"wrote {', '.join(f'{t} ({n:,} rows)' for t, n in manifest['rows'].items())} to {args.out} "
          f"(warehouse version {manifest['data_version']})", flush=True)
    return 0


def _notices(con, extra: list[str] = ()) -> None:
    """Method notes and, while synthetic submissions are loaded, the synthetic-data notice."""
    for line in extra:
        _err(f"# {line}")
    if con.execute("SELECT coalesce(bool_or(synthetic), false) FROM submissions").fetchall()[0][0]:
        _err(f"# {SYNTHETIC_NOTICE}")


def _write_table(df, fmt: str) -> None:
    """A plain table on standard output at full precision (CSV or JSON records). CSV text cells
    that a spreadsheet would run as a formula (a registry code from a partner's file) are quoted."""
    from analytics.safe_text import csv_frame

    if fmt == "json":
        sys.stdout.write(df.to_json(orient="records", double_precision=15) + "\n")
    else:
        csv_frame(df).to_csv(sys.stdout, index=False, lineterminator="\n")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def cmd_incidence(args: argparse.Namespace) -> int:
    from analytics.filters import Selection, SelectionError
    from analytics.incidence import incidence, trend

    con = warehouse.connect(args.db, read_only=True)
    try:
        sel = Selection.from_cli(args.filter, args.years)
        by = _split(args.by)
        eng = _engine(args, con)
        if args.command == "trend":
            df = trend(con, sel, by, ages=args.ages, standard=args.standard, ci=args.ci, engine=eng)
            cols = by + ["apc", "apc_lower", "apc_upper"]
            notes = ["APC: least-squares fit of ln(yearly age-standardised rate) on year; 95% CI from t(n-2)."]
            notes += [df.attrs["left_out"]] if df.attrs.get("left_out") else []  # cases without person-years
        else:
            res = incidence(con, sel, by, ages=args.ages, standard=args.standard, ci=args.ci, engine=eng)
            df, notes = res.table, res.notes
            cols = by + ["cases", "person_years", "crude_rate", "asr", "asr_lower", "asr_upper"]
    except SelectionError as e:
        _err(f"error: {e}")
        return 2
    n_supp = int(df["suppressed"].sum())
    if n_supp:
        notes = [*notes, f"{n_supp} row(s) suppressed (fewer cases than the threshold): values left empty."]
    _write_table(df[cols], args.format)
    _notices(con, notes)
    return 0


def cmd_aggregate(args: argparse.Namespace) -> int:
    """A partner's row-level file turned into the two tables of an aggregate submission, on the
    partner's machine (`analytics.aggregate`); no warehouse is read or written."""
    from analytics.aggregate import aggregate_file
    from analytics.ingest import SubmissionError

    try:
        done = aggregate_file(args.file, args.out, unit=args.unit, stage=not args.without_stage)
    except SubmissionError as e:
        _err(f"error: {e}")
        return 1
    print(done.summary(), flush=True)
    for reason, n in done.report.reasons.items():
        _err(f"  {n:>8,}  {reason}")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """The data-quality indicators by country (or country and year), exact: this command reads the
    warehouse file, as `ingest` and `rejected` do, for the people who keep it."""
    import pandas as pd

    from analytics import quality

    con = warehouse.connect(args.db, read_only=True)
    by = ["country", "year"] if args.by_year else ["country"]
    df = quality.indicators(con, None, by)
    df["closing_date"] = pd.to_datetime(df["closing_date"]).dt.strftime("%Y-%m-%d")
    if not args.by_year:
        df = df.merge(quality.age_unknown(con), on="country", how="left")
        df["age_unknown_share"] = df["n_age_unknown"] / (df["cases"] + df["n_age_unknown"])
    cols = by + ["cases", "dco_share", "mv_share"] + (["age_unknown_share"] if not args.by_year else []) + [
        "sex_unknown_share", "stage_unknown_share", "followup_completeness", "median_followup_years", "closing_date"]
    _write_table(df[cols], args.format)
    _notices(con, ["Exact values (the app shows them released). Definitions: analytics/quality.py; "
                   f"{quality.QUALITY_SOURCE}; follow-up completeness (Clark's C): {quality.COMPLETENESS_SOURCE}."])
    return 0


def _times(value: str) -> list[float]:
    """--times: distinct finite years from 0, in increasing order."""
    try:
        times = sorted({float(t) for t in _split(value)})
    except ValueError:
        times = []
    if not times or not all(0 <= t < float("inf") for t in times):
        _err(f"error: --times '{value}': write years from 0, e.g. 1,3,5,10")
        raise SystemExit(2)
    return times


def _tau(value: str) -> float:
    """--rmst: a finite number of years above 0."""
    return _positive_number(value, f"'{value}': write years above 0, e.g. 5")


def cmd_survival(args: argparse.Namespace) -> int:
    from analytics import survival
    from analytics.filters import Selection, SelectionError

    con = warehouse.connect(args.db, read_only=True)
    try:
        sel = Selection.from_cli(args.filter, args.years)
        by = _split(args.by)
        if args.interval and args.method != "actuarial":
            _err("error: --interval is for --method actuarial (the life table's intervals)")
            return 2
        unit = (args.interval or "month") if args.method == "actuarial" else "day"
        if args.engine == "spark" and args.method in ("pohar-perme", "ederer2"):
            _err("error: --engine spark runs the aggregate queries (Kaplan-Meier, the life table, log-rank, "
                 "cumulative incidence, incidence); net survival weighs each tumour by its own expected "
                 "survival, so it reads rows and runs on DuckDB: drop --engine spark")
            return 2
        window = None
        if args.period_window:
            from analytics.period import Window

            window = Window.parse(args.period_window)
            if args.method == "actuarial":
                _err("error: --period-window needs each tumour's date of diagnosis, which the life table's "
                     "partners do not send: use --method km (or pohar-perme, ederer2)")
                return 2
            if args.followup:
                _err("error: --followup is the follow-up of the cohort, not of a calendar window: drop "
                     "--period-window")
                return 2
        if (args.followup or args.rmst is not None) and args.method != "km":
            _err(f"error: {'--followup' if args.followup else '--rmst'} is computed on Kaplan-Meier (--method km): "
                 "it needs follow-up in days")
            return 2
        eng = _engine(args, con)  # after the checks above: Spark takes seconds to start
        if args.followup:
            events = survival.event_table(con, sel, by, engine=eng)
            df = survival.median_followup(events)[by + ["median_followup_years", "lower", "upper"]].astype(object)
            _write_table(df.where(df.notna(), "not reached"), args.format)
            _notices(con, ["Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996): "
                           "Kaplan-Meier with the censorings as events; 95% CI log-log, R's quantile rule. In years.",
                           f"{events.n_analysed:,} analysed of {events.n_selected:,} selected ({events.n_dco:,} "
                           "DCO excluded).", *[str(n) for n in events.notes]])
            return 0
        if args.standardise and args.method in ("pohar-perme", "ederer2"):  # as CONCORD: net survival per band
            from analytics import netsurvival

            df = netsurvival.age_standardised(con, sel, by, method=args.method, times=_times(args.times),
                                              weights=args.standardise, window=window)
            _write_table(df[by + ["time_years", "survival", "lower", "upper"]], args.format)
            _notices(con, [f"Age-standardised {'net' if args.method == 'pohar-perme' else 'relative'} survival over "
                           f"0-4, 5-9, 10-14, 15-19 with {df.attrs['weights_label']}: "
                           + ", ".join(f"{b} {w:.4f}" for b, w in df.attrs["weights"].items())
                           + "; Var = sum of w^2 Var per band, 95% CI log (relsurv's, not clipped).",
                           *df.attrs["notes"]])
            return 0
        if args.standardise:
            events = survival.event_table(con, sel, [*by, "age_band"], unit=unit, window=window, engine=eng)
            df = survival.age_standardised(events, _times(args.times), weights=args.standardise,
                                           conf_type=args.ci)
            _write_table(df[by + ["time_years", "survival", "lower", "upper"]], args.format)
            _notices(con, [f"Age-standardised survival over 0-4, 5-9, 10-14, 15-19 with "
                           f"{df.attrs['weights_label']}: " + ", ".join(f"{b} {w:.4f}" for b, w in df.attrs["weights"].items()),
                           survival.method_note(unit, args.ci),
                           f"{events.n_analysed:,} analysed of {events.n_selected:,} selected ({events.n_dco:,} DCO excluded).",
                           *[str(n) for n in events.notes]])
            return 0
        if args.method == "actuarial":  # follow-up in completed months or years (analytics.lifetable)
            res = survival.kaplan_meier(survival.event_table(con, sel, by, unit=unit, engine=eng),
                                        times=_times(args.times), conf_type=args.ci)
        elif args.method != "km":
            from analytics.netsurvival import net_survival

            res = net_survival(con, sel, by, method=args.method, times=_times(args.times), window=window)
        else:
            res = survival.kaplan_meier(survival.event_table(con, sel, by, window=window, engine=eng),
                                        times=_times(args.times), conf_type=args.ci)
    except SelectionError as e:
        _err(f"error: {e}")
        return 2
    if args.rmst is not None:
        df = survival.rmst(res, args.rmst)[by + ["tau_years", "rmst_years", "std_err", "lower", "upper"]]
        res.notes[0:0] = [f"Restricted mean survival time to {args.rmst:g} years: the area under the curve, in "
                          "years (R's summary(survfit, rmean = tau)); std_err by the Greenwood-type formula of R's "
                          "survival, 95% CI rmst -/+ 1.96 std_err."]
    elif args.steps:
        df = res.steps()
    elif args.median:
        df = res.medians[by + ["median", "median_lower", "median_upper"]].astype(object)
        df = df.where(df.notna(), "not reached")
    else:
        df = res.at_times[by + ["time_years", "n_at_risk", "survival", "lower", "upper"]
                          + (["n_in_window"] if window else [])]
        if window and args.method == "km":
            res.notes.append("n_at_risk at a time is R's summary(survfit, times)$n.risk: the risk set at the "
                             "next exit at or after it (counting those who enter in between; the pages show "
                             "those entered before the time instead).")
    _write_table(df, args.format)
    _notices(con, res.notes)
    return 0


def cmd_cif(args: argparse.Namespace) -> int:
    """Cumulative incidence by cause (competing risks), or Gray's test per cause with --test."""
    from analytics import competing
    from analytics.filters import Selection, SelectionError

    con = warehouse.connect(args.db, read_only=True)
    try:
        sel = Selection.from_cli(args.filter, args.years)
        by = [args.by] if args.by else []
        table = competing.cause_table(con, sel, by, engine=_engine(args, con))
        if args.test:
            if not args.by:
                _err("error: --test compares groups: give --by COLUMN")
                return 2
            df = competing.gray_test(table, args.by)
        else:
            df = competing.cuminc(table, _times(args.times))
    except SelectionError as e:
        _err(f"error: {e}")
        return 2
    _write_table(df, args.format)
    notes = competing.method_notes(table)
    if df.attrs.get("suppressed"):
        notes.append(f"{df.attrs['suppressed']} group(s) with fewer than {df.attrs['threshold']} cases suppressed.")
    if args.test:
        notes.insert(0, f"Gray's test (rho = 0) per cause across {args.by}: chi-square on groups - 1 degrees of "
                        "freedom, as R's cmprsk cuminc()$Tests; cases with the group unknown left out.")
    _notices(con, notes)
    return 0


def cmd_logrank(args: argparse.Namespace) -> int:
    from analytics import survival
    from analytics.filters import Selection, SelectionError

    con = warehouse.connect(args.db, read_only=True)
    try:
        sel = Selection.from_cli(args.filter, args.years)
        cols = [args.by] + ([args.strata] if args.strata else [])
        events = survival.event_table(con, sel, cols, what="the log-rank test", engine=_engine(args, con))
        res = survival.logrank(events, args.by, strata=args.strata)
    except SelectionError as e:
        _err(f"error: {e}")
        return 2
    import pandas as pd

    _write_table(pd.DataFrame([{"chisq": res["chisq"], "df": res["df"], "p": res["p"]}]), args.format)
    notes = [f"Log-rank test across {args.by}" + (f", stratified by {args.strata}" if args.strata else "")
             + f"; {events.n_analysed:,} analysed of {events.n_selected:,} selected "
             f"({events.n_dco:,} DCO excluded)."]
    if res["n_excluded"]:
        notes.append(f"{res['n_excluded']:,} case(s) with {' or '.join(cols)} unknown left out of the test.")
    if res["reason"]:
        notes.append(f"No test statistic: {res['reason']}.")
    _notices(con, notes + [str(n) for n in events.notes])
    return 0


def cmd_cox(args: argparse.Namespace) -> int:
    from analytics import survival
    from analytics.filters import Selection, SelectionError

    con = warehouse.connect(args.db, read_only=True)
    try:
        sel = Selection.from_cli(args.filter, args.years)
        res = survival.cox(con, sel, _split(args.covariates))
    except SelectionError as e:
        _err(f"error: {e}")
        return 2
    if args.ph:
        _write_table(res.attrs["ph"](), args.format)
        _notices(con, ["Proportional-hazards check as R's cox.zph(fit, transform = 'km'): score test per "
                       "term and GLOBAL; a small p suggests the hazard ratio changes with time."])
        return 0
    _write_table(res[["term", "hr", "hr_lower", "hr_upper", "p"]], args.format)
    _notices(con, [f"Cox proportional hazards (Efron ties), n = {res.attrs['n']:,}, "
                   f"{res.attrs['events']:,} deaths; Wald 95% CIs and p-values.", *map(str, res.attrs.get("notes", []))]
             + ([f"Infinite estimate (the likelihood keeps rising as it grows; R's coxph warns 'coefficient may "
                 f"be infinite'): {', '.join(res.attrs['infinite'])}; its printed values are where the fit stopped."]
                if res.attrs.get("infinite") else []))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def with_db(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--db", type=Path, default=None,
                        help="warehouse file (default data/warehouse.duckdb)")
        return sp

    def engine_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                        help="where the aggregate queries run: DuckDB on the warehouse (default) or Apache "
                             "Spark (README: Spark); the output is the same")
        sp.add_argument("--spark-data", metavar="DIR",
                        help="the warehouse's Parquet copy (`parquet`), e.g. hdfs://... on a cluster; "
                             "default: written to a temporary folder first")
        sp.add_argument("--spark-master", metavar="URL",
                        help="Spark master, e.g. spark://host:7077 (default $CCOE_SPARK_MASTER, else local[*])")

    sp = with_db(sub.add_parser("ingest", help="validate and load harmonized case files"))
    sp.add_argument("files", nargs="+", type=Path)
    sp.add_argument("--strict", action="store_true",
                    help="all or nothing: load a file only if no row is rejected, else load nothing "
                         "from it and exit 3")
    sp.add_argument("--replace", action="store_true",
                    help="confirm replacing a submission of the same name that holds other "
                         "countries or registries")
    sp.add_argument("--name", help="submission id (default: the file name without extension)")
    sp.add_argument("--synthetic", action="store_true", help="mark the submission as synthetic data")
    sp.set_defaults(func=cmd_ingest)

    sp = with_db(sub.add_parser("remove", help="delete one submission with its loaded and rejected rows"))
    sp.add_argument("submission", help="submission id (see the Submissions & data quality page)")
    sp.set_defaults(func=cmd_remove)

    sp = with_db(sub.add_parser("audit", help="print the audit log: every change, who, when, file SHA-256"))
    sp.add_argument("--format", choices=["csv", "table"], default="csv")
    sp.add_argument("--verify", action="store_true", help="check the log's hash chain instead")
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser(
        "aggregate", help="turn a row-level case file into case counts and survival events (partner side)",
        description="For a partner who may not send records: validate the row-level file exactly as "
                    "ingest does and write, into DIR, the two tables an aggregate submission is made "
                    "of (see the data dictionary). Rows ingest would reject are left out and listed in "
                    "a file beside ROWFILE, never in DIR.")
    sp.add_argument("file", type=Path, metavar="ROWFILE")
    sp.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the two tables")
    sp.add_argument("--unit", choices=["day", "month", "year"], default="day",
                    help="follow-up times in days (exact; default), or completed months or years")
    sp.add_argument("--without-stage", action="store_true", help="leave stage out of the survival events")
    sp.set_defaults(func=cmd_aggregate)

    sp = with_db(sub.add_parser("quality", help="data-quality indicators by country: DCO, MV, unknown "
                                                 "age/sex/stage, follow-up completeness and median"))
    sp.add_argument("--by-year", action="store_true", help="by country and year of diagnosis")
    sp.add_argument("--format", choices=["csv", "json"], default="csv")
    sp.set_defaults(func=cmd_quality)

    sp = with_db(sub.add_parser("rejected", help="list rejected rows with their reasons (CSV)"))
    sp.add_argument("submission", nargs="?", help="one submission id (default: all)")
    sp.set_defaults(func=cmd_rejected)

    from analytics import iccc

    sp = sub.add_parser(
        "classify", help="append ICCC-3 columns to a CSV of ICD-O-3 codes",
        description="Read a CSV with the columns topography (C71.9 or C719), morphology (9470, M9470 or "
                    "9470/3) and behaviour (3 or 3.0; may be left out when the morphology carries it) and "
                    "write it back with iccc_main, iccc_sub, iccc_ext and iccc_reason (why a row is "
                    "unclassified; empty when classified).")
    sp.add_argument("file", type=Path)
    sp.add_argument("--version", default=None, metavar="V",
                    help="ICCC-3 version: " + iccc.versions_help())
    sp.set_defaults(func=cmd_classify)

    sp = with_db(sub.add_parser(
        "reclassify", help="classify every tumour of the warehouse again, by an ICCC-3 version",
        description="Classify every tumour of the warehouse again by one ICCC-3 version (in one "
                    "transaction, audited), record it on every case submission, and classify new "
                    "submissions by it from then on. Prints how many tumours changed group. Aggregate "
                    "submissions (tables) hold no codes and keep their groups."))
    sp.add_argument("--version", default=None, metavar="V", help="ICCC-3 version: " + iccc.versions_help())
    sp.set_defaults(func=cmd_reclassify)

    sp = sub.add_parser("dictionary", help="print the data dictionary (Markdown)")
    sp.set_defaults(func=cmd_dictionary)

    sp = with_db(sub.add_parser("init", help="create an empty warehouse with its reference tables"))
    sp.set_defaults(func=cmd_init)

    sp = with_db(sub.add_parser(
        "population", help="replace the denominators of the countries in a partner's CSV file",
        description="Load a partner's person-years (CSV with columns country, year, sex, "
                    "age_group, population) in place of every earlier population row of the "
                    "countries in the file. Any invalid row rejects the whole file."))
    sp.add_argument("file", type=Path)
    sp.set_defaults(func=cmd_population)

    sp = with_db(sub.add_parser(
        "lifetable", help="load a partner's HMD-format life table for one country and sex",
        description="Load a Human Mortality Database 1x1 period life table (mltper_1x1.txt / "
                    "fltper_1x1.txt layout) in place of the country's table for that sex."))
    sp.add_argument("file", type=Path)
    sp.add_argument("--country", required=True, help="ISO 3166-1 alpha-3 code, e.g. FRA")
    sp.add_argument("--sex", required=True, choices=["1", "2"], help="1 male, 2 female")
    sp.set_defaults(func=cmd_lifetable)
    for name, helptext in (("incidence", "incidence rates per million, age-standardised, with 95%% CIs"),
                           ("trend", "annual percent change of the age-standardised rate")):
        sp = with_db(sub.add_parser(name, help=helptext))
        sp.add_argument("--filter", action="append", metavar="COLUMN=VALUE[,VALUE...]",
                        help="country, sex, age_group, iccc_main, iccc_sub, year, period (repeatable)")
        sp.add_argument("--by", metavar="COLUMN[,COLUMN...]",
                        help="breakdown: country, iccc_main, iccc_sub, sex, age_group, year, period")
        sp.add_argument("--years", metavar="FROM-TO", help="years of diagnosis and of person-years")
        sp.add_argument("--ages", choices=["0-14", "15-19", "0-19"], default="0-19")
        sp.add_argument("--standard", choices=["segi", "who2000", "esp2013"], default="segi")
        sp.add_argument("--ci", choices=["tiwari", "fay-feuer"], default="tiwari")
        sp.add_argument("--format", choices=["csv", "json"], default="csv")
        engine_args(sp)
        sp.set_defaults(func=cmd_incidence)

    def selection_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--filter", action="append", metavar="COLUMN=VALUE[,VALUE...]",
                        help="country, registry, sex, age_group, iccc_main, iccc_sub, year, period, "
                             "stage, morphology (repeatable)")
        sp.add_argument("--years", metavar="FROM-TO", help="years of diagnosis")
        sp.add_argument("--format", choices=["csv", "json"], default="csv")

    sp = with_db(sub.add_parser("survival", help="Kaplan-Meier or net survival, with 95%% CIs"))
    selection_args(sp)
    sp.add_argument("--by", metavar="COLUMN[,COLUMN...]", help="stratify by these columns")
    sp.add_argument("--times", default="1,3,5,10", help="years at which to report (default 1,3,5,10)")
    sp.add_argument("--ci", choices=["log-log", "log", "plain"], default="log-log")
    sp.add_argument("--method", choices=["km", "actuarial", "pohar-perme", "ederer2"], default="km",
                    help="Kaplan-Meier (days), the actuarial life table (completed months or years: pools "
                         "aggregate partners who sent follow-up in those units), or net survival")
    sp.add_argument("--interval", choices=["month", "year"],
                    help="the life table's intervals (--method actuarial; default month)")
    sp.add_argument("--period-window", metavar="YEAR[-YEAR]",
                    help="period analysis (Brenner): survival experienced during these calendar years "
                         "(e.g. 2018-2022), by whoever was diagnosed when; Kaplan-Meier")
    out = sp.add_mutually_exclusive_group()
    out.add_argument("--standardise", choices=["cohort", "equal"],
                     help="age-standardised survival over 0-4, 5-9, 10-14, 15-19 (Kaplan-Meier, the life "
                          "table, or net survival with --method pohar-perme / ederer2, as CONCORD)")
    out.add_argument("--steps", action="store_true", help="print the full step function")
    out.add_argument("--median", action="store_true", help="print median survival with its CI")
    out.add_argument("--rmst", type=_tau, metavar="YEARS",
                     help="print the restricted mean survival time to YEARS (e.g. 5) with its CI")
    engine_args(sp)
    out.add_argument("--followup", action="store_true",
                     help="print the median follow-up by the reverse Kaplan-Meier method, with its CI")
    sp.set_defaults(func=cmd_survival)

    sp = with_db(sub.add_parser("cif", help="cumulative incidence by cause of death (competing risks), "
                                            "or Gray's test with --test"))
    selection_args(sp)
    sp.add_argument("--by", metavar="COLUMN", help="one curve per level of this column")
    sp.add_argument("--times", default="1,3,5,10", help="years at which to report (default 1,3,5,10)")
    sp.add_argument("--test", action="store_true", help="Gray's test per cause across the --by groups")
    engine_args(sp)
    sp.set_defaults(func=cmd_cif)

    sp = with_db(sub.add_parser("logrank", help="log-rank test across the levels of a column"))
    selection_args(sp)
    sp.add_argument("--by", required=True, metavar="COLUMN")
    sp.add_argument("--strata", metavar="COLUMN", help="stratify the test by this column")
    engine_args(sp)
    sp.set_defaults(func=cmd_logrank)

    sp = with_db(sub.add_parser("cox", help="Cox proportional-hazards hazard ratios"))
    selection_args(sp)
    sp.add_argument("--covariates", required=True, metavar="COL[,COL...]",
                    help="categorical (country, sex, age_group, period, stage, iccc_main, ...) or "
                         "numeric (age_years, year)")
    sp.add_argument("--ph", action="store_true",
                    help="print the proportional-hazards check (as R's cox.zph) instead of the hazard ratios")
    sp.set_defaults(func=cmd_cox)

    sp = with_db(sub.add_parser("parquet", help="write the warehouse's tables as Parquet for --engine spark"))
    sp.add_argument("--out", required=True, help="folder to write (one Parquet file per table, and manifest.json)")
    sp.set_defaults(func=cmd_parquet)

    sp = with_db(sub.add_parser("demo", help="generate and load the synthetic demonstration pool"))
    sp.add_argument("--scale", type=_positive_number, default=1.0,
                    help="multiplies the expected case counts (1 = what the populations produce)")
    sp.add_argument("--seed", type=_seed, default=2024)
    sp.add_argument("--format", choices=["csv", "parquet"], default="csv",
                    help="file format of the generated submissions (default csv)")
    sp.add_argument("--aggregate-countries", type=lambda v: [c.strip().upper() for c in v.split(",") if c.strip()],
                    default=[], metavar="ISO3[,ISO3...]",
                    help="countries that send aggregate tables instead of rows (issue 14), e.g. KEN")
    sp.add_argument("--aggregate-unit", choices=["day", "month", "year"], default="day",
                    help="the follow-up unit of their survival events (month or year: pooled by the "
                         "actuarial life table)")
    sp.set_defaults(func=cmd_demo)

    sp = with_db(sub.add_parser("calibration", help="compare the demo pool with its published targets"))
    sp.set_defaults(func=cmd_calibration)
    return p


def _positive_number(text: str, refusal: str | None = None) -> float:
    """--scale (and --rmst): a finite number above zero; `refusal` is the message otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(refusal or f"'{text}' is not a number above 0")
    return value


def _seed(text: str) -> int:
    """--seed: a whole number from 0 (numpy's random generators take no negative seeds)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from 0")
    return value


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from analytics.engine import EngineError
    from analytics.snapshots import WarehouseBusy

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (WarehouseBusy, EngineError) as e:
        _err(f"error: {e}")
        return 2
    except FileNotFoundError as e:  # a read-only command on a warehouse that does not exist
        _err(f"error: {e}")
        return 2
    except (duckdb.IOException, duckdb.InvalidInputException) as e:  # not a warehouse, or locked
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        db = getattr(args, 'db', None) or warehouse.DEFAULT_DB
        if "lock" in first.lower():  # DuckDB: one process may write a file, or several may read it
            # Loads never hold the warehouse (they write a copy: analytics.snapshots), nor does the
            # app; a program that opened the file read-write itself does.
            _err(f"error: the warehouse {db} is held by another program that opened it for writing "
                 "(not the app, and not a load of this project: they let each other work); stop that "
                 "program and try again.")
            return 2
        _err(f"error: cannot open the warehouse {db}: {first}")
        return 2
