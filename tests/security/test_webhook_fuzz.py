"""Fuzzing the webhook endpoint: any body, header, path or size gets a clear 4xx or a 202, never a
5xx, and nothing that fails validation is ever enqueued. ``MOMENTSYNC_FUZZ_EXAMPLES`` raises the count
for the long run (``make fuzz``: 10,000 cases)."""

from __future__ import annotations

import json
import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.http_api import Route, build_event
from local.lambda_runtime import LocalLambdaContext
from momentsync.envelope import QueueEnvelope
from momentsync.ingest.body_limits import parse_json_body
from momentsync.moment.webhooks import WebhookPayloadError, parse_webhook

EXAMPLES = int(os.environ.get("MOMENTSYNC_FUZZ_EXAMPLES", "300"))
ROUTE = Route("POST", "/webhooks/moment/{tenant_id}/{secret}", lambda *_: {})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
entity = st.sampled_from(["customer", "project", "invoice", "offer", "claim", "other", "Customer"])
# Ids as hostile senders write them: huge (40 digits, 2**70), negative, zero, floats, the 64-bit edges.
hostile_ids = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=10**38, max_value=10**45),
    st.just(2**70),
    st.integers(max_value=0),
    st.floats(),
    st.text(max_size=5),
)
# Unicode edge cases: control characters, U+FFFE/U+FFFF (refused by SQS), lone surrogates (json.dumps
# escapes them as \ud800), astral characters, combining marks, bidi overrides.
edge_text = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, categories=None),
        st.sampled_from(["\x00", "\x1f", "\ufffe", "\uffff", "\ud800", "\udfff", "\U0001f37a", "\u202e"]),
    ),
    max_size=12,
)
events = st.one_of(
    st.text(max_size=30),
    edge_text,
    st.integers(),
    st.floats(),  # Infinity and NaN included: json.dumps writes them as a careless sender would
    st.booleans(),
    st.none(),
    st.text(min_size=60, max_size=70),
)
plausible = st.fixed_dictionaries(
    {"event": events},
    optional={"x": json_values, "note": edge_text},
).flatmap(
    lambda base: st.dictionaries(
        entity,
        st.one_of(
            st.fixed_dictionaries(
                {"id": hostile_ids},
                optional={"name": edge_text, "customer": st.fixed_dictionaries({"id": hostile_ids})},
            ),
            json_values,
        ),
        max_size=2,
    ).map(lambda extra: {**base, **extra})
)
deeply_nested = st.integers(min_value=10, max_value=200_000).map(
    lambda depth: b'{"event":"UPDATE","customer":{"id":1},"x":' + b"[" * depth + b"]" * depth + b"}"
)
bodies = st.one_of(
    plausible.map(lambda b: json.dumps(b).encode()),
    json_values.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=300),
    deeply_nested,
    st.integers(min_value=0, max_value=300 * 1024).map(
        lambda n: b'{"event":"x","customer":{"id":1},"p":"' + b"a" * n + b'"}'
    ),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/vnd.api+json",
        "",
        "multipart/form-data; boundary=x",
    ]
)
segments = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=1, max_size=80)


def valid_per_schema(body: bytes) -> bool:
    """Parses as JSON within the limits that keep a body processable, and is a synced webhook."""
    try:
        return not parse_webhook(parse_json_body(body)).ignored
    except (ValueError, WebhookPayloadError, UnicodeDecodeError):
        return False


@pytest.fixture
def fuzz_target(paused_stack, make_tenant):
    handle = make_tenant()
    handler = paused_stack.handlers["WebhookFunction"]
    return paused_stack, handle, handler


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    content_type=content_types,
    use_real_secret=st.booleans(),
    tenant=st.one_of(st.none(), segments),
    secret=segments,
)
def test_no_input_gets_a_5xx_or_enqueues_anything_invalid(
    fuzz_target, body, content_type, use_real_secret, tenant, secret
):
    stack, handle, handler = fuzz_target
    tenant_id = tenant or handle.tenant.tenant_id
    secret = handle.secret if use_real_secret else secret
    headers = {"content-type": content_type} if content_type is not None else {}
    event = build_event(
        ROUTE,
        "POST",
        f"/webhooks/moment/{tenant_id}/{secret}",
        "",
        headers,
        body,
        {"tenant_id": tenant_id, "secret": secret},
        "127.0.0.1",
    )
    response = handler(event, LocalLambdaContext("WebhookFunction"))
    status = response["statusCode"]
    assert status < 500, response
    assert status in {202, 400, 404, 410, 413, 415}
    if status == 202 and json.loads(response["body"])["status"] == "queued":
        # Only the right tenant, with its secret, and a body that passes validation gets queued.
        assert tenant_id == handle.tenant.tenant_id and secret == handle.secret
        assert valid_per_schema(body) and len(body) <= 256 * 1024
    sqs = stack.aws.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.physical("EventQueue"), MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    for message in messages:
        envelope = QueueEnvelope.from_message_body(message["Body"])  # every queued message parses
        assert envelope.tenant_id == handle.tenant.tenant_id
        sqs.delete_message(QueueUrl=stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"])
