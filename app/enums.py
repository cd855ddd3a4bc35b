"""Vocabularies shared by the models, the schemas and the API."""

from enum import StrEnum


class Scope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


class OutletKind(StrEnum):
    anonymous_channel = "anonymous_channel"
    social_account = "social_account"
    news_outlet = "news_outlet"
    broadcaster = "broadcaster"
    official = "official"
    fact_checker = "fact_checker"
    other = "other"


class Stance(StrEnum):
    asserts = "asserts"
    reports = "reports"
    questions = "questions"
    debunks = "debunks"
    denies = "denies"
    confirms = "confirms"
    retracts = "retracts"


class Precision(StrEnum):
    exact = "exact"
    day = "day"
    month = "month"
    approximate = "approximate"


class DenialStatus(StrEnum):
    none = "none"
    denied = "denied"
    confirmed = "confirmed"
    contested = "contested"


class MatchVerdict(StrEnum):
    same = "same"
    similar = "similar"


class CitationBasis(StrEnum):
    cites = "cites"
    cites_outlet = "cites_outlet"


class EventType(StrEnum):
    claim_created = "claim.created"
    sighting_recorded = "sighting.recorded"
    denial_recorded = "denial.recorded"
    claim_status_changed = "claim.status_changed"
    claim_resurfaced = "claim.resurfaced"
    claim_corrected = "claim.corrected"
    claim_merged = "claim.merged"
    sighting_corrected = "sighting.corrected"
    sighting_withdrawn = "sighting.withdrawn"
    evidence_captured = "evidence.captured"
    source_changed = "source.changed"
    source_gone = "source.gone"


class EvidenceStatus(StrEnum):
    pending = "pending"
    captured = "captured"
    failed = "failed"
    gone = "gone"


class CaptureSource(StrEnum):
    fetch = "fetch"
    upload = "upload"
