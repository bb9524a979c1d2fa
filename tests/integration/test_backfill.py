"""`momentsync backfill` (issue 15): a tenant whose books already hold its records (moving from Moment's
own Fiken integration, or added again) gets them adopted, not created twice; the rest is created.

CLI -> plan (the books' lists read once) -> SQS FIFO (moto) -> processor -> Fiken emulator.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from emulators.moment.fixtures import make_line
from momentsync.cli.main import app
from tests.integration.test_exactly_once_without_state import wipe_sync_state

ISSUED = date(2025, 3, 3)


@pytest.fixture
def cli(stack, tmp_path, monkeypatch):
    """The CLI against the running local stack (the processor stays on)."""
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(stack.describe()))
    monkeypatch.setenv("MOMENTSYNC_LOCAL_STATE", str(state))
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, ["--local", *args])
        assert result.exit_code == code, (result.exit_code, result.output)
        return result

    def as_json(*args: str, code: int = 0):
        # CliRunner swaps sys.stdout for the whole process, and the processor runs in this process: an
        # invocation ending during the command prints its metrics (one EMF line, as Lambda would) there.
        printed = run("--json", *args, code=code).stdout
        ours = [line for line in printed.splitlines(True) if not line.startswith('{"_aws"')]
        return json.loads("".join(ours))

    run.json = as_json  # type: ignore[attr-defined]
    return run


def books_with_records_made_elsewhere(pipeline):
    """What a tenant moving from Moment's own integration brings: records already in Fiken, no state."""
    customer = pipeline.driver.create_customer(name="Eksisterende AS", customer_number="100500")
    project = pipeline.driver.create_project(
        name="Gammelt prosjekt", project_number="9001", customer=customer.id, start_date=date(2025, 1, 2)
    )
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id,
        project=project.id,
        lines=[make_line("3000", 2, Decimal("1000"), description="Rådgivning")],
        invoice_date=ISSUED,
    )
    pipeline.settle_and_idle_fiken()
    wipe_sync_state(pipeline)
    return customer, project, invoice


def test_dry_run_reads_each_list_once_and_shows_adopt_vs_create(pipeline, cli):
    books_with_records_made_elsewhere(pipeline)
    # Records only in Moment (their webhooks never sent): to be created.
    fresh = pipeline.moment.create_customer(pipeline.company, name="Ny Kunde AS", customer_number="100501")
    pipeline.mark()

    data = cli.json("backfill", pipeline.tenant_id, "--dry-run")

    assert data["counts"]["customer"] == {"adopt": 1, "create": 1}
    assert data["counts"]["project"] == {"adopt": 1}
    assert data["counts"]["invoice"] == {"adopt": 1}
    # contacts, projects, invoices, credit notes: one page each, whatever the number of records; plus
    # one search per customer without an organisation number (Fiken never returns memberNumberString).
    assert data["target_reads"] == 4 + 2
    gets = [e.path.rsplit("/", 1)[-1] for e in pipeline.fiken_requests()]
    assert sorted(gets) == ["contacts"] * 3 + ["creditNotes", "invoices", "projects"]
    created = [r for r in data["records"] if r["action"] == "create"]
    assert [(r["entity_type"], r["moment_id"]) for r in created] == [("customer", fresh.id)]
    assert pipeline.log() == [] or all(e.origin != "backfill" for e in pipeline.log())  # nothing queued
    text = cli("backfill", pipeline.tenant_id, "--dry-run").stdout
    assert "dry run" in text and "adopt" in text


def test_backfill_adopts_what_the_books_hold_and_creates_only_the_rest(pipeline, cli):
    customer, project, invoice = books_with_records_made_elsewhere(pipeline)
    fresh = pipeline.moment.create_customer(pipeline.company, name="Ny Kunde AS", customer_number="100502")

    pipeline.mark()
    data = cli.json("backfill", pipeline.tenant_id)
    pipeline.settle()

    assert data["queued"] == {"adopt": 3, "create": 1}
    assert len(pipeline.contacts()) == 2 and len(pipeline.projects()) == 1 and len(pipeline.invoices()) == 1
    assert pipeline.last("invoice", invoice.id).details.get("adopted") is True
    [attachment] = [a for a in pipeline.fiken.attachments(pipeline.slug) if a["owner"] == "invoice"]
    assert attachment["filename"] == f"faktura-{invoice.invoice_number}.pdf"
    assert {e.origin for e in pipeline.log() if e.entity_id in {customer.id, fresh.id}} >= {"backfill"}
    # Calls per backfilled record (the transfer log; the plan's list reads come on top). A 429 from
    # Fiken's rate rule, right after the plan's reads, adds a retry: so the writes are what is asserted.
    calls = {(e.entity_type, e.entity_id): e.remote_calls for e in pipeline.log() if e.origin == "backfill"}
    print(f"Fiken calls per backfilled record: {calls}")
    # Writes Fiken accepted: under load its rate rule can answer a write 429 too (not executed, retried).
    writes = [
        f"{e.method} {e.path.split(pipeline.slug, 1)[1]}"
        for e in pipeline.fiken_requests()
        if e.status is not None and 200 <= e.status < 300
    ]
    writes = [w for w in writes if not w.startswith("GET")]
    assert sorted(re.sub(r"/[0-9]+", "/{id}", w) for w in writes) == [
        "PATCH /projects/{id}",  # the adopted project brought to Moment's values
        "POST /contacts",  # the one customer only in Moment
        "PUT /contacts/{id}",  # the adopted customer likewise
    ]  # the adopted invoice: no POST, and its PDF was found, not sent again
    assert calls[("invoice", invoice.id)] == 2  # search by orderReference, attachment list
    # Run again: everything is linked now, nothing is queued (resumable, idempotent).
    again = cli.json("backfill", pipeline.tenant_id)
    assert again["queued"] == {}
    assert again["counts"]["customer"] == {"linked": 2}


def test_invoices_before_the_cutover_date_are_left_out(pipeline, cli):
    books_with_records_made_elsewhere(pipeline)
    data = cli.json(
        "backfill", pipeline.tenant_id, "--entities", "invoices", "--since", "2025-04-01", "--dry-run"
    )
    assert data["counts"]["invoice"] == {"before cutover": 1}
    assert data["counts"]["customer"] == {}


def test_bad_arguments_get_a_line_with_a_hint(pipeline, cli):
    assert "--entities takes" in cli("backfill", pipeline.tenant_id, "--entities", "offers", code=2).output
    assert (
        "--since takes a date" in cli("backfill", pipeline.tenant_id, "--since", "yesterday", code=2).output
    )
    assert "not found" in cli("backfill", "no-such-tenant", code=3).output


def test_a_queue_failure_midway_ends_with_a_line_saying_to_run_it_again(pipeline, cli, monkeypatch):
    from momentsync.aws.queue import SqsEventQueue

    books_with_records_made_elsewhere(pipeline)

    def unavailable(self, envelope, *, deduplication_id=None):
        raise RuntimeError("SQS unavailable")

    monkeypatch.setattr(SqsEventQueue, "send", unavailable)
    result = cli("backfill", pipeline.tenant_id, code=1)
    assert "run the same command" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_two_customers_sharing_an_organisation_number_never_adopt_one_contact(pipeline, cli):
    """Two departments of one company: one organisation number, two Moment customers. The plan must not
    give the second the first one's contact (linked already), nor, with the state lost, give either the
    other's contact by the shared number: each is searched by its own memberNumberString."""
    first = pipeline.driver.create_customer(
        name="Konsern AS Avd. Oslo", customer_number="101011", organization_number="912345670"
    )
    pipeline.settle()
    second = pipeline.moment.create_customer(
        pipeline.company,
        name="Konsern AS Avd. Bergen",
        customer_number="101012",
        organization_number="912345670",
    )

    actions = {
        r["moment_id"]: r["action"]
        for r in cli.json("backfill", pipeline.tenant_id, "--dry-run", "--entities", "customer")["records"]
    }
    assert actions == {first.id: "linked", second.id: "create"}

    wipe_sync_state(pipeline)
    records = cli.json("backfill", pipeline.tenant_id, "--dry-run", "--entities", "customer")["records"]
    contact_id = str(only_contact_id(pipeline))
    assert {r["moment_id"]: (r["action"], r["remote_id"]) for r in records} == {
        first.id: ("adopt", contact_id),  # found by its own memberNumberString
        second.id: ("create", None),
    }


def only_contact_id(pipeline) -> int:
    [contact] = pipeline.contacts()
    return contact["contactId"]
