"""International comparison: its numbers are the Incidence and Survival pages' numbers for the
same selection; funnel limits; caveats."""
from __future__ import annotations

import numpy as np
import pytest

from analytics import survival, warehouse
from analytics.compare import caveats, funnel_limits, international
from analytics.filters import Selection
from analytics.incidence import incidence


@pytest.fixture(scope="module")
def con(demo_warehouse):
    return warehouse.connect(demo_warehouse, read_only=True)


def test_comparison_equals_incidence_and_survival_for_the_same_selection(con):
    sel = Selection.build({"iccc_sub": ["Ia"], "country": ["FRA", "KEN", "USA"]}, (2005, 2014))
    res = international(con, sel, ages="0-14", standard="segi")
    t = res["table"].set_index("country")
    inc = incidence(con, sel, ["country"], ages="0-14").table.set_index("country")
    for c in ("cases", "asr", "asr_lower", "asr_upper"):
        assert np.allclose(t[c].astype(float), inc.loc[t.index, c].astype(float), rtol=0, atol=0)
    km_sel = Selection.build({"iccc_sub": ["Ia"], "country": ["FRA", "KEN", "USA"],
                              "age_band": ["0-4", "5-9", "10-14"]}, (2005, 2014))
    km = survival.kaplan_meier(survival.event_table(con, km_sel, ["country"]), times=(5,)).at_times
    km = km.set_index("country")
    for a, b in (("surv5", "survival"), ("surv5_lower", "lower"), ("surv5_upper", "upper")):
        assert np.allclose(t[a], km.loc[t.index, b], rtol=0, atol=0)
    assert res["pooled"]["asr"] == pytest.approx(incidence(con, sel, [], ages="0-14").table.iloc[0]["asr"], rel=0)
    # net survival only where life tables exist (USA), with the reason for the others
    assert np.isfinite(t.loc["USA", "net5"]) and np.isnan(t.loc["FRA", "net5"])
    assert "1 of 3" in res["net_reason"]


def test_funnel_limits_and_caveats():
    lim = funnel_limits(0.8, 1000)
    n = lim["n"].to_numpy()
    assert np.allclose(lim["upper_95%"], np.clip(0.8 + 1.959963984540054 * np.sqrt(0.16 / n), 0, 1))
    assert (lim["lower_99.8%"] <= lim["lower_95%"]).all()
    assert "death certificates" in caveats({"dco_share": 0.08, "mv_share": 0.95, "median_followup_years": 8})
    assert caveats({"dco_share": 0.01, "mv_share": 0.95, "median_followup_years": 8}) == ""
    assert "case mix" in caveats({"dco_share": 0.01, "under5_share": 0.6}, pooled_under5=0.4)
