"""The disclosure-control primitives (analytics/disclosure.py): the perturbation table, cell keys,
the release rule, shares, released frames, and record keys made at ingest."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import disclosure as D
from analytics import warehouse
from analytics.ingest import ingest_file
from tests.conftest import random_rows, write_csv


@pytest.mark.parametrize("dv", [(5, 3.0), (3, 1.0), (8, 5.0)])
def test_ptable_rows_have_mean_zero_the_variance_and_no_negative_result(dv):
    d, v = dv
    table = D.ptable(d, v)
    assert sorted(table) == list(range(1, d + 2))
    for i, (values, cum) in table.items():
        p = np.diff(np.r_[0.0, cum])
        assert (p > 0).all() and cum[-1] == pytest.approx(1.0, abs=1e-12)
        assert p @ values == pytest.approx(0.0, abs=1e-9)
        assert p @ (values * values) == pytest.approx(v, abs=1e-9)
        assert values.min() == max(-i, -d) and values.max() == d  # n + v >= 0 for n = i


def test_the_default_table_matches_the_design():
    """docs/disclosure-control.md §2.4: row D+1 of (D=5, V=3)."""
    values, cum = D.ptable()[6]
    p = dict(zip(values.tolist(), np.round(np.diff(np.r_[0.0, cum]), 3)))
    assert p[0] == 0.229 and p[1] == p[-1] == 0.194 and p[5] == p[-5] == 0.004


def test_noise_is_deterministic_zero_for_empty_cells_and_within_bounds():
    rng = np.random.default_rng(1)
    n = rng.integers(0, 200, 5000)
    k = rng.integers(0, 2 ** 40, 5000)
    v = D.noise(n, k)
    assert (D.noise(n, k) == v).all()
    assert (v[n == 0] == 0).all() and (np.abs(v) <= 5).all() and (n + v >= 0).all()
    big = n > 5
    assert abs(v[big].mean()) < 0.15 and v[big].var() == pytest.approx(3.0, abs=0.3)
    assert D.noise(17, 123) == D.noise(17, 123 + 2 ** 32)  # keys are taken mod 2**32


def test_cell_key_in_unit_interval_and_additive_mod_2_32():
    a, b = 2 ** 32 - 5, 11
    assert D.cell_key(a + b) == D.cell_key((a + b) % 2 ** 32) == 6 / 2 ** 32
    assert 0 <= D.cell_key(-3) < 1


@pytest.mark.parametrize("t", [16, 10])
def test_release_rule(monkeypatch, t):
    monkeypatch.setenv("CCOE_MIN_CELL", str(t))
    assert D.release(0, 123) == 0
    keys = range(0, 2 ** 32, 2 ** 22)
    assert all(D.release(n, k) is None for n in range(1, t) for k in keys)
    for n in (t, t + 1, t + 3):
        for k in keys:
            shown = D.release(n, k)
            assert shown is None or (shown >= t and abs(shown - n) <= 5)
            assert (shown is None) == (n + D.noise(n, k) < t)
    # well above the threshold every count is shown, perturbed
    assert all(D.release(1000, k) is not None for k in keys)


def test_count_formats_its_released_value_only():
    hidden, shown = D.count(7, 99), D.count(1000, 99)
    assert f"{hidden}" == str(hidden) == "fewer than 16" and hidden.label == "<16"
    assert "7" not in repr(hidden)
    assert f"{shown}" == f"{1000 + D.noise(1000, 99):,}"
    with pytest.raises(TypeError):
        int(shown)
    both = shown.plus(D.count(20, 5))
    assert both.exact == 1020 and both.key == 104
    assert both.minus(D.count(20, 5)) == shown


def test_share_rules():
    c = D.count
    assert D.share(c(5, 1), c(8, 2)).value is None  # denominator below T
    assert D.share(c(5, 1), c(100, 2)).value is None  # numerator below T
    assert D.share(c(95, 1), c(100, 2)).value is None  # complement below T: 1 - share gives 5
    assert D.share(c(0, 0), c(100, 2)).value == 0.0 and D.share(c(100, 2), c(100, 2)).value == 1.0
    s = D.share(c(40, 11), c(100, 2))
    n40, n100 = 40 + D.noise(40, 11), 100 + D.noise(100, 2)
    assert s.value == round(n40 / n100, 3)
    arr = D.shares([5, 40, 95, 0], [1, 11, 1, 0], [100, 100, 100, 100], [2, 2, 2, 2])
    assert np.isnan(arr[0]) and arr[1] == s.value and np.isnan(arr[2]) and arr[3] == 0.0


def test_release_counts_perturbs_hides_and_stamps():
    df = pd.DataFrame({"country": ["A", "B", "C", "D"], "cases": [500, 7, 300, 40],
                       "cases_key": [1, 2, 3, 4], "rate": [1.0, 2.0, 3.0, 4.0]})
    out = D.release_counts(df, {"cases": "cases_key"}, dependent=["rate"])
    assert D.is_released(out) and "cases_key" not in out
    assert out["suppressed"].tolist()[1] and out["suppressed"].sum() == 2  # B, and D to protect it
    assert out["cases"].isna().tolist() == [False, True, False, True]
    assert out["rate"].isna().tolist() == [False, True, False, True]
    assert out.loc[0, "cases"] == 500 + D.noise(500, 1)
    assert not D.is_released(df)


def test_a_figure_is_released_only_when_stamped():
    import plotly.graph_objects as go

    fig = go.Figure()
    assert not D.is_released(fig)
    assert D.is_released(D.stamp(fig))


def test_record_keys_are_stable_and_migrated(tmp_path):
    """Keys come from the secret and the tumour's identity: a tumour loaded again keeps its key, a
    warehouse made before keys existed gets the same keys on first open."""
    rows = random_rows(40, seed=3)
    f = write_csv(tmp_path / "a.csv", rows)
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, f, synthetic=True)
    q = "SELECT case_id, record_key FROM cases ORDER BY case_id"
    before = con.execute(q).fetchall()
    assert all(k is not None for _, k in before) and len({k for _, k in before}) == 40
    ingest_file(con, f, synthetic=True, replace=True)
    assert con.execute(q).fetchall() == before
    con.execute("ALTER TABLE cases DROP COLUMN record_key")
    con.close()
    ro = warehouse.connect(tmp_path / "w.duckdb", read_only=True)
    assert ro.execute(q).fetchall() == before
    ro.close()


def test_a_different_secret_gives_different_keys(tmp_path, monkeypatch):
    f = write_csv(tmp_path / "a.csv", random_rows(10, seed=4))
    keys = []
    for secret in ("one", "two"):
        monkeypatch.setenv("CCOE_CELLKEY_SECRET", secret)
        con = warehouse.connect(tmp_path / f"{secret}.duckdb")
        ingest_file(con, f, synthetic=True)
        keys.append(con.execute("SELECT list(record_key ORDER BY case_id) FROM cases").fetchone()[0])
        con.close()
    assert keys[0] != keys[1]


def test_key_sum_sql_is_additive(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    ingest_file(con, write_csv(tmp_path / "a.csv", random_rows(60, seed=5)), synthetic=True)
    total, fra, rest = con.execute(f"""SELECT {D.key_sum_sql()}, {D.key_sum_sql("country = 'FRA'")},
                                              {D.key_sum_sql("country <> 'FRA'")} FROM cases""").fetchone()
    assert (fra + rest) % 2 ** 32 == total
    assert D.count(60, total).minus(D.count(0, 0)).key == total
