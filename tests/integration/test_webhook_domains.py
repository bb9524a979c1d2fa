"""Bodies that could never be processed are refused at the door with 400 and the reason (issue 14).

Each case was accepted (202) or answered 503 before: a 40-digit id, an id of 2**70, ``"event": 5``,
``"event": Infinity``, a body nested 100,000 deep, a character SQS refuses.
"""

from __future__ import annotations

import httpx
import pytest

from tests.integration.test_webhook_api import post, queued

NESTED_100K = b'{"event":"UPDATE","customer":{"id":1},"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (b'{"event":"UPDATE","customer":{"id":%d}}' % (10**40 - 1), "customer.id", "64-bit"),
        (b'{"event":"UPDATE","customer":{"id":%d}}' % 2**70, "customer.id", "64-bit"),
        (b'{"event":"UPDATE","customer":{"id":%d}}' % 2**63, "customer.id", "64-bit"),
        (b'{"event":"UPDATE","customer":{"id":-5}}', "customer.id", "greater than 0"),
        (b'{"event":"UPDATE","customer":{"id":0}}', "customer.id", "greater than 0"),
        (b'{"event":"UPDATE","customer":{"id":1.5}}', "customer.id", "integer"),
        (b'{"event":"UPDATE","customer":{"id":1e300}}', "customer.id", "outside"),
        (b'{"event":5,"customer":{"id":1}}', "event", "string"),
        (b'{"event":"' + b"E" * 65 + b'","customer":{"id":1}}', "event", "at most 64"),
        (b'{"event":"U","invoice":{"id":1,"customer":{"id":%d}}}' % 2**64, "invoice.customer.id", "64-bit"),
        ('{"event":"UPDATE","customer":{"id":1,"name":"a\uffffb"}}'.encode(), "customer.name", "U+FFFF"),
        (b'{"event":"UPDATE","customer":{"id":1,"name":"a\\uffffb"}}', "customer.name", "U+FFFF"),
        (b'{"event":"UPDATE","customer":{"id":1,"name":"\\ud800"}}', "customer.name", "U+D800"),
        (b'{"event":"UPDATE","customer":{"id":1,"name":"\\u0000"}}', "customer.name", "U+0000"),
        (b'{"event":"UPDATE","customer":{"id":1},"x":' + b"[" * 17 + b"]" * 17 + b"}", "x", "deeper"),
    ],
)
def test_an_impossible_body_gets_400_with_the_field_and_reason(paused_stack, make_tenant, body, field, says):
    handle = make_tenant()
    response = post(handle.webhook_url, body)

    assert response.status_code == 400, response.text
    assert response.json()["field"].startswith(field)
    assert says in response.json()["message"]
    assert queued(paused_stack, handle.tenant.tenant_id) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (NESTED_100K, "nested deeper"),
        (b'{"event":Infinity,"customer":{"id":1}}', "Infinity is not a JSON number"),
        (b'{"event":"UPDATE","customer":{"id":NaN}}', "NaN is not a JSON number"),
        (b'{"event":"UPDATE","customer":{"id":' + b"9" * 5000 + b"}}", "not JSON"),
        (b'{"event":"UPDATE","customer":{"id":1}}\xff', "not UTF-8"),
    ],
)
def test_a_body_that_is_not_plain_json_gets_400_not_a_5xx(paused_stack, make_tenant, body, says):
    handle = make_tenant()
    response = httpx.post(handle.webhook_url, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_json"
    assert says in response.json()["message"]
    assert queued(paused_stack, handle.tenant.tenant_id) == []


def test_the_largest_ids_and_unicode_moment_can_send_are_queued(paused_stack, make_tenant):
    handle = make_tenant()
    body = {
        "event": "CREATE_NEW",
        "invoice": {"id": 2**63 - 1, "customer": {"id": 1, "name": "Ærlig Øl & Å 🍺 \ufffd"}},
        "amount": 1250.5,
    }
    response = post(handle.webhook_url, body)

    assert response.status_code == 202, response.text
    [message] = queued(paused_stack, handle.tenant.tenant_id)
    assert '"entity_id":9223372036854775807' in message["Body"]


def test_a_body_at_the_size_limit_is_queued_or_refused_with_413_never_503(paused_stack, make_tenant):
    handle = make_tenant()
    for size in (256 * 1024, 256 * 1024 - 200, 250 * 1024):
        chunks, rest = divmod(size - 80, 9000)
        strings = ",".join(['"' + "a" * 8997 + '"'] * chunks + ['"' + "b" * max(rest - 3, 0) + '"'])
        body = ('{"event":"UPDATE","customer":{"id":1},"p":[' + strings + "]}").encode()
        response = post(handle.webhook_url, body)
        assert response.status_code in (202, 413), response.text
