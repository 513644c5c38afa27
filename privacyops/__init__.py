"""privacyops: the privacy team's workbench for data-subject rights under the GDPR."""

__version__ = "0.1.0"
