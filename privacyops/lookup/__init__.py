"""Finding a subject: from one identifier to every record about that person, across every dataset."""

from .subject import AMBIGUOUS, FOUND, NOT_FOUND, Candidate, DatasetRecords, Mention, SubjectRecords
from .walk import detect_kinds, lookup, parse_ref

__all__ = [
    "AMBIGUOUS",
    "FOUND",
    "NOT_FOUND",
    "Candidate",
    "DatasetRecords",
    "detect_kinds",
    "lookup",
    "Mention",
    "parse_ref",
    "SubjectRecords",
]
