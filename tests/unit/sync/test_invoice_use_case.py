"""``sync_invoice`` against in-memory fakes of every port: exactly one document per Moment invoice,
correct to the øre, through lost answers, lost state, due-date moves, credit notes and the cutover."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from emulators.moment.fixtures import make_line
from momentsync.errors import PermanentError, TransientError
from momentsync.moment.models import InvoiceRef
from momentsync.sync.invoices import sync_invoice
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.fakes import InMemoryMoment, InMemorySyncState
from tests.fakes.records import NOW, credit_note, customer, invoice, project, project_ref, session


@pytest.fixture
def moment() -> InMemoryMoment:
    fake = InMemoryMoment()
    fake.add(customer(7), project(3, 7))
    return fake


def link(state: InMemorySyncState, moment_id: int, entity_type: str = "invoice"):
    return state.get("acme", entity_type, moment_id)


def test_a_new_invoice_becomes_one_document_with_its_pdf_and_its_customer_first(moment, books, state):
    moment.add(invoice(9, 20002))

    result = sync_invoice(session(moment, books, state), 9, direct=True)

    assert result.outcome is Outcome.SYNCED
    [document] = books.documents.values()
    assert (document.order_reference, document.net, document.vat) == ("20002", 937500, 234375)
    assert document.attachments == ["faktura-20002.pdf"]
    assert document.customer_id == link(state, 7, "customer").remote_id  # the customer went first
    stored = link(state, 9)
    assert (stored.remote_id, stored.intent, stored.pending, stored.last_outcome) == (
        document.document_id,
        None,
        [],
        "synced",
    )
    assert result.details["gross"] == result.details["moment_gross"] == 1171875
    # Created by this very call: no attachment listing before the upload.
    assert "list_attachments" not in books.calls


def test_the_intent_is_stored_before_the_create_call(moment, books, state):
    moment.add(invoice(9, 20002))
    seen_at_create: list = []
    create = books.create_invoice

    def watching_create(inv, parties):
        seen_at_create.append(link(state, 9))
        return create(inv, parties)

    books.create_invoice = watching_create  # type: ignore[method-assign]
    sync_invoice(session(moment, books, state), 9)

    [before] = seen_at_create
    assert (before.intent, before.last_outcome, before.remote_id) == ("create:20002", "creating", None)


def test_an_unchanged_invoice_costs_no_write_and_makes_no_second_document(moment, books, state):
    moment.add(invoice(9, 20002))
    sync_invoice(session(moment, books, state), 9)
    calls = len(books.calls)

    again = sync_invoice(session(moment, books, state), 9)

    assert again.outcome is Outcome.UNCHANGED
    assert len(books.documents) == 1
    assert books.calls[calls:] == []  # linked customer, linked document, same content: no request


def test_a_create_whose_answer_was_lost_is_adopted_by_its_natural_key_on_the_retry(moment, books, state):
    moment.add(invoice(9, 20002))
    books.lose_next_create_answer = True

    with pytest.raises(TransientError):
        sync_invoice(session(moment, books, state), 9)
    assert link(state, 9).remote_id is None and link(state, 9).intent == "create:20002"

    retry = sync_invoice(session(moment, books, state), 9)

    assert retry.outcome is Outcome.SYNCED and retry.details["adopted"] is True
    [document] = books.documents_for(20002)
    assert link(state, 9).remote_id == document.document_id
    # Adopted without its PDF: it was looked for, then sent once.
    assert document.attachments == ["faktura-20002.pdf"]
    assert books.calls.count("create_invoice") == 1


def test_lost_sync_state_finds_the_document_instead_of_booking_it_twice(moment, books, state):
    moment.add(invoice(9, 20002))
    sync_invoice(session(moment, books, state), 9)

    wiped = InMemorySyncState()  # a table restored from an old backup, or a tenant added again
    result = sync_invoice(session(moment, books, wiped), 9)

    assert result.outcome is Outcome.SYNCED and result.details["adopted"] is True
    [document] = books.documents_for(20002)
    assert document.attachments == ["faktura-20002.pdf"]  # its PDF was there: not sent again
    assert books.calls.count("upload_attachment") == 1


def test_an_upload_whose_answer_was_lost_is_not_sent_again(moment, books, state):
    moment.add(invoice(9, 20002))
    books.lose_next_upload_answer = True

    with pytest.raises(TransientError):
        sync_invoice(session(moment, books, state), 9)
    assert link(state, 9).pending == ["pdf"]

    retry = sync_invoice(session(moment, books, state), 9)

    assert retry.outcome is Outcome.SYNCED
    [document] = books.documents.values()
    assert document.attachments == ["faktura-20002.pdf"]
    assert link(state, 9).pending == []


def test_a_new_invoice_costs_three_state_writes_the_pdf_step_done_with_the_outcome(moment, books, state):
    moment.add(invoice(9, 20002))

    sync_invoice(session(moment, books, state), 9)

    # The intent, the remote id right after the create, and the outcome with the PDF done: no write of
    # its own for the PDF step.
    assert [
        (s.last_outcome, s.remote_id is not None, s.pending) for s in state.saves if s.moment_id == 9
    ] == [
        ("creating", False, []),
        ("creating", True, ["pdf"]),
        ("synced", True, []),
    ]


def test_a_totals_check_failing_after_the_upload_does_not_send_the_pdf_again(moment, books, state):
    moment.add(invoice(9, 20002))
    totals = books.invoice_totals
    failures = iter([TransientError("Fiken answered 503 to the read-back")])

    def failing_once(remote):
        for error in failures:
            raise error
        return totals(remote)

    books.invoice_totals = failing_once
    with pytest.raises(TransientError):
        sync_invoice(session(moment, books, state), 9)
    assert link(state, 9).pending == ["pdf"]  # the upload happened; its step is not recorded done

    retry = sync_invoice(session(moment, books, state), 9)

    assert retry.outcome is Outcome.SYNCED
    [document] = books.documents.values()
    assert document.attachments == ["faktura-20002.pdf"]  # found by looking, not sent twice
    assert books.calls.count("upload_attachment") == 1
    assert link(state, 9).pending == []


def test_a_due_date_moved_in_moment_is_patched_on_the_one_document(moment, books, state):
    moment.add(invoice(9, 20002))
    sync_invoice(session(moment, books, state), 9)
    moment.add(invoice(9, 20002, due_date=date(2026, 12, 18), last_modified=NOW + timedelta(hours=1)))

    result = sync_invoice(session(moment, books, state), 9)

    assert (result.outcome, result.reason) == (Outcome.SYNCED, "due date updated")
    [document] = books.documents.values()
    assert document.due_date == "2026-12-18"
    assert link(state, 9).details["due_date"] == "2026-12-18"
    # The due date is not part of the content hash: a move is not a change that needs a credit note.
    assert sync_invoice(session(moment, books, state), 9).outcome is Outcome.UNCHANGED


def test_an_adopted_document_made_with_an_older_due_date_gets_the_new_one(moment, books, state):
    moment.add(invoice(9, 20002))
    books.lose_next_create_answer = True
    with pytest.raises(TransientError):
        sync_invoice(session(moment, books, state), 9)
    moment.add(invoice(9, 20002, due_date=date(2026, 12, 31)))

    sync_invoice(session(moment, books, state), 9)

    [document] = books.documents.values()
    assert document.due_date == "2026-12-31"
    assert "patch_due_date" in books.calls


def test_an_amount_changed_after_transfer_is_flagged_for_a_credit_note_and_not_booked(moment, books, state):
    moment.add(invoice(9, 20002))
    sync_invoice(session(moment, books, state), 9)
    moment.add(invoice(9, 20002, lines=[make_line("3000", 8, 1250, description="Timer")]))

    result = sync_invoice(session(moment, books, state), 9)

    assert (result.outcome, result.reason) == (
        Outcome.FLAGGED,
        "changed after transfer: needs a credit note in Moment",
    )
    assert len(books.documents) == 1 and books.calls.count("create_invoice") == 1
    assert link(state, 9).last_outcome == "flagged"


def test_booked_totals_that_differ_are_flagged_with_both_figures(moment, books, state):
    moment.add(invoice(9, 20002))
    books.vat_booked_off_by = 1

    result = sync_invoice(session(moment, books, state), 9)

    assert result.outcome is Outcome.FLAGGED
    assert "Moment 234375 øre vat, target 234376 øre" in result.reason
    assert "Moment 1171875 øre incl. VAT, target 1171876 øre" in result.reason
    assert link(state, 9).intent is None  # the document exists: never created again


def test_a_credit_note_brings_its_original_first_and_credits_that_document(moment, books, state):
    original = invoice(9, 20002)
    moment.add(original, credit_note(10, 20003, original))

    result = sync_invoice(session(moment, books, state), 10, direct=True)

    assert result.outcome is Outcome.SYNCED
    [first] = books.documents_for(20002)
    [credit] = books.documents_for(20003)
    assert (credit.kind, credit.credits, credit.net + credit.vat) == (
        "credit_note",
        first.document_id,
        -1171875,
    )
    assert link(state, 9).remote_id == first.document_id


def test_a_credit_note_due_date_that_cannot_change_is_flagged_not_dropped(moment, books, state):
    original = invoice(9, 20002)
    moment.add(original, credit_note(10, 20003, original))
    sync_invoice(session(moment, books, state), 10)
    moment.add(credit_note(10, 20003, original, due_date=date(2027, 1, 8)))

    result = sync_invoice(session(moment, books, state), 10)

    assert result.outcome is Outcome.FLAGGED
    assert "cannot be changed in the books" in result.reason
    assert "patch_due_date" not in books.calls


def test_a_credit_note_naming_no_credited_invoice_is_refused_with_the_remedy(moment, books, state):
    moment.add(invoice(10, 20003, credit_note=True, lines=[make_line("3000", -1, 1250, description="Timer")]))

    with pytest.raises(PermanentError, match="names no credited invoice"):
        sync_invoice(session(moment, books, state), 10)
    assert books.calls.count("create_invoice") == 0


def test_a_credit_note_that_credits_itself_is_refused_instead_of_looping(moment, books, state):
    moment.add(
        invoice(
            10,
            20003,
            credit_note=True,
            credited_invoice=InvoiceRef(id=10, invoice_number=20003),
            lines=[make_line("3000", -1, 1250, description="Timer")],
        )
    )

    with pytest.raises(PermanentError, match="credits itself"):
        sync_invoice(session(moment, books, state), 10)
    assert [call for call in moment.calls if call == ("invoice", 10)] == [("invoice", 10)]


def test_a_draft_is_skipped_and_counted_without_any_request(moment, books, state):
    moment.add(invoice(9, None, invoice_state="draft"))

    result = sync_invoice(session(moment, books, state), 9, direct=True)

    assert (result.outcome, result.reason) == (
        Outcome.SKIPPED,
        "invoice is a draft in Moment (not finalized)",
    )
    assert link(state, 9).last_outcome == "skipped"
    assert books.calls == []


def test_an_invoice_of_only_zero_lines_is_skipped(moment, books, state):
    moment.add(invoice(9, 20002, lines=[make_line("3000", 0, 1250, description="Timer")]))

    result = sync_invoice(session(moment, books, state), 9)

    assert result.outcome is Outcome.SKIPPED and "only zero lines" in result.reason
    assert books.documents == {}


def test_an_invoice_deleted_in_moment_is_recorded_and_its_document_kept(moment, books, state):
    moment.add(invoice(9, 20002))
    sync_invoice(session(moment, books, state), 9)
    del moment.invoices[9]

    result = sync_invoice(session(moment, books, state), 9)

    assert (result.outcome, result.reason) == (Outcome.DELETED, "deleted in Moment")
    assert len(books.documents) == 1  # nothing is deleted in the books


def test_an_id_moment_never_knew_is_not_found_not_deleted(moment, books, state):
    result = sync_invoice(session(moment, books, state), 404)

    assert result.outcome is Outcome.NOT_FOUND
    assert link(state, 404).last_outcome == "not_found"


def test_an_invoice_dated_before_the_cutover_is_skipped(moment, books, state):
    moment.add(invoice(9, 20002, invoice_date=date(2025, 12, 31)))
    cutover = TransferSettings(cutover_date=date(2026, 1, 1))

    result = sync_invoice(session(moment, books, state, transfer=cutover), 9, direct=True)

    assert result.outcome is Outcome.SKIPPED and "before the cutover date 2026-01-01" in result.reason
    assert books.documents == {}


def test_a_credit_note_of_an_original_before_the_cutover_adopts_it_from_the_books_never_creates(
    moment, books, state
):
    original = invoice(9, 20002, invoice_date=date(2025, 12, 15))
    moment.add(original, credit_note(10, 20003, original))
    cutover = TransferSettings(cutover_date=date(2026, 1, 1))

    skipped = sync_invoice(session(moment, books, state, transfer=cutover), 10, direct=True)
    assert skipped.outcome is Outcome.SKIPPED and "the books do not hold it" in skipped.reason
    assert books.documents == {}

    # Moment's own integration had booked the original: adopted by its natural key, credited.
    sync_invoice(session(moment, books, InMemorySyncState()), 9)  # puts it in the books
    books.calls.clear()
    result = sync_invoice(session(moment, books, state, transfer=cutover), 10, direct=True)
    assert result.outcome is Outcome.SYNCED
    assert len(books.documents_for(20002)) == 1 and len(books.documents_for(20003)) == 1
    assert books.calls.count("create_invoice") == 1  # the credit note only


def test_an_invoice_on_a_project_without_start_date_says_why_it_waits(moment, books, state):
    moment.add(project(3, 7, start_date=None), invoice(9, 20002, project=project_ref(3)))

    with pytest.raises(
        PermanentError, match="project 3 cannot be transferred yet: project has no start date"
    ):
        sync_invoice(session(moment, books, state), 9)
    assert books.documents == {}


def test_invoices_not_chosen_for_transfer_are_skipped_before_moment_is_asked(moment, books, state):
    moment.add(invoice(9, 20002))
    choices = TransferSettings(data_types=["customer", "project"])

    result = sync_invoice(session(moment, books, state, transfer=choices), 9, direct=True)

    assert result.outcome is Outcome.SKIPPED and moment.calls == []
