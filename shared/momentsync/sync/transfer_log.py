"""The transfer log: one entry per processed event, queryable by tenant and time, expiring by TTL.

The operator's equivalent of Moment's "Company -> Logs": what happened to each event, how many
remote calls it cost and why it failed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    SYNCED = "synced"
    UNCHANGED = "unchanged"
    WAITING = "waiting"
    DELETED = "deleted"  # a record we had linked that Moment no longer has
    NOT_FOUND = "not_found"  # Moment answered 404 for a record we never linked (unknown id)
    SKIPPED = "skipped"  # Moment says not to transfer it (draft, "Do not transfer")
    FLAGGED = "flagged"  # applied, but something needs a human look (e.g. totals differ)
    FAILED = "failed"  # permanent: dead-lettered with the reason
    RETRYING = "retrying"  # transient: SQS delivers it again
    PARKED = "parked"  # tenant-level problem: held until the tenant is active again


class TransferLogEntry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenant_id: str
    event_id: str
    entity_type: str
    entity_id: int
    outcome: Outcome
    logged_at: datetime
    remote_id: str | None = None
    remote_calls: int = 0
    duration_ms: int = 0
    reason: str | None = None
    origin: str = "webhook"
    receive_count: int = 1
    details: dict[str, Any] = Field(default_factory=dict)
