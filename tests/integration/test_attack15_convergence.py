# ruff: noqa: F811 - the fixtures are imported by name
"""Attacks on issue 15 (convergence): the sweep, the epoch, shared organisation numbers.

Moment emulator -> sweep -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.integration.test_reconcile import sweep

CUTOVER = date(2025, 3, 1)


def lines() -> list:
    return [make_line("3000", 1, Decimal("800"), description="Timer")]


def test_a_credit_note_of_an_invoice_before_the_cutover_is_not_enqueued_by_every_sweep(pipeline):
    """A migrating tenant credits, after its cutover, an invoice from before it: the processor skips the
    credit note (never ours to transfer). The sweep must see that answer, or it enqueues the credit note
    again on every sweep, and with as many such notes as its cap it never reaches anything else."""
    pipeline.update_tenant(transfer=TransferSettings(cutover_date=CUTOVER))
    customer = pipeline.driver.create_customer(name="Gammel Kreditt AS", customer_number="101501")
    old = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=date(2025, 2, 3))
    pipeline.settle()
    assert pipeline.last("invoice", old.id).outcome is Outcome.SKIPPED
    credit = pipeline.moment.state.credit_invoice(pipeline.company, old.id, credit_date=date(2025, 3, 10))
    # A lost webhook after it (a higher id): what the sweep is for.
    lost = pipeline.moment.create_invoice(
        pipeline.company, customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 11)
    )
    assert credit.id < lost.id

    first = sweep(pipeline, max_enqueued=1)
    pipeline.settle()
    assert pipeline.last("invoice", credit.id).outcome is Outcome.SKIPPED

    second = sweep(pipeline, max_enqueued=1)
    pipeline.settle()
    third = sweep(pipeline, max_enqueued=1)
    pipeline.settle()

    assert first.enqueued == 1
    assert [i["orderReference"] for i in pipeline.invoices()] == [str(lost.invoice_number)]
    assert third.outcome == "complete" and third.enqueued == 0, (second, third)
