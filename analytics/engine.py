"""Where the heavy aggregate queries run: DuckDB (the warehouse file; the default) or Apache Spark.

The heavy step of every statistic is one aggregate query over the pool's tumours: deaths and
censorings per stratum and day (`survival.event_table`, the input of Kaplan-Meier, the life table
and the log-rank test), deaths by cause per day (`competing.cause_table`), cases and person-years
per stratum and age band (`incidence.band_counts`). The estimators then work on those small
tables in Python. An `Engine` runs such a query and hands back the small table:

* `DuckDBEngine`: on the warehouse connection itself, as every page does.
* `SparkEngine`: on a Spark session, over the warehouse's tables written as Parquet
  (`export_parquet`). There is one definition of each query, the DuckDB SQL its module writes:
  SQLGlot (pinned in requirements.txt) transpiles it to Spark SQL, and its named `$parameters`
  become Spark's named `:parameters`, bound by Spark (nothing is pasted into the text).

What stays on DuckDB with either engine: the small look-ups beside a statistic (the notes on
aggregate partners' tables, standard-population weights, the warehouse's ICCC-3 version), read
from the warehouse file the Parquet copy was made from; `SparkEngine` refuses a copy whose
manifest does not match that file (another version, other row counts).

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
    """The warehouse's own connection (through a fresh cursor: `con` may hold an unread result,
    and on the app's snapshot a cursor must `USE` it: `snapshots.cursor`)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def arrow(self, sql: str, params: dict) -> pa.Table:
        from analytics.snapshots import cursor

        with cursor(self.con) as cur:
            return cur.sql(sql, params=params).to_arrow_table()

    def df(self, sql: str, params: dict) -> pd.DataFrame:
        return self.con.execute(sql, params).df()

    def rows(self, sql: str, params: dict) -> list[tuple]:
        return self.con.execute(sql, params).fetchall()


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
    local folder, or a cluster's path such as hdfs://... or s3a://...: `export_parquet`)."""

    name = "spark"

    def __init__(self, spark, data: str):
        # A session of its own (sharing the Spark context): the tables are temporary views named
        # as in the warehouse, which must not be another engine's in the same process.
        self.spark, self.data = spark.newSession(), str(data).rstrip("/")
        for t in TABLES:
            self.spark.read.parquet(f"{self.data}/{t}.parquet").createOrReplaceTempView(t)

    def _frame(self, sql: str, params: dict):
        return self.spark.sql(to_spark(sql), args=dict(params))

    def arrow(self, sql: str, params: dict) -> pa.Table:
        return self._frame(sql, params).toArrow()

    def df(self, sql: str, params: dict) -> pd.DataFrame:
        return self.arrow(sql, params).to_pandas()

    def rows(self, sql: str, params: dict) -> list[tuple]:
        return [tuple(r) for r in self._frame(sql, params).collect()]

    def manifest(self) -> dict:
        """The manifest written beside the copy (read through Spark: the path may be remote)."""
        text = "\n".join(r.value for r in self.spark.read.text(f"{self.data}/{MANIFEST}", wholetext=True).collect())
        return json.loads(text)


# ------------------------------------------------------------------------------------------------
# The warehouse as Parquet
# ------------------------------------------------------------------------------------------------

def identity(con: duckdb.DuckDBPyConnection) -> dict:
    """What identifies a warehouse's tables for Spark: its change count (`meta.data_version`) and
    the rows of each table in `TABLES`."""
    from analytics.snapshots import cursor, data_version

    with cursor(con) as cur:
        rows = {t: int(cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
        return {"data_version": data_version(cur), "rows": rows}


def export_parquet(con: duckdb.DuckDBPyConnection, out: str | Path) -> dict:
    """Write the tables Spark reads (`TABLES`) to `out`/<table>.parquet, and `out`/manifest.json
    (`identity`), which `SparkEngine` checks against the warehouse it is given. Copy the folder
    to a cluster's storage as it is. Returns the manifest."""
    from analytics.snapshots import cursor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with cursor(con) as cur:
        for t in TABLES:
            cur.table(t).write_parquet(str(out / f"{t}.parquet"))
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
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def spark_engine(con: duckdb.DuckDBPyConnection, data: str | None = None, master: str | None = None,
                 spark=None) -> SparkEngine:
    """A `SparkEngine` for the warehouse `con`. `data`: where its Parquet copy is (made by
    `python -m analytics parquet`); refused unless its manifest matches the warehouse. Without
    `data`, the warehouse is written to a temporary folder first (local mode; removed at exit)."""
    if data is None:
        import atexit

        tmp = tempfile.mkdtemp(prefix="ccoe-parquet-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        export_parquet(con, tmp)
        data = tmp
    engine = SparkEngine(spark or spark_session(master), data)
    try:
        copy = engine.manifest()
    except Exception:  # noqa: BLE001 - Spark raises its own analysis errors for a missing file
        raise EngineError(f"{data} holds no {MANIFEST}: write the copy with "
                          "`python -m analytics parquet --db WAREHOUSE --out DIR`") from None
    if copy != identity(con):
        raise EngineError(f"the Parquet copy at {data} is not of this warehouse (its manifest: "
                          f"{copy}; the warehouse: {identity(con)}): write it again with "
                          "`python -m analytics parquet`")
    return engine
