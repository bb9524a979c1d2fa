"""Customers: bring the target's customer to Moment's latest state.

Events are thin, so every event means "re-fetch and converge": duplicate, late and reordered
deliveries are harmless by construction. An unchanged mapping costs no remote call at all.
"""

from __future__ import annotations

from momentsync.errors import PermanentError
from momentsync.moment.client import MomentRecordNotFound
from momentsync.ports import RemoteRecord
from momentsync.sync.choices import filtered_out, not_transferred
from momentsync.sync.processor import SyncResult
from momentsync.sync.session import TenantSession
from momentsync.sync.sync_state import (
    content_hash,
    record_deleted,
    remember_version,
    store_synced,
)
from momentsync.sync.transfer_log import Outcome

ENTITY = "customer"


def sync_customer(session: TenantSession, customer_id: int, *, direct: bool = False) -> SyncResult:
    """``direct``: an event about this customer (the tenant's transfer choices apply), not one it is
    brought along by."""
    if direct and (reason := not_transferred(session.tenant, ENTITY)):
        return SyncResult(Outcome.SKIPPED, reason=reason)
    calls_before = session.connector.remote_calls
    link = session.link(ENTITY, customer_id)
    try:
        customer = session.moment.get_customer(customer_id)
    except MomentRecordNotFound:
        return record_deleted(session, link or session.new_link(ENTITY, customer_id))
    if direct and (reason := filtered_out(session.tenant, ENTITY, customer)):
        return SyncResult(Outcome.SKIPPED, reason=reason)

    content = session.connector.customer_content(customer)
    digest = content_hash(content)
    if link and link.remote_id and link.content_hash == digest:
        remember_version(session, link, customer.last_modified)
        return SyncResult(Outcome.UNCHANGED, remote_id=link.remote_id)

    remote = session.connector.upsert_customer(
        customer, link, taken=session.linked_to_another(ENTITY, customer_id)
    )
    store_synced(
        session, link or session.new_link(ENTITY, customer_id), remote, digest, customer.last_modified
    )
    return SyncResult(
        Outcome.SYNCED,
        remote_id=remote.remote_id,
        remote_calls=session.connector.remote_calls - calls_before,
        details={"remote_number": remote.remote_number} if remote.remote_number else {},
    )


def ensure_customer(session: TenantSession, customer_id: int) -> RemoteRecord:
    """The target's customer for a Moment customer, syncing it first if it is not linked yet."""
    link = session.link(ENTITY, customer_id)
    if link and link.remote_id and link.last_outcome != Outcome.DELETED:
        return RemoteRecord(link.remote_id, link.remote_number)
    result = sync_customer(session, customer_id)
    if result.outcome is Outcome.NOT_FOUND:
        raise PermanentError(f"customer {customer_id} does not exist in Moment")
    if result.outcome is Outcome.DELETED or result.remote_id is None:
        raise PermanentError(f"customer {customer_id} no longer exists in Moment")
    return RemoteRecord(result.remote_id, result.details.get("remote_number"))
