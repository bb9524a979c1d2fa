"""Re-sending records as fresh queue events (``origin="resync"``): by Moment id, or every record
Moment changed since a time.

An event is only a hint: the processor re-reads the record from Moment and applies what is there
now, so a resync can never push stale data. By id needs nothing from Moment; ``--since`` asks
Moment's list endpoints (``MomentClient.list_*(modified_since)``) with the tenant's Moment API key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from momentsync.credentials import CredentialsNotFound
from momentsync.envelope import ENTITY_TYPES, QueueEnvelope, is_entity_type
from momentsync.moment.client import MomentClient
from momentsync.moment.models import Customer, Invoice, Project
from momentsync.ports import AuditLog, CredentialsSource, EventQueue
from momentsync.tenants import Tenant

RESYNC_EVENT = "RESYNC"


class ResyncRefused(ValueError):
    pass


@dataclass
class ResyncReport:
    tenant_id: str
    entity_type: str
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "entity_type": self.entity_type,
            "sent": len(self.sent),
            "failed": len(self.failed),
            "sent_ids": self.sent,
            "failed_ids": {str(k): v for k, v in self.failed.items()},
        }


@dataclass
class Resync:
    queue: EventQueue
    audit: AuditLog
    actor: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_event_id: Callable[[], str] = lambda: f"resync-{uuid.uuid4().hex}"

    def by_ids(
        self,
        tenant: Tenant,
        entity_type: str,
        moment_ids: Iterable[int],
        *,
        reason: str = "by id",
        on_sent: Callable[[int], None] | None = None,
    ) -> ResyncReport:
        if not is_entity_type(entity_type):
            raise ResyncRefused(f"entity type must be one of {', '.join(ENTITY_TYPES)}")
        if not tenant.accepts_webhooks:
            raise ResyncRefused(f"tenant {tenant.tenant_id} is disabled; resume it first")
        report = ResyncReport(tenant.tenant_id, entity_type)
        for moment_id in dict.fromkeys(moment_ids):  # once each, in the order given
            event_id = self.new_event_id()
            envelope = QueueEnvelope(
                event_id=event_id,
                tenant_id=tenant.tenant_id,
                entity_type=entity_type,
                entity_id=moment_id,
                moment_event=RESYNC_EVENT,
                received_at=self.clock(),
                payload={},
                origin="resync",
            )
            try:
                self.queue.send(envelope, deduplication_id=event_id)
                report.sent.append(moment_id)
            except Exception as exc:  # noqa: BLE001 - reported per record; the operator can run it again
                report.failed[moment_id] = type(exc).__name__
            if on_sent:
                on_sent(moment_id)
        self.audit.record(
            actor=self.actor,
            action="tenant.resync",
            tenant_id=tenant.tenant_id,
            details={
                "entity_type": entity_type,
                "selection": reason,
                "sent": len(report.sent),
                "failed": len(report.failed),
                # The ids themselves only while the record stays small.
                "ids": report.sent[:100],
            },
        )
        return report


def open_moment_client(tenant: Tenant, credentials: CredentialsSource, *, base_url: str) -> MomentClient:
    try:
        api_key = credentials.get(tenant.tenant_id).moment_api_key
    except CredentialsNotFound:
        api_key = None
    if api_key is None or not api_key.get_secret_value():
        raise ResyncRefused(
            f"no Moment API key stored for {tenant.tenant_id}: "
            "set one with `momentsync tenants settings TENANT --moment-api-key-stdin`"
        )
    return MomentClient(tenant.moment_company_code, api_key, base_url=base_url)


def moment_ids_modified_since(client: MomentClient, entity_type: str, since: datetime) -> Iterator[int]:
    listings: dict[str, Callable[[datetime | None], Iterator[Customer | Project | Invoice]]] = {
        "customer": client.list_customers,
        "project": client.list_projects,
        "invoice": client.list_invoices,
    }
    listing = listings.get(entity_type)
    if listing is None:
        raise ResyncRefused(f"entity type must be one of {', '.join(ENTITY_TYPES)}")
    for record in listing(since):
        yield record.id
