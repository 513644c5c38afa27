"""The map's data categories are written out (fideslang's taxonomy is slow to import): they must be exactly the
installed fideslang's default taxonomy, read from fideslang itself."""

from __future__ import annotations

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

from privacyops.map import data_categories


def test_written_out_categories_are_fideslangs():
    assert data_categories() == frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)
