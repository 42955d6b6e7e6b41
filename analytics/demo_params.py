"""Parameters of the synthetic demonstration pool, as data, each with the figure it comes from.

Source document: shared reference `published-figures.md` (sections D1-D3), which marks each figure
verified or unverified. Verified anchors are matched exactly by calibration (see `demo.py`);
unverified figures only shape the pool (relative sizes, age pattern, case mix).

Nothing here is real patient data. Rates are per million person-years; survival is the
probability of surviving 5 years from diagnosis.
"""
from __future__ import annotations

#: Diagnosis years and the end of follow-up of the demo pool.
FIRST_YEAR, LAST_YEAR = 2000, 2019
FOLLOWUP_END = "2022-12-31"

BANDS = ["0-4", "5-9", "10-14", "15-19"]

#: Demo countries: income group (World Bank, 2022 classification) and registration-level
#: multipliers. `incidence` scales registered incidence relative to the high-income baseline
#: (under-ascertainment in lower-resource settings: IICC-3 reports markedly lower registered rates
#: for sub-Saharan Africa); `survival` multiplies the high-income 5-year survival (D3 spread:
#: high-income ALL 88-95% / CNS 70-80%, upper-middle ALL 65-85% / CNS 45-65%, low-income ALL < 60%
#: / CNS < 40%; unverified bands); `lost` is the share lost to follow-up early; `dco` the share of
#: death-certificate-only registrations; `cns_nonmalignant` the completeness of non-malignant CNS
#: registration (IICC-3 flags countries with low non-malignant CNS registration).
#: High-income incidence multipliers average 1.00 over their populations, so the high-income pool
#: reproduces the IICC-3 rates the base rates are calibrated to.
COUNTRIES: dict[str, dict] = {
    "USA": dict(income="high", incidence=1.00, survival=1.00, lost=0.010, dco=0.002, cns_nonmalignant=1.0),
    "CAN": dict(income="high", incidence=1.00, survival=1.00, lost=0.008, dco=0.003, cns_nonmalignant=1.0),
    "GBR": dict(income="high", incidence=0.97, survival=0.98, lost=0.006, dco=0.003, cns_nonmalignant=0.9),
    "FRA": dict(income="high", incidence=1.00, survival=0.99, lost=0.008, dco=0.002, cns_nonmalignant=1.0),
    "DEU": dict(income="high", incidence=1.02, survival=1.00, lost=0.005, dco=0.002, cns_nonmalignant=0.8),
    "ITA": dict(income="high", incidence=1.05, survival=0.98, lost=0.010, dco=0.004, cns_nonmalignant=0.9),
    "AUS": dict(income="high", incidence=1.00, survival=1.00, lost=0.006, dco=0.002, cns_nonmalignant=1.0),
    "MEX": dict(income="upper-middle", incidence=0.85, survival=0.74, lost=0.060, dco=0.015, cns_nonmalignant=0.5),
    "COL": dict(income="upper-middle", incidence=0.80, survival=0.76, lost=0.050, dco=0.015, cns_nonmalignant=0.5),
    "ZAF": dict(income="upper-middle", incidence=0.45, survival=0.66, lost=0.080, dco=0.030, cns_nonmalignant=0.4),
    "KEN": dict(income="lower-middle", incidence=0.55, survival=0.50, lost=0.150, dco=0.050, cns_nonmalignant=0.3),
    "UGA": dict(income="low", incidence=0.50, survival=0.45, lost=0.180, dco=0.060, cns_nonmalignant=0.3),
}

#: Incidence per million by ICCC-3 main group and age band, high-income populations: the
#: mid-points of the ranges in D1 ("rates by ICCC group and age band", unverified). Group XII is not
#: in that table; 1-2 per million is assumed. `demo.calibrated_rates()` rescales these so that the
#: verified IICC-3 (2001-10) world-standardised rates are met exactly.
BASE_RATES: dict[str, list[float]] = {
    #        0-4    5-9   10-14  15-19
    "I":    [77.5, 37.5, 27.5, 27.5],
    "II":   [6.5, 11.0, 17.5, 40.0],
    "III":  [40.0, 32.5, 27.5, 22.5],
    "IV":   [22.5, 2.5, 1.0, 0.5],
    "V":    [11.5, 0.5, 0.05, 0.02],
    "VI":   [16.5, 4.0, 1.0, 1.0],
    "VII":  [5.0, 0.5, 0.5, 1.0],
    "VIII": [1.0, 4.0, 9.0, 11.0],
    "IX":   [9.0, 7.0, 9.0, 13.5],
    "X":    [5.5, 2.0, 5.0, 22.5],
    "XI":   [1.0, 2.5, 10.0, 40.0],
    "XII":  [1.0, 0.5, 1.0, 2.0],
}

#: Verified IICC-3 targets (Steliarova-Foucher et al., Lancet Oncol 2017;18:719-31; D1):
#: world (Segi) standardised rates per million, 2001-10.
WSR_TARGETS = {
    ("all", "0-14"): 140.6,
    ("I", "0-14"): 46.4,
    ("III", "0-14"): 28.2,
    ("II", "0-14"): 15.2,
    ("all", "15-19"): 185.3,
    ("II", "15-19"): 41.8,
}
#: The calendar year the base rates describe (mid-point of 2001-10).
RATE_REFERENCE_YEAR = 2005.5
#: Annual incidence increase, ACCIS 1970-99 (Lancet 2004; verified): 1.0%/yr children, 1.5%/yr
#: adolescents.
ANNUAL_TREND = {"0-14": 0.010, "15-19": 0.015}

#: Share of boys by main group (D1: "slightly higher in boys", verified; M:F about 1.1-1.2,
#: unverified). Sex-specific sites are drawn after sex.
MALE_SHARE = {"I": 0.55, "II": 0.58, "III": 0.53, "IV": 0.52, "V": 0.50, "VI": 0.48, "VII": 0.58,
              "VIII": 0.55, "IX": 0.56, "X": 0.55, "XI": 0.40, "XII": 0.52}

#: Single-year age distribution inside the 0-4 band (D1 Norway cohort: under-2s 41%, 2-3 years 26%
#: of cases, verified; the per-group split is an assumption: embryonal tumours peak in infancy,
#: ALL at 2-3 years).
AGE_0_4 = {
    "I": [0.10, 0.20, 0.26, 0.24, 0.20], "IV": [0.40, 0.22, 0.15, 0.12, 0.11],
    "V": [0.45, 0.30, 0.14, 0.07, 0.04], "VI": [0.14, 0.28, 0.26, 0.18, 0.14],
    "VII": [0.35, 0.30, 0.15, 0.10, 0.10], "default": [0.24, 0.21, 0.19, 0.18, 0.18],
}

# Case mix: per main group, a list of (subgroup, weight, codes); codes are
# (topography, morphology, behaviour, sex restriction or None, weight within the subgroup).
# Weights may be a list of four (one per age band). The classifier must derive the subgroup from
# the codes (tests/test_demo.py checks this). `s5` is the high-income 5-year survival, 2010-19:
# D2 suggested recent high-income targets (unverified), anchored on verified figures (EUROCARE-5/6,
# US ACS 2014: ALL 90%, AML 64%; CNS 57.5% in 2000-07 rising; HL 94-95%; Wilms 86-92%).
CASE_MIX: dict[str, list[tuple]] = {
    "I": [
        ("Ia", 0.78, 0.91, [("C421", "9811", 3, None, 0.55), ("C421", "9836", 3, None, 0.20),
                            ("C421", "9837", 3, None, 0.10), ("C421", "9835", 3, None, 0.15)]),
        ("Ib", 0.16, 0.68, [("C421", "9861", 3, None, 0.6), ("C421", "9867", 3, None, 0.2),
                            ("C421", "9866", 3, None, 0.2)]),
        ("Ic", 0.02, 0.85, [("C421", "9875", 3, None, 1.0)]),
        ("Id", 0.02, 0.60, [("C421", "9985", 3, None, 0.5), ("C421", "9980", 3, None, 0.5)]),
        ("Ie", 0.02, 0.60, [("C421", "9800", 3, None, 1.0)]),
    ],
    "II": [
        ("IIa", [0.08, 0.25, 0.45, 0.70], 0.97, [("C779", "9652", 3, None, 0.3), ("C779", "9663", 3, None, 0.7)]),
        ("IIb", [0.45, 0.40, 0.33, 0.22], 0.88, [("C779", "9680", 3, None, 0.4), ("C779", "9714", 3, None, 0.3),
                                                 ("C779", "9837", 3, None, 0.3)]),
        ("IIc", [0.35, 0.30, 0.17, 0.05], 0.90, [("C180", "9687", 3, None, 0.5), ("C779", "9687", 3, None, 0.5)]),
        ("IId", [0.10, 0.03, 0.03, 0.02], 0.95, [("C419", "9751", 3, None, 1.0)]),
        ("IIe", [0.02, 0.02, 0.02, 0.01], 0.80, [("C779", "9590", 3, None, 1.0)]),
    ],
    "III": [
        ("IIIa", 0.10, 0.75, [("C717", "9391", 3, None, 0.8), ("C715", "9390", 3, None, 0.2)]),
        ("IIIb", 0.45, 0.88, [("C716", "9421", 1, None, 0.65), ("C719", "9400", 3, None, 0.20),
                              ("C719", "9440", 3, None, 0.15)]),
        ("IIIc", 0.18, 0.65, [("C716", "9470", 3, None, 0.85), ("C719", "9508", 3, None, 0.15)]),
        ("IIId", 0.08, 0.50, [("C719", "9380", 3, None, 0.8), ("C719", "9450", 3, None, 0.2)]),
        ("IIIe", 0.14, 0.92, [("C751", "9350", 1, None, 0.5), ("C719", "9505", 1, None, 0.3),
                              ("C700", "9530", 0, None, 0.2)]),
        ("IIIf", 0.05, 0.70, [("C719", "8000", 1, None, 1.0)]),
    ],
    "IV": [
        ("IVa", 0.97, 0.78, [("C740", "9500", 3, None, 0.6), ("C481", "9500", 3, None, 0.3),
                             ("C740", "9490", 3, None, 0.1)]),
        ("IVb", 0.03, 0.85, [("C755", "8680", 3, None, 1.0)]),
    ],
    "V": [("V", 1.0, 0.97, [("C692", "9510", 3, None, 0.8), ("C692", "9511", 3, None, 0.2)])],
    "VI": [
        ("VIa", 0.94, 0.91, [("C649", "8960", 3, None, 0.92), ("C649", "8963", 3, None, 0.03),
                             ("C649", "8964", 3, None, 0.05)]),
        ("VIb", 0.05, 0.80, [("C649", "8312", 3, None, 1.0)]),
        ("VIc", 0.01, 0.70, [("C649", "8000", 3, None, 1.0)]),
    ],
    "VII": [
        ("VIIa", [0.95, 0.50, 0.25, 0.15], 0.80, [("C220", "8970", 3, None, 1.0)]),
        ("VIIb", [0.03, 0.47, 0.72, 0.82], 0.35, [("C220", "8170", 3, None, 1.0)]),
        ("VIIc", 0.02, 0.50, [("C220", "8000", 3, None, 1.0)]),
    ],
    "VIII": [
        ("VIIIa", 0.55, 0.68, [("C402", "9180", 3, None, 0.7), ("C400", "9180", 3, None, 0.3)]),
        ("VIIIb", 0.06, 0.80, [("C414", "9220", 3, None, 1.0)]),
        ("VIIIc", 0.33, 0.70, [("C414", "9260", 3, None, 0.6), ("C402", "9260", 3, None, 0.4)]),
        ("VIIId", 0.03, 0.70, [("C412", "9370", 3, None, 1.0)]),
        ("VIIIe", 0.03, 0.60, [("C402", "8800", 3, None, 1.0)]),
    ],
    "IX": [
        ("IXa", 0.55, 0.68, [("C069", "8910", 3, None, 0.5), ("C491", "8920", 3, None, 0.3),
                             ("C679", "8910", 3, None, 0.2)]),
        ("IXb", 0.08, 0.70, [("C479", "9540", 3, None, 1.0)]),
        ("IXc", 0.02, 0.50, [("C449", "9140", 3, None, 1.0)]),
        ("IXd", 0.26, 0.70, [("C492", "9040", 3, None, 0.5), ("C492", "9260", 3, None, 0.3),
                             ("C482", "8806", 3, None, 0.2)]),
        ("IXe", 0.09, 0.65, [("C499", "8800", 3, None, 1.0)]),
    ],
    "X": [
        ("Xa", [0.15, 0.35, 0.30, 0.12], 0.90, [("C753", "9064", 3, None, 0.8), ("C753", "9080", 1, None, 0.2)]),
        ("Xb", [0.55, 0.15, 0.05, 0.03], 0.85, [("C768", "9080", 3, None, 0.5), ("C768", "9071", 3, None, 0.5)]),
        ("Xc", [0.28, 0.45, 0.55, 0.78], 0.95, [("C629", "9065", 3, "1", 0.35), ("C629", "9085", 3, "1", 0.35),
                                                ("C569", "9060", 3, "2", 0.15), ("C569", "9080", 3, "2", 0.15)]),
        ("Xd", [0.01, 0.02, 0.05, 0.04], 0.90, [("C569", "8441", 3, "2", 1.0)]),
        ("Xe", [0.01, 0.03, 0.05, 0.03], 0.90, [("C569", "8620", 3, "2", 0.6), ("C629", "8650", 3, "1", 0.4)]),
    ],
    "XI": [
        ("XIa", [0.60, 0.15, 0.03, 0.01], 0.60, [("C740", "8370", 3, None, 1.0)]),
        ("XIb", [0.10, 0.25, 0.40, 0.38], 0.98, [("C739", "8260", 3, None, 0.8), ("C739", "8330", 3, None, 0.2)]),
        ("XIc", [0.02, 0.05, 0.08, 0.05], 0.75, [("C119", "8070", 3, None, 1.0)]),
        ("XId", [0.20, 0.35, 0.25, 0.30], 0.95, [("C445", "8720", 3, None, 0.6), ("C447", "8720", 3, None, 0.4)]),
        ("XIe", [0.02, 0.05, 0.04, 0.04], 0.98, [("C443", "8090", 3, None, 1.0)]),
        ("XIf", [0.06, 0.15, 0.20, 0.22], 0.75, [("C181", "8240", 3, None, 0.4), ("C189", "8140", 3, None, 0.3),
                                                 ("C079", "8430", 3, None, 0.3)]),
    ],
    "XII": [
        ("XIIa", 0.45, 0.70, [("C341", "8972", 3, None, 0.5), ("C259", "8971", 3, None, 0.2),
                              ("C169", "8936", 3, None, 0.3)]),
        ("XIIb", 0.55, 0.60, [("C809", "8000", 3, None, 1.0)]),
    ],
}

#: Extra incidence of particular subgroups in particular countries (endemic Burkitt lymphoma and
#: Kaposi sarcoma in East Africa; higher ALL incidence reported in Mexico), as rate multipliers.
SUBGROUP_COUNTRY_BOOST = {("IIc", "UGA"): 6.0, ("IIc", "KEN"): 4.0, ("IXc", "UGA"): 15.0,
                          ("IXc", "KEN"): 10.0, ("Ia", "MEX"): 1.3}

#: Hazard ratios by five-year period of diagnosis, relative to 2010-14 (survival rose over time:
#: ACCIS 54% -> 75% 1978-97; EUROCARE ALL 82% -> 88% 1999-2007; AML 61% -> 70% 2004-14).
PERIOD_HAZARD_RATIO = {"2000-2004": 1.35, "2005-2009": 1.15, "2010-2014": 1.00, "2015-2019": 0.92}

#: Survival by age at diagnosis within a subgroup (issue #12): the published age gradient, per
#: subgroup (kind, [(first age, last age, value), ...], source), the age ranges (completed years)
#: covering 0-19 once. `kind` "s5": 5-year survival in percent; "hr": hazard ratios of death.
#: Only the gradient is taken from these figures, not the level: `demo.age_s5()` turns them into
#: relative cumulative hazards (-ln S for "s5", the ratio itself for "hr") and rescales them so that
#: over the subgroup's expected age mix the subgroup's `CASE_MIX` 5-year survival still holds (the
#: sources are older or from other settings than the 2010-19 high-income targets). Subgroups not
#: listed have the same survival at every age. Figures read from abstracts or summary pages are
#: approximate; where a source has no figure for an age range, the row says what is assumed.
_CNS_BY_AGE = ("s5", [(0, 4, 70.2), (5, 9, 76.8), (10, 14, 80.1), (15, 19, 77.6)],
               "Pediatr Blood Cancer 2019;66(2):e27501 (PMC6314020), table 2: 5-year relative survival "
               "of malignant brain and CNS cancer, US, diagnosed 2001-08, by age 0-4/5-9/10-14/15-19; a "
               "gradient for all malignant CNS tumours, applied to each malignant CNS subgroup (approximate)")
AGE_SURVIVAL: dict[str, tuple[str, list[tuple[int, int, float]], str]] = {
    "Ia": ("hr", [(0, 0, 1.0), (1, 4, 0.18), (5, 9, 0.25), (10, 14, 0.43), (15, 19, 0.68)],
           "Hossain, Xie & McCahan, J Cancer Epidemiol 2014;2014:865979 (ALL, SEER 1973-2009): adjusted "
           "hazard ratios vs infants, read from the abstract (1-4, 5-9, 10-14, 15-19 years '82%, 75%, "
           "57% and 32% less likely to die')"),
    "Ib": ("hr", [(0, 9, 1.0), (10, 19, 1.30)],
           "Hossain et al., Cancer Epidemiol 2015;39:720-6 (AML, SEER 1973-2011): adjusted hazard ratio "
           "1.30 at 10-19 vs under 10 years, read from the abstract. Infants are not separated there; "
           "they take the under-10 value (no figure for them could be read)"),
    "IIIa": _CNS_BY_AGE,
    "IIIc": _CNS_BY_AGE,
    "IIId": _CNS_BY_AGE,
    "IVa": ("s5", [(0, 0, 90.0), (1, 4, 68.0), (5, 9, 52.0), (10, 14, 66.0), (15, 19, 66.0)],
            "NCI PDQ Neuroblastoma Treatment (Health Professional Version): 5-year survival by age, "
            "SEER 1975-2006, under 1 year 90%, 1-4 68%, 5-9 52%, 10-14 66% (approximate, read from the "
            "PDQ text); 15-19 has no figure there and is assumed equal to 10-14"),
    "VIIa": ("hr", [(0, 2, 1.0), (3, 7, 1.38), (8, 19, 1.83)],
             "Kahla et al., Pediatr Blood Cancer 2022;69:e29763 (hepatoblastoma, US NPCR, diagnosed "
             "2001-16): hazard ratio of death 1.38 at 3-7 and 1.83 at 8-19 years vs 0-2, read from the "
             "abstract"),
    "VIIIa": ("s5", [(0, 9, 78.0), (10, 14, 73.0), (15, 19, 68.0)],
              "Lee et al., Cells 2021;10:2684 (osteosarcoma, Korea Central Cancer Registry 1999-2017): "
              "5-year overall survival 78% young children, 73% pubertal children, 68% adolescents and "
              "young adults (15-39, applied to 15-19), read from the abstract; the age cut-offs 0-9 and "
              "10-14 are approximate"),
    "VIIIc": ("s5", [(0, 14, 76.0), (15, 19, 59.0)],
              "American Cancer Society figures on Cancer.Net, 'Ewing Sarcoma - Childhood and "
              "Adolescence: Statistics' (01/2022): 5-year survival 76% under 15, 59% at 15-19"),
}

#: Shape of the cumulative hazard over the first five years (share in years 0-1, 1-3, 3-5) and the
#: late hazard after five years (per year): most deaths occur early; a few late deaths follow.
HAZARD_SHAPE = [(0.0, 1.0, 0.45), (1.0, 3.0, 0.40), (3.0, 5.0, 0.15)]
LATE_HAZARD = 0.004

#: Cause of death of the demo's deaths (issue 15, competing risks): the share of deaths from a cause
#: other than the cancer or its treatment, by years since diagnosis, and the share whose cause is
#: unknown. Shaped on the Childhood Cancer Survivor Study's late mortality (Armstrong GT et al.,
#: J Clin Oncol 2009;27:2328-38; Mertens AC et al., J Natl Cancer Inst 2008;100:1368-79): deaths in the
#: first years are nearly all from the cancer (recurrence, progression, treatment), and causes
#: other than the cancer (subsequent neoplasms, cardiac and pulmonary late effects, external
#: causes) make up a share that rises with follow-up, the larger part two decades on. The values
#: follow that pattern; they are not fitted to it (synthetic data).
OTHER_CAUSE_SHARE = [(0.0, 5.0, 0.04), (5.0, 10.0, 0.20), (10.0, 15.0, 0.35), (15.0, 20.0, 0.50),
                     (20.0, float("inf"), 0.60)]
UNKNOWN_CAUSE_SHARE = 0.05

#: Toronto stages (tier 2) drawn per subgroup with their shares and hazard ratios (relative, then
#: normalised so that the subgroup's survival target still holds on average). Missing: unknown.
STAGES: dict[str, tuple[float, list[tuple[str, float, float]]]] = {
    # subgroup: (share unknown, [(stage, share, hazard ratio), ...])
    "Ia": (0.15, [("CNS1", 0.85, 1.0), ("CNS2", 0.09, 1.3), ("CNS3", 0.06, 2.0)]),
    "IIa": (0.20, [("I", 0.15, 0.6), ("II", 0.45, 0.8), ("III", 0.22, 1.3), ("IV", 0.18, 2.0)]),
    "IIb": (0.20, [("I", 0.10, 0.5), ("II", 0.20, 0.7), ("III", 0.50, 1.0), ("IV", 0.20, 1.8)]),
    "IIIc": (0.25, [("M0", 0.65, 0.7), ("M+", 0.35, 1.8)]),
    "IVa": (0.10, [("L1", 0.25, 0.15), ("L2", 0.25, 0.5), ("M", 0.45, 2.2), ("MS", 0.05, 0.6)]),
    "V": (0.30, [("0", 0.6, 0.5), ("1", 0.2, 1.0), ("2", 0.05, 2.0), ("3", 0.1, 3.0), ("4", 0.05, 6.0)]),
    "VIa": (0.10, [("I", 0.40, 0.5), ("II", 0.20, 0.8), ("III", 0.20, 1.2), ("IV", 0.15, 2.5), ("V", 0.05, 1.5)]),
    "VIIa": (0.20, [("I", 0.2, 0.5), ("II", 0.35, 0.7), ("III", 0.3, 1.2), ("IV", 0.15, 2.5)]),
    "VIIIa": (0.15, [("LOCALISED", 0.8, 0.8), ("METASTATIC", 0.2, 2.5)]),
    "VIIIc": (0.15, [("LOCALISED", 0.75, 0.7), ("METASTATIC", 0.25, 2.5)]),
    "IXa": (0.20, [("I", 0.3, 0.5), ("II", 0.2, 0.8), ("III", 0.35, 1.2), ("IV", 0.15, 3.0)]),
    "Xc": (0.25, [("I", 0.6, 0.5), ("II", 0.2, 1.0), ("III", 0.15, 2.0), ("IV", 0.05, 3.0)]),
}

#: Basis of diagnosis for non-DCO cases: mostly histology of the primary (7); leukaemias by
#: cytology/histology (5/7); some CNS tumours by imaging alone (2); some germ-cell and liver
#: tumours by markers (4).
BASIS_MIX = {"I": [("5", 0.3), ("7", 0.7)], "III": [("7", 0.9), ("2", 0.1)],
             "VII": [("7", 0.9), ("4", 0.1)], "X": [("7", 0.92), ("4", 0.08)],
             "default": [("7", 0.97), ("6", 0.02), ("1", 0.01)]}

#: Share of registrations with unknown sex, and of deliberately invalid rows (kept so the pool
#: exercises the rejection path: ingest must reject each of them).
UNKNOWN_SEX_SHARE = 0.002
INVALID_SHARE = 0.003
