"""Attacks on the document shapes (issue 19) that the builders' corpus does not generate: credits in
another currency than the original, header totals that disagree with the lines, credits of credits,
credits whose sign is the wrong way round, and the like. Each through the whole local pipeline."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from emulators.moment.fixtures import make_line
from momentsync.moment.models import InvoiceRef
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import InvoiceMode, MappingSettings

ISSUED = date(2025, 3, 3)


def finalize(pipeline, customer, lines, **fields):
    return pipeline.driver.finalize_invoice(customer=customer.id, lines=lines, invoice_date=ISSUED, **fields)


def credit_of(pipeline, customer, invoice, lines, **fields):
    return finalize(
        pipeline,
        customer,
        lines,
        credit_note=True,
        credited_invoice=InvoiceRef(id=invoice.id, invoice_number=invoice.invoice_number),
        payment_id=None,
        **fields,
    )


def writes(pipeline) -> list[str]:
    return [f"{r.method} {r.path}" for r in pipeline.fiken_requests() if r.method != "GET"]


def test_sale_mode_a_eur_credit_on_a_nok_sale_is_not_measured_in_the_wrong_unit(make_pipeline):
    """NOK 1 250 invoiced; a EUR 1 000 credit (NOK 11 500 at Moment's rate) is 'less than 125 000' only
    if EUR cents are compared with øre. It must not be booked as a NOK 11 500 negative sale."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Valutakreditt AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()
    pipeline.mark()
    credit = credit_of(
        pipeline,
        customer,
        invoice,
        [make_line("3200", -1, 1000, description="Kreditert i EUR")],
        currency_code="EUR",
        currency_rate=Decimal("11.5"),
    )
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, entry
    assert "EUR" in entry.reason and "NOK" in entry.reason
    assert writes(pipeline) == []
    assert len(pipeline.fiken.sales(pipeline.slug)) == 1


def test_invoice_mode_a_eur_credit_on_a_nok_invoice_is_refused_before_any_write(make_pipeline):
    pipeline = make_pipeline()
    customer = pipeline.driver.create_customer(name="Valutakreditt AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()
    pipeline.mark()
    credit = credit_of(
        pipeline,
        customer,
        invoice,
        [make_line("3200", -1, 1000, description="Kreditert i EUR")],
        currency_code="EUR",
        currency_rate=Decimal("11.5"),
    )
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, entry
    assert "EUR" in entry.reason and "NOK" in entry.reason
    assert writes(pipeline) == []


def test_sale_mode_a_credit_whose_header_understates_its_lines_cannot_over_credit(make_pipeline):
    """Header -100 kr, lines -600 kr: the negative sale books the lines; 600 + 600 on 1000 is too much."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Topptekst AS")
    invoice = finalize(pipeline, customer, [make_line("3100", 1, 1000, description="Lisens")])
    first = credit_of(pipeline, customer, invoice, [make_line("3100", -1, 600, description="Lisens")])
    pipeline.settle()
    assert pipeline.last("invoice", first.id).outcome is Outcome.SYNCED
    pipeline.mark()
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
    assert "credits 60000 øre (its header says 10000 øre, its lines 60000 øre)" in entry.reason
    assert "40000 øre of 100000 øre (60000 øre already credited)" in entry.reason
    assert writes(pipeline) == []


def test_invoice_mode_a_credit_of_a_credit_note_is_refused_with_its_reason(make_pipeline):
    """Moment's credit note 3 credits credit note 2 (not an invoice). Fiken has no credit note on a
    credit note: it must end failed, saying so, and never credit some other document by that id."""
    pipeline = make_pipeline()
    customer = pipeline.driver.create_customer(name="Dobbeltkreditt AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 2, 1000, description="Timer")])
    credit = credit_of(pipeline, customer, invoice, [make_line("3000", -1, 1000, description="Timer")])
    pipeline.settle()
    assert pipeline.last("invoice", credit.id).outcome is Outcome.SYNCED
    pipeline.mark()
    again = credit_of(pipeline, customer, credit, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()

    entry = pipeline.last("invoice", again.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert f"credit note {credit.invoice_number}" in entry.reason
    assert writes(pipeline) == []


def test_sale_mode_a_credit_note_with_positive_amounts_is_not_booked_as_more_revenue(make_pipeline):
    """A credit note whose lines are positive (Moment flagging it a credit note, amounts unsigned) would
    be booked as a positive sale labelled a credit: revenue doubled instead of reversed."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Fortegn AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()
    pipeline.mark()
    credit = credit_of(pipeline, customer, invoice, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "-125000 øre" in entry.reason
    assert writes(pipeline) == []


def test_a_nok_currency_code_with_spaces_and_lower_case_is_booked_as_nok(make_pipeline):
    """' nok ' passes Moment's completeness check as NOK; every later branch must read it as NOK too."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Mellomrom AS")
    invoice = finalize(
        pipeline, customer, [make_line("3000", 1, 1000, description="Timer")], currency_code=" nok "
    )
    pipeline.settle()

    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.SYNCED, (entry.outcome, entry.reason)
    [sale] = pipeline.fiken.sales(pipeline.slug)
    assert sale["currency"] == "NOK" and (sale["netAmount"], sale["vatAmount"]) == (100000, 25000)


def test_sale_mode_a_credit_addressed_to_another_customer_is_refused(make_pipeline):
    """Invoice 1 000 kr to A; credit note 1 (-600) addressed to B, credit note 2 (-600) to A, both
    crediting invoice 1. Credit 1 was booked as a negative sale on B (A still owed everything), and
    credit 2, looking only under A's sales, did not see it: 1 200 credited on 1 000."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    first_customer = pipeline.driver.create_customer(name="Kunde A AS")
    other_customer = pipeline.driver.create_customer(name="Kunde B AS")
    invoice = finalize(pipeline, first_customer, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()
    pipeline.mark()
    elsewhere = credit_of(
        pipeline, other_customer, invoice, [make_line("3100", -1, 600, description="Lisens")]
    )
    pipeline.settle()
    entry = pipeline.last("invoice", elsewhere.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert f"is for customer {other_customer.customer_number}" in entry.reason
    assert f"sale {invoice.invoice_number} it credits is for Fiken contact" in entry.reason
    assert writes(pipeline) == []

    second = credit_of(pipeline, first_customer, invoice, [make_line("3100", -1, 600, description="Lisens")])
    pipeline.settle()
    assert pipeline.last("invoice", second.id).outcome is Outcome.SYNCED
    assert sum(s["netAmount"] for s in pipeline.fiken.sales(pipeline.slug)) == 100000 - 60000


def test_invoice_mode_a_lost_answer_on_a_credit_for_another_customer_books_one_credit_note(make_pipeline):
    """Fiken files a credit note under the credited invoice's customer. The lookup after a lost answer
    must not search only under the customer Moment's credit note names, or the retry credits again."""
    pipeline = make_pipeline()
    first_customer = pipeline.driver.create_customer(name="Kunde A AS")
    other_customer = pipeline.driver.create_customer(name="Kunde B AS")
    invoice = finalize(pipeline, first_customer, [make_line("3100", 1, 1000, description="Lisens")])
    pipeline.settle()
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/creditNotes/partial$"
    )
    credit = credit_of(pipeline, other_customer, invoice, [make_line("3100", -1, 300, description="Lisens")])
    pipeline.settle()

    assert pipeline.fiken.credit_notes(pipeline.slug) == []
    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert f"is for customer {other_customer.customer_number}" in entry.reason


def test_sale_mode_a_credit_of_a_sale_deleted_in_fiken_is_refused(make_pipeline):
    """The accountant deleted Moment's sale 1 in Fiken. A credit note on it would book a negative sale
    crediting nothing that is in the books."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Slettet AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 1, 1000, description="Timer")])
    pipeline.settle()
    with pipeline.fiken.lock:
        [sale] = pipeline.fiken.companies[pipeline.slug].sales.values()
        sale["deleted"] = True
    pipeline.mark()
    credit = credit_of(pipeline, customer, invoice, [make_line("3000", -1, 1000, description="Timer")])
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "deleted" in entry.reason
    assert writes(pipeline) == []


def sixty_four_lines(sign: int = 1) -> list:
    accounts = ("3000", "3020", "3030", "3050", "3100", "3200")
    return [
        make_line(
            accounts[i % len(accounts)],
            sign * (Decimal("0.25") * (1 + i % 5)),
            Decimal("987.63") + i * Decimal("13.37"),
            description=f"Linje {i + 1} – ærlig øre",
        )
        for i in range(64)
    ]


@pytest.mark.parametrize("mode", [InvoiceMode.INVOICE, InvoiceMode.SALE])
def test_a_64_line_invoice_and_its_64_line_partial_credit_book_to_the_ore(make_pipeline, mode):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=mode))
    customer = pipeline.driver.create_customer(name="Mange linjer AS")
    invoice = finalize(pipeline, customer, sixty_four_lines())
    pipeline.settle()
    # Every line credited at its own amount but one: a partial credit with 64 lines of Moment's own.
    credit_lines = sixty_four_lines(-1)
    credit_lines[0] = make_line("3000", Decimal("-0.25"), Decimal("100.00"), description="Linje 1 – delvis")
    credit = credit_of(pipeline, customer, invoice, credit_lines)
    pipeline.settle()

    for document in (invoice, credit):
        entry = pipeline.last("invoice", document.id)
        assert entry.outcome is Outcome.SYNCED, (document.invoice_number, entry.outcome, entry.reason)
        assert entry.details["gross"] == document.total_incl_vat_ore


def test_a_credit_note_that_names_itself_as_the_credited_invoice_fails_with_a_reason(make_pipeline):
    """Moment's creditedInvoice points at the credit note itself: syncing 'the original first' must not
    recurse until the Lambda dies (no reason, no transfer-log entry, five crashes, then the DLQ)."""
    pipeline = make_pipeline()
    customer = pipeline.driver.create_customer(name="Selvreferanse AS")
    pipeline.settle()
    own_id = 79_000_001
    credit = finalize(
        pipeline,
        customer,
        [make_line("3000", -1, 1000, description="Timer")],
        id=own_id,
        credit_note=True,
        credited_invoice=InvoiceRef(id=own_id, invoice_number=None),
        payment_id=None,
    )
    pipeline.settle()

    entry = pipeline.last("invoice", credit.id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "credits itself" in entry.reason
    assert pipeline.fiken.credit_notes(pipeline.slug) == [] and pipeline.invoices() == []


def test_two_credit_notes_that_credit_each_other_fail_with_a_reason(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Sirkel AS")
    pipeline.settle()
    first_id, second_id = 79_000_011, 79_000_012
    for own, other in ((first_id, second_id), (second_id, first_id)):
        pipeline.moment.create_invoice(
            pipeline.company,
            id=own,
            customer=customer.id,
            lines=[make_line("3000", -1, 1000, description="Timer")],
            invoice_date=ISSUED,
            credit_note=True,
            credited_invoice=InvoiceRef(id=other, invoice_number=None),
            payment_id=None,
        )
    pipeline.driver.notify("invoice", first_id, "CREATE_NEW")
    pipeline.settle()

    entry = pipeline.last("invoice", first_id)
    assert entry.outcome is Outcome.FAILED, (entry.outcome, entry.reason)
    assert "credits a credit note that credits it" in entry.reason
    assert pipeline.fiken.sales(pipeline.slug) == []


def test_a_credit_of_an_invoice_with_only_zero_lines_ends_at_once_with_the_reason(make_pipeline):
    """The original was skipped (only zero lines: nothing booked). Its credit note cannot wait for it to
    be transferred: retrying five times changes nothing."""
    pipeline = make_pipeline()
    customer = pipeline.driver.create_customer(name="Nullfaktura AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 0, 1000, description="Gratis")])
    pipeline.settle()
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SKIPPED
    credit = credit_of(pipeline, customer, invoice, [make_line("3000", -1, 1000, description="Timer")])
    pipeline.settle()

    entries = [e for e in pipeline.log() if e.entity_type == "invoice" and e.entity_id == credit.id]
    assert [e.outcome for e in entries] == [Outcome.FAILED], [(e.outcome, e.reason) for e in entries]
    assert "only zero lines" in entries[-1].reason
    assert pipeline.fiken.credit_notes(pipeline.slug) == []


@pytest.mark.parametrize("mode", [InvoiceMode.INVOICE, InvoiceMode.SALE])
def test_a_zero_total_invoice_and_its_full_credit_both_book(make_pipeline, mode):
    """+500 / -500 on two accounts, then Moment's full credit of it (-500 / +500)."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=mode))
    customer = pipeline.driver.create_customer(name="Null AS")
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


@pytest.mark.parametrize("mode", [InvoiceMode.INVOICE, InvoiceMode.SALE])
def test_a_credit_note_naming_no_credited_invoice_fails_with_a_reason(make_pipeline, mode):
    """creditNote: true but no creditedInvoice (a renamed field, or a free-standing credit note): what it
    credits is unknown, so nothing can be checked; it must fail with a reason, not crash five times."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=mode))
    customer = pipeline.driver.create_customer(name="Frittstående AS")
    pipeline.settle()
    pipeline.mark()
    credit = finalize(
        pipeline,
        customer,
        [make_line("3000", -1, 1000, description="Timer")],
        credit_note=True,
        payment_id=None,
    )
    pipeline.settle()

    entries = [e for e in pipeline.log() if e.entity_type == "invoice" and e.entity_id == credit.id]
    assert [e.outcome for e in entries] == [Outcome.FAILED], [(e.outcome, e.reason) for e in entries]
    assert "credited invoice" in entries[-1].reason
    assert writes(pipeline) == []
