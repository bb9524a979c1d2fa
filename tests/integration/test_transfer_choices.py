# ruff: noqa: F811 - the fixtures are imported by name
"""Per-tenant transfer choices (issue 15): which data types, a cutover date, customer and project state
filters; set with `tenants settings` (validated, audited) and applied by the processor: a webhook for
something not transferred ends `skipped` with the reason.

CLI / Moment emulator -> webhook -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.aws.audit_log import DynamoAuditLog
from momentsync.sync.transfer_log import Outcome
from momentsync.tenants import TransferSettings
from tests.integration.test_backfill import cli  # noqa: F401 - fixture


def lines() -> list:
    return [make_line("3000", 1, Decimal("800"), description="Timer")]


def test_settings_are_validated_with_a_reason_and_every_change_is_audited(pipeline, cli):
    bad_type = cli("tenants", "settings", pipeline.tenant_id, "--data-types", "customers,offers", code=2)
    assert "unknown data type" in bad_type.output and "offer" in bad_type.output
    assert (
        "--cutover takes a date"
        in cli("tenants", "settings", pipeline.tenant_id, "--cutover", "1.1.2026", code=2).output
    )
    assert (
        "a state is a word"
        in cli("tenants", "settings", pipeline.tenant_id, "--customer-states", "act ive!", code=2).output
    )

    result = cli.json(
        "tenants", "settings", pipeline.tenant_id,
        "--data-types", "invoices,customers",
        "--cutover", "2025-02-01",
        "--customer-states", "active",
    )  # fmt: skip

    assert result["settings"]["data_types"] == ["customer", "invoice"]  # canonical order
    assert result["changed"]["cutover_date"] == {"from": None, "to": "2025-02-01"}
    assert pipeline.tenant().transfer == TransferSettings(
        data_types=["customer", "invoice"], cutover_date=date(2025, 2, 1), customer_states=["active"]
    )
    audit = DynamoAuditLog(
        pipeline.stack.aws.resource("dynamodb").Table(pipeline.stack.physical("AuditTable"))
    )
    [record] = [r for r in audit.query(tenant_id=pipeline.tenant_id) if r.action == "tenant.settings"]
    assert record.details["changed"]["data_types"]["to"] == ["customer", "invoice"]

    cleared = cli.json(
        "tenants", "settings", pipeline.tenant_id, "--clear-cutover", "--clear-customer-states"
    )
    assert (cleared["settings"]["cutover_date"], cleared["settings"]["customer_states"]) == (None, None)


def test_a_webhook_for_a_type_not_transferred_ends_skipped_with_the_reason(pipeline):
    pipeline.update_tenant(transfer=TransferSettings(data_types=["customer"]))
    customer = pipeline.driver.create_customer(name="Bare Kunde AS", customer_number="100900")
    project = pipeline.driver.create_project(
        name="Ikke overført", project_number="777", customer=customer.id, start_date=date(2025, 1, 2)
    )
    pipeline.settle()

    skipped = pipeline.last("project", project.id)
    assert skipped.outcome is Outcome.SKIPPED
    assert "projects are not transferred for this tenant" in (skipped.reason or "")
    assert pipeline.projects() == []
    assert pipeline.last("customer", customer.id).outcome is Outcome.SYNCED


def test_invoices_before_the_cutover_are_skipped_and_later_ones_transferred(pipeline):
    pipeline.update_tenant(transfer=TransferSettings(cutover_date=date(2025, 3, 1)))
    customer = pipeline.driver.create_customer(name="Kutt AS", customer_number="100901")
    before = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines(), invoice_date=date(2025, 2, 27)
    )
    after = pipeline.driver.finalize_invoice(
        customer=customer.id, lines=lines(), invoice_date=date(2025, 3, 1)
    )
    pipeline.settle()

    entry = pipeline.last("invoice", before.id)
    assert entry.outcome is Outcome.SKIPPED and "before the cutover date 2025-03-01" in (entry.reason or "")
    assert pipeline.last("invoice", after.id).outcome is Outcome.SYNCED
    assert [i["orderReference"] for i in pipeline.invoices()] == [str(after.invoice_number)]


def test_a_filtered_customer_is_skipped_on_its_own_event_but_brought_along_by_its_invoice(pipeline):
    pipeline.update_tenant(transfer=TransferSettings(customer_states=["active"]))
    potential = pipeline.driver.create_customer(
        name="Mulig Kunde AS", customer_number="100902", customer_state="potential"
    )
    pipeline.settle()
    entry = pipeline.last("customer", potential.id)
    assert entry.outcome is Outcome.SKIPPED and "customer state potential" in (entry.reason or "")
    assert pipeline.contacts() == []

    invoice = pipeline.driver.finalize_invoice(
        customer=potential.id, lines=lines(), invoice_date=date(2025, 3, 3)
    )
    pipeline.settle()
    assert pipeline.last("invoice", invoice.id).outcome is Outcome.SYNCED
    assert len(pipeline.contacts()) == 1  # the invoice cannot do without its customer
