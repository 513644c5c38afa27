"""The data map (`privacyops.yaml`): what personal data is held, where, why and for how long; validated on load.

model: the vocabulary and the frozen dataclasses. load: `load_datamap` / `parse_datamap` and the top-level sections,
with datasets and consent_section for `datasets:` and `consent:`; checker and yaml_lines: the problem collector and
YAML with lines they share; categories: fideslang's data categories. fides: the Fides dataset import (with
fides_findings, fides_validate, fides_collections, fides_references).
"""

from .categories import data_categories
from .checker import parse_period
from .load import load_datamap, parse_datamap
from .model import (
    CREDENTIAL_CATEGORIES,
    EMAIL,
    EU_EEA,
    FILE_SOURCE_KINDS,
    IMPLICIT_PARTY,
    NAME,
    PHONE,
    Anchor,
    ConsentEvents,
    ConsentProcessing,
    DataMap,
    Dataset,
    Field,
    Party,
    Period,
    Reference,
    RetentionRule,
    Settings,
    Source,
)

__all__ = [
    "CREDENTIAL_CATEGORIES",
    "EMAIL",
    "IMPLICIT_PARTY",
    "EU_EEA",
    "FILE_SOURCE_KINDS",
    "NAME",
    "PHONE",
    "Anchor",
    "ConsentEvents",
    "ConsentProcessing",
    "data_categories",
    "DataMap",
    "Dataset",
    "Field",
    "import_fides",
    "load_datamap",
    "parse_datamap",
    "parse_period",
    "Party",
    "Period",
    "Reference",
    "RetentionRule",
    "Settings",
    "Source",
]


def __getattr__(name: str):
    # The Fides import (pydantic models) loads on first use: commands that only read a map need not pay for it.
    if name == "import_fides":
        from .fides import import_fides

        return import_fides
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
