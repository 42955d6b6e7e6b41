"""Who may do what: the roles file, and the guards every privileged action goes through.

Viewing aggregates needs no account: everyone, signed in or not, is a *viewer*. Loading data and
seeing a country's rejected rows (row-level values) need a role:

- *data manager* of one or more countries: load, replace and remove submissions of those
  countries, and see their rejected rows;
- *admin*: everything, including the audit log.

The roles file (TOML; `$CCOE_ROLES`, else `data/roles.toml`; no file means no one has a role):

    # Admins: every country, and the audit log.
    admins = ["ana@partnership.example"]

    # Data managers: e-mail address = the countries (ISO 3166-1 alpha-3) whose data they manage.
    [data_managers]
    "marie@registre.example" = ["FRA"]
    "tom@registry.example" = ["GBR", "IRL"]

Identities are the e-mail addresses the identity provider vouches for (the `email` claim of
OpenID Connect; compared without regard to case). The file is checked when the app starts
(`load`): a malformed address, an unknown country code, an unknown key or a person listed twice
stops it with the problem named.

The guards are here, not in the pages: a page that forgot to hide a button still cannot load
another country's file, list its rejected rows or read the audit log (`PermissionDenied`).
The command line is the warehouse's owner (whoever can write the file can do everything): it
acts as `command_line()`, an admin.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

DEFAULT_ROLES = Path(__file__).resolve().parent.parent / "data" / "roles.toml"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RolesFileError(ValueError):
    """The roles file cannot be used; the message names the problem."""


class PermissionDenied(PermissionError):
    """The person may not do this; the message says what they may do instead."""


@dataclass(frozen=True)
class Principal:
    """Someone acting on the warehouse: their identity (an e-mail address, `command line (user)`,
    or "" for a viewer who has not signed in) and what the roles file gives them."""

    identity: str = ""
    admin: bool = False
    countries: frozenset[str] = field(default_factory=frozenset)

    @property
    def role(self) -> str:
        return "admin" if self.admin else "data manager" if self.countries else "viewer"

    def manages(self, country: str) -> bool:
        return self.admin or country in self.countries

    def describe(self) -> str:
        """`admin`, `data manager of France and Ireland`, or `viewer`, in words."""
        if self.admin or not self.countries:
            return self.role
        from analytics.labels import country

        names = sorted(country(c) for c in self.countries)
        return "data manager of " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


VIEWER = Principal()


def command_line() -> Principal:
    """The command line: the warehouse's owner, an admin, recorded as `command line (OS user)`."""
    from analytics.audit import command_line_user

    return Principal(command_line_user(), admin=True)


@dataclass(frozen=True)
class Roles:
    """The roles file, checked: e-mail address (lower case) -> Principal."""

    people: dict[str, Principal] = field(default_factory=dict)
    source: str = "no roles file"

    def principal(self, email: str | None) -> Principal:
        """What the person with this (verified) e-mail address may do: a viewer when unlisted."""
        if not email:
            return VIEWER
        return self.people.get(email.strip().lower(), Principal(email.strip()))


def roles_path() -> Path:
    return Path(os.environ.get("CCOE_ROLES") or DEFAULT_ROLES)


def load(path: str | Path | None = None) -> Roles:
    """The roles file at `path` (default `roles_path()`), checked; no file: no one has a role."""
    path = Path(path) if path is not None else roles_path()
    if not path.exists():
        return Roles()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise RolesFileError(f"roles file {path}: cannot be read ({e})") from e
    return parse(text, source=str(path))


def parse(text: str, source: str = "roles file") -> Roles:
    """Check the text of a roles file (see the module docstring) and return its roles."""
    import pycountry

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RolesFileError(f"{source}: not valid TOML ({e})") from e
    unknown = set(doc) - {"admins", "data_managers"}
    if unknown:
        raise RolesFileError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                             "expected `admins` and `[data_managers]`")
    admins = doc.get("admins", [])
    managers = doc.get("data_managers", {})
    if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
        raise RolesFileError(f"{source}: `admins` must be a list of e-mail addresses")
    if not isinstance(managers, dict):
        raise RolesFileError(f"{source}: `data_managers` must be a table of e-mail address = [countries]")
    countries = {c.alpha_3 for c in pycountry.countries}
    people: dict[str, Principal] = {}

    def add(email: str, who: Principal) -> None:
        key = email.strip().lower()
        if not _EMAIL.match(key):
            raise RolesFileError(f"{source}: {email!r} is not an e-mail address")
        if key in people:
            raise RolesFileError(f"{source}: {email} is listed more than once")
        people[key] = who

    for email in admins:
        add(email, Principal(email.strip(), admin=True))
    for email, codes in managers.items():
        if isinstance(codes, str):
            codes = [codes]
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            raise RolesFileError(f"{source}: {email} needs a list of countries, e.g. [\"FRA\"]")
        bad = [c for c in codes if c.strip().upper() not in countries]
        if bad:
            raise RolesFileError(f"{source}: {email}: {', '.join(map(repr, bad))} is not an ISO 3166-1 "
                                 "alpha-3 country code (e.g. FRA, GBR)")
        add(email, Principal(email.strip(), countries=frozenset(c.strip().upper() for c in codes)))
    return Roles(people, source)


# --- the guards ------------------------------------------------------------------------------------

def require_admin(who: Principal, what: str = "this", verb: str = "see") -> None:
    if not who.admin:
        raise PermissionDenied(f"only an admin may {verb} {what}; you are signed in as {who.describe()}"
                               if who.identity else f"sign in as an admin to {verb} {what}")


def require_data_manager(who: Principal) -> None:
    if not (who.admin or who.countries):
        raise PermissionDenied("loading data needs a data manager's role: sign in, and ask an admin "
                               "to list you in the roles file" if not who.identity else
                               f"{who.identity} has no data manager's role; ask an admin to list you "
                               "in the roles file")


def submission_countries(con: duckdb.DuckDBPyConnection) -> dict[str, frozenset[str]]:
    """Every submission's countries: of its loaded tumours, and of its rejected rows as written in
    the file (a row rejected for its country still says whose it claims to be)."""
    from analytics.warehouse import SCOPE_SQL

    rows = con.execute(f"""
        SELECT s.submission_id, list(DISTINCT c.country) FILTER (WHERE c.country IS NOT NULL)
        FROM submissions s LEFT JOIN (
            SELECT submission_id, country FROM ({SCOPE_SQL})
            UNION ALL
            SELECT submission_id, upper(trim(json_extract_string(raw, '$.country'))) FROM rejected_rows
        ) c USING (submission_id)
        GROUP BY ALL""").fetchall()
    return {sid: frozenset(cs or ()) for sid, cs in rows}


def check_submission(con: duckdb.DuckDBPyConnection, who: Principal, submission_id: str,
                     owners: dict[str, frozenset[str]] | None = None) -> None:
    """Raise PermissionDenied unless `who` manages every country of the submission (a submission
    with no country at all, every row rejected for it, is an admin's)."""
    if who.admin:
        return
    owners = owners if owners is not None else submission_countries(con)
    countries = owners.get(submission_id, frozenset())
    others = sorted(c for c in countries if not who.manages(c)) if countries else ["(no country)"]
    if others or not countries:
        raise PermissionDenied(f"submission {submission_id} holds data of {', '.join(others)}, which "
                               f"{who.identity or 'a viewer'} does not manage")


def rejected_rows(con: duckdb.DuckDBPyConnection, who: Principal, submission_id: str) -> pd.DataFrame:
    """The rejected rows of one submission with every reason (row-level values): for the data
    managers of its countries and admins only."""
    require_data_manager(who)
    check_submission(con, who, submission_id)
    return con.execute("""SELECT line_no, case_id, array_to_string(reasons, '; ') AS reasons, raw
                          FROM rejected_rows WHERE submission_id = ? ORDER BY line_no""",
                       [submission_id]).df()


def audit_log(con: duckdb.DuckDBPyConnection, who: Principal) -> pd.DataFrame:
    """The audit log: for admins only."""
    require_admin(who, "the audit log")
    from analytics import audit

    return audit.entries(con)


def ingest(con: duckdb.DuckDBPyConnection, who: Principal, path: str | Path, **options):
    """`analytics.ingest.ingest_file` for `who`, on a warehouse copy being written
    (`analytics.snapshots.writing`), recorded in the audit log. Raises PermissionDenied (and the
    copy is thrown away, so nothing changes) when the file holds another country's rows or would
    replace another country's submission."""
    from analytics import audit
    from analytics.ingest import ingest_file

    require_data_manager(who)
    before = submission_countries(con)
    report = ingest_file(con, path, **options)
    for sid in report.replaced:
        check_submission(con, who, sid, before)
    check_submission(con, who, report.submission_id)
    audit.record_ingest(con, report, path, who.identity)
    return report


def remove(con: duckdb.DuckDBPyConnection, who: Principal, submission_id: str):
    """`analytics.ingest.remove_submission` for `who` (inside `snapshots.writing`), audited."""
    from analytics import audit
    from analytics.ingest import remove_submission

    require_data_manager(who)
    check_submission(con, who, submission_id)
    kind = con.execute("SELECT kind FROM submissions WHERE submission_id = ?", [submission_id]).fetchone()
    removal = remove_submission(con, submission_id)
    audit.record_removal(con, submission_id, removal, who.identity, kind[0] if kind else "cases")
    return removal


def reclassify(con: duckdb.DuckDBPyConnection, who: Principal, version_name: str | None = None):
    """`analytics.iccc.reclassify` of the whole warehouse for `who` (an admin: it changes every
    country's tumours), inside `snapshots.writing`, audited. Returns the `Reclassification`; one
    that changed nothing (`nothing_to_do`) has no audit entry: raise `snapshots.Unchanged` then,
    and the warehouse stays as it was."""
    from analytics import audit, iccc

    require_admin(who, "the whole warehouse", verb="re-classify")
    result = iccc.reclassify(con, version_name)
    if result.nothing_to_do:
        return result
    audit.record(con, who=who.identity, action="reclassify",
                 what=f"every tumour re-classified by {result.version}: {result.changed:,} of "
                      f"{result.tumours:,} changed group" + (
                          "; before: " + ", ".join(f"{n} submission(s) by {v}" for v, n in result.before.items())
                          if result.before else ""),
                 rows_loaded=result.tumours)
    return result


def require_countries(who: Principal, countries, what: str) -> None:
    """Raise PermissionDenied unless `who` manages every country in `countries` (admins all)."""
    require_data_manager(who)
    others = sorted(c for c in countries if not who.manages(c))
    if others:
        raise PermissionDenied(f"{what} holds data of {', '.join(others)}, which {who.identity} does not manage")


def population(con: duckdb.DuckDBPyConnection, who: Principal, pf, path: str | Path):
    """`reference.population.replace_population` of a read population file `pf` (from `path`) for
    `who` (an admin, or the data manager of every country in the file), inside
    `snapshots.writing`, audited."""
    from analytics import audit
    from analytics.reference.population import replace_population

    countries = sorted(pf.rows["country"].unique())
    require_countries(who, countries, f"the population file {Path(path).name}")
    report = replace_population(con, pf)
    audit.record(con, who=who.identity, action="population",
                 what=f"population of {', '.join(countries)}"
                      + (f"; replaced {report.rows_replaced} rows" if report.rows_replaced else ""),
                 file_name=Path(path).name, sha256=audit.file_sha256(path),
                 rows_read=pf.rows_read, rows_loaded=report.rows_loaded)
    return report


def lifetable(con: duckdb.DuckDBPyConnection, who: Principal, table, path: str | Path) -> int:
    """`reference.lifetable.replace_life_table` of a read life table (from `path`) for `who` (an
    admin, or the data manager of its country), inside `snapshots.writing`, audited; returns the
    number of rows it replaced."""
    from analytics import audit
    from analytics.reference.lifetable import SEX_NAMES, replace_life_table

    require_countries(who, [table.country], f"the life table {Path(path).name}")
    replaced = replace_life_table(con, table)
    audit.record(con, who=who.identity, action="lifetable",
                 what=f"life table of {table.country} {SEX_NAMES[table.sex]}"
                      + (f"; replaced {replaced} rows" if replaced else ""),
                 file_name=Path(path).name, sha256=audit.file_sha256(path), rows_loaded=len(table.rows))
    return replaced
