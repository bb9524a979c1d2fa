# ruff: noqa: F811 - the cli fixture is imported by name
"""Issue 15 for SpareBank 1 Regnskap tenants: the deep check (records linked in our state but missing or
different in the books are reported with both values, never re-created) and `momentsync backfill`
(the books' lists read once, matched in memory by SpareBank 1's natural keys, adopt vs create).

Moment emulator -> webhooks -> SQS FIFO (moto) -> processor -> SpareBank 1 emulator; then the deep check
through the tenant's own client, or the CLI's backfill -> SQS FIFO -> processor.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from emulators.moment.fixtures import make_line
from momentsync.aws.sweep_store import SweepStore
from momentsync.sync.transfer_log import Outcome
from tests.integration.test_backfill import cli  # noqa: F401 - fixture
from tests.integration.test_deep_check import deep_check
from tests.integration.test_exactly_once_without_state import wipe_sync_state

ISSUED = date(2025, 3, 3)


@pytest.fixture
def pipeline(make_sb1_pipeline):
    return make_sb1_pipeline()


def lines() -> list:
    return [make_line("3000", 2, Decimal("1000"), description="Rådgivning")]


def synced_books(pipeline):
    """A customer, two projects and an invoice, synced the ordinary way (webhooks)."""
    customer = pipeline.driver.create_customer(name="Dyp Sjekk AS", customer_number="100900")
    kept = pipeline.driver.create_project(
        name="Beholdt", project_number="7001", customer=customer.id, start_date=date(2025, 1, 2)
    )
    deleted = pipeline.driver.create_project(
        name="Slettet i regnskapet", project_number="7002", customer=customer.id, start_date=date(2025, 1, 2)
    )
    invoice = pipeline.driver.finalize_invoice(
        customer=customer.id, project=kept.id, lines=lines(), invoice_date=ISSUED
    )
    pipeline.settle()
    return customer, kept, deleted, invoice


def company(pipeline):
    return pipeline.sb1.company(pipeline.company_key)


def record_counts(pipeline) -> dict[str, int]:
    return {route: len(pipeline.records(route)) for route in ("customers", "projects", "journalentries")}


# ---------------------------------------------------------------------- deep check
def test_a_clean_sparebank1_tenant_has_no_drift_and_costs_one_read_per_list(pipeline):
    synced_books(pipeline)
    pipeline.mark()

    summary = deep_check(pipeline).run([pipeline.tenant()])

    record = SweepStore(pipeline._table("SYNC_STATE_TABLE")).get(pipeline.tenant_id)
    assert record.deep_check_reason is None, record.deep_check_reason
    assert (summary["checked"], summary["drift"]) == (4, 0)
    # customers, projects, and the one linked voucher's lines (one request for up to 40 vouchers)
    routes = sorted(e.path.removeprefix("/api/biz/") for e in pipeline.requests())
    assert routes == ["customers", "journalentrylines", "projects"], routes
    assert record.deep_check_reads == 3


def tamper_with_the_books(pipeline, customer, kept, deleted, invoice) -> dict[str, Any]:
    """What people do in SpareBank 1 Regnskap by hand: delete a project, renumber a customer, reverse
    ("kreditere") our voucher; and a voucher whose receivable no longer matches what we checked when we
    booked it (set in the emulator's store: a booked voucher cannot be edited through the API)."""
    books = company(pipeline)
    link = pipeline.link("invoice", invoice.id)
    entry_id = int(link.remote_id)
    with pipeline.sb1.lock:
        books.get("Project", int(pipeline.link("project", deleted.id).remote_id))["Deleted"] = True
        customer_id = int(pipeline.link("customer", customer.id).remote_id)
        books.get("Customer", customer_id)["CustomerNumber"] = 100901
        booked = [line for line in books.rows("JournalEntryLine") if line["JournalEntryID"] == entry_id]
        receivable = next(line for line in booked if line.get("SubAccountID"))
        sales = next(
            line for line in booked if not line.get("SubAccountID") and not line.get("TaxBasisAmount")
        )
        receivable["Amount"] += Decimal("1.00")  # still balanced: the sales leg takes the other side
        sales["Amount"] -= Decimal("1.00")
        pipeline.sb1.domain.credit_journal_entry(books, link.remote_number, None)
    return {"entry_id": entry_id, "gross": link.details["gross"]}


def test_missing_and_different_records_are_reported_with_both_values_and_never_recreated(pipeline):
    customer, kept, deleted, invoice = synced_books(pipeline)
    tampered = tamper_with_the_books(pipeline, customer, kept, deleted, invoice)
    before = record_counts(pipeline)

    summary = deep_check(pipeline).run([pipeline.tenant()])

    drift = {(d["entity_type"], d["field"]): d for d in summary_drift(pipeline)}
    assert summary["drift"] == 4, drift
    assert drift[("project", "record")]["kind"] == "missing"
    assert drift[("project", "record")]["moment_id"] == deleted.id
    assert (drift[("customer", "number")]["ours"], drift[("customer", "number")]["target"]) == (
        "100900",
        "100901",
    )
    assert (drift[("invoice", "gross")]["ours"], drift[("invoice", "gross")]["target"]) == (
        tampered["gross"],
        tampered["gross"] + 100,
    )
    state = drift[("invoice", "state")]
    assert (state["ours"], state["target"]) == ("booked", "reversed")
    # Reported in the transfer log (flagged, origin deep_check), never re-created in the books.
    flagged = [e for e in pipeline.log() if e.origin == "deep_check"]
    assert {e.outcome for e in flagged} == {Outcome.FLAGGED} and len(flagged) == 4
    assert "not re-created" in next(e.reason for e in flagged if e.details["kind"] == "missing")
    pipeline.settle()
    assert record_counts(pipeline) == before


def summary_drift(pipeline) -> list[dict[str, Any]]:
    return SweepStore(pipeline._table("SYNC_STATE_TABLE")).get(pipeline.tenant_id).drift


def test_the_cli_deep_check_covers_a_sparebank1_tenant(pipeline, cli):
    customer, kept, deleted, invoice = synced_books(pipeline)
    tamper_with_the_books(pipeline, customer, kept, deleted, invoice)

    out = " ".join(cli("deep-check", pipeline.tenant_id).stdout.split())

    assert "4 linked record(s) compared" in out and "drift 4" in out, out
    assert "not checked" not in out
    assert "is 'reversed' in the books, 'booked' when we wrote it" in out


def test_vouchers_are_read_in_chunks_not_one_request_each(pipeline, monkeypatch):
    """More linked vouchers than one request asks for: ⌈N / chunk⌉ reads of journal lines."""
    from momentsync.connectors.sparebank1 import connector

    monkeypatch.setattr(connector, "VOUCHERS_PER_READ", 2)
    customer = pipeline.driver.create_customer(name="Mange Bilag AS", customer_number="100910")
    for _ in range(5):
        pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=ISSUED)
    pipeline.settle()
    pipeline.mark()

    summary = deep_check(pipeline).run([pipeline.tenant()])

    assert (summary["checked"], summary["drift"]) == (6, 0)
    reads = [e.path for e in pipeline.requests() if e.path.endswith("/journalentrylines")]
    assert len(reads) == 3  # 5 vouchers in chunks of 2


# ---------------------------------------------------------------------- backfill
def books_with_records_made_elsewhere(pipeline):
    """What a tenant moving from Moment's own SpareBank 1 integration (or added again) brings: records in
    the books, no state. One voucher lost its external key, as one booked before the key existed."""
    customer = pipeline.driver.create_customer(name="Eksisterende AS", customer_number="100500")
    project = pipeline.driver.create_project(
        name="Gammelt prosjekt", project_number="9001", customer=customer.id, start_date=date(2025, 1, 2)
    )
    keyed = pipeline.driver.finalize_invoice(
        customer=customer.id, project=project.id, lines=lines(), invoice_date=ISSUED
    )
    unkeyed = pipeline.driver.finalize_invoice(customer=customer.id, lines=lines(), invoice_date=ISSUED)
    pipeline.settle()
    entry_id = int(pipeline.link("invoice", unkeyed.id).remote_id)
    with pipeline.sb1.lock:
        entry = company(pipeline).get("JournalEntry", entry_id)
        entry["ExternalReference"] = entry["ExternalSource"] = None
    wipe_sync_state(pipeline)
    return customer, project, keyed, unkeyed


def only_in_moment(pipeline):
    """Records whose webhooks never reached us: to be created."""
    moment, code = pipeline.moment, pipeline.company
    customer = moment.create_customer(code, name="Ny Kunde AS", customer_number="100501")
    project = moment.create_project(
        code, name="Nytt prosjekt", project_number="9002", customer=customer.id, start_date=date(2025, 1, 2)
    )
    invoice = moment.create_invoice(
        code, customer=customer.id, project=project.id, lines=lines(), invoice_date=ISSUED
    )
    return customer, project, invoice


def run_backfill(cli, tenant_id: str) -> dict[str, Any]:
    """The backfill's --json answer: the processor (threads of this process) logs JSON to the same
    stdout as soon as the first event is queued, before or after the CLI's document: pick the CLI's."""
    text, decoder, at = cli("--json", "backfill", tenant_id).stdout, json.JSONDecoder(), 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        document, at = decoder.raw_decode(text, at)
        if isinstance(document, dict) and "queued" in document and document.get("tenant_id") == tenant_id:
            return document
    raise AssertionError(f"no backfill answer in the output: {text[:500]}")


def test_sparebank1_dry_run_reads_each_list_once_and_shows_adopt_vs_create(pipeline, cli):
    books_with_records_made_elsewhere(pipeline)
    only_in_moment(pipeline)
    before = record_counts(pipeline)
    pipeline.mark()

    plan = cli.json("backfill", pipeline.tenant_id, "--dry-run")

    assert plan["counts"]["customer"] == {"adopt": 1, "create": 1}
    assert plan["counts"]["project"] == {"adopt": 1, "create": 1}
    assert plan["counts"]["invoice"] == {"adopt": 2, "create": 1}
    # One request per list: customers, projects, our keyed vouchers, journal lines with an invoice number.
    routes = sorted(e.path.removeprefix("/api/biz/") for e in pipeline.requests())
    assert routes == ["customers", "journalentries", "journalentrylines", "projects"], routes
    assert plan["target_reads"] == 4
    assert record_counts(pipeline) == before  # a dry run writes nothing
    table = cli("backfill", pipeline.tenant_id, "--dry-run").stdout
    assert re.search(r"invoice\s*│\s*0\s*│\s*2\s*│\s*1\s*│", table), table


def test_sparebank1_backfill_adopts_what_the_books_hold_and_creates_only_the_rest(pipeline, cli):
    customer, project, keyed, unkeyed = books_with_records_made_elsewhere(pipeline)
    new_customer, new_project, new_invoice = only_in_moment(pipeline)
    vouchers_before = {e["ID"] for e in pipeline.records("journalentries")}
    pipeline.mark()

    result = run_backfill(cli, pipeline.tenant_id)
    pipeline.settle()

    assert result["queued"] == {"adopt": 4, "create": 3}
    assert len(pipeline.records("customers")) == 2 and len(pipeline.records("projects")) == 2
    vouchers = {e["ID"] for e in pipeline.records("journalentries")}
    assert len(vouchers - vouchers_before) == 1  # only the new invoice was booked
    assert pipeline.link("invoice", unkeyed.id).remote_id in {str(i) for i in vouchers_before}
    assert pipeline.link("invoice", keyed.id).remote_id in {str(i) for i in vouchers_before}
    for entity, record in (("customer", new_customer), ("project", new_project), ("invoice", new_invoice)):
        assert pipeline.last(entity, record.id).outcome is Outcome.SYNCED
    # Running it again queues nothing: everything is linked now (a crashed run resumes this way).
    again = cli.json("backfill", pipeline.tenant_id, "--dry-run")
    assert {e: c.get("linked", 0) for e, c in again["counts"].items()} == {
        "customer": 2,
        "project": 2,
        "invoice": 3,
    }
    assert all(set(c) == {"linked"} for c in again["counts"].values()), again["counts"]


def test_sparebank1_calls_per_backfilled_record_are_measured(pipeline, cli, capsys):
    """Calls to SpareBank 1 per record: the plan's list reads, then the processor's own path per record
    (the transfer log's remote_calls). The figures docs/reconciliation.md reports."""
    books_with_records_made_elsewhere(pipeline)
    only_in_moment(pipeline)
    dry = cli.json("backfill", pipeline.tenant_id, "--dry-run")
    planned = {(r["entity_type"], r["moment_id"]): r["action"] for r in dry["records"]}
    pipeline.mark()

    result = run_backfill(cli, pipeline.tenant_id)
    pipeline.settle()

    calls: dict[str, list[int]] = {}
    for entry in pipeline.log():
        if entry.origin == "backfill":
            key = f"{entry.entity_type} {planned[(entry.entity_type, entry.entity_id)]}"
            calls.setdefault(key, []).append(entry.remote_calls)
    with capsys.disabled():
        print(f"\nSpareBank 1 backfill: plan {result['target_reads']} reads; calls per record {calls}")
    assert result["target_reads"] == 4
    # Every SpareBank 1 request of the run is either the plan's or one a record's entry counts.
    assert len(pipeline.requests()) == result["target_reads"] + sum(sum(v) for v in calls.values())
    # Adopted voucher: found by external key, then its lines read back for the totals check; one booked
    # without the key costs one more (key, then journal lines by invoice number, then the totals).
    assert sorted(calls["invoice adopt"]) == [2, 3]
    assert calls["customer adopt"] == [2]  # find by number, PUT (active already: no status action)
    assert calls["project adopt"] == [2]  # find by number, PUT (status already right)


def test_sparebank1_invoices_before_the_cutover_date_are_left_out(pipeline, cli):
    books_with_records_made_elsewhere(pipeline)
    moment, code = pipeline.moment, pipeline.company
    early = moment.create_invoice(
        code,
        customer=moment.create_customer(code, name="Tidlig AS", customer_number="100502").id,
        lines=lines(),
        invoice_date=date(2024, 12, 31),
    )

    plan = cli.json("backfill", pipeline.tenant_id, "--dry-run", "--since", "2025-01-01")

    actions = {r["moment_id"]: r["action"] for r in plan["records"] if r["entity_type"] == "invoice"}
    assert actions[early.id] == "before cutover"


def test_sparebank1_backfill_plan_waits_out_the_platforms_rate_limit(pipeline, cli, monkeypatch):
    """No rate limit is published for the platform (docs/reference/sparebank1.md §3.5); if it answers
    429, the plan's reads go through the tenant's own client, which waits (Retry-After) and repeats the
    read: the plan is the same, only slower; nothing fails and nothing is read twice for good."""
    books_with_records_made_elsewhere(pipeline)
    only_in_moment(pipeline)
    expected = cli.json("backfill", pipeline.tenant_id, "--dry-run")["counts"]
    monkeypatch.setattr(pipeline.sb1, "rate_limit_per_second", 1)
    limited_before = pipeline.sb1.rate_limited

    plan = cli.json("backfill", pipeline.tenant_id, "--dry-run")

    assert plan["counts"] == expected
    assert pipeline.sb1.rate_limited > limited_before  # the limit did bite
    assert plan["target_reads"] == 4 + (pipeline.sb1.rate_limited - limited_before)
