"""Finding a subject: from one identifier to every record about that person, across every dataset.

`lookup()` (find.py) detects what the identifier is (identify.py), finds the matching rows and the people they belong
to (people.py), walks down to the person's records and across to the context (records.py), and reports free-text
mentions in other people's rows (mentions.py). `lookup_many()` (batch.py) answers many identifiers at once, with
the queries of all asked together. The answer is a `SubjectRecords` (subject.py); for a person an executed erasure
removed, it also says what that erasure still keeps, under which rule and until when (kept.py).
"""

from .batch import lookup_many, rows_holding, rows_holding_each
from .find import lookup
from .identify import AUTO, detect_kinds, parse_ref
from .kept import ErasureOnRecord, KeptDataset, erasures_on_record
from .subject import AMBIGUOUS, FOUND, NOT_FOUND, WITHHELD, Candidate, DatasetRecords, Mention, SubjectRecords

__all__ = ["AMBIGUOUS", "AUTO", "FOUND", "NOT_FOUND", "Candidate", "DatasetRecords", "ErasureOnRecord", "KeptDataset",
           "Mention", "SubjectRecords", "WITHHELD", "detect_kinds", "erasures_on_record", "lookup", "lookup_many",
           "parse_ref", "rows_holding", "rows_holding_each"]
