"""Invoices and credit notes: exactly one target document per Moment invoice, correct to the øre.

The target has no idempotency keys (Fiken: none). Exactly once comes from four rules:
1. Before the create call, the *intent* is recorded on the sync state (a conditional write).
2. Whenever no remote id is stored, the target is searched by the document's natural key before
   anything is created. An intent without an id means a lost response, a crash between the target's
   201 and our state write, a redelivery or a replay; no state at all may mean state that was lost
   (a table restored or wiped, a tenant removed and added again) or a document made by Moment's own
   integration before the tenant moved to us. Our state alone cannot prove absence, so we look,
   unless the tenant's "state complete since" epoch (sync/state_epoch.py) proves this invoice is
   newer than any loss of state or foreign writer and no link for it was ever written.
3. Once the remote id is stored, the invoice is never created again: later events only patch the
   due date, retry what is pending (the PDF), or flag a change that needs a credit note in Moment.
4. A PDF is sent again only after the document's attachments show none: an upload whose answer was
   lost, or a document adopted with its PDF, never gets a second copy.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from momentsync.clock import utcnow
from momentsync.errors import PermanentError, TransientError
from momentsync.moment.client import MomentRecordNotFound
from momentsync.moment.models import Invoice
from momentsync.ports import InvoiceParties, RemoteRecord
from momentsync.sync.choices import filtered_out, not_transferred
from momentsync.sync.customers import ensure_customer
from momentsync.sync.processor import SyncResult
from momentsync.sync.projects import ensure_project
from momentsync.sync.session import TenantSession
from momentsync.sync.sync_state import (
    StaleWrite,
    SyncLink,
    applied_version,
    as_utc,
    content_hash,
    record_deleted,
    with_version,
)
from momentsync.sync.totals import differences_reason, totals_differences
from momentsync.sync.transfer_log import Outcome

ENTITY = "invoice"
PENDING_PDF = "pdf"


class CreditedBeforeCutover(Exception):
    """The invoice a credit note credits is dated before the tenant's cutover and the books do not hold
    it: it was never ours to transfer, so neither is its credit note (skipped, not dead-lettered)."""


def sync_invoice(
    session: TenantSession,
    invoice_id: int,
    crediting: tuple[int, ...] = (),
    *,
    direct: bool = False,
    credited: bool = False,
) -> SyncResult:
    """``crediting``: the credit notes whose credited invoice this sync resolves (a chain guard)."""
    if direct and (reason := not_transferred(session.tenant, ENTITY)):
        return SyncResult(Outcome.SKIPPED, reason=reason)
    calls_before = session.connector.remote_calls
    link = session.link(ENTITY, invoice_id)
    try:
        invoice = session.moment.get_invoice(invoice_id)
    except MomentRecordNotFound:
        return record_deleted(session, link or session.new_link(ENTITY, invoice_id))
    reason = invoice.not_transferable_reason  # raises MomentFieldMissing when it cannot tell
    if reason is None and nothing_to_book(invoice):
        # Nothing to book in any target; a human decides whether that invoice was meant.
        reason = f"invoice {invoice.invoice_number} has only zero lines: nothing to book"
    if reason is not None:
        return _skipped(session, link, invoice_id, reason)
    # The cutover holds for every invoice, also an original a credit note would bring along.
    if not (link and link.remote_id) and (reason := filtered_out(session.tenant, ENTITY, invoice)):
        if credited:
            # An original a credit note after the cutover needs: adopted when the books hold it (a
            # tenant that moved from Moment's own integration), never created.
            return adopt_only(session, invoice, link or session.new_link(ENTITY, invoice_id), reason)
        return SyncResult(Outcome.SKIPPED, reason=reason)

    def calls() -> int:
        return session.connector.remote_calls - calls_before

    try:
        parties = resolve_parties(session, invoice, crediting)
    except CreditedBeforeCutover as exc:
        # Recorded like any skip: without a link the sweep sees it "missing" and enqueues it again every
        # time, and enough of them fill its cap so that it never reaches anything else.
        return _skipped(session, link, invoice_id, str(exc))
    content = session.connector.invoice_content(invoice, parties)
    due_date = content.due_date
    digest = content_hash(content.fields)

    if link and link.remote_id:
        return after_transfer(session, invoice, link, digest, due_date, calls)

    # Read after the link (never before): a loss of state removes the epoch first, so "no link" read
    # before an epoch still present means the link never existed.
    never_sent = link is None and session.proves_never_sent(invoice_id)
    link = link or session.new_link(ENTITY, invoice_id)
    remote = None if never_sent else session.connector.find_invoice(invoice, parties)
    adopted = remote is not None
    if remote is None:
        link = record_intent(session, link, invoice)
        remote = session.connector.create_invoice(invoice, parties)
    elif due_date is not None and remote.due_date is not None and remote.due_date != due_date:
        # Adopted: an earlier attempt made it with the due date of then, and Moment has moved it since
        # (the change's own webhook may already have been answered "unchanged" by that attempt's state).
        session.connector.update_invoice_due_date(remote, due_date)
    link = session.state.save(
        link.model_copy(
            update={
                "remote_id": remote.remote_id,
                "remote_number": remote.remote_number,
                "content_hash": digest,
                "pending": [PENDING_PDF],
                "details": {
                    **with_version(link, invoice.last_modified),
                    **remote.details,
                    "due_date": str(due_date),
                },
                "source_modified_at": None,
            }
        )
    )
    return finish(
        session, invoice, link, remote, calls, adopted=adopted, created_now=not adopted, proven_new=never_sent
    )


def nothing_to_book(invoice: Invoice) -> bool:
    """Only zero lines: skipped by the processor, and so left out by a backfill and the sweep."""
    return bool(invoice.lines) and all(
        li.amount_excl_vat_ore == 0 and li.vat_amount_ore == 0 for li in invoice.lines
    )


def _skipped(session: TenantSession, link: SyncLink | None, invoice_id: int, reason: str) -> SyncResult:
    """Skipped for good (until Moment changes it): recorded on the sync state unless it is in the books,
    so `momentsync status` counts it and the sweep does not take it for a lost webhook."""
    if not (link and link.remote_id):
        link = link or session.new_link(ENTITY, invoice_id)
        session.state.save(
            link.model_copy(
                update={
                    "last_outcome": Outcome.SKIPPED.value,
                    "details": {**link.details, "skipped": reason},
                    "source_modified_at": None,
                }
            )
        )
    return SyncResult(Outcome.SKIPPED, reason=reason)


def resolve_parties(
    session: TenantSession, invoice: Invoice, crediting: tuple[int, ...] = ()
) -> InvoiceParties:
    """Customer, project and (for a credit note) the credited invoice, synced first when not linked."""
    if invoice.is_credit_note and invoice.credited_invoice_id is None:
        # Nothing to credit against: no Fiken credit note or credited sale, no over-credit check.
        raise PermanentError(
            f"credit note {invoice.invoice_number} names no credited invoice (Moment sent no "
            "creditedInvoice): what it credits cannot be checked or booked; link it to the invoice it "
            "credits in Moment"
        )
    customer = ensure_customer(session, invoice.customer.id)
    project = None
    if invoice.project is not None:
        project = ensure_project(session, invoice.project.id)
    credited = None
    if invoice.credited_invoice_id is not None:
        chain = (*crediting, invoice.id)
        if invoice.credited_invoice_id in chain:
            # Syncing "the original first" would come back here for ever (hammering Moment's API).
            what = "itself" if invoice.credited_invoice_id == invoice.id else "a credit note that credits it"
            raise PermanentError(
                f"credit note {invoice.invoice_number} credits {what} (Moment invoice id "
                f"{invoice.credited_invoice_id}): correct the credited invoice in Moment"
            )
        original = session.link(ENTITY, invoice.credited_invoice_id)
        if not (original and original.remote_id):
            result = sync_invoice(session, invoice.credited_invoice_id, chain, credited=True)
            original = session.link(ENTITY, invoice.credited_invoice_id)
            if result.outcome is Outcome.SKIPPED and result.details.get("before_cutover"):
                raise CreditedBeforeCutover(
                    f"credit note of invoice {invoice.credited_invoice_id}, which is not transferred: "
                    f"{result.reason}"
                )
            if result.outcome is Outcome.SKIPPED:
                raise PermanentError(
                    f"credited invoice {invoice.credited_invoice_id} is not transferred: {result.reason}"
                )
            if not (original and original.remote_id):
                # Never credit nothing: wait until the original is in the books.
                raise TransientError(
                    f"credited invoice {invoice.credited_invoice_id} is not transferred yet "
                    f"({result.outcome})"
                )
        credited = RemoteRecord(original.remote_id, original.remote_number, original.details)
    return InvoiceParties(customer=customer, project=project, credited=credited)


def adopt_only(session: TenantSession, invoice: Invoice, link: SyncLink, reason: str) -> SyncResult:
    """Link a document the books already hold by its natural key; create nothing."""
    calls_before = session.connector.remote_calls
    parties = resolve_parties(session, invoice)
    remote = session.connector.find_invoice(invoice, parties)
    if remote is None:
        return SyncResult(
            Outcome.SKIPPED,
            reason=f"{reason}, and the books do not hold it",
            details={"before_cutover": True},
        )
    content = session.connector.invoice_content(invoice, parties)
    due_date = content.due_date
    link = session.state.save(
        link.model_copy(
            update={
                "remote_id": remote.remote_id,
                "remote_number": remote.remote_number,
                "content_hash": content_hash(content.fields),
                "pending": [],
                "details": {
                    **with_version(link, invoice.last_modified),
                    **remote.details,
                    "due_date": str(due_date),
                },
                "source_modified_at": None,
            }
        )
    )
    return finish(
        session,
        invoice,
        link,
        remote,
        lambda: session.connector.remote_calls - calls_before,
        adopted=True,
        created_now=False,
    )


def record_intent(session: TenantSession, link: SyncLink, invoice: Invoice) -> SyncLink:
    """Step 1 of exactly once: from now on every attempt searches before it creates."""
    return session.state.save(
        link.model_copy(
            update={
                "intent": f"create:{invoice.invoice_number}",
                "last_outcome": "creating",
                "attempts": link.attempts + 1,
                "source_modified_at": None,
            }
        )
    )


def after_transfer(
    session: TenantSession,
    invoice: Invoice,
    link: SyncLink,
    digest: str,
    due_date: date | None,
    calls: Callable[[], int],
) -> SyncResult:
    remote = RemoteRecord(link.remote_id or "", link.remote_number, link.details)
    seen = applied_version(link)
    newer = invoice.last_modified is not None and (seen is None or as_utc(invoice.last_modified) > seen)
    # Every save below records the Moment version this event saw (for the sweep).
    link = link.model_copy(update={"details": with_version(link, invoice.last_modified)})
    if digest != link.content_hash:
        # Invoices are immutable in the books; Moment must issue a credit note.
        link = _save(
            session,
            link,
            {
                "last_outcome": Outcome.FLAGGED.value,
                "last_error": "changed after transfer: needs a credit note in Moment",
                "last_error_at": utcnow(),
            },
        )
        return SyncResult(
            Outcome.FLAGGED,
            remote_id=link.remote_id,
            reason="changed after transfer: needs a credit note in Moment",
            remote_calls=calls(),
        )
    changed_due_date = due_date is not None and str(due_date) != link.details.get("due_date")
    applied = False
    if due_date is not None and changed_due_date:
        applied = session.connector.update_invoice_due_date(remote, due_date)
        link = _save(session, link, {"details": {**link.details, "due_date": str(due_date)}})
    if link.pending:
        return finish(session, invoice, link, remote, calls, adopted=False, created_now=False)
    if changed_due_date and not applied:
        reason = "due date changed in Moment, but this document's due date cannot be changed in the books"
        return SyncResult(Outcome.FLAGGED, remote_id=link.remote_id, remote_calls=calls(), reason=reason)
    if not changed_due_date and newer:
        _save(session, link, {})  # the version seen, for the sweep (see customers.remember_version)
    outcome = Outcome.SYNCED if changed_due_date else Outcome.UNCHANGED
    return SyncResult(
        outcome,
        remote_id=link.remote_id,
        remote_calls=calls(),
        reason="due date updated" if changed_due_date else None,
    )


def finish(
    session: TenantSession,
    invoice: Invoice,
    link: SyncLink,
    remote: RemoteRecord,
    calls: Callable[[], int],
    *,
    adopted: bool,
    created_now: bool,
    proven_new: bool = False,
) -> SyncResult:
    """What remains after the document exists: its PDF (retried on its own) and the totals check.

    A document this very call created cannot carry a PDF yet, so the common path costs no extra call;
    any other (a retry after an upload whose answer was lost, an adopted one) is looked at first.

    The PDF's step is recorded done with the outcome, in one write: if the totals check fails after the
    upload, the next attempt finds the PDF by looking (rule 4), one GET instead of a write every time."""
    if PENDING_PDF in link.pending and (
        created_now or not session.connector.has_invoice_pdf(remote, invoice.invoice_number)
    ):
        attach_pdf(session, invoice, remote)
    still_pending = [p for p in link.pending if p != PENDING_PDF]

    totals = session.connector.invoice_totals(remote)
    expected = session.connector.expected_totals(invoice)
    details: dict[str, int | bool | str] = {
        "net": totals.net,
        "vat": totals.vat,
        "gross": totals.gross,
        "moment_gross": expected.gross,
    }
    if adopted:
        details["adopted"] = True  # found by its natural key after an ambiguous create
    if proven_new:
        details["lookup_skipped"] = "state epoch"  # created without a natural-key search, proven safe
    # Net, VAT and gross, and per group (account / VAT type): a right gross with a wrong split is wrong.
    differences = totals_differences(expected, totals)
    if differences:
        reason = differences_reason(differences)
        _save(
            session,
            link,
            {
                "last_outcome": Outcome.FLAGGED.value,
                "last_error": reason,
                "last_error_at": utcnow(),
                "last_success_at": utcnow(),
                "intent": None,
                "pending": still_pending,
                # What the books held when we checked: the deep check compares the target against it.
                "details": {**link.details, "gross": totals.gross},
            },
        )
        return SyncResult(
            Outcome.FLAGGED, remote_id=remote.remote_id, reason=reason, remote_calls=calls(), details=details
        )
    _save(
        session,
        link,
        {
            "last_outcome": Outcome.SYNCED.value,
            "last_success_at": utcnow(),
            "intent": None,
            "pending": still_pending,
            "last_error": None,
            "attempts": 0,
            "details": {**link.details, "gross": totals.gross},
        },
    )
    return SyncResult(Outcome.SYNCED, remote_id=remote.remote_id, remote_calls=calls(), details=details)


def attach_pdf(session: TenantSession, invoice: Invoice, remote: RemoteRecord) -> None:
    try:
        pdf = session.moment.get_invoice_pdf(invoice.id)
    except MomentRecordNotFound as exc:
        raise PermanentError(f"Moment has no PDF for invoice {invoice.invoice_number}") from exc
    session.connector.attach_invoice_pdf(remote, f"faktura-{invoice.invoice_number}.pdf", pdf)


def _save(session: TenantSession, link: SyncLink, update: dict[str, Any]) -> SyncLink:
    try:
        return session.state.save(link.model_copy(update={**update, "source_modified_at": None}))
    except StaleWrite:
        return link
