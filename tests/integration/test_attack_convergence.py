# ruff: noqa: F811 - the fixtures are imported by name
"""Attacks on issue 15 (convergence) that the builders' tests did not generate: cutover edges of credit
notes, PDFs attached by hand, clock skew between Moment and us, backfill floods, natural-key collisions.

Moment emulator -> webhook / sweep -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from emulators.moment.fixtures import make_line
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.integration.test_backfill import cli  # noqa: F401 - fixture
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


# ---------------------------------------------------------------------- attachments: whose PDF counts
def hand_attached_pdf(pipeline, owner_id: int, filename: str) -> None:
    """What an accountant does in Fiken's web app: attach a document of their own to the invoice."""
    with pipeline.fiken.lock:
        pipeline.fiken.companies[pipeline.slug].attachments.append(
            {
                "attachmentId": pipeline.fiken.new_uuid(),
                "owner": "invoice",
                "ownerId": owner_id,
                "filename": filename,
                "contentType": "application/pdf",
                "size": 9,
                "content": b"%PDF-1.4\n",
                "comment": None,
            }
        )


def test_an_unrelated_pdf_attached_by_hand_does_not_stop_moments_pdf(pipeline):
    """Our PDF upload failed for good (dead-lettered); before the replay an accountant attached a
    timesheet PDF to the invoice in Fiken. "Any PDF counts" would leave the invoice without Moment's
    own PDF forever, and the event would say synced."""
    pipeline.fiken.fault_plan.script(
        "status",
        status=400,
        times=1,
        method="POST",
        path=rf"/companies/{pipeline.slug}/invoices/\d+/attachments$",
    )
    customer = pipeline.driver.create_customer(name="Vedlegg AS", customer_number="100960")
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    owner_id = only(pipeline.invoices())["invoiceId"]
    assert pipeline.link("invoice", invoice.id).pending == ["pdf"]
    hand_attached_pdf(pipeline, owner_id, "timeliste-mars.pdf")

    pipeline.driver.notify("invoice", invoice.id)  # the replay, or Moment's next webhook
    pipeline.settle()

    names = sorted(
        a["filename"] for a in pipeline.fiken.attachments(pipeline.slug) if a["ownerId"] == owner_id
    )
    assert names == [f"faktura-{invoice.invoice_number}.pdf", "timeliste-mars.pdf"]
    assert pipeline.link("invoice", invoice.id).pending == []


def test_a_pdf_naming_the_invoice_number_counts_as_the_invoices_own_but_not_one_of_a_longer_number(
    pipeline,
):
    """An adopted document that carries the PDF Moment's own integration attached (named with the
    invoice number) gets no second copy; a PDF naming invoice 23 is not invoice 2's."""
    pipeline.fiken.fault_plan.script(
        "status",
        status=400,
        times=2,
        method="POST",
        path=rf"/companies/{pipeline.slug}/invoices/\d+/attachments$",
    )
    customer = pipeline.driver.create_customer(name="Nummer AS", customer_number="100961")
    first = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    second = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    ids = {i["orderReference"]: i["invoiceId"] for i in pipeline.invoices()}
    first_id, second_id = ids[str(first.invoice_number)], ids[str(second.invoice_number)]
    hand_attached_pdf(pipeline, first_id, f"Faktura {first.invoice_number}.pdf")
    hand_attached_pdf(pipeline, second_id, f"Faktura {second.invoice_number}1.pdf")

    pipeline.driver.notify("invoice", first.id)
    pipeline.driver.notify("invoice", second.id)
    pipeline.settle()

    def names(owner_id: int) -> list[str]:
        return sorted(
            a["filename"] for a in pipeline.fiken.attachments(pipeline.slug) if a["ownerId"] == owner_id
        )

    assert names(first_id) == [f"Faktura {first.invoice_number}.pdf"]
    assert names(second_id) == [
        f"Faktura {second.invoice_number}1.pdf",
        f"faktura-{second.invoice_number}.pdf",
    ]


# ---------------------------------------------------------------------- clock skew, Moment vs us
def test_an_invoice_change_stamped_by_moments_slower_clock_is_not_hidden_from_the_sweep(
    pipeline, monkeypatch
):
    """Moment's clock 10 minutes behind ours (inside the 15-minute overlap). An invoice's link kept only
    *our* write time, so a due-date change made in Moment within 10 minutes of our write, whose webhook
    was lost, carried an older stamp than our write and the sweep called it synced: hidden for good."""
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_reconcile import sweep

    # monkeypatch: the Moment emulator is shared by the session; a skewed clock left behind makes later
    # tests' records look newer than their sync state (the failed-for-good test then saw its own stale).
    monkeypatch.setattr(pipeline.moment.state, "_clock", lambda: datetime.now(UTC) - timedelta(minutes=10))
    customer = pipeline.driver.create_customer(name="Skjev Klokke AS", customer_number="100970")
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    assert sweep(pipeline).enqueued == 0
    new_due = invoice.due_date + timedelta(days=10)
    pipeline.moment.update_invoice(pipeline.company, invoice.id, due_date=new_due)  # its webhook is lost

    record = sweep(pipeline)
    pipeline.settle()

    assert (record.stale, record.enqueued) == (1, 1)
    assert only(pipeline.invoices())["dueDate"] == str(new_due)
    # and once applied, the next sweep is quiet (no re-enqueue forever)
    assert sweep(pipeline).enqueued == 0


def test_an_invoice_stamped_by_moments_faster_clock_is_not_enqueued_again_by_every_sweep(
    pipeline, monkeypatch
):
    """Moment's clock an hour ahead (or its offset-less local time read as UTC): every sweep within that
    hour saw the invoice as newer than our write time and enqueued it again."""
    from datetime import UTC, datetime, timedelta

    from tests.integration.test_reconcile import sweep

    # Its stamps never go back: the last one is put back too, or every later record is an hour ahead.
    monkeypatch.setattr(pipeline.moment.state, "_last_stamp", pipeline.moment.state._last_stamp)
    monkeypatch.setattr(pipeline.moment.state, "_clock", lambda: datetime.now(UTC) + timedelta(hours=1))
    customer = pipeline.driver.create_customer(name="Rask Klokke AS", customer_number="100971")
    pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()

    rounds = []
    for _ in range(3):
        rounds.append(sweep(pipeline).enqueued)
        pipeline.settle()

    assert rounds[1:] == [0, 0], rounds


# ---------------------------------------------------------------------- backfill: flood and keys
def test_a_backfill_queues_at_most_its_cap_per_run_and_the_next_run_the_rest(pipeline, cli):
    """Without a cap, a backfill of thousands of records sits in the tenant's FIFO group ahead of every
    webhook that arrives meanwhile: live changes wait hours."""
    for n in range(3):
        pipeline.moment.create_customer(pipeline.company, name=f"Flom {n} AS", customer_number=f"10098{n}")
    pipeline.settle()

    def backfill(*args: str) -> dict:
        return cli.json("backfill", pipeline.tenant_id, *args)

    from momentsync.cli import backfill_commands
    from momentsync.operations import backfill as operations

    assert backfill_commands.DEFAULT_MAX_PER_RUN == operations.DEFAULT_MAX_PER_RUN

    first = backfill("--entities", "customers", "--max", "2")
    assert (first["queued"], first["not_queued"]) == ({"create": 2}, 1)
    pipeline.settle()
    second = backfill("--entities", "customers", "--max", "2")
    assert (second["queued"], second["not_queued"]) == ({"create": 1}, 0)
    pipeline.settle()
    assert len(pipeline.contacts()) == 3


def test_the_backfill_plan_matches_an_organisation_number_written_with_spaces(pipeline, cli):
    """Moment holds "912 345 670", Fiken "912345670" (we write digits only): the plan said "create" for
    a customer the processor then adopts, so the dry-run table an operator decides on was wrong."""
    customer = pipeline.driver.create_customer(
        name="Mellomrom AS", customer_number="100990", organization_number="912 345 670"
    )
    pipeline.settle()
    wipe_sync_state(pipeline)
    # Moment's own integration wrote no memberNumberString: only the organisation number matches.
    with pipeline.fiken.lock:
        company = pipeline.fiken.companies[pipeline.slug]
        for hidden in company.contact_hidden.values():
            hidden.pop("memberNumberString", None)

    data = cli.json("backfill", pipeline.tenant_id, "--entities", "customers", "--dry-run")

    [record] = [r for r in data["records"] if r["moment_id"] == customer.id]
    assert record["action"] == "adopt"


def test_backfill_without_permission_to_read_the_processors_configuration_says_which_permission(
    pipeline, cli, monkeypatch
):
    """On a deployed stack backfill reads the processor function's environment: an operator role
    without lambda:GetFunctionConfiguration got a botocore traceback instead of a line with the remedy."""
    from botocore.exceptions import ClientError

    from momentsync.cli.target import StackTarget

    def denied(self):
        raise ClientError(
            {
                "Error": {
                    "Code": "AccessDeniedException",
                    "Message": "not authorized to perform: lambda:GetFunctionConfiguration",
                }
            },
            "GetFunctionConfiguration",
        )

    monkeypatch.setattr(StackTarget, "processor_environment", denied)
    result = cli("backfill", pipeline.tenant_id, "--dry-run", code=1)

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "lambda:GetFunctionConfiguration" in " ".join(result.output.split())


# ---------------------------------------------------------------------- two operators at once
def test_transfer_choices_set_by_two_operators_at_once_keep_both(pipeline):
    """Operator A sets the data types while operator B, between A's read and A's write, sets the
    cutover: both choices must survive (compare-and-set, re-read, re-apply), and both be audited."""
    from momentsync.aws.audit_log import DynamoAuditLog
    from momentsync.aws.tenants import DynamoTenantRepository
    from momentsync.operations.tenant_admin import SettingsChange, TenantAdmin

    aws = pipeline.stack.aws
    repository = DynamoTenantRepository(
        aws.resource("dynamodb").Table(pipeline.stack.environment["TENANTS_TABLE"])
    )
    audit = DynamoAuditLog(aws.resource("dynamodb").Table(pipeline.stack.physical("AuditTable")))
    operator_b = TenantAdmin(tenants=repository, audit=audit, actor="local:b")

    class Interleaved:
        """A's repository: B's change lands between A's read and A's first write."""

        def __init__(self) -> None:
            self.raced = False

        def require(self, tenant_id):
            return repository.require(tenant_id)

        def save(self, tenant):
            if not self.raced:
                self.raced = True
                operator_b.change_settings(tenant.tenant_id, SettingsChange(cutover_date=CUTOVER))
            return repository.save(tenant)

    operator_a = TenantAdmin(tenants=Interleaved(), audit=audit, actor="local:a")  # type: ignore[arg-type]
    operator_a.change_settings(pipeline.tenant_id, SettingsChange(data_types=["customer", "invoice"]))

    transfer = pipeline.tenant().transfer
    assert (transfer.data_types, transfer.cutover_date) == (["customer", "invoice"], CUTOVER)
    actors = sorted(
        r.actor for r in audit.query(tenant_id=pipeline.tenant_id) if r.action == "tenant.settings"
    )
    assert actors == ["local:a", "local:b"]


def test_two_webhooks_for_the_same_new_invoice_after_a_state_wipe_give_one_document_and_one_pdf(pipeline):
    customer = pipeline.driver.create_customer(name="Dobbel AS", customer_number="100995")
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    wipe_sync_state(pipeline)

    pipeline.driver.notify("invoice", invoice.id)
    pipeline.driver.notify("invoice", invoice.id)
    pipeline.settle()

    owner_id = only(pipeline.invoices())["invoiceId"]
    assert len([a for a in pipeline.fiken.attachments(pipeline.slug) if a["ownerId"] == owner_id]) == 1
    assert pipeline.link("invoice", invoice.id).remote_id == str(owner_id)


# ---------------------------------------------------------------------- natural keys: trust but verify
def test_a_search_answer_not_carrying_our_key_is_not_adopted(pipeline, monkeypatch):
    """Fiken's spec only says "filter based on order reference": a server that matches loosely (2 finds
    23) or ignores the filter answers other invoices of the same customer. Adopting the first of them
    made invoice 2 "synced" as invoice 1's document: invoice 2 never reached the books, silently when
    the amounts were equal."""
    from emulators.common.server import Request

    customer = pipeline.driver.create_customer(name="Løst Filter AS", customer_number="100996")
    first = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    plain = Request.query_value

    def ignoring_order_reference(self, name):
        return None if name == "orderReference" else plain(self, name)

    monkeypatch.setattr(Request, "query_value", ignoring_order_reference)
    second = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()

    references = sorted(i["orderReference"] for i in pipeline.invoices())
    assert references == sorted([str(first.invoice_number), str(second.invoice_number)])
    assert pipeline.link("invoice", second.id).remote_id != pipeline.link("invoice", first.id).remote_id


# ---------------------------------------------------------------------- permanent failures vs the sweep
def test_a_record_that_failed_for_good_is_not_dead_lettered_again_by_every_sweep(pipeline):
    """A customer Fiken refuses (400, a permanent failure: dead-lettered, the tenant e-mailed). Until
    Moment changes it, every hourly sweep enqueueing it again would dead-letter and e-mail again."""
    from tests.integration.test_reconcile import sweep

    pipeline.fiken.fault_plan.script(
        "status", status=400, times=50, method="POST", path=rf"/companies/{pipeline.slug}/contacts$"
    )
    customer = pipeline.driver.create_customer(name="Avvist AS", customer_number="100997")
    pipeline.settle()
    assert pipeline.last("customer", customer.id).outcome is Outcome.FAILED
    letters = len(pipeline.dead_letters())

    rounds = []
    for _ in range(2):
        rounds.append(sweep(pipeline).enqueued)
        pipeline.settle()

    assert rounds == [0, 0], rounds
    assert len(pipeline.dead_letters()) == letters


def test_state_wiped_between_the_create_and_its_pdf_gives_the_adopted_invoice_exactly_one_pdf(pipeline):
    pipeline.fiken.fault_plan.script(
        "status",
        status=400,
        times=1,
        method="POST",
        path=rf"/companies/{pipeline.slug}/invoices/\d+/attachments$",
    )
    customer = pipeline.driver.create_customer(name="Mellom AS", customer_number="100998")
    invoice = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=CUTOVER)
    pipeline.settle()
    owner_id = only(pipeline.invoices())["invoiceId"]
    assert [a for a in pipeline.fiken.attachments(pipeline.slug) if a["ownerId"] == owner_id] == []
    wipe_sync_state(pipeline)  # the pending PDF went with it

    pipeline.driver.notify("invoice", invoice.id)
    pipeline.driver.notify("invoice", invoice.id)
    pipeline.settle()

    only(pipeline.invoices())
    pdfs = [a["filename"] for a in pipeline.fiken.attachments(pipeline.slug) if a["ownerId"] == owner_id]
    assert pdfs == [f"faktura-{invoice.invoice_number}.pdf"]


@pytest.mark.xfail(
    strict=True,
    reason="not fixed: the organisation-number fallback adopts a contact already linked to another Moment "
    "customer (memberNumberString is write-only in Fiken, so the contact's owner cannot be read back); "
    "needs a sync-state check that the contact is not linked to another customer before adopting",
)
def test_two_moment_customers_sharing_an_organisation_number_stay_two_contacts(pipeline):
    """Two departments of one company: same organisation number, different customer numbers and names.
    The second customer, not found by its memberNumberString, was found by the organisation number and
    adopted the first one's contact, renaming it: both customers' invoices go to one contact."""
    first = pipeline.driver.create_customer(
        name="Konsern AS Avd. Oslo", customer_number="101001", organization_number="912345670"
    )
    pipeline.settle()
    second = pipeline.driver.create_customer(
        name="Konsern AS Avd. Bergen", customer_number="101002", organization_number="912345670"
    )
    pipeline.settle()

    assert pipeline.link("customer", first.id).remote_id != pipeline.link("customer", second.id).remote_id
    assert sorted(c["name"] for c in pipeline.contacts()) == [
        "Konsern AS Avd. Bergen",
        "Konsern AS Avd. Oslo",
    ]
