"""Document shapes through the pipeline that the corpus cannot show on its own: a lost response on a
sale-mode credit note, the tenant's foreign-currency choice, and the read-back after a credit note."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.moment.models import InvoiceRef
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import ForeignCurrency, InvoiceMode, MappingSettings

ISSUED = date(2025, 3, 3)


def finalize(pipeline, customer, lines, **fields):
    return pipeline.driver.finalize_invoice(customer=customer.id, lines=lines, invoice_date=ISSUED, **fields)


def outcomes(pipeline, invoice_id: int) -> list[Outcome]:
    return [e.outcome for e in pipeline.log() if e.entity_type == "invoice" and e.entity_id == invoice_id]


def test_a_lost_sale_credit_response_still_gives_exactly_one_negative_sale(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Salg AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 4, 1000, description="Timer")])
    pipeline.settle()
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/sales$"
    )
    credit = finalize(
        pipeline,
        customer,
        [make_line("3000", -1, 1000, description="Timer kreditert")],
        credit_note=True,
        credited_invoice=InvoiceRef(id=invoice.id, invoice_number=invoice.invoice_number),
        payment_id=None,
    )
    pipeline.settle()

    sales = {s["saleNumber"]: s for s in pipeline.fiken.sales(pipeline.slug)}
    assert sorted(sales) == sorted([str(invoice.invoice_number), str(credit.invoice_number)])
    booked = sales[str(credit.invoice_number)]
    assert (booked["netAmount"], booked["vatAmount"]) == (-100000, -25000)
    assert booked["lines"][0]["description"].startswith(
        f"Kreditnota for Moment-faktura {invoice.invoice_number}"
    )
    assert outcomes(pipeline, credit.id) == [Outcome.RETRYING, Outcome.SYNCED]
    entry = pipeline.last("invoice", credit.id)
    assert entry.details.get("adopted") is True and entry.details["gross"] == -125000


def test_a_foreign_invoice_is_refused_before_any_call_when_the_tenant_refuses_fikens_rate(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(foreign_currency=ForeignCurrency.REFUSE))
    customer = pipeline.driver.create_customer(name="Valuta AS")
    pipeline.settle()
    pipeline.mark()
    invoice = finalize(
        pipeline,
        customer,
        [make_line("3200", 10, "120.00", description="Consulting")],
        currency_code="EUR",
        currency_rate=Decimal("11.4625"),
    )
    pipeline.settle()

    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FAILED
    assert "EUR at Moment's rate 11.4625" in entry.reason and "foreign_currency=target_rate" in entry.reason
    # Only reads (the company's VAT status for the content hash); no write reached Fiken.
    assert [r.method for r in pipeline.fiken_requests() if r.method != "GET"] == []
    assert pipeline.invoices() == []


def test_a_foreign_invoice_booked_at_fikens_rate_is_flagged_with_both_nok_figures(make_pipeline):
    pipeline = make_pipeline()
    customer = pipeline.driver.create_customer(name="Valuta AS")
    invoice = finalize(
        pipeline,
        customer,
        [make_line("3200", 10, "120.00", description="Consulting")],
        currency_code="EUR",
        currency_rate=Decimal("11.4625"),
    )
    pipeline.settle()

    [booked] = pipeline.invoices()
    assert (booked["gross"], booked["currency"]) == (120000, "EUR")
    assert booked["grossInNok"] == 1382520  # EUR 1200.00 at the emulator's (Fiken's) 11.5210, not 120000
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FLAGGED
    assert "in NOK: Moment 1375500 øre at Moment's exchange rate, target 1382520 øre at its own rate" in (
        entry.reason
    )
