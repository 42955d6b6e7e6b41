"""Roles and the guards of analytics.access: a viewer cannot load, see rejected rows or the audit
log; a data manager of one country cannot touch another's submissions; every refused attempt
leaves the warehouse as it was."""
from __future__ import annotations

import pytest

from analytics import access, audit, snapshots, warehouse
from analytics.access import PermissionDenied, Principal, RolesFileError
from analytics.cli import main
from tests.conftest import random_rows, valid_row, write_csv

ROLES = """
admins = ["Ana@Partnership.example"]

[data_managers]
"marie@registre.example" = ["FRA"]
"tom@registry.example" = ["GBR", "IRL"]
"""

MARIE = access.parse(ROLES).principal("marie@registre.example")
TOM = access.parse(ROLES).principal("TOM@registry.example")
ANA = access.parse(ROLES).principal("ana@partnership.example")
STRANGER = access.parse(ROLES).principal("eve@elsewhere.example")


def test_the_roles_file_gives_each_person_their_role():
    assert (ANA.role, MARIE.role, TOM.role, STRANGER.role, access.VIEWER.role) == (
        "admin", "data manager", "data manager", "viewer", "viewer")
    assert TOM.countries == {"GBR", "IRL"} and TOM.identity == "tom@registry.example"
    assert TOM.describe() == "data manager of Ireland and United Kingdom"
    assert access.parse("").principal("x@y.example").role == "viewer"
    assert access.load(tmp := "/nonexistent/roles.toml").people == {} and tmp


@pytest.mark.parametrize("text, message", [
    ("admins = 'ana@x.example'", "list of e-mail addresses"),
    ("admins = ['not an address']", "is not an e-mail address"),
    ("[data_managers]\n'a@b.example' = ['XXX']", "'XXX' is not an ISO 3166-1 alpha-3"),
    ("[data_managers]\n'a@b.example' = []", "needs a list of countries"),
    ("admins = ['a@b.example']\n[data_managers]\n'A@b.example' = ['FRA']", "listed more than once"),
    ("viewers = ['a@b.example']", "unknown key(s) viewers"),
    ("admins = [", "not valid TOML"),
])
def test_a_bad_roles_file_is_refused_with_the_problem_named(text, message):
    with pytest.raises(RolesFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        access.parse(text)


@pytest.fixture
def pool(tmp_path):
    """A warehouse with a French submission (with one rejected row) and a British one."""
    db = tmp_path / "w.duckdb"
    fra = write_csv(tmp_path / "FRA_2024.csv", random_rows(50, seed=1, countries=("FRA",))
                    + [valid_row(case_id="BAD", country="FRA", sex="7")])
    gbr = write_csv(tmp_path / "GBR_2024.csv", random_rows(40, seed=2, countries=("GBR",)))
    assert main(["ingest", str(fra), str(gbr), "--db", str(db)]) == 0
    return db


def test_a_viewer_cannot_load_see_rejected_rows_or_the_audit_log(pool, tmp_path):
    con = warehouse.connect(pool, read_only=True)
    for who in (access.VIEWER, STRANGER):
        with pytest.raises(PermissionDenied):
            access.rejected_rows(con, who, "FRA_2024")
        with pytest.raises(PermissionDenied, match="audit log"):
            access.audit_log(con, who)
    con.close()
    before = snapshots.version(pool)
    f = write_csv(tmp_path / "FRA_2025.csv", random_rows(5, seed=3, countries=("FRA",)))
    with pytest.raises(PermissionDenied, match="sign in"):
        with snapshots.writing(pool) as w:
            access.ingest(w, access.VIEWER, f)
    assert snapshots.version(pool) == before


def test_a_data_manager_sees_their_own_countrys_rejected_rows_only(pool):
    con = warehouse.connect(pool, read_only=True)
    rows = access.rejected_rows(con, MARIE, "FRA_2024")
    assert list(rows["case_id"]) == ["BAD"] and "sex" in rows.loc[0, "reasons"]
    with pytest.raises(PermissionDenied, match="GBR"):
        access.rejected_rows(con, MARIE, "GBR_2024")
    assert len(access.rejected_rows(con, ANA, "GBR_2024")) == 0  # admins see every country
    with pytest.raises(PermissionDenied, match="only an admin"):
        access.audit_log(con, MARIE)
    assert len(access.audit_log(con, ANA)) == 2
    con.close()


def test_a_data_manager_loads_and_removes_their_countrys_submissions(pool, tmp_path):
    new = [{**r, "case_id": "N" + r["case_id"]} for r in random_rows(30, seed=4, countries=("FRA",))]
    f = write_csv(tmp_path / "FRA_2025.csv", new)
    with snapshots.writing(pool) as w:
        report = access.ingest(w, MARIE, f)
    assert report.rows_loaded == 30
    with snapshots.writing(pool) as w:
        access.remove(w, MARIE, "FRA_2024")
    con = warehouse.connect(pool, read_only=True)
    log = audit.entries(con)
    assert list(log["who"].iloc[-2:]) == ["marie@registre.example"] * 2
    assert list(log["action"].iloc[-2:]) == ["ingest", "remove"]
    assert sorted(r[0] for r in con.execute("SELECT submission_id FROM submissions").fetchall()) == [
        "FRA_2025", "GBR_2024"]
    con.close()


def test_a_data_manager_cannot_touch_another_countrys_submissions(pool, tmp_path):
    before = snapshots.version(pool)
    mixed = write_csv(tmp_path / "FRA_more.csv", random_rows(10, seed=5, countries=("FRA",))
                      + random_rows(3, seed=6, countries=("GBR",)))
    british = write_csv(tmp_path / "GBR_2024.csv", random_rows(10, seed=7, countries=("GBR",)))
    attempts = [
        lambda w: access.ingest(w, MARIE, mixed),  # a file holding another country's rows
        lambda w: access.ingest(w, MARIE, british, replace=True),  # replacing another's submission
        lambda w: access.remove(w, MARIE, "GBR_2024"),
        lambda w: access.remove(w, TOM, "FRA_2024"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            with snapshots.writing(pool) as w:
                attempt(w)
        assert snapshots.version(pool) == before  # nothing changed
    with snapshots.writing(pool) as w:  # Tom may replace his own
        assert access.ingest(w, TOM, british, replace=True).replaced == ["GBR_2024"]


def test_a_submission_whose_rows_name_no_country_is_an_admins(pool, tmp_path):
    f = write_csv(tmp_path / "nothing.csv", [valid_row(case_id="X1", country="")])
    with pytest.raises(PermissionDenied):
        with snapshots.writing(pool) as w:
            access.ingest(w, MARIE, f)
    with snapshots.writing(pool) as w:
        access.ingest(w, ANA, f)


def test_the_command_line_is_an_admin_recorded_with_its_os_user():
    who = access.command_line()
    assert who.admin and who.identity.startswith("command line (")
    assert isinstance(Principal().countries, frozenset)
