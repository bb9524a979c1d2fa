"""Moment JSON that is not what we guessed, through the whole local pipeline into Fiken (#21).

Raw samples (as ``momentsync tenants probe --save`` keeps them) are served by the Moment emulator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import ACCOUNTS, make_line
from momentsync.operations.status import entity_status
from momentsync.sync.transfer_log import Outcome


def new_customer(pipeline):
    return pipeline.moment.create_customer(
        pipeline.company, name="Fjordlys AS", organization_number="912345670"
    )


def raw_invoice(customer_id: int, moment_id: int, **fields) -> dict:
    return {
        "id": moment_id,
        "invoiceNumber": 30001,
        "invoiceDate": "2025-03-03",
        "dueDate": "2025-03-17",
        "customerId": customer_id,
        "invoiceLines": [
            {
                "description": "Konsulenttimer",
                "financialAccountId": ACCOUNTS["3000"].id,
                "unitPrice": 1000,
                "amountExcludingVat": 1000,
                "vatAmount": 250,
            }
        ],
        **fields,
    }


def outcomes(pipeline, invoice_id: int) -> list[Outcome]:
    return [e.outcome for e in pipeline.log() if e.entity_type == "invoice" and e.entity_id == invoice_id]


def test_an_invoice_whose_lines_name_their_account_by_id_only_is_booked(pipeline):
    customer = new_customer(pipeline)
    pipeline.moment.load_samples(pipeline.company, {"invoices": [raw_invoice(customer.id, 88_000_001)]})
    pipeline.driver.notify("invoice", 88_000_001)
    pipeline.settle()
    [invoice] = pipeline.invoices()
    [line] = invoice["lines"]
    assert (line["incomeAccount"], line["vatType"], line["net"], line["vat"]) == (
        "3000",
        "HIGH",
        100000,
        25000,
    )
    assert outcomes(pipeline, 88_000_001) == [Outcome.SYNCED]


def test_a_renamed_invoice_number_is_dead_lettered_naming_it_not_skipped(pipeline):
    customer = new_customer(pipeline)
    sample = raw_invoice(customer.id, 88_000_002, invoiceState="SENT")
    sample["invoiceNr"] = sample.pop("invoiceNumber")
    pipeline.moment.load_samples(pipeline.company, {"invoices": [sample]})
    pipeline.driver.notify("invoice", 88_000_002)
    pipeline.settle()
    assert pipeline.invoices() == []
    assert outcomes(pipeline, 88_000_002) == [Outcome.FAILED]
    [message] = pipeline.dead_letters()
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert "'invoiceNumber'" in reason and "invoiceNr" in reason


def test_a_do_not_transfer_invoice_is_skipped_visibly_and_counted(pipeline):
    customer = new_customer(pipeline)
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        lines=[make_line("3000", 1, Decimal(1000), description="Timer")],
        invoice_date=date(2025, 3, 3),
        export_status="doNotTransfer",
    )
    pipeline.settle()
    assert pipeline.invoices() == []
    assert outcomes(pipeline, invoice.id) == [Outcome.SKIPPED]
    link = pipeline.link("invoice", invoice.id)
    assert link.last_outcome == "skipped" and "Do not transfer" in link.details["skipped"]
    status = entity_status("invoice", [link])
    assert status.skipped == 1 and status.by_outcome == {"skipped": 1}
