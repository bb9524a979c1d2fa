# ruff: noqa: F811 - the fixtures are imported by name
"""The deep check of the target side (issue 15): records linked in sync state that are missing or
different in Fiken are reported with both values (transfer log, `momentsync status`, one operator
alert per run) and never re-created; each Fiken list is read once, not one request per record.

Moment emulator -> webhooks -> SQS FIFO (moto) -> processor -> Fiken emulator; then the deep check
through the tenant's own paced Fiken client.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from emulators.moment.fixtures import make_line
from local.template import load_template
from momentsync.aws.notifications import SnsOperatorAlerts
from momentsync.aws.sweep_store import SweepStore
from momentsync.reconcile.deep_check import DeepCheckRun
from momentsync.reconcile.sweep import SweepRecord
from momentsync.settings import ProcessorSettings
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TenantStatus
from momentsync.wiring.deep_check import build_deep_check_run
from tests.integration.test_backfill import cli  # noqa: F401 - fixture
from tests.integration.test_reconcile import sweep

ISSUED = date(2025, 3, 3)


def synced_books(pipeline):
    customer = pipeline.driver.create_customer(name="Dyp Sjekk AS", customer_number="100900")
    kept = pipeline.driver.create_project(
        name="Beholdt", project_number="7001", customer=customer.id, start_date=date(2025, 1, 2)
    )
    deleted = pipeline.driver.create_project(
        name="Slettet i Fiken", project_number="7002", customer=customer.id, start_date=date(2025, 1, 2)
    )
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        project=kept.id,
        lines=[make_line("3000", 2, Decimal("1000"), description="Rådgivning")],
        invoice_date=ISSUED,
    )
    pipeline.settle()
    return customer, kept, deleted, invoice


def deep_check(pipeline, alerts=None) -> DeepCheckRun:
    """The deep check wired as the scheduled function wires it, from the processor's environment."""
    env = pipeline.stack.environment
    settings = ProcessorSettings(**{key.lower(): value for key, value in env.items()})  # type: ignore[arg-type]
    aws = pipeline.stack.aws
    run = build_deep_check_run(
        settings, dynamodb=aws.resource("dynamodb"), secretsmanager=aws.client("secretsmanager")
    )
    if alerts is not None:
        run.alerts = alerts
    return run


def tamper_with_the_books(pipeline, kept, deleted, invoice):
    """What people do in Fiken by hand: delete a project, renumber one; and a document whose amount
    no longer matches what we checked when we wrote it (set directly in the emulator's store: Fiken's
    API cannot change an issued invoice, which is exactly why a difference must be reported)."""
    company = pipeline.fiken.company(pipeline.slug)
    deleted_id = int(pipeline.link("project", deleted.id).remote_id)
    del company.projects[deleted_id]
    company.projects[int(pipeline.link("project", kept.id).remote_id)]["number"] = "7001-X"
    company.invoices[int(pipeline.link("invoice", invoice.id).remote_id)]["gross"] += 100
    return deleted_id


def test_a_clean_tenant_has_no_drift_and_costs_one_read_per_list(pipeline):
    synced_books(pipeline)
    # The deep check paces with a pacer of its own (its own function, deployed its own environment);
    # the daily check finds the tenant idle.
    pipeline.settle_and_idle_fiken()
    pipeline.mark()

    summary = deep_check(pipeline).run([pipeline.tenant()])

    assert summary["checked"] == 4 and summary["drift"] == 0
    paths = sorted(e.path.rsplit("/", 1)[-1] for e in pipeline.fiken_requests())
    assert paths == ["contacts", "creditNotes", "invoices", "projects"]
    assert summary["target_reads"] == 4


def test_missing_and_different_records_are_reported_with_both_values_and_never_recreated(pipeline):
    customer, kept, deleted, invoice = synced_books(pipeline)
    deleted_id = tamper_with_the_books(pipeline, kept, deleted, invoice)
    posts_before = [e for e in pipeline.fiken.request_log.entries() if e.method == "POST"]
    topic = pipeline.stack.aws.client("sns").create_topic(Name="deep-check-test")["TopicArn"]
    published: list[dict] = []
    sns = pipeline.stack.aws.client("sns")
    original_publish = sns.publish
    sns.publish = lambda **kw: published.append(kw) or original_publish(**kw)  # counts what reaches moto

    run = deep_check(pipeline, alerts=SnsOperatorAlerts(sns, topic))
    summary = run.run([pipeline.tenant()])
    pipeline.settle()

    assert summary["drift"] == 3
    [record] = run.results
    found = {(d["entity_type"], d["kind"], d["field"]): (d["ours"], d["target"]) for d in record.drift}
    assert found == {
        ("project", "missing", "record"): (str(deleted_id), None),
        ("project", "different", "number"): ("7001", "7001-X"),
        ("invoice", "different", "gross"): (250000, 250100),
    }
    # Reported, not repaired: nothing was created and the link still points at the deleted project.
    assert [e for e in pipeline.fiken.request_log.entries() if e.method == "POST"] == posts_before
    assert pipeline.link("project", deleted.id).remote_id == str(deleted_id)
    flagged = [e for e in pipeline.log() if e.origin == "deep_check"]
    assert len(flagged) == 3 and {e.outcome for e in flagged} == {Outcome.FLAGGED}
    assert any("no longer in the books" in (e.reason or "") for e in flagged)
    # One alert for the run, summarising.
    assert len(published) == 1
    assert f"{pipeline.tenant_id}: 3" in published[0]["Message"]

    # The hourly sweep keeps the drift until the next deep check.
    sweep(pipeline)
    assert (
        SweepStore(
            pipeline.stack.aws.resource("dynamodb").Table(pipeline.stack.environment["SYNC_STATE_TABLE"])
        )
        .get(pipeline.tenant_id)
        .drift_count
        == 3
    )


def test_status_and_the_cli_show_the_drift(pipeline, cli):
    customer, kept, deleted, invoice = synced_books(pipeline)
    tamper_with_the_books(pipeline, kept, deleted, invoice)

    data = cli.json("deep-check", pipeline.tenant_id)
    assert data["drift"] == 3 and data["results"][0]["deep_checked"] == 4

    status = cli.json("status", pipeline.tenant_id)
    sweep_json = json.dumps(status)
    assert '"drift_count": 3' in sweep_json
    text = cli("status", pipeline.tenant_id).stdout
    assert "last deep check" in text and "drift 3" in text
    assert "7001-X" in text

    cli("deep-check", "no-such-tenant", code=3)


def test_a_paused_tenant_is_not_checked_and_says_why(pipeline):
    synced_books(pipeline)
    pipeline.update_tenant(status=TenantStatus.PAUSED)
    pipeline.mark()

    run = deep_check(pipeline)
    summary = run.run([pipeline.tenant()])

    assert (summary["checked"], summary["drift"]) == (0, 0)
    [record] = run.results
    assert record.deep_check_reason == "tenant is paused"
    assert pipeline.fiken_requests() == []


@dataclass
class ScheduledInvocation:
    """What Lambda hands the function (the fields Powertools' logger reads, and the time left)."""

    function_name: str = "DeepCheckFunction"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-north-1:123456789012:function:DeepCheckFunction"
    aws_request_id: str = "deep-check-test"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_the_scheduled_function_checks_tenants_and_the_template_runs_it_daily(pipeline, monkeypatch):
    customer, kept, deleted, invoice = synced_books(pipeline)
    tamper_with_the_books(pipeline, kept, deleted, invoice)
    module = pipeline.stack.function_module("DeepCheckFunction")
    # Only this test's tenant: the shared stack holds every other test's tenants too.
    monkeypatch.setattr(module, "tenants", SimpleNamespace(list=lambda: [pipeline.tenant()]))

    result = module.lambda_handler({}, ScheduledInvocation())

    assert (result["tenants"], result["checked"], result["drift"]) == (1, 4, 3)
    template = load_template()
    assert template["Parameters"]["DeepCheckSchedule"]["Default"] == "rate(1 day)"
    function = template["Resources"]["DeepCheckFunction"]["Properties"]
    assert function["Events"]["DeepCheck"]["Properties"]["Schedule"] == {"Ref": "DeepCheckSchedule"}
    actions = {s["Sid"]: s["Action"] for s in function["Policies"][0]["Statement"]}
    # Reads links and the books; writes only its own record, the transfer log and token refreshes.
    assert actions["ReadLinksKeepDrift"] == ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"]
    assert actions["LogDrift"] == "dynamodb:PutItem"
    assert not any("sqs:" in str(a) for a in actions.values())  # never enqueues a re-creation


def test_a_sweep_and_a_deep_check_at_once_never_undo_each_other(stack):
    """Two functions on two schedules write the tenant's records: each writes only its own item."""
    store = SweepStore(stack.aws.resource("dynamodb").Table(stack.environment["SYNC_STATE_TABLE"]))
    tenant_id = f"race-{uuid.uuid4().hex[:8]}"
    started = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    sweep_began = SweepRecord(tenant_id=tenant_id, started_at=started)  # read before the deep check
    missing = {"entity_type": "project", "moment_id": 1, "remote_id": "9", "kind": "missing",
               "field": "record", "ours": "9", "target": None}  # fmt: skip
    deep = SweepRecord(
        tenant_id=tenant_id, started_at=started, outcome="never", deep_checked_at=started,
        deep_checked=7, drift_count=1, drift=[missing],
    )  # fmt: skip
    store.save_deep_check(deep)
    sweep_began.outcome, sweep_began.watermark, sweep_began.enqueued = "complete", started, 2
    store.save(sweep_began)  # the sweep finishes after the deep check: it carries no drift of its own

    record = store.get(tenant_id)
    assert (record.outcome, record.enqueued, record.watermark) == ("complete", 2, started)
    assert (record.deep_checked, record.drift_count, record.drift[0]["kind"]) == (7, 1, "missing")
