"""Projects: bring the target's project to Moment's latest state (after its customer)."""

from __future__ import annotations

from momentsync.errors import PermanentError, WaitingError
from momentsync.moment.client import MomentRecordNotFound
from momentsync.ports import RemoteRecord
from momentsync.sync.choices import filtered_out, not_transferred
from momentsync.sync.customers import ensure_customer
from momentsync.sync.processor import SyncResult
from momentsync.sync.session import TenantSession
from momentsync.sync.sync_state import content_hash, record_deleted, remember_version, store_synced
from momentsync.sync.transfer_log import Outcome

ENTITY = "project"


def sync_project(session: TenantSession, project_id: int, *, direct: bool = False) -> SyncResult:
    if direct and (reason := not_transferred(session.tenant, ENTITY)):
        return SyncResult(Outcome.SKIPPED, reason=reason)
    calls_before = session.connector.remote_calls
    link = session.link(ENTITY, project_id)
    try:
        project = session.moment.get_project(project_id)
    except MomentRecordNotFound:
        return record_deleted(session, link or session.new_link(ENTITY, project_id))
    if direct and (reason := filtered_out(session.tenant, ENTITY, project)):
        return SyncResult(Outcome.SKIPPED, reason=reason)

    if project.start_date is None:
        # One rule for every target, Moment's own: its integrations transfer a project once it has a start
        # date ("Projects require a start date before these will be transferred"). Fiken's API also
        # refuses a project without one; SpareBank 1's would take it, but the books would then differ
        # by target for the same Moment data.
        raise WaitingError("project has no start date (it syncs on the next change in Moment)")
    if link and link.remote_number and link.remote_number != project.project_number:
        raise PermanentError(
            f"project number changed in Moment from {link.remote_number} to {project.project_number}; "
            "project numbers cannot change in the accounting system: change it back in Moment"
        )

    customer = ensure_customer(session, project.customer.id) if project.customer else None
    content = session.connector.project_content(project, customer)
    digest = content_hash(content)
    if link and link.remote_id and link.content_hash == digest:
        remember_version(session, link, project.last_modified)
        return SyncResult(
            Outcome.UNCHANGED,
            remote_id=link.remote_id,
            remote_calls=session.connector.remote_calls - calls_before,
        )

    remote = session.connector.upsert_project(project, customer, link)
    store_synced(session, link or session.new_link(ENTITY, project_id), remote, digest, project.last_modified)
    return SyncResult(
        Outcome.SYNCED,
        remote_id=remote.remote_id,
        remote_calls=session.connector.remote_calls - calls_before,
    )


def ensure_project(session: TenantSession, project_id: int) -> RemoteRecord:
    """The target's project for a Moment project, syncing it first if it is not linked yet."""
    link = session.link(ENTITY, project_id)
    if link and link.remote_id and link.last_outcome != Outcome.DELETED:
        return RemoteRecord(link.remote_id, link.remote_number)
    try:
        result = sync_project(session, project_id)
    except WaitingError as exc:
        # A waiting project is not re-sent when the invoice changes, so the invoice must say why.
        raise PermanentError(f"project {project_id} cannot be transferred yet: {exc.reason}") from exc
    if result.remote_id is None:
        raise PermanentError(f"project {project_id} no longer exists in Moment")
    synced = session.link(ENTITY, project_id)
    return RemoteRecord(result.remote_id, synced.remote_number if synced else None)
