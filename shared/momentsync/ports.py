"""Every port the use cases and adapters meet at: one module, one Protocol per outside system or store.

The use cases (``sync/``, ``connect/``, ``operations/``, ``reconcile/``, ``selfservice/``, ``health``)
depend on these; the AWS adapters (``momentsync.aws``), the connectors (``momentsync.connectors``) and
Moment's client implement them; ``momentsync.wiring`` puts them together. Nothing here imports an
adapter, so any of them can be swapped for an in-memory fake in a test.

The accounting port, which every target implements (Fiken, SpareBank 1 Regnskap): connectors own the
target's field names, natural-key lookups and write rules; the use cases own the decisions that are the
same everywhere (re-fetch, unchanged -> no call, state, outcomes). ``*_content`` methods are pure: the
mapped fields we own, whose hash decides "unchanged".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # models only: this module imports nothing of the layer at run time (no cycles)
    from momentsync.aws.leases import Lease
    from momentsync.connect.links import OneTimeGrant, OneTimeTokenKind
    from momentsync.connectors.fiken.oauth import FikenAppCredentials
    from momentsync.credentials import TenantCredentials
    from momentsync.dead_letters import DeadLetterFilter, PeekResult, Received
    from momentsync.envelope import QueueEnvelope
    from momentsync.moment.models import Customer, Invoice, Project
    from momentsync.reconcile.sweep import SweepRecord
    from momentsync.selfservice.sessions import PageSession
    from momentsync.sync.sync_state import StatusCounts, SyncLink
    from momentsync.sync.transfer_log import Outcome, TransferLogEntry
    from momentsync.tenants import Tenant

__all__ = [
    "AccountingConnector",
    "AuditLog",
    "CredentialsSource",
    "CredentialsStore",
    "CredentialsVault",
    "DeadLetterInbox",
    "DeadLetters",
    "DriftAlerts",
    "EventQueue",
    "FailureRecorder",
    "FikenAppCredentialsSource",
    "HealthAlerts",
    "InvoiceContent",
    "InvoiceParties",
    "InvoiceTotals",
    "LastTransfer",
    "LeaseLock",
    "LinkListing",
    "MomentApi",
    "NaturalKeyIndex",
    "NotFoundAlerts",
    "NotificationThrottle",
    "Notifier",
    "OldestParked",
    "OneTimeTokens",
    "OperatorAlerts",
    "PageSessions",
    "ParkedCounter",
    "ParkedEvents",
    "ParkingLot",
    "RemoteRecord",
    "StatusCountsSource",
    "SweepRecords",
    "SweepStore",
    "StateEpochStore",
    "SyncStateStore",
    "TargetSide",
    "TenantRepository",
    "TenantStore",
    "TokenProvider",
    "TokenSource",
    "TransferLog",
    "TransferLogReader",
]


# --- Moment ----------------------------------------------------------------------------------------


class MomentApi(Protocol):
    def get_customer(self, customer_id: int) -> Customer: ...

    def get_project(self, project_id: int) -> Project: ...

    def get_invoice(self, invoice_id: int) -> Invoice: ...

    def get_invoice_pdf(self, invoice_id: int) -> bytes: ...


# --- The accounting target ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteRecord:
    remote_id: str
    remote_number: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # An invoice found in the books: the due date it carries (Moment may have moved it since).
    due_date: date | None = None


@dataclass(frozen=True)
class InvoiceContent:
    """What we own of an invoice in the target. ``fields`` are hashed (equal hashes: the books hold
    them already, no call); the due date is compared apart: a moved due date changes the document
    in place, it is never a reason to make a new one."""

    fields: dict[str, Any]
    due_date: date | None = None


class AccountingConnector(Protocol):
    @property
    def remote_calls(self) -> int:
        """Requests sent to the target so far (for the transfer log and the benchmarks)."""
        ...

    def customer_content(self, customer: Customer) -> dict[str, Any]: ...

    # ``taken``: whether a target record is already linked to another Moment customer (never adopt it).
    def upsert_customer(
        self, customer: Customer, link: SyncLink | None, taken: Callable[[str], bool] | None = None
    ) -> RemoteRecord: ...

    # ``customer`` is None for a project Moment gives no customer.
    def project_content(self, project: Project, customer: RemoteRecord | None) -> dict[str, Any]: ...

    def upsert_project(
        self, project: Project, customer: RemoteRecord | None, link: SyncLink | None
    ) -> RemoteRecord: ...

    def invoice_content(self, invoice: Invoice, parties: InvoiceParties) -> InvoiceContent: ...

    def find_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord | None: ...

    def create_invoice(self, invoice: Invoice, parties: InvoiceParties) -> RemoteRecord: ...

    def has_invoice_pdf(self, remote: RemoteRecord, invoice_number: int | None = None) -> bool:
        """Whether the document already carries this invoice's PDF (checked before an upload is sent
        again): ours, or one whose file name carries the invoice number; not any PDF."""
        ...

    def attach_invoice_pdf(self, remote: RemoteRecord, filename: str, pdf: bytes) -> None: ...

    def update_invoice_due_date(self, remote: RemoteRecord, due_date: date) -> bool:
        """True when the target took the new due date; False when its document cannot change it."""
        ...

    def invoice_totals(self, remote: RemoteRecord) -> InvoiceTotals:
        """What the target booked (Moment's signs), with net and VAT per group where it says."""
        ...

    def expected_totals(self, invoice: Invoice) -> InvoiceTotals:
        """Moment's figures grouped the way ``invoice_totals`` groups the target's (pure, no call)."""
        ...


@dataclass(frozen=True)
class InvoiceParties:
    """What an invoice refers to in the target, resolved (and synced if needed) before it is mapped."""

    customer: RemoteRecord
    project: RemoteRecord | None = None
    # For a credit note: the target's record of the invoice it credits.
    credited: RemoteRecord | None = None


@dataclass(frozen=True)
class InvoiceTotals:
    net: int
    vat: int
    gross: int
    # (net, VAT) per group the target books separately, e.g. "3000 HIGH" (account and VAT type) in
    # Fiken or "VAT 3" in SpareBank 1: a right gross with a wrong split must not pass as synced.
    groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    # A foreign-currency document's total in NOK (øre): Moment's at Moment's rate, the target's as booked.
    gross_nok: int | None = None


@runtime_checkable
class NaturalKeyIndex(Protocol):
    """What a connector offers a backfill (``FikenConnector``, ``SpareBank1Connector``); checked with
    isinstance."""

    def natural_keys(self, entity_type: str) -> dict[str, str]: ...

    def natural_keys_of(self, entity_type: str, record: Any) -> list[str]: ...

    def search_natural_key(self, entity_type: str, record: Any) -> str | None: ...


class TargetSide(Protocol):
    """What a connector offers the deep check (``FikenConnector``, ``SpareBank1Connector``)."""

    # ``links``: the linked records of the type, for a target that reads only those (SpareBank 1's
    # vouchers); a target that reads its whole list ignores them.
    def target_records(self, entity_type: str, links: list[SyncLink]) -> dict[str, dict[str, Any]]: ...

    def target_key(self, entity_type: str, link: SyncLink) -> str: ...


class TokenProvider(Protocol):
    """Fiken's access tokens for one tenant (its client asks before every request)."""

    def access_token(self) -> str:
        """A token to send now (refreshing first if it is about to expire)."""
        ...

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        """Fiken answered 401 to ``rejected_token``: a new token, or ``TenantLevelError(NEEDS_REAUTH)``."""
        ...


class FikenAppCredentialsSource(Protocol):
    """The stack's Fiken app (client id and secret), for the OAuth calls."""

    def get(self, *, fresh: bool = False) -> FikenAppCredentials: ...


class TokenSource(Protocol):
    """SpareBank 1's access tokens for one tenant's company."""

    def access_token(self) -> str: ...

    def mint_again(self, rejected: str) -> str: ...


# --- Sync state -------------------------------------------------------------------------------------


class SyncStateStore(Protocol):
    def get(self, tenant_id: str, entity_type: str, moment_id: int) -> SyncLink | None: ...

    def save(self, link: SyncLink) -> SyncLink: ...

    def list(self, tenant_id: str, entity_type: str | None = None) -> list[SyncLink]: ...


class StateEpochStore(Protocol):
    """The per-tenant proof that a new Moment invoice is not in the books yet (sync/state_epoch.py)."""

    def proves_never_sent(self, tenant: Tenant, moment_invoice_id: int) -> bool: ...


class LinkListing(Protocol):
    def list(self, tenant_id: str, entity_type: str | None = None) -> list[SyncLink]: ...


class StatusCountsSource(Protocol):
    def status_counts(self, tenant_id: str) -> StatusCounts: ...


class SweepRecords(Protocol):
    def get(self, tenant_id: str) -> SweepRecord | None: ...


class SweepStore(SweepRecords, Protocol):
    """The reconciliation sweep's and the deep check's record per tenant (each writes its own fields)."""

    def get(self, tenant_id: str) -> SweepRecord | None: ...

    def save(self, record: SweepRecord) -> None: ...

    def save_deep_check(self, record: SweepRecord) -> None: ...


class FailureRecorder(Protocol):
    """Records a failed attempt on the record's sync state (last error kept apart from last success)."""

    def __call__(self, envelope: QueueEnvelope, outcome: Outcome, reason: str) -> None: ...


# --- Tenants and their credentials ------------------------------------------------------------------


class TenantStore(Protocol):
    def get(self, tenant_id: str) -> Tenant | None: ...

    def save(self, tenant: Tenant) -> Tenant: ...


class TenantRepository(TenantStore, Protocol):
    def require(self, tenant_id: str) -> Tenant: ...

    def create(self, tenant: Tenant) -> None: ...

    def list(self) -> list[Tenant]: ...


class CredentialsSource(Protocol):
    def get(self, tenant_id: str, *, fresh: bool = False) -> TenantCredentials: ...


class CredentialsStore(CredentialsSource, Protocol):
    def put(self, tenant_id: str, credentials: TenantCredentials) -> None: ...


class CredentialsVault(CredentialsStore, Protocol):
    """Credentials as the secret migration sees them: named, and deleted once copied."""

    def secret_name(self, tenant_id: str) -> str: ...

    def delete(self, tenant_id: str) -> None: ...


class LeaseLock(Protocol):
    """One holder at a time per name, across Lambda containers and the CLI."""

    def hold(self, name: str, *, wait_seconds: float | None = None) -> AbstractContextManager[Lease]: ...


class OneTimeTokens(Protocol):
    def issue(
        self, kind: OneTimeTokenKind, tenant_id: str, ttl: timedelta, data: dict[str, Any] | None = None
    ) -> tuple[str, datetime]: ...

    def consume(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant: ...

    def peek(self, kind: OneTimeTokenKind, token: str | None) -> OneTimeGrant: ...


class PageSessions(Protocol):
    def open(self, tenant_id: str) -> PageSession: ...

    def find(self, tenant_id: str, session_id: str | None) -> PageSession | None: ...

    def close(self, session: PageSession) -> None: ...


# --- The queue, parked events and dead letters ------------------------------------------------------


class EventQueue(Protocol):
    def send(self, envelope: QueueEnvelope, *, deduplication_id: str | None = None) -> str: ...


class ParkedEvents(Protocol):
    def park(self, envelope: QueueEnvelope, reason: str) -> None: ...

    def release(self, envelope: QueueEnvelope) -> None: ...


class ParkedCounter(Protocol):
    def count(self, tenant_id: str) -> int: ...


class OldestParked(Protocol):
    def oldest_received_at(self, tenant_id: str) -> datetime | None: ...


class ParkingLot(ParkedEvents, ParkedCounter, OldestParked, Protocol):
    """Parked events as the operator's actions see them: listed, counted, resumed in arrival order."""

    def list(self, tenant_id: str) -> list[tuple[QueueEnvelope, str]]: ...

    def resume(self, tenant_id: str, queue: EventQueue) -> int: ...


class DeadLetterInbox(Protocol):
    """The dead-letter queue as an operator's replay reads it: peek without consuming, then receive,
    give back, or delete once the event is queued again."""

    def peek(self, where: DeadLetterFilter | None = None, *, limit: int | None = None) -> PeekResult: ...

    def receive(self, visibility_seconds: int) -> list[Received]: ...

    def release(self, receipt_handles: Iterable[str]) -> None: ...

    def delete(self, receipt_handle: str) -> None: ...


class DeadLetters(Protocol):
    def send(
        self,
        *,
        body: str,
        tenant_id: str,
        reason: str,
        error_class: str,
        entity_type: str | None = None,
        event_id: str | None = None,
        receive_count: int = 1,
    ) -> str: ...


# --- The transfer log and the audit trail -----------------------------------------------------------


class TransferLog(Protocol):
    def record(self, entry: TransferLogEntry) -> None: ...


class TransferLogReader(Protocol):
    def query(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        entity_type: str | None = None,
        outcome: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
        page_size: int | None = None,
        max_scanned: int | None = None,
    ) -> list[TransferLogEntry]: ...


class LastTransfer(Protocol):
    def last_logged_at(self, tenant_id: str) -> datetime | None: ...


class AuditLog(Protocol):
    def record(
        self, *, actor: str, action: str, tenant_id: str | None = None, details: dict[str, Any] | None = None
    ) -> object: ...


# --- Notifications -------------------------------------------------------------------------------------


class Notifier(Protocol):
    """Tells a tenant something needs them (one e-mail per incident)."""

    def notify(self, tenant: Tenant, *, kind: str, subject: str, message: str, dedupe_key: str) -> None: ...


class NotificationThrottle(Protocol):
    def claim(self, tenant_id: str, dedupe_key: str, *, kind: str) -> bool: ...

    def release(self, tenant_id: str, dedupe_key: str) -> None: ...

    def held(self, tenant_id: str, dedupe_key: str) -> bool: ...


class NotFoundAlerts(Protocol):
    def not_found_burst(
        self, *, tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]
    ) -> None: ...


class HealthAlerts(Protocol):
    def tenant_unhealthy(self, *, tenant_id: str, check: str, detail: str, remedy: str) -> None: ...


class DriftAlerts(Protocol):
    def drift_found(self, *, counts: dict[str, int], samples: list[str]) -> None: ...


class OperatorAlerts(NotFoundAlerts, Protocol):
    def dead_lettered(
        self, *, message_id: str, body: str, tenant_id: str, reason: str, error_class: str, receive_count: int
    ) -> None: ...
