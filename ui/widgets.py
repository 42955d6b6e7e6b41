"""The selection a page's widgets make: tumour types, years of diagnosis, the methods' tooltips,
and the check that turns a selection into the hashable key the cached functions (`ui.cache`) take."""
from __future__ import annotations

import streamlit as st

from analytics import iccc
from analytics.filters import Selection, SelectionError
from analytics.safe_text import markdown_text

#: One-line explanations of each method, with its reference, for widget tooltips.
METHOD_HELP = {
    "standard": "Direct age standardisation: the rates by age band weighted by a standard population. "
                "Segi 1960 world standard as modified by Doll (1966), used by IICC-3; WHO world standard "
                "2000-2025 (Ahmad et al. 2001); European Standard Population 2013 (Eurostat).",
    "ci_rate": "95% CI of the age-standardised rate: Tiwari, Clegg & Zou, Stat Methods Med Res 2006 "
               "(SEER*Stat's default) or Fay & Feuer, Stat Med 1997 (gamma interval, as R's epitools).",
    "ci_surv": "Pointwise 95% CI of Kaplan-Meier survival from the Greenwood variance: log-log "
               "(Kalbfleisch & Prentice; stays within 0-1), log, or plain (S ± 1.96 SE).",
    "measure": "Observed: Kaplan-Meier (all deaths, follow-up in days), or the actuarial life table "
               "(Cutler & Ederer 1958, as SEER*Stat: follow-up in completed months, or years when a partner "
               "sent years; pools partners who sent follow-up in months or years). Net: Pohar Perme, Stare & Esteve, Biometrics 2012 "
               "(cancer survival removing other causes with population life tables). Relative: Ederer II "
               "(Ederer & Heise 1959).",
    "estimate": "Cohort: the survival of the children diagnosed in the years chosen, followed from diagnosis. "
                "Period (Brenner & Gefeller 1996): the survival experienced during a recent calendar window by "
                "every child followed in it, whenever diagnosed: a more up-to-date estimate of long-term survival "
                "(as SEER, EUROCARE and CONCORD report it). Kaplan-Meier and net survival; not the life table "
                "(its partners send no dates of diagnosis).",
    "ages": "Completed years at diagnosis; rates use the five-year bands 0-4, 5-9, 10-14, 15-19.",
}


def tumour_options() -> dict[str, str]:
    """'' (all), the ICCC-3 main groups and subgroups, each with its name."""
    out = {"": "All tumours (ICCC-3 I-XII)"}
    d = iccc.definition()
    main_of = dict(zip(d["subgroup"], d["main_group"]))
    for g, name in iccc.MAIN_GROUPS.items():
        out[g] = f"{g}  {name}"
        out.update({s: f"    {s}  {n}" for s, n in iccc.subgroup_names().items()
                    if main_of[s] == g and s != g})
    return out


def tumour_filter(tumour: str) -> dict:
    """{'iccc_main': [..]} or {'iccc_sub': [..]} for a tumour-type code; {} for all tumours."""
    if not tumour:
        return {}
    return {"iccc_main" if tumour in iccc.MAIN_GROUPS else "iccc_sub": [tumour]}


def year_range_widget(state, name: str, lo: int, hi: int) -> None:
    """A years-of-diagnosis slider backed by the URL; a fixed caption when the pool has one year."""
    key = state.int_range(name, lo, hi, (lo, hi))
    if lo == hi:
        st.session_state[key] = (lo, hi)
        st.caption(f"Year of diagnosis: {lo} (the only year in the pool)")
    else:
        st.slider("Years of diagnosis", lo, hi, key=key)


def estimate_widget(state, windows: list[str], label: str) -> None:
    """Cohort or period estimate, backed by the URL (key `estimate`): 'cohort', or one of the
    calendar windows the pool's follow-up covers (`analytics.period.windows`, most recent first).
    The Survival and International pages share it; the page reads the choice back as
    `state.get("estimate")`."""
    k = state.choice("estimate", ["cohort", *windows], "cohort")
    st.selectbox(label, ["cohort", *windows], key=k, help=METHOD_HELP["estimate"],
                 format_func=lambda w: "Cohort (by year of diagnosis)" if w == "cohort" else
                 f"Period {w.replace('-', '–')}" + (" (most recent)" if w == windows[0] else ""))


def checked_filters(filters: dict, years: tuple | None = None, what: str = "This selection") -> tuple:
    """Validate a selection and return it as the hashable key the cached functions take; an empty
    or invalid one stops the page with a plain message."""
    empty = [k for k, v in filters.items() if not v]
    if empty:
        st.warning(f"{what}: choose at least one value for {', '.join(empty)}.")
        st.stop()
    try:
        Selection.build(filters, years)
    except SelectionError as e:
        st.error(f"{what} cannot be used: {markdown_text(e)}")
        st.stop()
    return tuple((k, tuple(v)) for k, v in filters.items())
