"""N replicas of the app behind HAProxy, on one machine: `python3 dev.py replicas N`.

Starts N `streamlit run app.py` processes on free ports of 127.0.0.1, every one reading the same
warehouse (CCOE_DB, opened read-only by each: `analytics.snapshots`), fills in the HAProxy
configuration template deploy/haproxy.cfg with their addresses, and runs Debian's `haproxy` in
the foreground in front of them, on the one address users open. Ctrl-C (or SIGTERM) stops the
balancer and every replica. A replica that dies is reported and left dead (the balancer routes
its users to the others); on a server, a supervisor such as systemd restarts it.

    python -m scripts.replicas 3 --port 8501              # what `python3 dev.py replicas 3` runs
    python -m scripts.replicas 3 --print-config           # the filled-in haproxy.cfg, to start replicas yourself

The same classes start the deployment of tests/test_replicas.py.
"""
from __future__ import annotations

import argparse
import csv
import ctypes
import io
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `scripts.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.local_signin import free_port, wait_http  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
#: The affinity cookie the balancer sets (deploy/haproxy.cfg): its value names the replica.
COOKIE = "CCOE_REPLICA"


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)


def haproxy_config(replicas: dict[str, int], bind: str, stats_bind: str,
                   replica_host: str = "127.0.0.1", template: Path = TEMPLATE) -> str:
    """deploy/haproxy.cfg with its markers filled in: `replicas` maps each replica's name (the
    value of its affinity cookie) to its port on `replica_host`."""
    servers = "\n".join(f"    server {name} {replica_host}:{port} cookie {name}"
                        for name, port in replicas.items())
    text = template.read_text(encoding="utf-8")
    for marker, value in (("{{bind}}", bind), ("{{stats_bind}}", stats_bind), ("{{servers}}", servers)):
        if marker not in text:
            raise ValueError(f"{template}: marker {marker} missing")
        text = text.replace(marker, value)
    return text


def check_config(path: Path, haproxy: str | None = None) -> None:
    """`haproxy -c`: ValueError with HAProxy's own message when the configuration is invalid."""
    done = subprocess.run([haproxy or haproxy_binary() or "haproxy", "-c", "-q", "-f", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError(f"invalid HAProxy configuration {path}:\n{done.stdout}{done.stderr}")


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies, so that no
    replica or balancer outlives a killed `replicas` command (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class _Process:
    """A child process writing to a log file."""

    what = "process"

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> None:
        if self.running():
            self.proc.terminate()

    def stop(self, timeout: float = 10) -> None:
        self.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
        self._log.close()


class Replica(_Process):
    """`streamlit run app.py` on 127.0.0.1:`port`, reading the warehouse at `db`."""

    def __init__(self, name: str, db: Path, log_path: Path, port: int | None = None, args: tuple[str, ...] = ()):
        self.name = name
        self.what = f"replica {name}"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CCOE_DB": str(Path(db).resolve()), "PYTHONUNBUFFERED": "1"}
        super().__init__([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
                          "--server.address", "127.0.0.1", "--server.headless", "true",
                          "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false", *args],
                         log_path, env)

    def wait_healthy(self, timeout: float = 90) -> None:
        wait_http(f"{self.url}/_stcore/health", self.proc, self.what, timeout,
                  ok=lambda body: body.strip() == b"ok", detail=self.log)

    def kill(self) -> None:
        """SIGKILL: the replica dies as in a crash, without closing its sessions."""
        self.proc.kill()
        self.proc.wait(timeout=10)


class Balancer(_Process):
    """HAProxy in the foreground (`-db`) with the configuration at `config`."""

    what = "haproxy"

    def __init__(self, config: Path, log_path: Path, url: str, stats_url: str, haproxy: str | None = None):
        self.url, self.stats_url = url, stats_url
        haproxy = haproxy or haproxy_binary()
        if haproxy is None:
            raise FileNotFoundError("haproxy not found: install Debian's haproxy package "
                                    "(apt-get install haproxy; `python3 dev.py replicas` does it as root)")
        check_config(config, haproxy)
        super().__init__([haproxy, "-db", "-f", str(config)], log_path)

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the balancer passes a request through to a replica."""
        wait_http(f"{self.url}/_stcore/health", self.proc, self.what, timeout,
                  ok=lambda body: body.strip() == b"ok", detail=self.log)

    def server_states(self) -> dict[str, str]:
        """Each replica's state as the balancer sees it: 'UP', 'DOWN', ... (its statistics)."""
        with urllib.request.urlopen(f"{self.stats_url}/;csv", timeout=5) as r:
            rows = csv.DictReader(io.StringIO(r.read().decode().lstrip("# ")))
            return {row["svname"]: row["status"] for row in rows
                    if row["pxname"] == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_state(self, name: str, state: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while (now := self.server_states().get(name)) != state:
            if time.monotonic() > deadline:
                raise TimeoutError(f"replica {name} is {now}, not {state}, after {timeout:.0f} s")
            time.sleep(0.2)


class Deployment:
    """`n` replicas reading `db` and HAProxy in front of them at `address`:`port`; logs and the
    generated haproxy.cfg in `run_dir`. A context manager: leaving it stops everything."""

    def __init__(self, n: int, db: Path, run_dir: Path, port: int | None = None, address: str = "127.0.0.1",
                 stats_port: int | None = None, args: tuple[str, ...] = ()):
        if n < 1:
            raise ValueError("at least one replica")
        self.n, self.db, self.run_dir, self.args = n, Path(db), Path(run_dir), tuple(args)
        self.address, self.port = address, port or free_port()
        self.stats_port = stats_port or free_port()
        host = "127.0.0.1" if address in ("", "*", "0.0.0.0", "::") else address
        self.url = f"http://{host}:{self.port}"
        self.stats_url = f"http://127.0.0.1:{self.stats_port}"
        self.replicas: dict[str, Replica] = {}
        self.balancer: Balancer | None = None

    def start(self, timeout: float = 120) -> "Deployment":
        if not self.db.exists():
            raise FileNotFoundError(f"no warehouse at {self.db}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            for i in range(1, self.n + 1):  # all start at once, then each is waited for
                name = f"r{i}"
                self.replicas[name] = Replica(name, self.db, self.run_dir / f"{name}.log", args=self.args)
            for replica in self.replicas.values():
                replica.wait_healthy(timeout)
            config = self.run_dir / "haproxy.cfg"
            config.write_text(haproxy_config({r.name: r.port for r in self.replicas.values()},
                                             bind=f"{self.address or '*'}:{self.port}",
                                             stats_bind=f"127.0.0.1:{self.stats_port}"))
            self.balancer = Balancer(config, self.run_dir / "haproxy.log", self.url, self.stats_url)
            self.balancer.wait_ready(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """The balancer first (no new requests), then every replica (all asked at once)."""
        if self.balancer is not None:
            self.balancer.stop()
        for replica in self.replicas.values():
            replica.terminate()
        for replica in self.replicas.values():
            replica.stop()

    def __enter__(self) -> "Deployment":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 dev.py replicas", description=__doc__.split("\n\n")[0],
                                epilog="Other arguments are passed on to every replica's `streamlit run`.")
    p.add_argument("n", type=int, help="number of app replicas")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8501")),
                   help="the balancer's port, the one address users open (default $PORT or 8501)")
    p.add_argument("--address", default="*", help="the balancer's address (default: every interface)")
    p.add_argument("--stats-port", type=int, default=None,
                   help="HAProxy's statistics page on 127.0.0.1 (default: a free port)")
    p.add_argument("--db", type=Path, default=Path(os.environ.get("CCOE_DB") or ROOT / "data" / "warehouse.duckdb"),
                   help="the warehouse every replica reads (default $CCOE_DB or data/warehouse.duckdb)")
    p.add_argument("--run-dir", type=Path, default=ROOT / "data" / "replicas",
                   help="where the generated haproxy.cfg and the logs go (default data/replicas)")
    p.add_argument("--print-config", action="store_true",
                   help="print deploy/haproxy.cfg filled in for replicas on ports 8601, 8602, ... and exit")
    a, streamlit_args = p.parse_known_args(argv)
    if a.n < 1:
        p.error("at least one replica")
    if a.print_config:
        print(haproxy_config({f"r{i}": 8600 + i for i in range(1, a.n + 1)}, bind=f"{a.address}:{a.port}",
                             stats_bind=f"127.0.0.1:{a.stats_port or a.port + 1000}"), end="")
        return 0
    if haproxy_binary() is None:
        print("[replicas] haproxy not found: apt-get install haproxy", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell's background job inherits it ignored
        signal.signal(sig, _raise_interrupt)
    deployment = Deployment(a.n, a.db, a.run_dir, port=a.port, address=a.address, stats_port=a.stats_port,
                            args=tuple(streamlit_args))
    say = lambda msg: print(f"[replicas] {msg}", flush=True)  # noqa: E731
    try:
        say(f"starting {a.n} replicas reading {a.db} (logs in {a.run_dir})")
        deployment.start()
        for r in deployment.replicas.values():
            say(f"replica {r.name}: {r.url} (pid {r.pid})")
        say(f"the app: http://localhost:{a.port} (HAProxy; sessions pinned by the cookie {COOKIE})")
        say(f"balancer statistics: {deployment.stats_url}  -  Ctrl-C stops everything")
        dead: set[str] = set()
        while True:
            if not deployment.balancer.running():
                say(f"haproxy exited with {deployment.balancer.proc.returncode}; stopping the replicas")
                return 1
            for r in deployment.replicas.values():
                if not r.running() and r.name not in dead:
                    dead.add(r.name)
                    say(f"replica {r.name} exited with {r.proc.returncode}: its users move to the others "
                        f"on their next request")
            if len(dead) == len(deployment.replicas):
                say("every replica has exited")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # stopping: a second Ctrl-C must not cut it short
            signal.signal(sig, signal.SIG_IGN)
        deployment.stop()


if __name__ == "__main__":
    sys.exit(main())
