"""Sign-in on one machine: a local OpenID Connect provider, and the settings that point the app at it.

The provider is oidc-provider-mock (PyPI; a real OpenID Connect provider for development and
tests: discovery, authorization-code flow, signed ID tokens) started on 127.0.0.1. Its sign-in
form asks for a user name and signs that user in with no password: it stands in for a
partnership's real identity provider (Microsoft Entra ID, Google, Keycloak, ...), which is
configured the same way in `[auth]` of Streamlit's secrets (README, "Sign-in and roles").

Used by `python3 dev.py run --sign-in` (try the data manager's path) and by tests/test_signin.py.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: The demonstration people (user name in the provider's form -> e-mail address and role).
DEMO_PEOPLE = {
    "admin": ("admin@demo.example", "admin"),
    "france": ("france@demo.example", ["FRA"]),
    "uk": ("uk@demo.example", ["GBR"]),
    "nobody": ("nobody@demo.example", None),  # signed in, but not in the roles file: a viewer
}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the provider, the app, a test's server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float, ok=lambda body: True,
              detail=lambda: "") -> None:
    """Wait until `url` answers 200 with a body `ok` accepts, while `proc` (the server) runs;
    RuntimeError naming `what` (and `detail()`, e.g. its log) if it exits or does not answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}" + (f":\n{detail()}" if detail() else ""))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200 and ok(r.read()):
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s" + (f":\n{detail()}" if detail() else ""))


def secrets_toml(app_url: str, provider_url: str) -> str:
    """Streamlit's `[auth]` settings for the local provider (any client id and secret will do)."""
    return (f'[auth]\nredirect_uri = "{app_url}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "ccoe-local"\nclient_secret = "ccoe-local-secret"\n'
            f'server_metadata_url = "{provider_url}/.well-known/openid-configuration"\n')


def roles_toml(people: dict = DEMO_PEOPLE) -> str:
    """A roles file (analytics.access) for `people`."""
    admins = [email for email, role in people.values() if role == "admin"]
    lines = ["# Demonstration roles for the local identity provider (scripts/local_signin.py).",
             f"admins = {json.dumps(admins)}", "", "[data_managers]"]
    lines += [f'"{email}" = {json.dumps(role)}' for email, role in people.values() if isinstance(role, list)]
    return "\n".join(lines) + "\n"


class LocalProvider:
    """oidc-provider-mock on 127.0.0.1:`port`, knowing `people` (their e-mail verified)."""

    def __init__(self, port: int | None = None, people: dict = DEMO_PEOPLE, log: Path | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        claims = [json.dumps({"sub": user, "email": email, "email_verified": True, "name": user})
                  for user, (email, _) in people.items()]
        args = [a for c in claims for a in ("--user-claims", c)]
        self._log = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(self.port), *args],
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30) -> None:
        wait_http(f"{self.url}/.well-known/openid-configuration", self.proc, "the identity provider", timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


def run_app(root: Path, port: int, provider_port: int, extra: list[str]) -> int:
    """`python3 dev.py run --sign-in`: the provider, the demo roles and the app, on this machine."""
    folder = root / "data" / "signin"
    folder.mkdir(parents=True, exist_ok=True)
    app_url = f"http://localhost:{port}"
    provider = LocalProvider(provider_port)
    try:
        provider.wait_ready()
        secrets_file = folder / "secrets.toml"
        secrets_file.write_text(secrets_toml(app_url, provider.url.replace("127.0.0.1", "localhost")))
        roles_file = folder / "roles.toml"
        roles_file.write_text(roles_toml())
        print(f"[dev] identity provider: {provider.url} (sign in as "
              + ", ".join(f"'{u}' ({'admin' if r == 'admin' else 'data manager of ' + ', '.join(r) if r else 'viewer'})"
                          for u, (_, r) in DEMO_PEOPLE.items()) + ")", flush=True)
        print(f"[dev] the app: {app_url} (press 'Sign in' in the sidebar)", flush=True)
        env = {**os.environ, "CCOE_ROLES": str(roles_file)}
        return subprocess.call([sys.executable, "-m", "streamlit", "run", str(root / "app.py"),
                                "--server.port", str(port), "--server.headless", "true",
                                "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets_file),
                                *extra], cwd=root, env=env)
    finally:
        provider.stop()


if __name__ == "__main__":
    sys.exit(run_app(Path(__file__).resolve().parent.parent, int(os.environ.get("PORT", "8501")),
                     int(os.environ.get("CCOE_IDP_PORT", "9400")), sys.argv[1:]))
