"""Attack on issue 14's "a body that cannot succeed gets 400, never a 5xx or a loop": a body within
256 KiB whose queued envelope is far larger. ``1e15`` is 4 bytes in the body and
``1000000000000000.0`` (18) in the envelope, so a 250 KiB body of such numbers becomes a ~950 KB
message; a paused tenant's event is parked in DynamoDB, whose items stop at 400 KB.

Before: 202 queued; every delivery failed to park it (``ValidationException: Item size has exceeded
the maximum allowed size``), it held the tenant's group for all its deliveries (``MaxReceiveCount``
× visibility deployed, ~100 minutes) and was then dead-lettered: an event that could never succeed,
accepted, holding its tenant's later events beyond the documented bound."""

from __future__ import annotations

import json

from momentsync.tenants import TenantStatus
from tests.integration.test_webhook_api import post, queued


def expanding_body(size: int = 250 * 1024) -> bytes:
    head = b'{"event":"UPDATE","customer":{"id":1},"p":['
    count = (size - len(head) - 2) // 5
    return head + b",".join([b"1e15"] * count) + b"]}"


def test_a_body_whose_envelope_outgrows_the_queue_and_the_parked_table_is_refused_at_the_door(
    paused_stack, make_tenant
):
    handle = make_tenant(status=TenantStatus.PAUSED)
    body = expanding_body()
    assert len(body) <= 256 * 1024

    response = post(handle.webhook_url, body)

    assert response.status_code == 413, response.text
    assert "queued" in response.json()["message"]
    assert queued(paused_stack, handle.tenant.tenant_id) == []


def test_every_accepted_body_fits_a_parked_item(paused_stack, make_tenant):
    """The largest body the door takes can be parked (DynamoDB's 400 KB item limit)."""
    handle = make_tenant(status=TenantStatus.PAUSED)
    table = paused_stack.aws.resource("dynamodb").Table(paused_stack.environment["PARKED_EVENTS_TABLE"])
    accepted = 0
    for size in (200 * 1024, 64 * 1024, 16 * 1024):
        response = post(handle.webhook_url, expanding_body(size))
        if response.status_code == 413:
            continue
        assert response.status_code == 202, response.text
        accepted += 1
    assert accepted >= 1
    for message in queued(paused_stack, handle.tenant.tenant_id):
        envelope = json.loads(message["Body"])
        key = {"tenant_id": handle.tenant.tenant_id, "parked_key": envelope["event_id"]}
        table.put_item(Item={**key, "envelope": message["Body"], "reason": "size check"})
        table.delete_item(Key=key)  # the stack is shared: leave no parked copy behind
