"""Exactly once when our own sync state is lost (issue 15): a restored or wiped table, a tenant removed
and added again. The same webhooks sent again must find what the target already holds (adopt by natural
key) and never make a second contact, project, invoice, sale, voucher or PDF.

Moment emulator -> webhook -> SQS FIFO (moto) -> processor -> Fiken / SpareBank 1 emulator.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from emulators.moment.fixtures import make_line
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import InvoiceMode, MappingSettings

ISSUED = date(2025, 3, 3)


def wipe_sync_state(pipeline) -> int:
    """What a restore to an empty table, a new stack or a tenant removed and re-added leaves: nothing."""
    table = pipeline._table("SYNC_STATE_TABLE")
    items = table.query(
        KeyConditionExpression="tenant_id = :t", ExpressionAttributeValues={":t": pipeline.tenant_id}
    )["Items"]
    with table.batch_writer() as batch:
        for item in items:
            batch.delete_item(Key={"tenant_id": item["tenant_id"], "record_key": item["record_key"]})
    return len(items)


def lines() -> list:
    return [
        make_line("3000", Decimal("7.5"), 1250, description="Konsulenttimer"),
        make_line("3050", 1, Decimal("1234.56"), description="Reise"),
    ]


def three_records(pipeline, customer_number: str = "100123"):
    customer = pipeline.driver.create_customer(
        name="Fjordlys Rådgivning AS", customer_number=customer_number, organization_number="912345670"
    )
    project = pipeline.driver.create_project(
        name="Ny nettside", project_number="4711", customer=customer.id, start_date=date(2025, 1, 2)
    )
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id, project=project.id, lines=lines(), invoice_date=ISSUED, payment_id="12345674"
    )
    return customer, project, invoice


def send_the_same_three_again(pipeline, customer, project, invoice) -> None:
    pipeline.driver.notify("customer", customer.id)
    pipeline.driver.notify("project", project.id)
    pipeline.driver.notify("invoice", invoice.id)
    pipeline.settle()


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items}"
    return items[0]


def pdfs_of(pipeline, owner: str, owner_id: int) -> list[dict[str, Any]]:
    return [
        a
        for a in pipeline.fiken.attachments(pipeline.slug)
        if (a["owner"], a["ownerId"]) == (owner, owner_id)
    ]


# ---------------------------------------------------------------------- Fiken, both modes
@pytest.mark.parametrize("mode", [InvoiceMode.INVOICE, InvoiceMode.SALE], ids=["invoice-mode", "sale-mode"])
def test_state_wiped_and_the_same_three_webhooks_again_still_give_one_of_each(make_pipeline, mode):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=mode))
    customer, project, invoice = three_records(pipeline)
    pipeline.settle()
    assert wipe_sync_state(pipeline) >= 3

    send_the_same_three_again(pipeline, customer, project, invoice)

    contact = only(pipeline.contacts())
    fiken_project = only(pipeline.projects())
    assert contact["memberNumberString"] == customer.customer_number
    assert fiken_project["number"] == project.project_number
    if mode is InvoiceMode.INVOICE:
        document = only(pipeline.invoices())
        owner, owner_id = "invoice", document["invoiceId"]
        assert document["gross"] == invoice.total_incl_vat_ore
    else:
        assert pipeline.invoices() == []
        document = only(pipeline.fiken.sales(pipeline.slug))
        owner, owner_id = "sale", document["saleId"]
        assert document["saleNumber"] == str(invoice.invoice_number)
    # Adopted with its PDF: the attachments were looked at and no second copy was sent.
    assert len(pdfs_of(pipeline, owner, owner_id)) == 1
    entry = pipeline.last("invoice", invoice.id)
    assert (entry.outcome, entry.details.get("adopted")) == (Outcome.SYNCED, True)
    assert entry.remote_id == str(owner_id)
    # The rebuilt state links the same records, so later events are call-free again.
    assert pipeline.link("invoice", invoice.id).remote_id == str(owner_id)
    assert pipeline.link("customer", customer.id).remote_id == str(contact["contactId"])
    assert pipeline.link("project", project.id).remote_id == str(fiken_project["projectId"])


def test_state_wiped_then_a_credit_note_of_an_adopted_invoice_is_one_credit_note(pipeline):
    customer, project, invoice = three_records(pipeline)
    credit = pipeline.driver.credit_invoice(invoice.id)
    pipeline.settle()
    wipe_sync_state(pipeline)

    send_the_same_three_again(pipeline, customer, project, invoice)
    pipeline.driver.notify("invoice", credit.id)
    pipeline.settle()

    only(pipeline.invoices())
    note = only(pipeline.fiken.credit_notes(pipeline.slug))
    assert pipeline.last("invoice", credit.id).details.get("adopted") is True
    assert pipeline.link("invoice", credit.id).remote_id == str(note["creditNoteId"])


def test_no_state_and_no_document_yet_creates_it_once_after_one_search(pipeline):
    """The price of not trusting our state: one natural-key search before the create, no more."""
    customer = pipeline.driver.create_customer(name="Målt AS", customer_number="100200")
    pipeline.settle()
    pipeline.mark()
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=ISSUED)
    pipeline.settle()

    calls = [
        f"{e.method} {re.sub(r'/[0-9]+', '/{id}', e.path.split(pipeline.slug, 1)[1])}"
        for e in pipeline.fiken_requests()
    ]
    assert calls.count("GET /invoices") == 1
    assert calls.count("POST /invoices") == 1
    assert calls.index("GET /invoices") < calls.index("POST /invoices")
    # Made by this very call: no attachment list is read before its PDF is sent.
    assert "GET /invoices/{id}/attachments" not in calls
    assert pipeline.last("invoice", invoice.id).details.get("adopted") is None


# ---------------------------------------------------------------------- attachments exactly once
@pytest.mark.parametrize("mode", [InvoiceMode.INVOICE, InvoiceMode.SALE], ids=["invoice-mode", "sale-mode"])
def test_pdf_upload_whose_answer_is_lost_is_not_sent_again(make_pipeline, mode):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=mode))
    owner = "invoices" if mode is InvoiceMode.INVOICE else "sales"
    pipeline.fiken.fault_plan.script(
        "drop_after_apply",
        times=2,
        method="POST",
        path=rf"/companies/{pipeline.slug}/{owner}/\d+/attachments$",
    )
    customer = pipeline.driver.create_customer(name="Tapt svar AS", customer_number="100300")
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=ISSUED)
    pipeline.settle()

    if mode is InvoiceMode.INVOICE:
        owner_id = only(pipeline.invoices())["invoiceId"]
        pdfs = pdfs_of(pipeline, "invoice", owner_id)
    else:
        owner_id = only(pipeline.fiken.sales(pipeline.slug))["saleId"]
        pdfs = pdfs_of(pipeline, "sale", owner_id)
    assert len(pdfs) == 1
    outcomes = [e.outcome for e in pipeline.log() if e.entity_type == "invoice"]
    assert outcomes == [Outcome.RETRYING, Outcome.SYNCED]
    link = pipeline.link("invoice", invoice.id)
    assert link.pending == [] and link.remote_id == str(owner_id)
    uploads = [e for e in pipeline.fiken_requests() if e.method == "POST" and e.path.endswith("/attachments")]
    assert len(uploads) == 1  # the retry looked at the attachments and found the lost upload's PDF
