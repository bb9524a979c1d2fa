"""Document shapes through the pipeline that the corpus cannot show on its own: a lost response on a
sale-mode credit note, the tenant's foreign-currency choice, and the read-back after a credit note."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import httpx

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


def test_an_adopted_sale_with_the_right_gross_but_another_split_is_flagged_with_both_figures(make_pipeline):
    """An accountant booked Moment's invoice by hand as a sale at 25 %; Moment's is at 15 % with the same
    gross. A lost create makes the pipeline look Fiken up by the sale number and adopt that sale: the
    read-back must flag the split, not call it synced because the gross matches."""
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Håndført AS")
    pipeline.settle()
    [contact] = pipeline.contacts()
    token = f"hand-{uuid.uuid4().hex}"
    pipeline.fiken.add_personal_token(token, [pipeline.slug])
    by_hand = httpx.post(
        f"{pipeline.fiken.api_base_url}/companies/{pipeline.slug}/sales",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "saleNumber": "1",  # a fresh Moment company numbers its first invoice 1 (asserted below)
            "date": ISSUED.isoformat(),
            "kind": "external_invoice",
            "paid": False,
            "currency": "NOK",
            "customerId": contact["contactId"],
            "lines": [
                {
                    "description": "Servering",
                    "netPrice": 100000,
                    "vat": 25000,
                    "vatType": "HIGH",
                    "account": "3000",
                }
            ],
        },
    )
    assert by_hand.status_code == 201, by_hand.text
    pipeline.fiken.fault_plan.script("status", status=503, times=1, method="POST", path=r"/sales$")

    invoice = finalize(pipeline, customer, [make_line("3030", 1, "1086.96", description="Servering")])
    pipeline.settle()

    assert invoice.invoice_number == 1 and invoice.total_incl_vat_ore == 125000
    assert len(pipeline.fiken.sales(pipeline.slug)) == 1
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FLAGGED and entry.details.get("adopted") is True
    assert "account 3030 MEDIUM: Moment net 108696 / VAT 16304 øre, target net 0 / VAT 0 øre" in entry.reason
    assert "account 3000 HIGH: Moment net 0 / VAT 0 øre, target net 100000 / VAT 25000 øre" in entry.reason
    assert "Moment 16304 øre vat, target 25000 øre" in entry.reason
    assert "incl. VAT" not in entry.reason  # the gross alone would have passed


def test_a_sale_credit_above_what_is_left_is_refused_before_any_write_and_kept_in_the_dlq(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Kreditt AS")
    invoice = finalize(pipeline, customer, [make_line("3000", 2, 1000, description="Timer")])
    pipeline.settle()
    ref = InvoiceRef(id=invoice.id, invoice_number=invoice.invoice_number)
    half = finalize(
        pipeline,
        customer,
        [make_line("3000", -1, 1000, description="Timer")],
        credit_note=True,
        credited_invoice=ref,
        payment_id=None,
    )
    pipeline.settle()
    pipeline.mark()
    too_much = finalize(
        pipeline,
        customer,
        [make_line("3000", -2, 1000, description="Timer")],
        credit_note=True,
        credited_invoice=ref,
        payment_id=None,
    )
    pipeline.settle()

    assert pipeline.last("invoice", half.id).outcome is Outcome.SYNCED
    entry = pipeline.last("invoice", too_much.id)
    assert entry.outcome is Outcome.FAILED
    expected = (
        f"credit note {too_much.invoice_number} credits 250000 øre, more than is left on invoice "
        f"{invoice.invoice_number}: 125000 øre of 250000 øre (125000 øre already credited)"
    )
    assert expected in entry.reason
    assert [r.method for r in pipeline.fiken_requests() if r.method != "GET"] == []
    [message] = pipeline.dead_letters()
    assert expected in message["MessageAttributes"]["reason"]["StringValue"]
    assert len(pipeline.fiken.sales(pipeline.slug)) == 2
