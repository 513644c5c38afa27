"""Consent given and withdrawn: privacyops' own consent records; a withdrawal takes effect at once."""

from .records import (
    ConsentError,
    ConsentResult,
    consent_purposes,
    is_direct_marketing,
    list_records,
    record_consent,
    withdraw_consent,
)

__all__ = [
    "consent_purposes",
    "ConsentError",
    "ConsentResult",
    "is_direct_marketing",
    "list_records",
    "record_consent",
    "withdraw_consent",
]
