"""Attacks on issue 15 (convergence) that the builders' tests did not generate: cutover edges of credit
notes, PDFs attached by hand, clock skew between Moment and us, backfill floods, natural-key collisions.

Moment emulator -> webhook / sweep -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.integration.test_exactly_once_without_state import only, wipe_sync_state

CUTOVER = date(2025, 3, 1)


def lines() -> list:
    return [make_line("3000", 1, Decimal("800"), description="Timer")]


# ---------------------------------------------------------------------- credit notes across the cutover
def test_a_credit_note_of_an_invoice_before_the_cutover_not_in_the_books_is_skipped_not_dead_lettered(
    pipeline,
):
    """The original was never ours to transfer (it is dated before the cutover and the books do not hold
    it): its credit note belongs with it, wherever that is. A dead letter would alert the operator for a
    record no replay can ever transfer."""
    pipeline.update_tenant(transfer=TransferSettings(cutover_date=CUTOVER))
    customer = pipeline.driver.create_customer(name="Før Kutt AS", customer_number="100950")
    original = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines(), invoice_date=date(2025, 2, 28)
    )
    pipeline.settle()
    credit = pipeline.driver.credit_invoice(original.id)  # dated today, after the cutover
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.SKIPPED, (entry.outcome, entry.reason)
    assert "cutover" in (entry.reason or "")
    assert pipeline.fiken.credit_notes(pipeline.slug) == []
    assert pipeline.dead_letters() == []


def test_a_credit_note_of_an_invoice_before_the_cutover_that_the_books_hold_credits_it(pipeline):
    """A tenant that moved from Moment's own Fiken integration: the original (before the cutover) is in
    Fiken already, our state knows nothing of it. The credit note after the cutover must reach the
    books, crediting that invoice, without transferring the original a second time."""
    customer = pipeline.driver.create_customer(name="Flyttet AS", customer_number="100951")
    original = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines(), invoice_date=date(2025, 2, 28)
    )
    pipeline.settle()  # in the books, as the old integration would have left it
    wipe_sync_state(pipeline)
    pipeline.update_tenant(transfer=TransferSettings(cutover_date=CUTOVER))

    credit = pipeline.driver.credit_invoice(original.id)
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.SYNCED, (entry.outcome, entry.reason)
    invoice = only(pipeline.invoices())
    note = only(pipeline.fiken.credit_notes(pipeline.slug))
    assert note["associatedInvoiceId"] == invoice["invoiceId"]
    assert pipeline.dead_letters() == []
