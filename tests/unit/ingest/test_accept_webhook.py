"""``accept_webhook``, the whole decision of the webhook door, against in-memory tenants and queue:
every row of the README's answer table, in the documented order of checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from momentsync.ingest.accept import MAX_ENVELOPE_BYTES, WebhookRequest, accept_webhook
from momentsync.tenants import TenantStatus
from tests.fakes import InMemoryEventQueue, InMemoryTenants
from tests.fakes.records import WEBHOOK_SECRET, tenant

RECEIVED = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)
CUSTOMER = {"event": "UPDATE", "customer": {"id": 62788973, "customerNumber": "10001"}}
MAX_BODY = 256 * 1024


@pytest.fixture
def tenants() -> InMemoryTenants:
    return InMemoryTenants(tenant("acme"))


@pytest.fixture
def queue() -> InMemoryEventQueue:
    return InMemoryEventQueue()


def accept(
    tenants,
    queue,
    body: bytes | dict = CUSTOMER,
    *,
    tenant_id: str = "acme",
    secret: str = WEBHOOK_SECRET,
    content_type: str | None = "application/json",
    request_id: str = "req-1",
):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    request = WebhookRequest(
        tenant_id=tenant_id,
        secret=secret,
        body=raw,
        content_type=content_type,
        request_id=request_id,
        received_at=RECEIVED,
    )
    return accept_webhook(request, tenants=tenants, queue=queue, max_body_bytes=MAX_BODY)


@pytest.mark.parametrize(
    ("body", "kind", "entity_id"),
    [
        (CUSTOMER, "customer", 62788973),
        ({"event": "CREATE_NEW", "project": {"id": 62788980, "projectNumber": "1"}}, "project", 62788980),
        ({"event": "CREATE_NEW", "invoice": {"id": 106939080, "invoiceNumber": 1}}, "invoice", 106939080),
    ],
)
def test_an_entity_webhook_is_queued_in_the_tenants_group_with_the_request_as_event(
    tenants, queue, body, kind, entity_id
):
    outcome = accept(tenants, queue, body)

    assert (outcome.status_code, outcome.body) == (202, {"status": "queued", "eventId": "req-1"})
    [envelope] = queue.group("acme")
    assert (envelope.event_id, envelope.entity_type, envelope.entity_id) == ("req-1", kind, entity_id)
    assert (envelope.moment_event, envelope.received_at, envelope.payload) == (body["event"], RECEIVED, body)


def test_identical_bodies_are_two_events(tenants, queue):
    accept(tenants, queue, request_id="req-1")
    accept(tenants, queue, request_id="req-2")

    assert [e.event_id for e in queue.group("acme")] == ["req-1", "req-2"]


@pytest.mark.parametrize(
    ("tenant_id", "secret"),
    [("acme", "wrong-secret-" + "x" * 30), ("nobody", WEBHOOK_SECRET), ("acme", "")],
)
def test_unknown_tenant_and_wrong_secret_get_the_same_404(tenants, queue, tenant_id, secret):
    outcome = accept(tenants, queue, tenant_id=tenant_id, secret=secret)

    assert (outcome.status_code, outcome.body, outcome.outcome) == (
        404,
        {"error": "not_found", "message": "Unknown webhook URL"},
        "unknown_tenant",
    )
    assert queue.sent == []


def test_a_tenant_id_that_cannot_be_one_is_404_without_a_read(tenants, queue):
    outcome = accept(tenants, queue, tenant_id="../" + "x" * 300)

    assert outcome.status_code == 404 and tenants.reads == []


def test_a_disabled_tenant_is_410_and_a_paused_one_still_queues(tenants, queue):
    tenants.items["acme"] = tenants.items["acme"].model_copy(update={"status": TenantStatus.DISABLED})
    assert accept(tenants, queue).status_code == 410

    tenants.items["acme"] = tenants.items["acme"].model_copy(update={"status": TenantStatus.PAUSED})
    assert accept(tenants, queue).status_code == 202 and len(queue.sent) == 1


def test_the_size_limit_is_checked_before_the_tenant_is_read(tenants, queue):
    outcome = accept(tenants, queue, b"{" + b" " * MAX_BODY + b"}")

    assert (outcome.status_code, outcome.outcome) == (413, "too_large")
    assert tenants.reads == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/json"])
def test_a_non_json_media_type_is_415(tenants, queue, content_type):
    assert accept(tenants, queue, content_type=content_type).status_code == 415


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=utf-8", "application/vnd.moment+json"]
)
def test_json_media_types_and_a_missing_one_are_judged_by_the_body(tenants, queue, content_type):
    assert accept(tenants, queue, content_type=content_type).status_code == 202


def test_a_body_in_the_declared_charset_is_decoded_not_lost(tenants, queue):
    body = '{"event": "UPDATE", "customer": {"id": 5, "name": "Blåbær AS"}}'.encode("iso-8859-1")

    outcome = accept(tenants, queue, body, content_type="application/json; charset=ISO-8859-1")

    assert outcome.status_code == 202
    assert queue.sent[0].payload["customer"]["name"] == "Blåbær AS"


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b'{"event": "UPDATE", "customer": {"id": NaN}}', "malformed_json", None),
        (json.dumps({"event": "UPDATE", "customer": {"id": -3}}).encode(), "invalid_payload", "customer.id"),
        (
            json.dumps({"event": "UPDATE", "customer": {"id": 2**64}}).encode(),
            "invalid_payload",
            "customer.id",
        ),
        (json.dumps({"event": "", "customer": {"id": 3}}).encode(), "invalid_payload", "event"),
        (
            json.dumps({"event": "UPDATE", "customer": {"id": 3, "name": "\uffff"}}).encode(),
            "invalid_payload",
            None,
        ),
        (json.dumps({"event": "UPDATE"}).encode(), "invalid_payload", None),
    ],
)
def test_a_body_that_can_never_be_processed_is_400_and_nothing_is_queued(tenants, queue, body, error, field):
    outcome = accept(tenants, queue, body)

    assert (outcome.status_code, outcome.body["error"]) == (400, error)
    if field is not None:
        assert outcome.body["field"] == field
    assert queue.sent == []


def test_offers_and_claims_are_acknowledged_as_ignored_and_not_queued(tenants, queue):
    outcome = accept(tenants, queue, {"event": "CREATE_NEW", "offer": {"id": 12}})

    assert (outcome.status_code, outcome.body["status"], outcome.entity_type) == (202, "ignored", "offer")
    assert queue.sent == []


def test_a_body_whose_envelope_would_exceed_the_queue_limit_is_413(tenants, queue):
    # 1e15 is 4 bytes in the body and 18 in the envelope: under the body limit, over the envelope's.
    numbers = ",".join(["1e15"] * 20000)
    body = f'{{"event": "UPDATE", "customer": {{"id": 3, "values": [{numbers}]}}}}'.encode()
    assert len(body) < MAX_BODY

    outcome = accept(tenants, queue, body)

    assert outcome.status_code == 413 and str(MAX_ENVELOPE_BYTES) in outcome.body["message"]
    assert queue.sent == []


def test_a_queue_that_refuses_is_503_never_a_2xx(tenants, queue):
    queue.refuse = True

    outcome = accept(tenants, queue)

    assert (outcome.status_code, outcome.body["error"], outcome.event_id) == (503, "enqueue_failed", "req-1")
