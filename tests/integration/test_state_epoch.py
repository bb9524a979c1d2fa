"""The "state complete since" epoch (issue 15, item 3): a new invoice skips the natural-key lookup only
when the epoch proves our state complete for it; anything that can lose state or bring in foreign
records voids the proof, and then the lookup runs again.

CLI (backfill, tenants settings) -> sync-state table (moto) ; Moment emulator -> webhook -> SQS FIFO
(moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

from momentsync.aws.state_epochs import DynamoStateEpochs
from momentsync.connectors.fiken.pacing import DEFAULT_WINDOW_SECONDS
from momentsync.sync.transfer_log import Outcome
from tests.integration.test_backfill import books_with_records_made_elsewhere
from tests.integration.test_backfill import cli as cli  # noqa: F401 - the CLI fixture
from tests.integration.test_exactly_once_without_state import (
    ISSUED,
    lines,
    only,
    pdfs_of,
    send_the_same_three_again,
    three_records,
    wipe_sync_state,
)


def calls_of(pipeline) -> list[str]:
    return [
        f"{e.method} {re.sub(r'/[0-9]+', '/{id}', e.path.split(pipeline.slug, 1)[1])}"
        for e in pipeline.fiken_requests()
    ]


def epochs(pipeline) -> DynamoStateEpochs:
    return DynamoStateEpochs(pipeline._table("SYNC_STATE_TABLE"))


def new_invoice(pipeline, customer_id: int):
    pipeline.mark()
    invoice = pipeline.driver.finalize_invoice(customer=customer_id, lines=lines(), invoice_date=ISSUED)
    pipeline.settle()
    return invoice


def test_after_a_backfill_a_new_invoice_costs_no_lookup_and_is_still_one_document_with_one_pdf(pipeline, cli):
    customer = pipeline.driver.create_customer(name="Ny Start AS", customer_number="100700")
    pipeline.settle()
    before = new_invoice(pipeline, customer.id)
    assert calls_of(pipeline).count("GET /invoices") == 1  # no epoch yet: looked up first

    data = cli.json("backfill", pipeline.tenant_id)
    assert data["state_epoch"]["invoice_id_floor"] == before.id
    pipeline.settle()
    invoice = new_invoice(pipeline, customer.id)

    calls = calls_of(pipeline)
    assert "GET /invoices" not in calls and calls.count("POST /invoices") == 1, calls
    assert calls == ["POST /invoices", "GET /invoices/{id}", "POST /invoices/{id}/attachments"]
    entry = pipeline.last("invoice", invoice.id)
    assert (entry.outcome, entry.details.get("lookup_skipped")) == (Outcome.SYNCED, "state epoch")
    [document] = [i for i in pipeline.invoices() if i["orderReference"] == str(invoice.invoice_number)]
    assert len(pdfs_of(pipeline, "invoice", document["invoiceId"])) == 1
    assert len(pipeline.invoices()) == 2


def test_an_invoice_the_books_held_before_the_epoch_is_looked_up_and_adopted(pipeline, cli):
    """A migration: the books hold the invoice (Moment's own integration made it), the backfill set an
    epoch but did not queue the invoice (--max); its webhook arrives later: older than the floor."""
    customer, project, invoice = books_with_records_made_elsewhere(pipeline)
    data = cli.json("backfill", pipeline.tenant_id, "--max", "1")
    assert data["not_queued"] >= 1 and data["state_epoch"]["invoice_id_floor"] >= invoice.id
    pipeline.settle()
    pipeline.mark()

    send_the_same_three_again(pipeline, customer, project, invoice)

    assert "GET /invoices" in calls_of(pipeline)
    only(pipeline.invoices())
    entry = pipeline.last("invoice", invoice.id)
    assert (entry.details.get("adopted"), entry.details.get("lookup_skipped")) == (True, None)


def test_state_wiped_with_an_epoch_set_still_gives_one_of_each(pipeline, cli):
    cli.json("backfill", pipeline.tenant_id)
    customer, project, invoice = three_records(pipeline)
    pipeline.settle()
    assert pipeline.last("invoice", invoice.id).details.get("lookup_skipped") == "state epoch"

    assert wipe_sync_state(pipeline) >= 4  # the links and the epoch: all of the tenant's partition
    assert epochs(pipeline).get(pipeline.tenant_id) is None
    pipeline.mark()
    send_the_same_three_again(pipeline, customer, project, invoice)

    only(pipeline.contacts())
    only(pipeline.projects())
    document = only(pipeline.invoices())
    assert len(pdfs_of(pipeline, "invoice", document["invoiceId"])) == 1
    assert pipeline.last("invoice", invoice.id).details.get("adopted") is True


def test_a_restored_table_does_not_keep_an_epoch_that_claims_completeness(pipeline, cli):
    """A restore (from a backup or to a point in time) makes a new table: the epoch item comes back
    with it, but bound to the old table's id it proves nothing."""
    cli.json("backfill", pipeline.tenant_id)
    client = pipeline.stack.aws.client("dynamodb")  # type: ignore[union-attr]
    source = pipeline._table("SYNC_STATE_TABLE").name
    backup = client.create_backup(TableName=source, BackupName="before-the-accident")
    restored = f"{source}-restored"
    client.restore_table_from_backup(TargetTableName=restored, BackupArn=backup["BackupDetails"]["BackupArn"])
    try:
        tenant = pipeline.tenant()
        original = epochs(pipeline)
        brought_back = DynamoStateEpochs(pipeline.stack.aws.resource("dynamodb").Table(restored))  # type: ignore[union-attr]
        assert brought_back.get(tenant.tenant_id) == original.get(tenant.tenant_id)  # the same item
        assert brought_back.table_generation() != original.table_generation()
        assert original.proves_never_sent(tenant, 10**12)
        assert not brought_back.proves_never_sent(tenant, 10**12)
    finally:
        client.delete_table(TableName=restored)
        client.delete_backup(BackupArn=backup["BackupDetails"]["BackupArn"])


def test_a_warm_process_reads_the_table_generation_again_after_an_in_place_restore(pipeline):
    """Restored under the same name (the table deleted first, then restored from a backup): a process
    that read the old table's generation reads it again within a minute, and the epoch stops proving."""
    tenant = pipeline.tenant()
    dynamodb = pipeline.stack.aws.resource("dynamodb")  # type: ignore[union-attr]
    client = dynamodb.meta.client
    name = f"epoch-in-place-{pipeline.tenant_id}"
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "record_key", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "record_key", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    now = [0.0]
    warm = DynamoStateEpochs(dynamodb.Table(name), clock=lambda: now[0])
    warm.establish(tenant, invoice_id_floor=0, established_by="test")
    assert warm.proves_never_sent(tenant, 1)
    backup = client.create_backup(TableName=name, BackupName="in-place")["BackupDetails"]["BackupArn"]
    try:
        client.delete_table(TableName=name)
        client.restore_table_from_backup(TargetTableName=name, BackupArn=backup)
        now[0] += 61  # a restore takes minutes; the warm process reads the generation again
        assert warm.get(tenant.tenant_id) is not None  # the restored item is there
        assert not warm.proves_never_sent(tenant, 1)
    finally:
        client.delete_table(TableName=name)
        client.delete_backup(BackupArn=backup)


def test_a_tenant_added_again_or_moved_to_other_books_does_not_inherit_the_epoch(pipeline, cli):
    cli.json("backfill", pipeline.tenant_id)
    store = epochs(pipeline)
    tenant = pipeline.tenant()
    assert store.proves_never_sent(tenant, 10**12)
    assert not store.proves_never_sent(tenant, store.get(tenant.tenant_id).invoice_id_floor)

    readded = tenant.model_copy(update={"created_at": tenant.created_at + timedelta(seconds=1)})
    assert not store.proves_never_sent(readded, 10**12)
    moved = tenant.model_copy(update={"fiken_company_slug": f"{tenant.fiken_company_slug}-other"})
    assert not store.proves_never_sent(moved, 10**12)


def test_state_incomplete_forgets_the_epoch_and_new_invoices_are_looked_up_again(pipeline, cli):
    customer = pipeline.driver.create_customer(name="Dobbel Skriver AS", customer_number="100800")
    pipeline.settle_and_idle_fiken()
    cli.json("backfill", pipeline.tenant_id)
    time.sleep(DEFAULT_WINDOW_SECONDS)  # the backfill's reads out of Fiken's window before the invoice's

    data = cli.json("tenants", "settings", pipeline.tenant_id, "--state-incomplete")
    assert data == {"tenant_id": pipeline.tenant_id, "state_epoch": "forgotten"}
    invoice = new_invoice(pipeline, customer.id)

    assert calls_of(pipeline).count("GET /invoices") == 1
    assert pipeline.last("invoice", invoice.id).details.get("lookup_skipped") is None
    again = cli.json("tenants", "settings", pipeline.tenant_id, "--state-incomplete")
    assert again["state_epoch"] == "none was set"
    mixed = cli(
        "tenants", "settings", pipeline.tenant_id, "--state-incomplete", "--cutover", "2026-01-01", code=2
    )
    assert "on its own" in mixed.output
