"""Invoices and credit notes through the whole local pipeline into the Fiken emulator.

Moment emulator -> webhook -> SQS FIFO -> processor -> Fiken emulator; every test also asserts that
nothing the connector sent broke Fiken's OpenAPI contract.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from emulators.fiken.emulator import BankAccountSeed
from emulators.moment.fixtures import make_line
from momentsync.aws.queue import SqsEventQueue
from momentsync.clock import utcnow
from momentsync.connectors.fiken.connector import FikenConnector
from momentsync.envelope import QueueEnvelope
from momentsync.moment.models import InvoiceRef
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import InvoiceMode, MappingSettings, TenantStatus

ISSUED = date(2025, 3, 3)


# ---------------------------------------------------------------------- helpers
def new_customer(pipeline, name: str = "Fjordlys Rådgivning AS"):
    """A customer that exists in Moment only (no webhook): the invoice must bring it along."""
    return pipeline.moment.create_customer(pipeline.company, name=name, organization_number="912345670")


def new_project(pipeline, customer, name: str = "Ny nettside"):
    return pipeline.moment.create_project(
        pipeline.company, name=name, customer=customer.id, start_date=date(2025, 1, 2)
    )


def standard_lines() -> list:
    return [
        make_line("3000", Decimal("7.5"), 1250, description="Konsulenttimer"),
        make_line("3000", 2, Decimal("1095.50"), description="Prosjektledelse", discount_percent=10),
        make_line("3050", 1, Decimal("1234.56"), description="Reise"),
    ]


def finalize(pipeline, customer=None, project=None, lines=None, **fields: Any):
    customer = customer or new_customer(pipeline)
    return pipeline.driver.finalize_invoice(
        customer=customer.id,
        project=project.id if project else None,
        lines=lines or standard_lines(),
        invoice_date=fields.pop("invoice_date", ISSUED),
        **fields,
    )


def only(items: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items}"
    return items[0]


def fiken_calls(pipeline) -> list[str]:
    prefix = f"/api/v2/companies/{pipeline.slug}"
    return [f"{e.method} {e.path.removeprefix(prefix) or '/'}" for e in pipeline.fiken_requests()]


def outcomes(pipeline, invoice_id: int) -> list[Outcome]:
    return [e.outcome for e in pipeline.log() if e.entity_type == "invoice" and e.entity_id == invoice_id]


def attachments_of(pipeline, owner: str, owner_id: int) -> list[dict[str, Any]]:
    return [
        a
        for a in pipeline.fiken.attachments(pipeline.slug)
        if (a["owner"], a["ownerId"]) == (owner, owner_id)
    ]


@pytest.fixture
def make_pipeline(make_pipeline):
    """Every pipeline a test makes is checked afterwards: nothing sent to Fiken broke its contract."""
    made: list = []

    def make(**kwargs: Any):
        made.append(make_pipeline(**kwargs))
        return made[-1]

    yield make
    for pipeline in made:
        mine = [v for v in pipeline.fiken.contract_violations if f"/companies/{pipeline.slug}" in v.path]
        assert mine == [], [v.to_dict() for v in mine]


# ---------------------------------------------------------------------- the happy path
def test_finalized_invoice_becomes_one_fiken_invoice_with_customer_and_project_synced_first(pipeline):
    customer = new_customer(pipeline)
    project = new_project(pipeline, customer)
    invoice = finalize(pipeline, customer, project, your_reference="Kari Nordmann")
    pipeline.settle()

    contact = only(pipeline.contacts())
    fiken_project = only(pipeline.projects())
    fiken_invoice = only(pipeline.invoices())
    assert contact["memberNumberString"] == customer.customer_number
    assert fiken_project["number"] == project.project_number
    assert fiken_invoice["customer"]["contactId"] == contact["contactId"]
    assert fiken_invoice["project"]["projectId"] == fiken_project["projectId"]
    assert fiken_invoice["orderReference"] == str(invoice.invoice_number)
    assert str(invoice.invoice_number) in fiken_invoice["invoiceText"]
    assert invoice.payment_id and f"KID {invoice.payment_id}" in fiken_invoice["invoiceText"]
    assert fiken_invoice["yourReference"] == "Kari Nordmann"
    # Grouped by income account: the two 3000 lines become one line.
    by_account = {line["incomeAccount"]: line for line in fiken_invoice["lines"]}
    assert sorted(by_account) == ["3000", "3050"]
    assert (by_account["3000"]["vatType"], by_account["3050"]["vatType"]) == ("HIGH", "LOW")
    lines_3000 = invoice.lines[:2]
    assert by_account["3000"]["net"] == sum(line.amount_excl_vat_ore for line in lines_3000)
    assert by_account["3000"]["vat"] == sum(line.vat_amount_ore for line in lines_3000)
    assert (fiken_invoice["net"], fiken_invoice["vat"], fiken_invoice["gross"]) == (
        invoice.total_excl_vat_ore,
        invoice.total_vat_ore,
        invoice.total_incl_vat_ore,
    )
    [pdf] = attachments_of(pipeline, "invoice", fiken_invoice["invoiceId"])
    assert pdf["filename"] == f"faktura-{invoice.invoice_number}.pdf"
    assert pdf["content"].startswith(b"%PDF")
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.SYNCED
    assert entry.remote_id == str(fiken_invoice["invoiceId"])
    link = pipeline.link("invoice", invoice.id)
    assert (link.remote_number, link.pending, link.intent) == (str(fiken_invoice["invoiceNumber"]), [], None)


def test_fiken_calls_per_invoice_are_measured_first_and_later_with_and_without_pdf(pipeline):
    customer = pipeline.driver.create_customer(name="Målt AS")
    project = pipeline.driver.create_project(
        name="Måleprosjekt", customer=customer.id, start_date=date(2025, 1, 2)
    )
    pipeline.settle()

    measured: dict[str, list[str]] = {}
    for label in ("first invoice of the tenant", "later invoice"):
        pipeline.mark()
        invoice = finalize(pipeline, customer, project)
        pipeline.settle()
        measured[label] = fiken_calls(pipeline)
        assert pipeline.last("invoice", invoice.id).remote_calls == len(measured[label])
    original = invoice
    pipeline.mark()
    pipeline.driver.credit_invoice(original.id)
    pipeline.settle()
    measured["full credit note"] = fiken_calls(pipeline)

    for label, calls in measured.items():
        pdf = [c for c in calls if c.endswith("/attachments")]  # credit notes take none in Fiken
        print(f"Fiken calls, {label}: {len(calls)} with PDF upload, {len(calls) - len(pdf)} without: {calls}")
    normalised = {label: [re.sub(r"/\d+", "/{id}", c) for c in calls] for label, calls in measured.items()}
    assert normalised["first invoice of the tenant"] == [
        "GET /",  # company facts: VAT registered? (cached per process)
        "GET /invoices",  # the natural key: our state alone cannot prove the invoice is not there
        "GET /bankAccounts",  # the account code invoices are issued on (cached per process)
        "POST /invoices",
        "GET /invoices/{id}",  # read back once: invoice number and totals
        "POST /invoices/{id}/attachments",  # made by this call: no need to look for a PDF first
    ]
    assert normalised["later invoice"] == [
        "GET /invoices",
        "POST /invoices",
        "GET /invoices/{id}",
        "POST /invoices/{id}/attachments",
    ]
    assert normalised["full credit note"] == [
        "GET /creditNotes",  # the natural key (the customer's credit notes)
        "GET /invoices/{id}",  # the original's lines: does the credit mirror them (full) or not?
        "GET /creditNotes",  # the credit notes already on it: never credit more than is left
        "POST /creditNotes/full",
        "GET /creditNotes/{id}",  # read back once: number and totals
    ]


# ---------------------------------------------------------------------- exactly once under faults
def test_lost_create_response_still_gives_exactly_one_invoice(pipeline):
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/invoices$"
    )
    invoice = finalize(pipeline)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert fiken_invoice["orderReference"] == str(invoice.invoice_number)
    assert outcomes(pipeline, invoice.id) == [Outcome.RETRYING, Outcome.SYNCED]
    entry = pipeline.last("invoice", invoice.id)
    assert entry.details.get("adopted") is True  # found by its natural key, not created again
    assert len(attachments_of(pipeline, "invoice", fiken_invoice["invoiceId"])) == 1


def test_a_due_date_moved_in_moment_after_a_lost_create_reaches_the_adopted_invoice(pipeline, monkeypatch):
    # Found by the chaos run: the retry adopted the invoice made with the old due date and recorded the
    # new one as synced, so the due-date change's own webhook was answered "unchanged".
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/invoices$"
    )
    original = FikenConnector.create_invoice
    moved = date(2025, 4, 30)

    def create_then_moment_moves_the_due_date(self, invoice, parties):
        try:
            return original(self, invoice, parties)
        finally:
            pipeline.moment.update_invoice(pipeline.company, invoice.id, due_date=moved)

    monkeypatch.setattr(FikenConnector, "create_invoice", create_then_moment_moves_the_due_date)
    invoice = finalize(pipeline)
    pipeline.settle()
    pipeline.driver.notify("invoice", invoice.id)  # the due-date change's webhook, after the retry
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert fiken_invoice["dueDate"] == moved.isoformat()
    assert pipeline.log()[-2].details.get("adopted") is True


def test_processor_dying_between_fiken_201_and_the_state_write_gives_exactly_one_invoice(
    pipeline, monkeypatch
):
    original = FikenConnector.create_invoice
    crashes: list[str] = []

    def create_then_die(self, invoice, parties):
        remote = original(self, invoice, parties)
        if not crashes:
            crashes.append(remote.remote_id)
            raise RuntimeError("Lambda killed after Fiken's 201, before the sync state was written")
        return remote

    monkeypatch.setattr(FikenConnector, "create_invoice", create_then_die)
    invoice = finalize(pipeline)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert crashes == [str(fiken_invoice["invoiceId"])]
    link = pipeline.link("invoice", invoice.id)
    assert (link.remote_id, link.intent) == (str(fiken_invoice["invoiceId"]), None)
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    assert len(attachments_of(pipeline, "invoice", fiken_invoice["invoiceId"])) == 1


def test_invoice_event_delivered_twice_gives_exactly_one_invoice(pipeline):
    invoice = finalize(pipeline)
    pipeline.driver.notify("invoice", invoice.id, event="CREATE_NEW")
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert outcomes(pipeline, invoice.id) == [Outcome.SYNCED, Outcome.UNCHANGED]
    assert len(attachments_of(pipeline, "invoice", fiken_invoice["invoiceId"])) == 1


def test_invoice_replayed_much_later_gives_exactly_one_invoice_and_no_fiken_call(pipeline):
    invoice = finalize(pipeline)
    pipeline.settle()
    first = pipeline.last("invoice", invoice.id)

    pipeline.mark()
    pipeline.driver.notify("invoice", invoice.id, event="CREATE_NEW")  # Moment re-sends the webhook
    queue = SqsEventQueue(pipeline.stack.aws.client("sqs"), pipeline.stack.physical("EventQueue"))
    queue.send(  # an operator replays the original event from the transfer log a week later
        QueueEnvelope(
            event_id=f"replay-{uuid.uuid4().hex}",
            tenant_id=pipeline.tenant_id,
            entity_type="invoice",
            entity_id=invoice.id,
            moment_event="CREATE_NEW",
            received_at=utcnow() - timedelta(days=7),
            payload={"event": "CREATE_NEW", "invoice": {"id": invoice.id}},
            replay_of=first.event_id,
            origin="replay",
        )
    )
    pipeline.settle()

    only(pipeline.invoices())
    assert fiken_calls(pipeline) == []
    later = [e for e in pipeline.log() if e.entity_id == invoice.id][1:]
    assert [(e.outcome, e.origin) for e in later] == [
        (Outcome.UNCHANGED, "webhook"),
        (Outcome.UNCHANGED, "replay"),
    ]


def test_failed_pdf_upload_is_retried_alone_after_the_invoice_exists(pipeline):
    pipeline.fiken.fault_plan.script(
        "status",
        status=503,
        times=1,
        method="POST",
        path=rf"/companies/{pipeline.slug}/invoices/\d+/attachments$",
    )
    invoice = finalize(pipeline)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert len(attachments_of(pipeline, "invoice", fiken_invoice["invoiceId"])) == 1
    assert outcomes(pipeline, invoice.id) == [Outcome.RETRYING, Outcome.SYNCED]
    posts = [c.split(" ")[1] for c in fiken_calls(pipeline) if c.startswith("POST /invoices")]
    # The invoice is posted once; only its attachment is posted again (the failed try and the retry).
    assert [p if p == "/invoices" else p.rsplit("/", 1)[-1] for p in posts] == [
        "/invoices",
        "attachments",
        "attachments",
    ]
    assert pipeline.link("invoice", invoice.id).pending == []


# ---------------------------------------------------------------------- after transfer
def test_changed_due_date_after_transfer_is_patched_into_fiken(pipeline):
    invoice = finalize(pipeline)
    pipeline.settle()
    pipeline.mark()
    new_due = invoice.due_date + timedelta(days=16)
    pipeline.driver.update_invoice(invoice.id, due_date=new_due)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert fiken_invoice["dueDate"] == new_due.isoformat()
    patches = [e for e in pipeline.fiken_requests() if e.method == "PATCH"]
    assert [p.json for p in patches] == [{"newDueDate": new_due.isoformat()}]
    entry = pipeline.last("invoice", invoice.id)
    assert (entry.outcome, entry.reason) == (Outcome.SYNCED, "due date updated")


def test_other_change_after_transfer_is_flagged_for_a_credit_note_and_creates_nothing(pipeline):
    invoice = finalize(pipeline)
    pipeline.settle()
    pipeline.mark()
    pipeline.driver.update_invoice(
        invoice.id, lines=[*invoice.lines, make_line("3000", 1, 500, description="Glemt time")]
    )
    pipeline.settle()

    only(pipeline.invoices())
    assert [c for c in fiken_calls(pipeline) if not c.startswith("GET")] == []
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FLAGGED
    assert entry.reason == "changed after transfer: needs a credit note in Moment"


# ---------------------------------------------------------------------- credit notes
def test_full_credit_note_becomes_a_fiken_full_credit_note(pipeline):
    invoice = finalize(pipeline)
    pipeline.settle()
    pipeline.mark()
    credit = pipeline.driver.credit_invoice(invoice.id)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    note = only(pipeline.fiken.credit_notes(pipeline.slug))
    assert [c for c in fiken_calls(pipeline) if c.startswith("POST")] == ["POST /creditNotes/full"]
    assert note["associatedInvoiceId"] == fiken_invoice["invoiceId"]
    assert note["gross"] == fiken_invoice["gross"] == -credit.total_incl_vat_ore
    assert f"Moment-kreditnota {credit.invoice_number}" in note["creditNoteText"]
    assert pipeline.last("invoice", credit.id).outcome is Outcome.SYNCED


def test_lost_credit_note_response_still_gives_exactly_one_credit_note(pipeline):
    invoice = finalize(pipeline)
    pipeline.settle()
    pipeline.fiken.fault_plan.script(
        "drop_after_apply", times=1, method="POST", path=rf"/companies/{pipeline.slug}/creditNotes/full$"
    )
    credit = pipeline.driver.credit_invoice(invoice.id)
    pipeline.settle()

    only(pipeline.fiken.credit_notes(pipeline.slug))
    assert outcomes(pipeline, credit.id) == [Outcome.RETRYING, Outcome.SYNCED]
    assert pipeline.last("invoice", credit.id).details.get("adopted") is True


def test_partial_credit_note_becomes_a_fiken_partial_credit_note(pipeline):
    customer = new_customer(pipeline)
    invoice = finalize(pipeline, customer)
    pipeline.settle()
    pipeline.mark()
    reise = invoice.lines[2]
    credit = pipeline.driver.finalize_invoice(
        customer=customer.id,
        invoice_date=ISSUED + timedelta(days=5),
        credit_note=True,
        credited_invoice=InvoiceRef(id=invoice.id, invoice_number=invoice.invoice_number),
        payment_id=None,
        lines=[make_line("3050", -1, reise.unit_price, description="Kreditert reise")],
    )
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    note = only(pipeline.fiken.credit_notes(pipeline.slug))
    assert [c for c in fiken_calls(pipeline) if c.startswith("POST")] == ["POST /creditNotes/partial"]
    assert note["associatedInvoiceId"] == fiken_invoice["invoiceId"]
    assert note["orderReference"] == str(credit.invoice_number)
    assert (note["net"], note["vat"], note["gross"]) == (
        -credit.total_excl_vat_ore,
        -credit.total_vat_ore,
        -credit.total_incl_vat_ore,
    )
    assert pipeline.last("invoice", credit.id).outcome is Outcome.SYNCED


def test_credit_note_whose_original_is_not_synced_yet_syncs_the_original_first(pipeline):
    customer = new_customer(pipeline)
    original = pipeline.moment.create_invoice(
        pipeline.company, customer=customer.id, lines=standard_lines(), invoice_date=ISSUED
    )  # finalized in Moment, but its webhook never arrived
    credit = pipeline.driver.credit_invoice(original.id)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    note = only(pipeline.fiken.credit_notes(pipeline.slug))
    assert fiken_invoice["orderReference"] == str(original.invoice_number)
    assert note["associatedInvoiceId"] == fiken_invoice["invoiceId"]
    assert pipeline.link("invoice", original.id).remote_id == str(fiken_invoice["invoiceId"])
    assert pipeline.last("invoice", credit.id).outcome is Outcome.SYNCED
    posts = [c for c in fiken_calls(pipeline) if c.startswith("POST") and "attachments" not in c]
    assert [p.split(" ")[1].rsplit("/", 1)[-1] for p in posts] == ["contacts", "invoices", "full"]


# ---------------------------------------------------------------------- failures and company set-ups
def test_account_without_vat_code_is_dead_lettered_at_once_naming_the_account(pipeline):
    line = make_line("3020", 3, 990, description="Rådgivning")
    # No id either: with its id, the code would come from Moment's financialAccounts, which has one.
    account = line.financial_account.model_copy(update={"external_tax_code": None, "id": None})
    invoice = finalize(pipeline, lines=[line.model_copy(update={"financial_account": account})])
    pipeline.settle()

    assert pipeline.invoices() == []
    assert outcomes(pipeline, invoice.id) == [Outcome.FAILED]
    [message] = pipeline.dead_letters()
    reason = message["MessageAttributes"]["reason"]["StringValue"]
    assert "account 3020 has no VAT code" in reason
    assert message["MessageAttributes"]["receive_count"]["StringValue"] == "1"


def test_uninitialised_invoice_counter_is_initialised_and_the_invoice_created(make_pipeline):
    pipeline = make_pipeline(invoice_counter=None)
    invoice = finalize(pipeline)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert fiken_invoice["invoiceNumber"] == 10001  # Fiken's default base
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    assert "POST /invoices/counter" in fiken_calls(pipeline)


def test_unverified_bank_account_parks_the_tenant_with_the_remedy_and_creates_no_invoice(
    make_pipeline, caplog
):
    pipeline = make_pipeline(bank_accounts=[BankAccountSeed(verified=False)])
    invoice = finalize(pipeline)
    pipeline.settle()

    assert pipeline.invoices() == []
    assert outcomes(pipeline, invoice.id) == [Outcome.PARKED]
    [(parked, reason)] = pipeline.parked()
    assert parked.entity_id == invoice.id and "not verified the company's bank account" in reason
    tenant = pipeline.tenant()
    assert tenant.status is TenantStatus.PAUSED
    assert "bank_account_unverified" in tenant.problems
    [notice] = [
        r
        for r in caplog.records
        if getattr(r, "tenant_id", None) == pipeline.tenant_id and hasattr(r, "notification")
    ]
    assert "Create one invoice from this bank account in Fiken first" in notice.notification


def test_non_vat_registered_company_gets_outside_lines(make_pipeline):
    pipeline = make_pipeline(vat_registered=False)
    # Moment charges no VAT for a company outside the VAT register, whatever the account's code says.
    lines = [
        line.model_copy(update={"vat_amount": Decimal(0), "vat_percent": Decimal(0)})
        for line in standard_lines()
    ]
    invoice = finalize(pipeline, lines=lines)
    pipeline.settle()

    fiken_invoice = only(pipeline.invoices())
    assert {line["vatType"] for line in fiken_invoice["lines"]} == {"OUTSIDE"}
    assert (fiken_invoice["vat"], fiken_invoice["gross"]) == (0, invoice.total_incl_vat_ore)
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED


def test_sale_mode_books_a_sale_with_moments_number_kid_and_pdf(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Salg AS")
    pipeline.settle()
    pipeline.mark()
    invoice = finalize(pipeline, customer)
    pipeline.settle()

    assert pipeline.invoices() == []
    sale = only(pipeline.fiken.sales(pipeline.slug))
    assert sale["saleNumber"] == str(invoice.invoice_number)
    assert sale["kid"] == invoice.payment_id
    assert sale["kind"] == "external_invoice"
    assert sale["netAmount"] + sale["vatAmount"] == invoice.total_incl_vat_ore
    [pdf] = attachments_of(pipeline, "sale", sale["saleId"])
    assert pdf["filename"] == f"faktura-{invoice.invoice_number}.pdf"
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    calls = [re.sub(r"/\d+", "/{id}", c) for c in fiken_calls(pipeline)]
    print(f"Fiken calls, first sale of the tenant: {len(calls)}: {calls}")
    assert calls == [
        "GET /",  # company facts: VAT registered?
        "GET /sales",  # the natural key (saleNumber) before any create
        "GET /invoices",  # and as a Fiken invoice: booked so before a move to sale mode (attack 15)
        "POST /sales",
        "POST /sales/{id}/attachments",
        "GET /sales/{id}",  # totals read back
    ]


def test_due_date_change_of_a_sale_is_flagged_not_reported_as_applied(make_pipeline):
    pipeline = make_pipeline(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    customer = pipeline.driver.create_customer(name="Salg Forfall AS")
    invoice = finalize(pipeline, customer)
    pipeline.settle()
    pipeline.mark()
    pipeline.driver.update_invoice(invoice.id, due_date=invoice.due_date + timedelta(days=10))
    pipeline.settle()
    entry = pipeline.last("invoice", invoice.id)
    assert entry.outcome is Outcome.FLAGGED
    assert "cannot be changed" in entry.reason
    assert [c for c in fiken_calls(pipeline) if not c.startswith("GET")] == []
    assert len(pipeline.fiken.sales(pipeline.slug)) == 1
