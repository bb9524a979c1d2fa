"""`momentsync backfill`: bring a tenant's existing Moment records into the books, adopting what the
target already holds (a tenant moving from Moment's own Fiken integration, a tenant added again).

The plan reads each of the target's lists once (paged) and matches Moment's records in memory by
their natural keys (organisation number, project number, invoice number), instead of one search per
record. Fiken never returns a contact's ``memberNumberString`` (write-only), so a customer not
matched by organisation number costs one search by it.

Executing the plan queues the records that are not linked yet in the tenant's FIFO group (origin
``backfill``), customers first, then projects, then invoices: the processor adopts or
creates each exactly as for a webhook (its own natural-key search included), paced per tenant like
everything else. Running it again is safe and resumes: what was linked meanwhile is left alone.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from momentsync.envelope import ENTITY_TYPES, EntityType, QueueEnvelope
from momentsync.ports import AuditLog, EventQueue, NaturalKeyIndex, SyncStateStore
from momentsync.sync.choices import filtered_out, not_transferred
from momentsync.sync.invoices import nothing_to_book
from momentsync.tenants import Tenant

BACKFILL_EVENT = "BACKFILL"
# At most this many events per run (like the sweep's cap): they share the tenant's FIFO group with its
# webhooks, which wait behind them; a backfill of thousands would hold live changes back for hours.
DEFAULT_MAX_PER_RUN = 200
LINKED, ADOPT, CREATE = "linked", "adopt", "create"
NOT_TRANSFERABLE, BEFORE_CUTOVER = "not transferable", "before cutover"


@dataclass(frozen=True)
class PlannedRecord:
    entity_type: EntityType
    moment_id: int
    number: str | None
    action: str
    remote_id: str | None = None


@dataclass
class BackfillPlan:
    tenant_id: str
    records: list[PlannedRecord] = field(default_factory=list)
    target_reads: int = 0  # requests to the target that built the plan
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    listed_invoices: bool = False  # every Moment invoice was listed (the epoch's floor needs them all)

    @property
    def invoice_id_floor(self) -> int | None:
        """The highest Moment invoice id listed: a "state complete since" epoch's floor
        (sync/state_epoch.py); None when invoices were not listed."""
        if not self.listed_invoices:
            return None
        return max((r.moment_id for r in self.records if r.entity_type == "invoice"), default=0)

    def counts(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {entity: Counter() for entity in ENTITY_TYPES}
        for record in self.records:
            table.setdefault(record.entity_type, Counter())[record.action] += 1
        return {entity: dict(counter) for entity, counter in table.items()}

    @property
    def to_queue(self) -> list[PlannedRecord]:
        return [r for r in self.records if r.action in (ADOPT, CREATE)]


def plan_backfill(
    tenant: Tenant,
    *,
    moment: Any,
    target: NaturalKeyIndex,
    links: SyncStateStore,
    entities: Iterable[str] = ENTITY_TYPES,
    since: date | None = None,
    target_requests: Callable[[], int] = lambda: 0,
) -> BackfillPlan:
    """Create vs adopt for every Moment record of ``entities``; invoices dated before ``since`` stay out."""
    plan = BackfillPlan(tenant.tenant_id)
    since = since or tenant.transfer.cutover_date  # the tenant's cutover unless the operator says
    reads_before = target_requests()
    listings = {
        "customer": moment.list_customers,
        "project": moment.list_projects,
        "invoice": moment.list_invoices,
    }
    for entity_type in ENTITY_TYPES:
        if entity_type not in entities or not_transferred(tenant, entity_type):
            # A type the tenant does not transfer is skipped without a link: queued, it would be queued
            # again first on every run (its records come along with the invoices that need them).
            continue
        index = target.natural_keys(entity_type)
        candidates: list[tuple[Any, str | None]] = []
        # What is linked already is nobody else's to adopt (two Moment customers sharing an organisation
        # number must not become one contact), nor what an earlier record of this plan adopts.
        claimed: set[str] = set()
        # Invoices before the cutover that the books do not hold: a credit note of one is not transferred
        # either (the processor skips it), so it is not queued (listed by id: originals come first).
        left_out: set[int] = set()
        for record in listings[entity_type]():
            number = _number(entity_type, record)
            if entity_type == "invoice":
                if since and record.invoice_date and record.invoice_date < since:
                    plan.records.append(PlannedRecord(entity_type, record.id, number, BEFORE_CUTOVER))
                    cutover = tenant.transfer.cutover_date  # what the processor goes by, not --since
                    if (
                        cutover
                        and record.invoice_date < cutover
                        and not any(k in index for k in target.natural_keys_of(entity_type, record))
                    ):
                        left_out.add(record.id)
                    continue
                if not record.transferable or nothing_to_book(record):
                    plan.records.append(PlannedRecord(entity_type, record.id, number, NOT_TRANSFERABLE))
                    continue
            link = links.get(tenant.tenant_id, entity_type, record.id)
            if link is not None and link.remote_id:
                plan.records.append(PlannedRecord(entity_type, record.id, number, LINKED, link.remote_id))
                claimed.add(str(link.remote_id))
                continue
            if entity_type == "invoice" and _credits_one_of(record, left_out):
                plan.records.append(PlannedRecord(entity_type, record.id, number, BEFORE_CUTOVER))
                continue
            if entity_type != "invoice" and _not_wanted(tenant, entity_type, record):
                # The processor skips it without a link: queued, it would be queued again on every
                # run, first, and as many of them as --max would hold everything else back for good.
                plan.records.append(PlannedRecord(entity_type, record.id, number, NOT_TRANSFERABLE))
                continue
            candidates.append((record, number))
        keys = {record.id: target.natural_keys_of(entity_type, record) for record, _ in candidates}
        # A key two unlinked Moment records share (an organisation number) says nothing of whose the
        # target record is: those records are searched by a key of their own instead.
        shared = {k for k, n in Counter(k for ks in keys.values() for k in set(ks)).items() if n > 1}
        for record, number in candidates:
            found = next(
                (
                    index[k]
                    for k in keys[record.id]
                    if k in index and k not in shared and index[k] not in claimed
                ),
                None,
            )
            if found is None:
                found = target.search_natural_key(entity_type, record)
            if found is not None:
                claimed.add(found)
            action = ADOPT if found else CREATE
            plan.records.append(PlannedRecord(entity_type, record.id, number, action, found))
        plan.listed_invoices = plan.listed_invoices or entity_type == "invoice"
    plan.target_reads = target_requests() - reads_before
    return plan


@dataclass
class Backfill:
    queue: EventQueue
    audit: AuditLog
    actor: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_event_id: Callable[[], str] = lambda: f"backfill-{uuid.uuid4().hex}"

    def execute(
        self,
        tenant: Tenant,
        plan: BackfillPlan,
        on_sent: Callable[[PlannedRecord], None] | None = None,
        *,
        max_records: int | None = DEFAULT_MAX_PER_RUN,
    ) -> dict[str, int]:
        """Queues at most ``max_records`` (None: all); the rest wait for the next run, which queues only
        what is still not linked."""
        sent: Counter[str] = Counter()
        batch = plan.to_queue if max_records is None else plan.to_queue[:max_records]
        for record in batch:  # customers, projects, invoices: parties before documents
            event_id = self.new_event_id()
            self.queue.send(
                QueueEnvelope(
                    event_id=event_id,
                    tenant_id=tenant.tenant_id,
                    entity_type=record.entity_type,
                    entity_id=record.moment_id,
                    moment_event=BACKFILL_EVENT,
                    received_at=self.clock(),
                    payload={},
                    origin="backfill",
                ),
                deduplication_id=event_id,
            )
            sent[record.action] += 1
            if on_sent:
                on_sent(record)
        self.audit.record(
            actor=self.actor,
            action="tenant.backfill",
            tenant_id=tenant.tenant_id,
            details={
                "counts": plan.counts(),
                "queued": dict(sent),
                "not_queued": len(plan.to_queue) - len(batch),
                "target_reads": plan.target_reads,
            },
        )
        return dict(sent)


def _credits_one_of(invoice: Any, originals: set[int]) -> bool:
    try:
        return bool(invoice.is_credit_note) and invoice.credited_invoice_id in originals
    except Exception:  # noqa: BLE001 - a field Moment did not send: the processor says why
        return False


def _not_wanted(tenant: Tenant, entity_type: str, record: Any) -> bool:
    """A customer or project the tenant's filters leave out, or a project Moment transfers only once it
    has a start date (as the sweep leaves them out)."""
    if entity_type == "project" and getattr(record, "start_date", None) is None:
        return True
    return filtered_out(tenant, entity_type, record) is not None


def _number(entity_type: str, record: Any) -> str | None:
    value = {
        "customer": getattr(record, "customer_number", None),
        "project": getattr(record, "project_number", None),
        "invoice": getattr(record, "invoice_number", None),
    }[entity_type]
    return str(value) if value is not None else None
