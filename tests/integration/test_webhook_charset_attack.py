"""Attack on the webhook door (issue 14 item 1) with encodings a sender may legitimately use.

Before: a body declared ``application/json; charset=ISO-8859-1`` (or UTF-16) holding "Ærlig AS" was
refused with 400 "not UTF-8": a valid Moment event lost, since a refused webhook is not sent again;
a UTF-8 byte order mark, which RFC 8259 lets a parser ignore, was refused too. A charset that is no
text codec (``zlib``, ``rot13``) is read as UTF-8, as before: never a 5xx."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.test_webhook_api import queued

EVENT = {"event": "UPDATE", "customer": {"id": 7, "name": "Ærlig Øl AS"}}


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (json.dumps(EVENT, ensure_ascii=False).encode("latin-1"), "application/json; charset=ISO-8859-1"),
        (json.dumps(EVENT, ensure_ascii=False).encode("cp1252"), 'application/json;charset="windows-1252"'),
        (json.dumps(EVENT, ensure_ascii=False).encode("utf-16"), "application/json; charset=utf-16"),
        (b"\xef\xbb\xbf" + json.dumps(EVENT, ensure_ascii=False).encode(), "application/json"),
        (json.dumps(EVENT, ensure_ascii=False).encode(), "application/json; charset=UTF-8"),
    ],
)
def test_a_body_in_its_declared_charset_is_queued_with_its_text_intact(
    paused_stack, make_tenant, raw, content_type
):
    handle = make_tenant()

    response = httpx.post(handle.webhook_url, content=raw, headers={"content-type": content_type}, timeout=10)

    assert response.status_code == 202, response.text
    [message] = queued(paused_stack, handle.tenant.tenant_id)
    assert json.loads(message["Body"])["payload"]["customer"]["name"] == "Ærlig Øl AS"


@pytest.mark.parametrize("charset", ["zlib", "rot13", "base64", "no-such-charset"])
def test_a_charset_that_is_no_text_encoding_is_read_as_utf8_never_a_5xx(paused_stack, make_tenant, charset):
    handle = make_tenant()

    response = httpx.post(
        handle.webhook_url,
        content=json.dumps(EVENT, ensure_ascii=False).encode(),
        headers={"content-type": f"application/json; charset={charset}"},
        timeout=10,
    )

    assert response.status_code == 202, response.text
    [message] = queued(paused_stack, handle.tenant.tenant_id)
    assert json.loads(message["Body"])["payload"]["customer"]["name"] == "Ærlig Øl AS"
