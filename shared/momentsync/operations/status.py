"""How a stack and its tenants are doing: what `momentsync status` shows.

Per tenant and entity type: synced / waiting / failed counts from the tenant's status item (kept up
to date by every sync-state write, so one read per tenant, never every record), the last successful
sync and the last error kept apart (a later success does not erase the error, nor an error the
success); the connection state from the tenant, its stored credentials and its target settings; its
parked events. Stack-wide: the queue
backlog (visible + in flight; SQS cannot count per message group) and, when deployed, the age of the
oldest queued message from CloudWatch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from momentsync.connection import connection_state, stored_credentials
from momentsync.dead_letters import QueueDepth
from momentsync.envelope import ENTITY_TYPES
from momentsync.ports import CredentialsSource, ParkedCounter, StatusCountsSource, SweepRecords
from momentsync.sync.sync_state import StatusCounts, SyncLink
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import Tenant

if TYPE_CHECKING:
    from momentsync.reconcile.sweep import SweepRecord

SYNCED_OUTCOMES = {Outcome.SYNCED.value, Outcome.UNCHANGED.value, Outcome.FLAGGED.value}


__all__ = ["connection_state", "tenant_report", "entity_status"]


@dataclass
class EntityStatus:
    entity_type: str
    synced: int = 0
    waiting: int = 0
    failed: int = 0
    other: int = 0  # deleted, skipped, retrying
    skipped: int = 0  # of ``other``: Moment said not to transfer (draft, "Do not transfer")
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    last_error_moment_id: int | None = None
    by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass
class TenantReport:
    tenant_id: str
    name: str
    target: str
    connection: str
    status_reason: str | None
    problems: dict[str, str]
    parked: int
    entities: list[EntityStatus]
    # The last reconciliation sweep (momentsync.reconcile.sweep.SweepRecord as a dict), None if never.
    last_sweep: dict[str, Any] | None = None

    @property
    def synced(self) -> int:
        return sum(e.synced for e in self.entities)

    @property
    def waiting(self) -> int:
        return sum(e.waiting for e in self.entities)

    @property
    def failed(self) -> int:
        return sum(e.failed for e in self.entities)

    @property
    def last_success_at(self) -> datetime | None:
        return max((e.last_success_at for e in self.entities if e.last_success_at), default=None)

    @property
    def last_error(self) -> EntityStatus | None:
        errored = [(e.last_error_at, e) for e in self.entities if e.last_error_at]
        return max(errored, key=lambda pair: pair[0])[1] if errored else None

    def as_dict(self) -> dict[str, Any]:
        latest = self.last_error
        return {
            **asdict(self),
            "synced": self.synced,
            "waiting": self.waiting,
            "failed": self.failed,
            "last_success_at": self.last_success_at,
            "last_error_at": latest.last_error_at if latest else None,
            "last_error": latest.last_error if latest else None,
        }


@dataclass
class Backlog:
    event_queue: QueueDepth
    dead_letter_queue: QueueDepth
    # None: unavailable (the local stack has no CloudWatch metrics, or none reported yet).
    oldest_message_age_seconds: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_queue": {**asdict(self.event_queue), "total": self.event_queue.total},
            "dead_letter_queue": {**asdict(self.dead_letter_queue), "total": self.dead_letter_queue.total},
            "oldest_message_age_seconds": self.oldest_message_age_seconds,
        }


def entity_status(entity_type: str, links: Iterable[SyncLink]) -> EntityStatus:
    """From the links themselves (what `status --recount` rebuilds the counts from)."""
    return entity_status_of(entity_type, StatusCounts.of_links(list(links)))


def entity_status_of(entity_type: str, counts: StatusCounts) -> EntityStatus:
    status = EntityStatus(entity_type=entity_type)
    outcomes = {o: n for o, n in counts.counts.get(entity_type, {}).items() if n}
    for outcome, number in outcomes.items():
        if outcome in SYNCED_OUTCOMES:
            status.synced += number
        elif outcome == Outcome.WAITING.value:
            status.waiting += number
        elif outcome == Outcome.FAILED.value:
            status.failed += number
        else:
            status.other += number
            if outcome == Outcome.SKIPPED.value:
                status.skipped += number
    status.by_outcome = dict(Counter(outcomes))
    status.last_success_at = counts.last_success_at.get(entity_type)
    status.last_error_at = counts.last_error_at.get(entity_type)
    status.last_error = counts.last_error.get(entity_type)
    status.last_error_moment_id = counts.last_error_moment_id.get(entity_type)
    return status


def tenant_report(
    tenant: Tenant,
    *,
    sync_state: StatusCountsSource,
    parked: ParkedCounter,
    credentials: CredentialsSource | None = None,
    sweeps: SweepRecords | None = None,
) -> TenantReport:
    counts = sync_state.status_counts(tenant.tenant_id)
    entity_types = list(ENTITY_TYPES) + sorted(set(counts.counts) - set(ENTITY_TYPES))
    stored = stored_credentials(credentials, tenant.tenant_id) if credentials is not None else None
    return TenantReport(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        target=tenant.target.value,
        connection=connection_state(tenant, stored),
        status_reason=tenant.status_reason,
        problems=dict(tenant.problems),
        parked=parked.count(tenant.tenant_id),
        entities=[entity_status_of(entity_type, counts) for entity_type in entity_types],
        last_sweep=_sweep_summary(sweeps.get(tenant.tenant_id)) if sweeps else None,
    )


def _sweep_summary(record: SweepRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return record.model_dump(
        include={
            "finished_at",
            "outcome",
            "reason",
            "listed",
            "missing",
            "stale",
            "enqueued",
            "watermark",
            "deep_checked_at",
            "deep_checked",
            "deep_check_reason",
            "drift_count",
            "drift",
        }
    )
