# ruff: noqa: F811 - the fixtures are imported by name
"""The scheduled sweep (issue 15): records whose webhook never reached us, or whose sync state was lost,
reach the books through the tenant's FIFO group with origin ``reconcile``; the watermark advances only
after the enqueue succeeded; paused tenants are skipped; Moment is paced.

Moment emulator -> sweep -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from emulators.moment.fixtures import make_line
from momentsync.aws.credentials import SecretsManagerCredentialsStore
from momentsync.aws.queue import SqsEventQueue
from momentsync.aws.sweep_store import SweepStore
from momentsync.aws.sync_state import DynamoSyncState
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.clock import utcnow
from momentsync.reconcile.run import ReconcileRun
from momentsync.reconcile.sweep import PacedTransport, TenantSweep, needs_sync
from momentsync.sync.sync_state import SyncLink
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus
from tests.integration.test_operations_cli import cli  # noqa: F401 - fixture

ISSUED = date(2025, 3, 3)


def reconciler(pipeline, *, queue: Any = None, max_enqueued: int = 200) -> ReconcileRun:
    env = pipeline.stack.environment
    aws = pipeline.stack.aws
    table = aws.resource("dynamodb").Table(env["SYNC_STATE_TABLE"])
    sweep = TenantSweep(
        sync_state=DynamoSyncState(table),
        sweeps=SweepStore(table),
        queue=queue or SqsEventQueue(aws.client("sqs"), env["EVENT_QUEUE_URL"]),
        max_enqueued=max_enqueued,
    )
    return ReconcileRun(
        tenants=DynamoTenantRepository(aws.resource("dynamodb").Table(env["TENANTS_TABLE"])),
        sweep=sweep,
        credentials=SecretsManagerCredentialsStore(
            aws.client("secretsmanager"), env["CREDENTIALS_SECRET_PREFIX"]
        ),
        moment_base_url=env["MOMENT_API_BASE_URL"],
    )


def sweep(pipeline, **kwargs: Any):
    return reconciler(pipeline, **kwargs).sweep_tenant(pipeline.tenant())


def lost_records(pipeline):
    """A customer and an invoice made in Moment whose webhooks never reached us."""
    customer = pipeline.moment.create_customer(
        pipeline.company, name="Tapt Webhook AS", customer_number="100777"
    )
    invoice = pipeline.moment.create_invoice(
        pipeline.company,
        customer=customer.id,
        lines=[make_line("3000", 2, Decimal("1000"), description="Rådgivning")],
        invoice_date=ISSUED,
    )
    return customer, invoice


def test_records_whose_webhooks_were_lost_reach_the_books_through_the_sweep(pipeline):
    customer, invoice = lost_records(pipeline)

    record = sweep(pipeline)
    pipeline.settle()

    assert (record.outcome, record.missing, record.enqueued) == ("complete", 2, 2)
    assert record.watermark == record.started_at
    assert 3 <= record.moment_requests <= 4  # one list page per data type (+ a retry at most)
    contact = [c for c in pipeline.contacts() if c["memberNumberString"] == customer.customer_number]
    assert len(contact) == 1
    [fiken_invoice] = pipeline.invoices()
    assert fiken_invoice["gross"] == invoice.total_incl_vat_ore
    entries = [e for e in pipeline.log() if (e.entity_type, e.entity_id) == ("invoice", invoice.id)]
    assert [(e.outcome, e.origin) for e in entries] == [(Outcome.SYNCED, "reconcile")]


def test_a_second_sweep_with_nothing_lost_enqueues_nothing(pipeline):
    lost_records(pipeline)
    sweep(pipeline)
    pipeline.settle()

    again = sweep(pipeline)

    assert again.outcome == "complete"
    assert again.listed >= 2  # inside the overlap window: listed again, found synced
    assert again.enqueued == 0


def test_state_wiped_the_sweep_lists_everything_and_adopts_without_a_second_document(pipeline):
    from tests.integration.test_exactly_once_without_state import wipe_sync_state

    customer = pipeline.driver.create_customer(name="Før Tap AS", customer_number="100778")
    pipeline.driver.finalize_invoice(
        customer=customer.id,
        lines=[make_line("3000", 1, Decimal("500"), description="Timer")],
        invoice_date=ISSUED,
    )
    pipeline.settle()
    sweep(pipeline)
    wipe_sync_state(pipeline)  # the sweep's watermark goes with it

    record = sweep(pipeline)
    pipeline.settle()

    assert record.missing == 2 and record.enqueued == 2
    assert len(pipeline.contacts()) == 1 and len(pipeline.invoices()) == 1


class FailingQueue:
    def send(self, envelope, *, deduplication_id=None):
        raise RuntimeError("SQS unavailable")


def test_the_watermark_stays_when_the_enqueue_fails(pipeline):
    lost_records(pipeline)
    first = sweep(pipeline, queue=FailingQueue())

    assert first.outcome == "failed" and "SQS unavailable" in (first.reason or "")
    assert first.watermark is None
    # The next sweep starts from the same place and repairs what the failed one could not.
    second = sweep(pipeline)
    pipeline.settle()
    assert (second.outcome, second.enqueued) == ("complete", 2)
    assert len(pipeline.invoices()) == 1


def test_a_sweep_enqueues_at_most_its_cap_and_keeps_the_watermark_for_the_rest(pipeline):
    lost_records(pipeline)
    first = sweep(pipeline, max_enqueued=1)
    assert (first.outcome, first.enqueued, first.watermark) == ("truncated", 1, None)
    pipeline.settle()
    second = sweep(pipeline)
    pipeline.settle()
    assert second.outcome == "complete"
    assert len(pipeline.invoices()) == 1


@pytest.mark.parametrize("status", [TenantStatus.PAUSED, TenantStatus.NEEDS_REAUTH])
def test_paused_and_needs_reauth_tenants_are_skipped_without_a_moment_call(pipeline, status):
    lost_records(pipeline)
    pipeline.update_tenant(status=status)

    record = sweep(pipeline)

    assert (record.outcome, record.enqueued, record.moment_requests) == ("skipped", 0, 0)
    assert status.value in (record.reason or "")


# ---------------------------------------------------------------------- rules without the stack
def test_needs_sync_compares_moments_version_with_the_applied_one():
    now = utcnow()
    link = SyncLink(tenant_id="t", entity_type="customer", moment_id=1, remote_id="9", source_modified_at=now)
    assert needs_sync(None, now) == "missing"
    assert needs_sync(link, now) is None
    assert needs_sync(link, now - timedelta(seconds=1)) is None
    assert needs_sync(link, now + timedelta(seconds=1)) == "stale"
    invoice = SyncLink(tenant_id="t", entity_type="invoice", moment_id=2, remote_id="9", updated_at=now)
    assert needs_sync(invoice, now + timedelta(minutes=1)) == "stale"
    assert needs_sync(invoice, None) == "stale"


def test_paced_transport_keeps_the_interval_between_request_starts():
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock[0] += seconds

    transport = PacedTransport(
        httpx.MockTransport(lambda request: httpx.Response(200)), 0.2, clock=lambda: clock[0], sleep=sleep
    )
    with httpx.Client(transport=transport) as client:
        for _ in range(3):
            client.get("https://moment.example/x")
            clock[0] += 0.05
    assert slept == [0.15, 0.15]
    assert transport.requests == 3  # 5 per second at most: a sixth of Moment's 30 per key


def test_the_template_schedules_the_sweep_with_a_parameter_defaulting_to_an_hour():
    from local.template import load_template

    template = load_template()
    assert template["Parameters"]["ReconcileIntervalMinutes"]["Default"] == 60
    function = template["Resources"]["ReconcileFunction"]["Properties"]
    assert function["Events"]["Sweep"]["Type"] == "Schedule"
    actions = {statement["Sid"]: statement["Action"] for statement in function["Policies"][0]["Statement"]}
    # Least privilege: read tenants, compare state and keep the watermark, enqueue, read Moment keys.
    assert actions == {
        "ListTenants": "dynamodb:Scan",
        "CompareSyncStateAndKeepWatermark": ["dynamodb:GetItem", "dynamodb:PutItem"],
        "EnqueueRepairs": "sqs:SendMessage",
        "ReadMomentApiKeys": "secretsmanager:GetSecretValue",
    }


# ---------------------------------------------------------------------- momentsync status
def test_status_shows_the_last_sweep_what_it_found_and_what_it_enqueued(make_pipeline, cli):
    pipeline = make_pipeline()
    lost_records(pipeline)
    sweep(pipeline)

    data = cli.json("status", pipeline.tenant_id)["tenant"]["last_sweep"]
    assert (data["outcome"], data["missing"], data["stale"], data["enqueued"]) == ("complete", 2, 0, 2)
    text = cli("status", pipeline.tenant_id).stdout
    assert "last sweep:" in text and "complete: missing 2, older 0, enqueued 2" in text
    overview = {t["tenant_id"]: t for t in cli.json("status")["tenants"]}
    assert overview[pipeline.tenant_id]["last_sweep"]["enqueued"] == 2


def test_drafts_waiting_projects_and_types_not_transferred_are_not_enqueued_every_sweep(pipeline):
    from momentsync.tenants import TransferSettings

    customer = pipeline.moment.create_customer(pipeline.company, name="Utkast AS", customer_number="100779")
    pipeline.moment.create_project(
        pipeline.company, name="Uten start", project_number="55", customer=customer.id
    )
    pipeline.moment.create_invoice(
        pipeline.company,
        customer=customer.id,
        lines=[make_line("3000", 1, Decimal("100"), description="Utkast")],
        invoice_state="draft",
    )
    pipeline.update_tenant(transfer=TransferSettings(data_types=["project", "invoice"]))

    record = sweep(pipeline)

    assert (record.listed, record.ignored, record.enqueued) == (2, 2, 0)
    assert record.moment_requests == 2  # customers are not transferred: not even listed


def test_a_change_the_books_do_not_carry_is_not_enqueued_again_by_every_sweep(pipeline):
    """Found by the chaos run: an "unchanged" answer kept the older Moment version in sync state, so the
    sweep saw the record as older every time and never converged."""
    customer = pipeline.driver.create_customer(name="Uendret AS", customer_number="100780")
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines_of_one(), invoice_date=ISSUED
    )
    pipeline.settle()
    # Touched in Moment without a change we map (same values): a newer lastModifiedDate only.
    pipeline.driver.update_customer(customer.id, name=customer.name)
    pipeline.driver.update_invoice(invoice.id, due_date=invoice.due_date)
    pipeline.settle()
    assert pipeline.last("customer", customer.id).outcome is Outcome.UNCHANGED

    record = sweep(pipeline)

    assert (record.listed, record.stale, record.enqueued) == (2, 0, 0)


def lines_of_one() -> list:
    return [make_line("3000", 1, Decimal("250"), description="Time")]
