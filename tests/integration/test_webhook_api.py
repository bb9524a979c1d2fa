"""The webhook endpoint, through the local HTTP API into moto's SQS FIFO queue."""

from __future__ import annotations

import json

import httpx
import pytest
from botocore.exceptions import ClientError

from momentsync.envelope import QueueEnvelope
from momentsync.tenants import TenantStatus

CUSTOMER = {"event": "UPDATE", "customer": {"id": 62788973, "customerNumber": "10001"}}
PROJECT = {"event": "CREATE_NEW", "project": {"id": 62788980, "projectNumber": "1"}}
INVOICE = {
    "event": "CREATE_NEW",
    "invoice": {
        "id": 106939080,
        "invoiceNumber": 1,
        "customer": {"id": 62788973, "customerNumber": "10001"},
        "project": {"id": 62788980, "projectNumber": "1"},
    },
}


def post(url: str, body: bytes | str | dict, content_type: str | None = "application/json") -> httpx.Response:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"content-type": content_type} if content_type else {}
    return httpx.post(url, content=data, headers=headers, timeout=10)


def queued(stack, tenant_id: str | None = None) -> list[dict]:
    sqs = stack.aws.client("sqs")
    messages: list[dict] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=stack.physical("EventQueue"),
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
    if tenant_id:
        messages = [m for m in messages if m["Attributes"]["MessageGroupId"] == tenant_id]
    return messages


@pytest.mark.parametrize(
    ("payload", "entity_type", "entity_id"),
    [(CUSTOMER, "customer", 62788973), (PROJECT, "project", 62788980), (INVOICE, "invoice", 106939080)],
)
def test_each_entity_webhook_is_queued_in_the_tenants_group(
    paused_stack, make_tenant, payload, entity_type, entity_id
):
    handle = make_tenant()
    response = post(handle.webhook_url, payload)

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    [message] = queued(paused_stack, handle.tenant.tenant_id)
    assert message["Attributes"]["MessageGroupId"] == handle.tenant.tenant_id
    assert message["Attributes"]["MessageDeduplicationId"] == response.json()["eventId"]
    envelope = QueueEnvelope.from_message_body(message["Body"])
    assert (envelope.entity_type, envelope.entity_id) == (entity_type, entity_id)
    assert envelope.tenant_id == handle.tenant.tenant_id
    assert envelope.event_id == response.json()["eventId"]
    assert envelope.payload == payload
    assert envelope.schema_version == 1


def test_identical_bodies_are_two_events(paused_stack, make_tenant):
    handle = make_tenant()
    first = post(handle.webhook_url, CUSTOMER)
    second = post(handle.webhook_url, CUSTOMER)

    assert first.status_code == second.status_code == 202
    assert first.json()["eventId"] != second.json()["eventId"]
    assert len(queued(paused_stack, handle.tenant.tenant_id)) == 2


def test_unknown_event_names_are_accepted_as_hints(paused_stack, make_tenant):
    handle = make_tenant()
    response = post(handle.webhook_url, {"event": "SOMETHING_NEW", "customer": {"id": 5}})
    assert response.status_code == 202
    [message] = queued(paused_stack, handle.tenant.tenant_id)
    assert QueueEnvelope.from_message_body(message["Body"]).moment_event == "SOMETHING_NEW"


@pytest.mark.parametrize("kind", ["offer", "claim"])
def test_offer_and_claim_webhooks_are_ignored_and_not_queued(paused_stack, make_tenant, kind):
    handle = make_tenant()
    response = post(handle.webhook_url, {"event": "CREATE_NEW", kind: {"id": 77}})
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert queued(paused_stack, handle.tenant.tenant_id) == []


def test_unknown_tenant_and_wrong_secret_get_the_same_404(paused_stack, make_tenant):
    handle = make_tenant()
    wrong_secret = post(handle.webhook_url.rsplit("/", 1)[0] + "/not-the-secret", CUSTOMER)
    unknown_tenant = post(
        f"{paused_stack.webhook_base_url}/webhooks/moment/no-such-tenant/{handle.secret}", CUSTOMER
    )

    assert wrong_secret.status_code == unknown_tenant.status_code == 404
    assert wrong_secret.json() == unknown_tenant.json()
    assert queued(paused_stack) == []


def test_other_tenants_secret_does_not_enqueue_for_this_tenant(paused_stack, make_tenant):
    a, b = make_tenant(), make_tenant()
    response = post(
        f"{paused_stack.webhook_base_url}/webhooks/moment/{b.tenant.tenant_id}/{a.secret}", CUSTOMER
    )
    assert response.status_code == 404
    assert queued(paused_stack) == []


def test_malformed_json_is_400_with_reason(paused_stack, make_tenant):
    handle = make_tenant()
    response = post(handle.webhook_url, b'{"event": "CREATE_NEW", "customer": ')
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert "not JSON" in response.json()["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"event": "CREATE_NEW", "customer": {"id": "abc"}}, "customer.id"),
        ({"event": "CREATE_NEW", "customer": {}}, "customer.id"),
        ({"customer": {"id": 1}}, "event"),
        ({"event": "CREATE_NEW"}, None),
    ],
)
def test_schema_errors_are_400_with_the_field_path(paused_stack, make_tenant, payload, field):
    handle = make_tenant()
    response = post(handle.webhook_url, payload)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_payload"
    assert body["message"]
    if field:
        assert body["field"] == field
    assert queued(paused_stack, handle.tenant.tenant_id) == []


def test_body_over_the_size_limit_is_413(paused_stack, make_tenant):
    handle = make_tenant()
    big = {"event": "UPDATE", "customer": {"id": 1, "padding": "x" * (256 * 1024)}}
    response = post(handle.webhook_url, big)
    assert response.status_code == 413


def test_non_json_content_type_is_415(paused_stack, make_tenant):
    handle = make_tenant()
    response = post(handle.webhook_url, "event=CREATE_NEW", content_type="text/plain")
    assert response.status_code == 415


def test_missing_content_type_is_judged_by_the_body(paused_stack, make_tenant):
    handle = make_tenant()
    assert post(handle.webhook_url, json.dumps(CUSTOMER), content_type=None).status_code == 202


def test_disabled_tenant_gets_410(paused_stack, make_tenant):
    handle = make_tenant(status=TenantStatus.DISABLED)
    response = post(handle.webhook_url, CUSTOMER)
    assert response.status_code == 410
    assert queued(paused_stack, handle.tenant.tenant_id) == []


def test_paused_tenant_webhooks_are_still_queued(paused_stack, make_tenant):
    handle = make_tenant(status=TenantStatus.PAUSED)
    response = post(handle.webhook_url, CUSTOMER)
    assert response.status_code == 202
    assert len(queued(paused_stack, handle.tenant.tenant_id)) == 1


def test_enqueue_failure_is_a_retryable_5xx_never_a_2xx(paused_stack, make_tenant, monkeypatch):
    handle = make_tenant()
    webhook_app = vars(paused_stack.function_module("WebhookFunction"))

    def refuse(**_kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    monkeypatch.setattr(webhook_app["queue"]._client, "send_message", refuse)
    response = post(handle.webhook_url, CUSTOMER)
    assert response.status_code == 503
    assert response.json()["error"] == "enqueue_failed"


def test_unrouted_paths_are_404(paused_stack):
    assert httpx.post(f"{paused_stack.webhook_base_url}/webhooks/moment/x", json=CUSTOMER).status_code == 404
    assert httpx.get(f"{paused_stack.webhook_base_url}/webhooks/moment/a/b").status_code == 404


def test_no_secret_or_raw_path_in_log_output(paused_stack, make_tenant, capsys, caplog):
    handle = make_tenant()
    for body in (CUSTOMER, {"event": "x"}, b"not json"):
        post(handle.webhook_url, body)
    post(handle.webhook_url.rsplit("/", 1)[0] + "/wrong-secret-value", CUSTOMER)

    captured = capsys.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "webhook answered" in output  # the handler did log, so the check below is meaningful
    assert handle.secret not in output
    assert "wrong-secret-value" not in output
    assert f"/webhooks/moment/{handle.tenant.tenant_id}/" not in output


def test_an_accepted_webhook_writes_no_info_line_a_rejected_one_does(
    paused_stack, make_tenant, capsys, caplog
):
    """Issue 18: the accepted webhook's line was the biggest log cost per event, and the access log, the
    metrics and the transfer log already record it; refusals keep theirs (they are what an operator reads)."""
    handle = make_tenant()
    capsys.readouterr()
    caplog.clear()
    assert post(handle.webhook_url, CUSTOMER).status_code == 202
    captured = capsys.readouterr()
    assert "webhook answered" not in captured.out + captured.err + caplog.text

    assert post(handle.webhook_url, b"not json").status_code == 400
    captured = capsys.readouterr()
    assert "webhook answered" in captured.out + captured.err + caplog.text
