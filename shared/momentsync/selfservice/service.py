"""What the page does, without HTTP: open a link into a session, read the tenant's picture, change its
e-mails, send a failed record again, make a reconnect link. Every change is audited."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from momentsync.connect.links import ConnectLink, OneTimeTokenKind, OneTimeTokenRejected, create_connect_link
from momentsync.connection import connection_state, stored_credentials
from momentsync.envelope import QueueEnvelope, is_entity_type
from momentsync.ports import (
    AuditLog,
    CredentialsSource,
    EventQueue,
    OneTimeTokens,
    PageSessions,
    TenantRepository,
    TransferLogReader,
)
from momentsync.selfservice.sessions import PageSession
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import TargetSystem, Tenant, TenantConflict, TenantStatus

PAGE_EVENT = "PAGE_RESEND"
RECENT_TRANSFERS = 50
MAX_PAGE_EMAILS = 10  # a tenant's own notification addresses; not a mailing list
MAX_EMAIL_LENGTH = 254


class PageRefused(Exception):
    """A change the page cannot make; ``reason`` is shown to the tenant."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PageLink:
    tenant_id: str
    expires_at: datetime
    url: str


@dataclass(frozen=True)
class TenantPicture:
    tenant: Tenant
    connection: str
    transfers: list[TransferLogEntry]
    failed: list[TransferLogEntry]  # the latest failure per record that has not succeeded since


def create_page_link(tokens: OneTimeTokens, *, base_url: str, tenant_id: str, ttl: timedelta) -> PageLink:
    token, expires_at = tokens.issue(OneTimeTokenKind.SELF_SERVICE_LINK, tenant_id, ttl)
    return PageLink(tenant_id, expires_at, f"{base_url.rstrip('/')}/tenant/{tenant_id}?token={token}")


@dataclass
class SelfService:
    tenants: TenantRepository
    tokens: OneTimeTokens
    sessions: PageSessions
    transfers: TransferLogReader
    credentials: CredentialsSource
    queue: EventQueue
    audit: AuditLog
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def open_link(self, tenant_id: str, token: str | None) -> PageSession:
        """Spends the one-time link (raises OneTimeTokenRejected); a link for another tenant fails alike."""
        grant = self.tokens.consume(OneTimeTokenKind.SELF_SERVICE_LINK, token)
        if grant.tenant_id != tenant_id or not self._page_allowed(tenant_id):
            raise OneTimeTokenRejected(OneTimeTokenKind.SELF_SERVICE_LINK, "unknown")
        session = self.sessions.open(tenant_id)
        self.audit.record(actor=session.reference, action="page.open", tenant_id=tenant_id)
        return session

    def find_session(self, tenant_id: str, session_id: str | None) -> PageSession | None:
        """The live session for this tenant's page, or None: also when the tenant was removed or disabled
        after the session opened (a disabled tenant has no page)."""
        session = self.sessions.find(tenant_id, session_id)
        if session is None or not self._page_allowed(tenant_id):
            return None
        return session

    def _page_allowed(self, tenant_id: str) -> bool:
        tenant = self.tenants.get(tenant_id)
        return tenant is not None and tenant.status is not TenantStatus.DISABLED

    def picture(self, session: PageSession) -> TenantPicture:
        tenant = self.tenants.require(session.tenant_id)
        transfers = self.transfers.query(tenant.tenant_id, limit=RECENT_TRANSFERS)
        return TenantPicture(
            tenant=tenant,
            connection=connection_state(tenant, stored_credentials(self.credentials, tenant.tenant_id)),
            transfers=transfers,
            failed=still_failed(transfers),
        )

    def change_emails(self, session: PageSession, emails: list[str]) -> Tenant:
        emails = list(dict.fromkeys(e.strip() for e in emails if e.strip()))
        if len(emails) > MAX_PAGE_EMAILS:
            raise PageRefused(f"at most {MAX_PAGE_EMAILS} addresses")
        if any(len(e) > MAX_EMAIL_LENGTH for e in emails):
            raise PageRefused(f"an address has at most {MAX_EMAIL_LENGTH} characters")
        for _ in range(3):
            tenant = self.tenants.require(session.tenant_id)
            before = list(tenant.notification_emails)
            try:
                tenant.notification_emails = emails
            except ValidationError as exc:
                raise PageRefused(
                    "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
                ) from exc
            try:
                stored = self.tenants.save(tenant)
            except TenantConflict:
                continue
            self.audit.record(
                actor=session.reference,
                action="page.emails",
                tenant_id=tenant.tenant_id,
                details={"from": before, "to": emails},
            )
            return stored
        raise PageRefused("changed at the same time elsewhere; try again")

    def send_again(self, session: PageSession, entity_type: str, moment_id: int) -> str:
        """Queues a resync of one record the page shows as failed (nothing else can be sent)."""
        picture = self.picture(session)
        if not is_entity_type(entity_type) or not any(
            (e.entity_type, e.entity_id) == (entity_type, moment_id) for e in picture.failed
        ):
            raise PageRefused("that record is not among the failed ones")
        event_id = f"page-{uuid.uuid4().hex}"
        self.queue.send(
            QueueEnvelope(
                event_id=event_id,
                tenant_id=session.tenant_id,
                entity_type=entity_type,
                entity_id=moment_id,
                moment_event=PAGE_EVENT,
                received_at=self.clock(),
                payload={},
                origin="resync",
            ),
            deduplication_id=event_id,
        )
        self.audit.record(
            actor=session.reference,
            action="page.send_again",
            tenant_id=session.tenant_id,
            details={"entity_type": entity_type, "moment_id": moment_id, "event_id": event_id},
        )
        return event_id

    def reconnect_link(self, session: PageSession, *, base_url: str) -> ConnectLink:
        tenant = self.tenants.require(session.tenant_id)
        if tenant.target is not TargetSystem.FIKEN:
            raise PageRefused("only a Fiken connection is made from this page")
        link = create_connect_link(
            self.tokens, base_url=base_url, tenant_id=tenant.tenant_id, ttl=timedelta(hours=1)
        )
        self.audit.record(actor=session.reference, action="page.reconnect_link", tenant_id=tenant.tenant_id)
        return link

    def sign_out(self, session: PageSession) -> None:
        self.sessions.close(session)
        self.audit.record(actor=session.reference, action="page.sign_out", tenant_id=session.tenant_id)


def still_failed(transfers: list[TransferLogEntry]) -> list[TransferLogEntry]:
    """Per record, its newest entry when that is a failure (newest first, as the log reads)."""
    newest: dict[tuple[str, int], TransferLogEntry] = {}
    for entry in transfers:
        newest.setdefault((entry.entity_type, entry.entity_id), entry)
    return [e for e in newest.values() if e.outcome is Outcome.FAILED]
