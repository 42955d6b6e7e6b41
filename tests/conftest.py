"""Shared fixtures: valid example rows, CSV writers, and small real warehouses built through the
same ingest path a partner's file takes."""
from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics import warehouse
from analytics.ingest import ingest_file
from analytics.schema import INPUT_NAMES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _cellkey_secret():
    """One cell-key secret for every warehouse the tests build, so that the perturbation a viewer
    sees (analytics.disclosure) is the same in every run."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCOE_CELLKEY_SECRET", "ccoe-test-suite")
        yield
ARTIFACTS = ROOT / "tests" / "artifacts"


def valid_row(**overrides) -> dict[str, str]:
    """One valid tumour record (a 5-year-old boy with precursor-cell ALL), as CSV text values."""
    row = {
        "case_id": "C1", "patient_id": "", "country": "FRA", "registry": "R01", "sex": "1",
        "birth_date": "2010-05-01", "age_years": "", "diagnosis_date": "2015-06-01",
        "topography": "C42.1", "morphology": "9811", "behaviour": "3", "basis": "7", "stage": "",
        "vital_status": "1", "last_contact_date": "2020-01-01", "cause_of_death": "",
    }
    row.update({k: str(v) for k, v in overrides.items()})
    return row


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None,
              delimiter: str = ",") -> Path:
    columns = columns or INPUT_NAMES
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, delimiter=delimiter, extrasaction="ignore",
                           lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


#: (topography, morphology, behaviour) examples spread over the ICCC-3 main groups.
EXAMPLE_CODES = [
    ("C421", "9811", "3"), ("C421", "9861", "3"), ("C779", "9650", "3"), ("C710", "9470", "3"),
    ("C716", "9421", "1"), ("C749", "9500", "3"), ("C692", "9510", "3"), ("C649", "8960", "3"),
    ("C220", "8970", "3"), ("C402", "9180", "3"), ("C412", "9260", "3"), ("C491", "8900", "3"),
    ("C629", "9064", "3"), ("C739", "8260", "3"), ("C447", "8720", "3"),
]


def random_rows(n: int, seed: int = 1, countries=("FRA", "DEU", "KEN")) -> list[dict[str, str]]:
    """`n` valid, varied rows (deterministic for a seed)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topo, morph, beh = rng.choice(EXAMPLE_CODES)
        sex = "1" if topo == "C629" else rng.choice("12")
        dx = date(2000, 1, 1) + timedelta(days=rng.randrange(20 * 365))
        birth = dx - timedelta(days=rng.randrange(0, 19 * 365))
        dead = rng.random() < 0.2
        last = min(dx + timedelta(days=rng.randrange(0, 8 * 365)), date(2022, 12, 31))
        rows.append(valid_row(case_id=f"K{i}", country=rng.choice(countries), sex=sex,
                              birth_date=birth.isoformat(), diagnosis_date=dx.isoformat(),
                              topography=topo, morphology=morph, behaviour=beh,
                              vital_status="2" if dead else "1", last_contact_date=last.isoformat()))
    return rows


@pytest.fixture
def db(tmp_path):
    """A new, empty warehouse file; yields an open read-write connection."""
    con = warehouse.connect(tmp_path / "w.duckdb")
    yield con
    con.close()


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory) -> Path:
    """A small warehouse built through ingest: 600 valid rows in three countries plus a few bad
    rows; marked synthetic. Read it, don't write it."""
    d = tmp_path_factory.mktemp("small")
    rows = random_rows(600) + [valid_row(case_id="BAD1", country="XXX"),
                               valid_row(case_id="BAD2", sex="5")]
    path = write_csv(d / "small_pool.csv", rows)
    con = warehouse.connect(d / "small.duckdb")
    ingest_file(con, path, synthetic=True)
    con.close()
    return d / "small.duckdb"


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The demo pool at scale 1 (about 0.75 million synthetic tumours), built once per session
    exactly as `python -m analytics demo` builds it. Read it, don't write it."""
    from analytics.demo import build_demo

    d = tmp_path_factory.mktemp("demo")
    build_demo(d / "demo.duckdb", scale=1.0, seed=2024, out_dir=d / "files", log=lambda m: None)
    return d / "demo.duckdb"


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (never a downloaded browser); skips the test
    when /usr/bin/chromium is missing."""
    from tests.browser_helpers import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
