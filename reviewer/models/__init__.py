"""Veil's data model: one module per stage of the flow in DESIGN.md."""

from reviewer.models.accounts import User
from reviewer.models.approval import Approval, ApprovedBox
from reviewer.models.audit import AuditEvent
from reviewer.models.counters import DatasetCounter
from reviewer.models.dashboards import DatasetDay, ReviewerDay
from reviewer.models.datasets import Dataset, Image, ImportJob, ImportRejection
from reviewer.models.detection import (
    Candidate,
    CandidateDismissal,
    DetectionChunk,
    DetectionResult,
    DetectionRun,
    Proposal,
)
from reviewer.models.export import Export, ExportChunk, ExportItem, Leak
from reviewer.models.health import PeriodicRun
from reviewer.models.review import Assignment, Batch, BatchItem, GoldBox, Lease, Review, ReviewBox, ReviewCandidate
from reviewer.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Approval",
    "ApprovedBox",
    "Assignment",
    "AuditEvent",
    "Batch",
    "BatchItem",
    "Candidate",
    "CandidateDismissal",
    "Dataset",
    "DatasetCounter",
    "DatasetDay",
    "DetectionChunk",
    "DetectionResult",
    "DetectionRun",
    "Export",
    "ExportChunk",
    "ExportItem",
    "GoldBox",
    "Image",
    "ImportJob",
    "ImportRejection",
    "Leak",
    "Lease",
    "PeriodicRun",
    "Proposal",
    "Review",
    "ReviewBox",
    "ReviewCandidate",
    "ReviewerDay",
    "User",
]
