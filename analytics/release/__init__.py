"""The viewer façade: everything the app shows, released through `analytics.disclosure`.

Each module here calls the exact functions (`analytics.overview`, `incidence`, `survival`,
`compare`, `cohorts`) with record-key sums, then applies the disclosure rules, and returns only
released objects: stamped frames (`disclosure.stamp`), `disclosure.Count` and `Share` values, and
plain text built from them. Pages (`views/`) and `ui/` read numbers from here and never from the
exact modules (tests/test_disclosure_layer.py checks it); the command line and the R-validated
tests keep the exact path. Design: docs/disclosure-control.md.

Modules: `pool` (Overview, Submissions, the data-version footnote), `rates` (Incidence),
`curves` (Survival and Compare cohorts), `international` (International comparison).
"""
