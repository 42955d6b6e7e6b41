"""The data dictionary is generated from the schema, and the committed copy is current."""
from analytics.schema import CASE_NAMES, INPUT_NAMES, data_dictionary_markdown
from tests.conftest import ROOT


def test_committed_data_dictionary_is_current():
    committed = (ROOT / "docs" / "data-dictionary.md").read_text()
    assert committed == data_dictionary_markdown(), \
        "docs/data-dictionary.md is stale: run `python -m analytics dictionary > docs/data-dictionary.md`"


def test_every_input_column_is_stored():
    assert set(INPUT_NAMES) <= set(CASE_NAMES)
