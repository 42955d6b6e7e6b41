#!/usr/bin/env python3
"""The README's two commands, in one place, with nothing but Python 3.11 needed to start them.

    python3 dev.py run     # set up .venv, build the demo warehouse if missing, start the app
    python3 dev.py run --sign-in   # the same with sign-in: a local identity provider and demo roles
    python3 dev.py test    # set up .venv (with test tools, Chromium, HAProxy, PySpark and Java), run the whole test suite
    python3 dev.py replicas 3      # N replicas of the app behind HAProxy on :8501 (scripts/replicas.py)

`.ci/run` calls `python3 dev.py test`, so an install step missing here fails CI.

Set-up is idempotent and quick when nothing changed: the virtual environment is rebuilt only when
requirements*.txt or constraints.txt change (a hash of them is kept in .venv/.requirements-hash).
Chromium for the browser tests comes from Debian's packages (`chromium`, `chromium-driver`), never
from a browser download; Playwright for Python drives it through `executable_path`. HAProxy (the
replica test's load balancer, and `replicas`) is Debian's `haproxy` too; the Java runtime PySpark
runs on (the Spark-engine tests, local mode) is Debian's `openjdk-17-jre-headless`.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")
HAPROXY = Path("/usr/sbin/haproxy")
JAVA = Path("/usr/bin/java")
#: Debian packages the tests need, by a file each installs: Chromium (and ChromeDriver) for the
#: browser tests, HAProxy for the replica test's load balancer, Java 17 for PySpark (Spark 4 runs
#: on Java 17 or 21).
TEST_PACKAGES = {CHROMIUM: ("chromium", "chromium-driver"), HAPROXY: ("haproxy",),
                 JAVA: ("openjdk-17-jre-headless",)}
WAREHOUSE = ROOT / "data" / "warehouse.duckdb"


def say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    say(" ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def ensure_venv(dev: bool) -> None:
    """Create .venv and install the pinned requirements (plus test tools when `dev`)."""
    files = ("requirements.txt", "requirements-dev.txt", "requirements-spark.txt", "constraints.txt")
    digest = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in files)).hexdigest()
    stamp = VENV / ".requirements-hash"
    if PY.exists() and stamp.exists():
        have_digest, _, kind = stamp.read_text().strip().partition(" ")
        if have_digest == digest and (kind == "dev" or not dev):
            return  # a dev install also serves a plain run
    if not PY.exists():
        say(f"creating virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    req = ROOT / ("requirements-dev.txt" if dev else "requirements.txt")
    run([str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q",
         "-r", str(req), "-c", str(ROOT / "constraints.txt")])
    stamp.write_text(f"{digest} {'dev' if dev else 'run'}\n")


def ensure_debian_packages(needed: dict[Path, tuple[str, ...]]) -> None:
    """Install the Debian packages of every file in `needed` that is missing (one apt-get run)."""
    missing = {path: packages for path, packages in needed.items() if not path.exists()}
    if not missing:
        return
    packages = [p for ps in missing.values() for p in ps]
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        sys.exit(f"[dev] {' and '.join(map(str, missing))} missing: install the Debian packages "
                 f"{' and '.join(repr(p) for p in packages)} (as root: apt-get install {' '.join(packages)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        env=env, stdout=subprocess.DEVNULL)


def ensure_warehouse() -> None:
    """Build the demo warehouse when there is none."""
    if not WAREHOUSE.exists():
        # built under another name and renamed when complete, so an interrupted build is redone
        building = WAREHOUSE.with_name(WAREHOUSE.name + ".building")
        building.unlink(missing_ok=True)
        say(f"building the demo warehouse {WAREHOUSE.relative_to(ROOT)} (first run only, about a minute)")
        run([str(PY), "-m", "analytics", "demo", "--db", str(building)], cwd=ROOT)
        building.replace(WAREHOUSE)


def cmd_run(args: list[str]) -> None:
    sign_in = "--sign-in" in args
    args = [a for a in args if a != "--sign-in"]
    ensure_venv(dev=sign_in)  # the local identity provider is a test tool (requirements-dev.txt)
    ensure_warehouse()
    if sign_in:  # a local OpenID Connect provider, demonstration roles, and the app using them
        run([str(PY), str(ROOT / "scripts" / "local_signin.py"), *args], cwd=ROOT)
        return
    port = os.environ.get("PORT", "8501")
    run([str(PY), "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", port,
         "--server.headless", "true", "--browser.gatherUsageStats", "false", *args], cwd=ROOT)


def cmd_replicas(args: list[str]) -> None:
    """N replicas of the app and HAProxy in front of them (scripts/replicas.py; --help there)."""
    ensure_venv(dev=False)
    if not (os.environ.get("CCOE_DB") or any(a in ("-h", "--help", "--print-config", "--db")
                                             or a.startswith("--db=") for a in args)):
        ensure_warehouse()  # the default warehouse, as `run` builds it
    ensure_debian_packages({HAPROXY: TEST_PACKAGES[HAPROXY]})
    cmd = [str(PY), "-m", "scripts.replicas", *args]
    say(" ".join(cmd))
    os.chdir(ROOT)
    os.execv(cmd[0], cmd)  # the script itself receives Ctrl-C, and stops the replicas and the balancer


def cmd_test(args: list[str]) -> None:
    ensure_venv(dev=True)
    ensure_debian_packages(TEST_PACKAGES)
    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
    result = subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT)
    sys.exit(result.returncode)


def main() -> None:
    commands = {"run": cmd_run, "test": cmd_test, "replicas": cmd_replicas,
                "setup": lambda a: ensure_venv(dev=True)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(commands)}}} [extra arguments]")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
