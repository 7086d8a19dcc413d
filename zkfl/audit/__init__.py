"""Third-party audit of a federation from the chain and the store alone (`zkfl audit`)."""

from zkfl.audit.audit_report import SCHEMA, AuditReport, accuracy_plot, write_audit_report
from zkfl.audit.auditor import AuditOptions, audit_federation
from zkfl.verification.findings import Finding

__all__ = [
    "SCHEMA",
    "AuditOptions",
    "AuditReport",
    "Finding",
    "accuracy_plot",
    "audit_federation",
    "write_audit_report",
]
