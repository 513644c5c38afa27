"""The data categories a map may name: the keys of fideslang's default taxonomy."""

from __future__ import annotations

# The keys of fideslang 3.1.4's default taxonomy (the version pyproject.toml pins), written out: importing fideslang's
# taxonomy takes most of a second (pydantic models), which every command that loads a map would pay before doing
# anything. tests/map/test_categories.py checks this list against the installed fideslang.
_TAXONOMY = frozenset((
    "system", "system.authentication", "system.operations", "user", "user.account", "user.account.settings",
    "user.account.username", "user.authorization", "user.authorization.biometric", "user.authorization.credentials",
    "user.authorization.password", "user.behavior", "user.behavior.browsing_history",
    "user.behavior.media_consumption", "user.behavior.purchase_history", "user.behavior.search_history",
    "user.biometric", "user.biometric.fingerprint", "user.biometric.health", "user.biometric.retinal",
    "user.biometric.voice", "user.childrens", "user.contact", "user.contact.address", "user.contact.address.city",
    "user.contact.address.country", "user.contact.address.postal_code", "user.contact.address.state",
    "user.contact.address.street", "user.contact.email", "user.contact.fax_number", "user.contact.organization",
    "user.contact.phone_number", "user.contact.url", "user.content", "user.content.private", "user.content.public",
    "user.content.self_image", "user.criminal_history", "user.demographic", "user.demographic.age_range",
    "user.demographic.date_of_birth", "user.demographic.gender", "user.demographic.language",
    "user.demographic.marital_status", "user.demographic.political_opinion", "user.demographic.profile",
    "user.demographic.race_ethnicity", "user.demographic.religious_belief", "user.demographic.sexual_orientation",
    "user.device", "user.device.cookie", "user.device.cookie_id", "user.device.device_id", "user.device.ip_address",
    "user.financial", "user.financial.bank_account", "user.financial.credit_card", "user.government_id",
    "user.government_id.birth_certificate", "user.government_id.drivers_license_number",
    "user.government_id.immigration", "user.government_id.national_identification_number",
    "user.government_id.passport_number", "user.government_id.vehicle_registration", "user.health_and_medical",
    "user.health_and_medical.genetic", "user.health_and_medical.insurance_beneficiary_id",
    "user.health_and_medical.record_id", "user.job_title", "user.location", "user.location.imprecise",
    "user.location.precise", "user.name", "user.name.first", "user.name.last", "user.payment",
    "user.privacy_preferences", "user.sensor", "user.social", "user.telemetry", "user.unique_id",
    "user.unique_id.pseudonymous", "user.user_sensor", "user.workplace",
))


def data_categories() -> frozenset[str]:
    """The fideslang default taxonomy's data category keys (`user.contact.email`, ...)."""
    return _TAXONOMY


def fideslang_categories() -> frozenset[str]:
    """The category keys as the installed fideslang has them (slow to import: for checks, not for loading maps)."""
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(c.fides_key for c in DEFAULT_TAXONOMY.data_category)
