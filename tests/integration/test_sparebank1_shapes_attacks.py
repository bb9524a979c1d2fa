# ruff: noqa: F811 - the fixtures are imported by name
"""Attacks on SpareBank 1's credit-note handling (issue 19): what the platform itself never checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from emulators.moment.fixtures import make_line
from momentsync.moment.models import InvoiceRef
from momentsync.sync.transfer_log import Outcome
from tests.integration.sparebank1_fixtures import (  # noqa: F401 - fixtures
    make_sb1_pipeline,
    sparebank1_app,
    sparebank1_emulator,
)

ISSUED = date(2025, 3, 3)


@pytest.fixture
def pipeline(make_sb1_pipeline):
    return make_sb1_pipeline()


def finalize(pipeline, customer, lines, **fields: Any):
    return pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines, invoice_date=ISSUED, payment_id=None, **fields
    )


def credit_of(pipeline, customer, invoice, lines, **fields: Any):
    return finalize(
        pipeline,
        customer,
        lines,
        credit_note=True,
        credited_invoice=InvoiceRef(id=invoice.id, invoice_number=invoice.invoice_number),
        **fields,
    )


def receivable_total(pipeline) -> int:
    return sum(
        int(Decimal(str(line["Amount"])) * 100)
        for line in pipeline.records("journalentrylines")
        if line.get("SubAccountID")
    )


def test_a_credit_whose_header_total_understates_its_lines_cannot_over_credit(pipeline):
    """Moment's header says -100 kr, its lines -600 kr: the voucher books the lines, so the check must
    measure the lines too (600 + 600 credited on a 1000 kr invoice is over-credited)."""
    customer = pipeline.driver.create_customer(name="Topptekst AS", customer_number="100201")
    invoice = finalize(pipeline, customer, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()
    first = credit_of(pipeline, customer, invoice, [make_line("3100", -1, 600, description="Lisens")])
    pipeline.settle()
    assert pipeline.last("invoice", first.id).outcome is Outcome.SYNCED
    second = credit_of(
        pipeline,
        customer,
        invoice,
        [make_line("3100", -1, 600, description="Lisens")],
        total_excl_vat=Decimal("-100.00"),
        total_vat=Decimal(0),
        total_incl_vat=Decimal("-100.00"),
    )
    pipeline.settle()

    entry = pipeline.last("invoice", second.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "60000 øre" in entry.reason and "40000 øre of 100000 øre" in entry.reason
    assert len(pipeline.records("journalentries")) == 2
    assert receivable_total(pipeline) == 100000 - 60000


def test_a_credit_note_with_positive_amounts_is_not_booked_as_a_second_invoice(pipeline):
    customer = pipeline.driver.create_customer(name="Fortegn AS", customer_number="100202")
    invoice = finalize(pipeline, customer, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()
    credit = credit_of(pipeline, customer, invoice, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "-100000 øre" in entry.reason
    assert len(pipeline.records("journalentries")) == 1
    assert receivable_total(pipeline) == 100000


def test_a_credit_addressed_to_another_customer_is_refused_saying_so(pipeline):
    """The original's receivable is on A's sub-ledger; a credit note for B crediting it must be refused
    for what it is, not as '0 øre left of 0 øre' (B's sub-ledger has no share of the original)."""
    first_customer = pipeline.driver.create_customer(name="Kunde A AS", customer_number="100203")
    other_customer = pipeline.driver.create_customer(name="Kunde B AS", customer_number="100204")
    invoice = finalize(pipeline, first_customer, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()
    credit = credit_of(pipeline, other_customer, invoice, [make_line("3100", -1, 600, description="Lisens")])
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "is for customer 100204" in entry.reason and "0 øre of 0 øre" not in entry.reason
    assert len(pipeline.records("journalentries")) == 1


def test_a_64_line_invoice_and_its_64_line_partial_credit_book_to_the_ore(pipeline):
    accounts = ("3000", "3020", "3030", "3050", "3100", "3200")

    def sixty_four(sign: int) -> list:
        return [
            make_line(
                accounts[i % len(accounts)],
                sign * (Decimal("0.25") * (1 + i % 5)),
                Decimal("987.63") + i * Decimal("13.37"),
                description=f"Linje {i + 1} – ærlig øre",
            )
            for i in range(64)
        ]

    customer = pipeline.driver.create_customer(name="Mange linjer AS", customer_number="100205")
    invoice = finalize(pipeline, customer, sixty_four(1))
    pipeline.settle()
    credit_lines = sixty_four(-1)
    credit_lines[0] = make_line("3000", Decimal("-0.25"), Decimal("100.00"), description="Linje 1 – delvis")
    credit = credit_of(pipeline, customer, invoice, credit_lines)
    pipeline.settle()

    for document in (invoice, credit):
        entry = pipeline.last("invoice", document.id)
        assert entry.outcome is Outcome.SYNCED, (document.invoice_number, entry.outcome, entry.reason)
        assert entry.details["gross"] == document.total_incl_vat_ore
    assert receivable_total(pipeline) == invoice.total_incl_vat_ore + credit.total_incl_vat_ore


def test_a_zero_total_invoice_and_its_full_credit_both_book(pipeline):
    customer = pipeline.driver.create_customer(name="Null AS", customer_number="100206")
    invoice = finalize(
        pipeline,
        customer,
        [make_line("3000", 1, 500, description="Timer"), make_line("3020", -1, 500, description="Rabatt")],
    )
    pipeline.settle()
    credit = pipeline.driver.credit_invoice(invoice.id)
    pipeline.settle()

    for document in (invoice, credit):
        entry = pipeline.last("invoice", document.id)
        assert entry.outcome is Outcome.SYNCED, (document.invoice_number, entry.outcome, entry.reason)
    assert len(pipeline.records("journalentries")) == 2 and receivable_total(pipeline) == 0


def test_a_credit_note_naming_no_credited_invoice_is_not_booked_unchecked(pipeline):
    customer = pipeline.driver.create_customer(name="Frittstående AS", customer_number="100207")
    credit = finalize(
        pipeline, customer, [make_line("3100", -1, 1000, description="Lisens")], credit_note=True
    )
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "names no credited invoice" in entry.reason
    assert pipeline.records("journalentries") == []
