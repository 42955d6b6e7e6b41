"""Where the heavy aggregate queries run: DuckDB (the warehouse file; the default) or Apache Spark.

The heavy step of every statistic is one aggregate query over the pool's tumours: deaths and
censorings per stratum and day (`survival.event_table`, the input of Kaplan-Meier, the life table
and the log-rank test), deaths by cause per day (`competing.cause_table`), cases and person-years
per stratum and age band (`incidence.band_counts`). The estimators then work on those small
tables in Python. An `Engine` runs such a query and hands back the small table:

* `DuckDBEngine`: on the warehouse connection itself, as every page does.
* `SparkEngine`: on a Spark session, over the warehouse's tables written as Parquet
  (`export_parquet`). There is one definition of each query, the DuckDB SQL its module writes:
  SQLGlot (pinned in requirements-spark.txt) transpiles it to Spark SQL, and its named `$parameters`
  become Spark's named `:parameters`, bound by Spark (nothing is pasted into the text).

What stays on DuckDB with either engine: the small look-ups beside a statistic (the notes on
aggregate partners' tables, standard-population weights, the warehouse's ICCC-3 version), read
from the warehouse file the Parquet copy was made from; `spark_engine` refuses a copy whose
manifest is not that file's (`identity`: change count, audit-log head, rows and a checksum of the
contents of each table), or whose files hold other row counts than the manifest says.

The copy holds only the columns the aggregates read (`case_columns`): no identifiers, no dates of
birth, no free text.

Why SQLGlot and not Ibis: the queries already exist, tested against R, as DuckDB SQL; SQLGlot
keeps them as they are, a pure-Python dependency. Ibis 12 would mean rewriting every query in
its expression language, and its PySpark backend needs pyspark < 4.1 (README, "Spark").
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

#: The warehouse tables the aggregate queries read, as Spark sees them (one Parquet file each).
TABLES = ("cases", "agg_case_counts", "agg_survival_events", "population")
MANIFEST = "manifest.json"
ENGINES = ("duckdb", "spark")


class EngineError(RuntimeError):
    """The engine cannot run here, or its copy of the warehouse is not the warehouse's (plain words)."""


class DuckDBEngine:
    """The warehouse's own connection, each query through a fresh cursor: `con` may hold an unread
    result, and Arrow output needs a relation. A cursor is a second connection to the same database
    (on the app's snapshot one that reads the same version: `snapshots.cursor`)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def arrow(self, sql: str, params: dict) -> pa.Table:
        from analytics.snapshots import cursor

        with cursor(self.con) as cur:
            return cur.sql(sql, params=params).to_arrow_table()

    def df(self, sql: str, params: dict) -> pd.DataFrame:
        from analytics.snapshots import cursor

        with cursor(self.con) as cur:
            return cur.execute(sql, params).df()

    def rows(self, sql: str, params: dict) -> list[tuple]:
        from analytics.snapshots import cursor

        with cursor(self.con) as cur:
            return cur.execute(sql, params).fetchall()


def of(con: duckdb.DuckDBPyConnection, engine=None):
    """`engine`, or the warehouse's own (`DuckDBEngine`) when None."""
    return engine if engine is not None else DuckDBEngine(con)


@lru_cache(maxsize=256)
def to_spark(sql: str) -> str:
    """The Spark SQL of a DuckDB query (SQLGlot), its `$name` parameters as `:name`."""
    import sqlglot

    try:
        return sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)[0]
    except sqlglot.errors.SqlglotError as e:  # a query the transpiler cannot carry over exactly
        raise EngineError(f"this statistic's query cannot run on Spark: {e}") from None


class SparkEngine:
    """Aggregate queries on a Spark session, over the Parquet copy of a warehouse at `data` (a
    local folder, or a cluster's path such as hdfs://... or s3a://...: `export_parquet`). Made by
    `spark_engine`, which checks the copy first. With `rows` (table -> row count, the manifest's),
    a table whose files hold another number of rows is refused (a partial copy)."""

    name = "spark"

    def __init__(self, spark, data: str, rows: dict | None = None):
        # A session of its own (sharing the Spark context): the tables are temporary views named
        # as in the warehouse, which must not be another engine's in the same process.
        self.spark, self.data = spark.newSession(), str(data).rstrip("/")
        for t in TABLES:
            frame = _spark_call(lambda: self.spark.read.parquet(f"{self.data}/{t}.parquet"),
                                f"cannot read {t}.parquet in {self.data}")
            frame.createOrReplaceTempView(t)
            if rows is not None and (n := frame.count()) != rows.get(t):
                raise EngineError(f"{self.data}/{t}.parquet holds {n:,} rows, its manifest says {rows.get(t)}: "
                                  "an incomplete copy; write it again with `python -m analytics parquet`")

    def _frame(self, sql: str, params: dict):
        return self.spark.sql(to_spark(sql), args=dict(params))

    def arrow(self, sql: str, params: dict) -> pa.Table:
        return self._frame(sql, params).toArrow()

    def df(self, sql: str, params: dict) -> pd.DataFrame:
        return self.arrow(sql, params).to_pandas()

    def rows(self, sql: str, params: dict) -> list[tuple]:
        return [tuple(r) for r in self._frame(sql, params).collect()]



def _spark_call(fn, what: str):
    """fn(), a Spark error turned into an EngineError that says `what` and Spark's own reason."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - PySpark's AnalysisException, Py4J's errors, a JVM that exited
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise EngineError(f"{what}: {first}") from None


def read_manifest(spark, data: str) -> dict:
    """The manifest written beside a copy (read through Spark: the path may be remote)."""
    path = f"{str(data).rstrip('/')}/{MANIFEST}"
    rows = _spark_call(lambda: spark.read.text(path, wholetext=True).collect(),
                       f"cannot read {path} (write the copy with `python -m analytics parquet --db WAREHOUSE --out DIR`)")
    try:
        return json.loads("\n".join(r.value for r in rows))
    except ValueError:
        raise EngineError(f"{path} is not a manifest written by `python -m analytics parquet`") from None


# ------------------------------------------------------------------------------------------------
# The warehouse as Parquet
# ------------------------------------------------------------------------------------------------

def case_columns(cur) -> list[str]:
    """The columns of `cases` the aggregates read, as this warehouse has them: what a selection
    filters on or a statistic breaks down by, follow-up, event, cause of death, date of diagnosis
    (period analysis), DCO and the record key (kept for the release layer's sums). Nothing that
    identifies a child (ids, date of birth) leaves the warehouse."""
    from analytics.filters import COLUMNS
    from analytics.survival import BY_COLUMNS

    wanted = [*COLUMNS, *BY_COLUMNS, "followup_days", "event", "dco", "cause_of_death", "diagnosis_date",
              "record_key"]
    have = [r[0] for r in cur.execute("""SELECT column_name FROM information_schema.columns
                                         WHERE table_name = 'cases' ORDER BY ordinal_position""").fetchall()]
    return [c for c in have if c in set(wanted)]


def _columns(cur, table: str) -> list[str]:
    if table == "cases":
        return case_columns(cur)
    return [r[0] for r in cur.execute("""SELECT column_name FROM information_schema.columns
                                         WHERE table_name = $t ORDER BY ordinal_position""", {"t": table}).fetchall()]


def identity(con: duckdb.DuckDBPyConnection) -> dict:
    """What identifies a warehouse's tables for Spark: its change count (`meta.data_version`), the
    newest audit-log entry's hash (the chain covers every file loaded), and per table in `TABLES`
    its rows and a checksum of the exported columns (sum of DuckDB's row hashes mod a prime: an
    edit in place, or another warehouse with the same history length, changes it)."""
    from analytics.snapshots import cursor, data_version

    with cursor(con) as cur:
        rows, checksum = {}, {}
        for t in TABLES:
            cols = ", ".join(_columns(cur, t))
            n, h = cur.execute(f"SELECT count(*), CAST(coalesce(sum(hash({cols}) % 1000000007), 0) AS BIGINT) "
                               f"FROM {t}").fetchone()
            rows[t], checksum[t] = int(n), int(h)
        head = cur.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return {"data_version": data_version(cur), "audit_head": head[0] if head else None,
                "rows": rows, "checksum": checksum}


def export_parquet(con: duckdb.DuckDBPyConnection, out: str | Path) -> dict:
    """Write the tables Spark reads (`TABLES`; of `cases` only `case_columns`) to
    `out`/<table>.parquet, and `out`/manifest.json (`identity`), which `spark_engine` checks
    against the warehouse it is given. Copy the folder to a cluster's storage as it is. Returns
    the manifest."""
    from analytics.snapshots import cursor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # a copy half rewritten must not pass for the old one
    with cursor(con) as cur:
        for t in TABLES:
            cur.table(t).select(*_columns(cur, t)).write_parquet(str(out / f"{t}.parquet"))
    manifest = identity(con)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def spark_session(master: str | None = None):
    """A Spark session: `master` (e.g. spark://host:7077), else $CCOE_SPARK_MASTER, else local
    mode on this machine's cores. Further settings (memory, executors) come from Spark's own
    spark-defaults.conf ($SPARK_CONF_DIR). Times in UTC; no web UI; warnings only."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("--engine spark needs PySpark: `python3 dev.py test` installs it "
                          "(requirements-dev.txt), with Debian's JDK 17") from None
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise EngineError("--engine spark needs a Java runtime: apt-get install openjdk-17-jre-headless")
    master = master or os.environ.get("CCOE_SPARK_MASTER") or "local[*]"
    log4j = Path(__file__).resolve().parent.parent / "deploy" / "spark" / "log4j2.properties"
    builder = (SparkSession.builder.master(master).appName("ccoe-analytics")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}"))
    if master.startswith("local"):  # a handful of partitions suits one machine (Spark's default is 200)
        builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
    spark = _spark_call(builder.getOrCreate, f"Spark did not start (master {master}; it needs Java 17 or 21)")
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_engine(con: duckdb.DuckDBPyConnection, data: str | None = None, master: str | None = None,
                 spark=None) -> SparkEngine:
    """A `SparkEngine` for the warehouse `con`, on `spark` (else a new session on `master`:
    `spark_session`). `data`: where its Parquet copy is (made by `python -m analytics parquet`);
    refused unless its manifest is this warehouse's `identity` and its files hold the manifest's
    rows. Without `data` (local mode only: a cluster's executors cannot read this machine's
    folders), the warehouse is written to a temporary folder first, removed at exit."""
    master = master or os.environ.get("CCOE_SPARK_MASTER") or "local[*]"
    if data is None:
        if spark is None and not master.startswith("local"):
            raise EngineError(f"a cluster ({master}) reads the warehouse from storage its machines reach: write "
                              "it with `python -m analytics parquet --out DIR`, copy DIR there, and give "
                              "--spark-data with its address")
        import atexit

        tmp = tempfile.mkdtemp(prefix="ccoe-parquet-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        export_parquet(con, tmp)
        data = Path(tmp).as_uri()  # file:// (a path without a scheme is Hadoop's default file system)
    session = spark or spark_session(master)
    copy, here = read_manifest(session, data), identity(con)
    if copy != here:
        differs = ", ".join(k for k in here if copy.get(k) != here[k]) or "its form"
        raise EngineError(f"the Parquet copy at {data} is not of this warehouse (they differ in {differs}): "
                          "write it again with `python -m analytics parquet`")
    return SparkEngine(session, data, rows=copy["rows"])
