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
from tests.integration.test_backfill import cli as cli  # noqa: F401 - the CLI fixture
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


def test_a_deep_check_that_runs_out_of_time_reaches_the_tenants_it_left_out_next_run(pipeline):
    """The daily deep check stops when its Lambda's time runs low; the tenants it did not reach must go
    first the next day, or with more tenants than one run can check the same ones are never checked."""
    from momentsync.aws.sweep_store import SweepStore
    from momentsync.aws.sync_state import DynamoSyncState
    from momentsync.reconcile.deep_check import DeepCheck, DeepCheckRun

    table = pipeline.stack.aws.resource("dynamodb").Table(pipeline.stack.environment["SYNC_STATE_TABLE"])
    base = pipeline.tenant()
    tenants = [base.model_copy(update={"tenant_id": f"{base.tenant_id}-{n}"}) for n in range(3)]

    class NoBooks:  # nothing is linked for these tenants: the books are never read
        remote_calls = 0

    run = DeepCheckRun(
        check=DeepCheck(sync_state=DynamoSyncState(table), sweeps=SweepStore(table)),
        open_target=lambda tenant: NoBooks(),
    )
    checked: list[list[str]] = []
    for _day in range(3):
        left = iter([300.0])  # time for one tenant per run, then the Lambda is about to time out
        run.run(tenants, lambda left=left: next(left, 0.0))
        checked.append([r.tenant_id for r in run.results])

    assert sorted(sum(checked, [])) == sorted(t.tenant_id for t in tenants), checked


def test_a_state_incomplete_given_while_a_backfill_runs_is_not_undone_by_that_backfill(
    pipeline, cli, monkeypatch
):
    """Two operators: one runs a backfill (minutes on a big tenant); meanwhile the other learns Moment's
    own Fiken integration was switched on again and says `--state-incomplete`. The backfill read the
    books before that; the epoch it sets at its end must not bring back the proof the reset took."""
    from momentsync.operations import backfill as operations
    from tests.integration.test_state_epoch import epochs

    customer = pipeline.driver.create_customer(name="To Operatører AS", customer_number="101502")
    pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 3))
    pipeline.settle()
    cli.json("backfill", pipeline.tenant_id)  # an epoch from an earlier backfill
    assert epochs(pipeline).get(pipeline.tenant_id) is not None
    planned = operations.plan_backfill

    def plan_then_the_other_operator_resets(*args, **kwargs):
        plan = planned(*args, **kwargs)
        assert epochs(pipeline).forget(pipeline.tenant_id)  # `tenants settings --state-incomplete`
        return plan

    monkeypatch.setattr(operations, "plan_backfill", plan_then_the_other_operator_resets)
    data = cli.json("backfill", pipeline.tenant_id)

    assert data["state_epoch"] is None
    assert epochs(pipeline).get(pipeline.tenant_id) is None
    assert not epochs(pipeline).proves_never_sent(pipeline.tenant(), 10**12)


def test_a_table_restored_while_a_backfill_runs_gets_no_epoch_from_that_backfill(pipeline, cli, monkeypatch):
    """The backfill lists Moment (its floor) and the links of the table as it was; the table is restored
    in place before the backfill ends (links written since the backup are gone, e.g. an invoice made after
    the listing, above the floor). An epoch set on the restored table would let that invoice be created
    again without a lookup: the backfill must not set it on a table other than the one it read."""
    from momentsync.operations import backfill as operations
    from tests.integration.test_state_epoch import epochs

    client = pipeline.stack.aws.client("dynamodb")  # type: ignore[union-attr]
    name = pipeline._table("SYNC_STATE_TABLE").name
    backup = client.create_backup(TableName=name, BackupName="nightly")["BackupDetails"]["BackupArn"]
    planned = operations.plan_backfill

    def plan_then_the_table_is_restored(*args, **kwargs):
        plan = planned(*args, **kwargs)
        client.delete_table(TableName=name)
        client.restore_table_from_backup(TargetTableName=name, BackupArn=backup)
        return plan

    monkeypatch.setattr(operations, "plan_backfill", plan_then_the_table_is_restored)
    data = cli.json("backfill", pipeline.tenant_id, "--entities", "invoice")

    assert data["state_epoch"] is None
    assert not epochs(pipeline).proves_never_sent(pipeline.tenant(), 10**12)


def test_a_backfill_run_again_gets_past_customers_the_tenant_does_not_transfer(pipeline, cli):
    """The tenant transfers only active customers. Potential ones are skipped by the processor without a
    link, so a backfill that plans them as "create" queues them again on every run, first, and with as
    many of them as --max it never queues anything else."""
    pipeline.update_tenant(transfer=TransferSettings(customer_states=["active"]))
    for n in range(2):
        pipeline.moment.create_customer(
            pipeline.company, name=f"Mulig {n} AS", customer_number=f"10151{n}", customer_state="potential"
        )
    wanted = pipeline.moment.create_customer(pipeline.company, name="Aktiv AS", customer_number="101520")

    for _run in range(3):
        data = cli.json("backfill", pipeline.tenant_id, "--entities", "customer", "--max", "2")
        pipeline.settle()

    assert data["counts"]["customer"].get("create", 0) == 0, data["counts"]
    assert [c["memberNumberString"] for c in pipeline.contacts()] == [wanted.customer_number]


def test_a_backfill_run_again_gets_past_credit_notes_of_invoices_before_the_cutover(pipeline, cli):
    """Like the sweep: a credit note of an invoice before the cutover that the books do not hold is never
    transferred; planned as "create" it is queued again first on every run."""
    pipeline.update_tenant(transfer=TransferSettings(cutover_date=CUTOVER))
    customer = pipeline.driver.create_customer(name="Kreditt Backfill AS", customer_number="101530")
    pipeline.settle()
    old = pipeline.moment.create_invoice(
        pipeline.company, customer=customer.id, lines=lines(), invoice_date=date(2025, 2, 3)
    )
    pipeline.moment.state.credit_invoice(pipeline.company, old.id, credit_date=date(2025, 3, 10))
    lost = pipeline.moment.create_invoice(
        pipeline.company, customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 11)
    )

    for _run in range(2):
        data = cli.json("backfill", pipeline.tenant_id, "--entities", "invoice", "--max", "1")
        pipeline.settle()

    assert data["counts"]["invoice"] == {"before cutover": 2, "linked": 1}, data["counts"]
    assert [i["orderReference"] for i in pipeline.invoices()] == [str(lost.invoice_number)]


def test_a_tenant_that_moved_to_sale_mode_has_no_drift_for_its_invoices_of_before(pipeline):
    """`tenants settings --invoice-mode sale`: the invoices booked before stay Fiken invoices, linked as
    such. The deep check reads only the sales then, and reported every one of them missing each day."""
    from momentsync.tenants import InvoiceMode, MappingSettings
    from tests.integration.test_deep_check import deep_check

    customer = pipeline.driver.create_customer(name="Modusbytte AS", customer_number="101540")
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 3)
    )
    pipeline.settle()
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    pipeline.update_tenant(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))

    record = deep_check(pipeline).check_tenant(pipeline.tenant())
    assert record.deep_checked == 2  # the contact and the invoice
    assert record.drift_count == 0, record.drift


def test_sync_state_lost_after_a_move_to_sale_mode_books_no_sale_for_an_invoice_already_booked(pipeline):
    """Booked as a Fiken invoice, then the tenant moved to `--invoice-mode sale`, then the sync state is
    lost (a restore, a re-add) and the webhooks come again: the lookup must find the invoice of before,
    not only sales, or the one Moment invoice becomes a Fiken invoice and a sale."""
    from momentsync.tenants import InvoiceMode, MappingSettings
    from tests.integration.test_exactly_once_without_state import (
        send_the_same_three_again,
        three_records,
        wipe_sync_state,
    )

    customer, project, invoice = three_records(pipeline, customer_number="101550")
    pipeline.settle()
    assert len(pipeline.invoices()) == 1
    pipeline.update_tenant(mapping=MappingSettings(invoice_mode=InvoiceMode.SALE))
    wipe_sync_state(pipeline)

    send_the_same_three_again(pipeline, customer, project, invoice)

    assert len(pipeline.invoices()) == 1
    assert pipeline.fiken.sales(pipeline.slug) == []
    assert pipeline.last("invoice", invoice.id).details.get("adopted") is True


def test_a_backfill_does_not_queue_a_data_type_the_tenant_does_not_transfer(pipeline, cli):
    """`--data-types invoice`: every customer event is skipped without a link, so a backfill that queued
    the customers would queue them again first on every run and never reach the invoices."""
    pipeline.update_tenant(transfer=TransferSettings(data_types=["invoice"]))
    customers = [
        pipeline.moment.create_customer(
            pipeline.company, name=f"Bare Faktura {n} AS", customer_number=f"10156{n}"
        )
        for n in range(2)
    ]
    invoice = pipeline.moment.create_invoice(
        pipeline.company, customer=customers[0].id, lines=lines(), invoice_date=date(2025, 3, 3)
    )

    for _run in range(2):
        data = cli.json("backfill", pipeline.tenant_id, "--max", "2")
        pipeline.settle()

    assert "create" not in data["counts"]["customer"], data["counts"]
    assert [i["orderReference"] for i in pipeline.invoices()] == [str(invoice.invoice_number)]


def test_a_backfill_run_again_gets_past_invoices_with_only_zero_lines(pipeline, cli):
    """The processor skips an invoice with only zero lines ("nothing to book"): the backfill must not
    plan it as "create", or it is queued again first on every run."""
    customer = pipeline.driver.create_customer(name="Null Linjer AS", customer_number="101570")
    pipeline.settle()
    for _n in range(2):
        pipeline.moment.create_invoice(
            pipeline.company,
            customer=customer.id,
            lines=[make_line("3000", 1, Decimal("0"), description="Gratis")],
            invoice_date=date(2025, 3, 3),
        )
    wanted = pipeline.moment.create_invoice(
        pipeline.company, customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 4)
    )

    for _run in range(2):
        data = cli.json("backfill", pipeline.tenant_id, "--entities", "invoice", "--max", "2")
        pipeline.settle()

    assert "create" not in data["counts"]["invoice"], data["counts"]
    assert [i["orderReference"] for i in pipeline.invoices()] == [str(wanted.invoice_number)]
