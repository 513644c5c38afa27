"""The data categories a map may name: the keys of fideslang's default taxonomy."""

from __future__ import annotations

import functools


@functools.cache
def data_categories() -> frozenset[str]:
    """The fideslang default taxonomy's data category keys (`user.contact.email`, ...)."""
    # Imported on first use, not at the top: fideslang's taxonomy takes about a quarter of a second to import, a
    # cost that whatever imports the map package without validating a map (`privacyops --help`, ...) need not pay.
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)
