"""Reports: retention, consent, requests (notebooks 04-06) and the Art. 30 record of processing activities.

Each report is a function over a workspace returning plain data — `to_dict()` for JSON, `lines()` for the key
figures as text — that renders itself as one self-contained HTML page (`to_html()`: inline CSS and SVG charts, no
script, readable offline) and writes both (`write(out_dir)`). `privacyops report ...` runs the notebooks headless
(`privacyops.jobs.run_report`); `privacyops ropa` writes the record of processing activities.
"""

from .consent_report import ConsentReport, consent_report
from .requests_report import RequestsReport, requests_report
from .retention_report import ReportError, RetentionReport, retention_report
from .retention_sweep import SweepListing, retention_sweep
from .ropa import Ropa, ropa

__all__ = [
    "ConsentReport",
    "RequestsReport",
    "RetentionReport",
    "ReportError",
    "Ropa",
    "SweepListing",
    "consent_report",
    "requests_report",
    "retention_report",
    "retention_sweep",
    "ropa",
]
