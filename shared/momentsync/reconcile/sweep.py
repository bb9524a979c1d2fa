"""The scheduled sweep: per tenant, list what Moment changed since the tenant's watermark and enqueue
the records our sync state does not show as synced from that version (origin ``reconcile``).

Moment documents no webhook retries, so a webhook that never reached us is otherwise lost for good.
The sweep only *enqueues*: the processor re-reads each record and converges exactly as for a webhook
(natural-key adoption included), in the tenant's FIFO group, so a sweep can never push stale data or
race the tenant's own events.

The watermark lives in the sync-state table next to the links it vouches for (``meta#sweep``): state
that is wiped or restored loses it too, and the next sweep lists everything again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from momentsync.envelope import ENTITY_TYPES, EntityType, QueueEnvelope
from momentsync.moment.client import MomentClient
from momentsync.ports import EventQueue, SweepStore, SyncStateStore
from momentsync.sync.choices import filtered_out, not_transferred
from momentsync.sync.sync_state import META_PREFIX, SyncLink, applied_version, as_utc
from momentsync.tenants import Tenant

logger = logging.getLogger("momentsync.reconcile")

SWEEP_RECORD_KEY = f"{META_PREFIX}sweep"
DEEP_CHECK_RECORD_KEY = f"{META_PREFIX}deep_check"
RECONCILE_EVENT = "RECONCILE"
# Moment allows 30 requests per second per API key; the sweep stays at a sixth of that so the
# processor's own reads for the same key keep their headroom.
MOMENT_MIN_REQUEST_INTERVAL_SECONDS = 0.2


class SweepRecord(BaseModel):
    """The last sweep of one tenant: what ``momentsync status`` shows, and where the next one starts."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str
    # Every Moment change up to here is known to be enqueued or synced; the next sweep lists from it
    # (less the overlap). None: never swept completely, so the next sweep lists everything.
    watermark: datetime | None = None
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str = "running"  # complete | truncated | failed | skipped
    reason: str | None = None
    listed: int = 0
    missing: int = 0  # listed, no sync state at all
    stale: int = 0  # listed, state older than Moment's record
    ignored: int = 0  # listed, but never transferred (drafts, waiting projects, the tenant's filters)
    enqueued: int = 0
    moment_requests: int = 0
    # The last deep check of the target side (momentsync.reconcile.deep_check), carried over by every
    # sweep until the next one: linked records missing or different in the books, both values.
    deep_checked_at: datetime | None = None
    deep_checked: int = 0  # linked records compared
    deep_check_reads: int = 0  # requests to the target it took
    deep_check_reason: str | None = None  # why the tenant was not checked
    drift_count: int = 0
    drift: list[dict[str, Any]] = Field(default_factory=list)


DEEP_CHECK_FIELDS = {
    "deep_checked_at", "deep_checked", "deep_check_reads", "deep_check_reason", "drift_count", "drift"
}  # fmt: skip


class PacedTransport(httpx.BaseTransport):
    """At least ``min_interval`` seconds between request starts, and a count of requests sent."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        min_interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner
        self._min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._last is not None:
            wait = self._last + self._min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last = self._clock()
        self.requests += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def needs_sync(link: SyncLink | None, last_modified: datetime | None) -> str | None:
    """``"missing"`` or ``"stale"`` when the record must be enqueued, else None."""
    if link is None:
        return "missing"
    if last_modified is None:
        return "stale"  # Moment did not say: enqueueing costs one "unchanged" at worst
    # Customers and projects store the Moment version they applied; invoices keep it in their details
    # (Moment's clock: ours may be minutes off), and only links written before that by our write time.
    applied = applied_version(link)
    if applied is None or as_utc(last_modified) > applied:
        return "stale"
    return None


@dataclass
class TenantSweep:
    sync_state: SyncStateStore
    sweeps: SweepStore
    queue: EventQueue
    # Lists from the watermark less this, so a change stamped by a clock behind ours is not missed.
    overlap: timedelta = timedelta(minutes=15)
    # At most this many events per tenant per sweep, so webhook events queued behind them in the
    # tenant's FIFO group wait minutes, not hours; the rest follow next sweep.
    max_enqueued: int = 200
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_event_id: Callable[[], str] = lambda: f"reconcile-{uuid.uuid4().hex}"
    entity_types: tuple[EntityType, ...] = field(default=ENTITY_TYPES)

    def run(
        self, tenant: Tenant, moment: MomentClient, requests: Callable[[], int] = lambda: 0
    ) -> SweepRecord:
        previous = self.sweeps.get(tenant.tenant_id)
        record = SweepRecord(
            tenant_id=tenant.tenant_id,
            watermark=previous.watermark if previous else None,
            started_at=self.clock(),
        )
        if not tenant.processing_enabled:
            # Its events are parked until it is active again; enqueueing more would only park them too.
            record.outcome, record.reason = "skipped", f"tenant is {tenant.status.value}"
            return self._finish(record, requests)
        since = record.watermark - self.overlap if record.watermark else None
        try:
            for entity_type, found in self._changes(tenant, moment, since):
                record.listed += 1
                if _never_transferred(tenant, entity_type, found):
                    record.ignored += 1
                    continue
                link = self.sync_state.get(tenant.tenant_id, entity_type, found.id)
                why = needs_sync(link, found.last_modified)
                if why is None:
                    continue
                if record.enqueued >= self.max_enqueued:
                    record.outcome = "truncated"
                    record.reason = f"more than {self.max_enqueued} records to repair; the rest next sweep"
                    return self._finish(record, requests)
                self._enqueue(tenant, entity_type, found.id)
                record.enqueued += 1
                setattr(record, why, getattr(record, why) + 1)
        except Exception as exc:  # noqa: BLE001 - recorded; the watermark stays, the next sweep repeats
            record.outcome, record.reason = "failed", f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("sweep failed", extra={"tenant_id": tenant.tenant_id, "reason": record.reason})
            return self._finish(record, requests)
        # Only now is every change up to the start of this sweep enqueued or already synced.
        record.watermark = record.started_at
        record.outcome = "complete"
        return self._finish(record, requests)

    def record_skip(self, tenant: Tenant, reason: str) -> SweepRecord:
        previous = self.sweeps.get(tenant.tenant_id)
        record = SweepRecord(
            tenant_id=tenant.tenant_id,
            watermark=previous.watermark if previous else None,
            started_at=self.clock(),
            outcome="skipped",
            reason=reason,
        )
        return self._finish(record, lambda: 0)

    def _changes(
        self, tenant: Tenant, moment: MomentClient, since: datetime | None
    ) -> Iterator[tuple[EntityType, Any]]:
        listings = {
            "customer": moment.list_customers,
            "project": moment.list_projects,
            "invoice": moment.list_invoices,
        }
        for entity_type in self.entity_types:
            if not_transferred(tenant, entity_type):
                continue  # not even listed: the tenant does not transfer this type
            for found in listings[entity_type](modified_since=since):
                yield entity_type, found

    def _enqueue(self, tenant: Tenant, entity_type: EntityType, moment_id: int) -> None:
        event_id = self.new_event_id()
        envelope = QueueEnvelope(
            event_id=event_id,
            tenant_id=tenant.tenant_id,
            entity_type=entity_type,
            entity_id=moment_id,
            moment_event=RECONCILE_EVENT,
            received_at=self.clock(),
            payload={},
            origin="reconcile",
        )
        self.queue.send(envelope, deduplication_id=event_id)

    def _finish(self, record: SweepRecord, requests: Callable[[], int]) -> SweepRecord:
        record.finished_at = self.clock()
        record.moment_requests = requests()
        self.sweeps.save(record)
        logger.info(
            "sweep finished",
            extra={
                k: getattr(record, k)
                for k in ("tenant_id", "outcome", "listed", "missing", "stale", "enqueued", "moment_requests")
            },
        )
        return record


def _never_transferred(tenant: Tenant, entity_type: str, found: Any) -> bool:
    """Records the processor would answer without a link (a draft, a project still without a start
    date, one the tenant's filters leave out): enqueueing them would repeat every sweep for nothing."""
    if entity_type == "invoice":
        try:
            if not found.transferable:
                return True
        except Exception:  # noqa: BLE001 - a field Moment did not send: let the processor say so
            return False
    if entity_type == "project" and found.start_date is None:
        return True
    return filtered_out(tenant, entity_type, found) is not None
