"""Attacks on the tenant's self-service page over the local stack's HTTP API (no browser needed):
a disabled tenant, spent links, another session's CSRF token, another tenant's record, path tricks,
hostile text on the page, odd form bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.envelope import QueueEnvelope
from momentsync.selfservice.service import create_page_link
from momentsync.sync.transfer_log import Outcome, TransferLogEntry
from momentsync.tenants import TenantStatus

NOW = datetime.now(UTC)


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


def log_transfer(stack, tenant_id, entity_type, entity_id, outcome, **fields) -> None:
    DynamoTransferLog(table(stack, "TransferLogTable"), timedelta(days=1)).record(
        TransferLogEntry(
            tenant_id=tenant_id,
            event_id=f"evt-{uuid.uuid4().hex[:10]}",
            entity_type=entity_type,
            entity_id=entity_id,
            outcome=outcome,
            logged_at=fields.pop("logged_at", NOW),
            **fields,
        )
    )


def queued(stack) -> list[QueueEnvelope]:
    sqs = stack.aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.physical("EventQueue"), MaxNumberOfMessages=10).get(
        "Messages", []
    )
    for message in messages:
        sqs.delete_message(QueueUrl=stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"])
    return [QueueEnvelope.from_message_body(m["Body"]) for m in messages]


def link_token(stack, tenant_id: str) -> str:
    tokens = DynamoOneTimeTokens(table(stack, "AuthTable"))
    url = create_page_link(
        tokens, base_url=stack.webhook_base_url, tenant_id=tenant_id, ttl=timedelta(hours=1)
    ).url
    return url.split("token=", 1)[1]


def open_session(http: httpx.Client, tenant_id: str, token: str) -> httpx.Response:
    return http.post(f"/tenant/{tenant_id}/open", data={"token": token})


def session_of(http: httpx.Client, stack, tenant_id: str) -> tuple[str, str]:
    """Opens a page session; returns (cookie value, csrf token)."""
    response = open_session(http, tenant_id, link_token(stack, tenant_id))
    assert response.status_code == 303, response.text
    cookie = response.cookies["momentsync_page"]
    page = http.get(f"/tenant/{tenant_id}", headers={"cookie": f"momentsync_page={cookie}"})
    assert page.status_code == 200, page.text
    csrf = page.text.split('name=csrf value="', 1)[1].split('"', 1)[0]
    return cookie, csrf


@pytest.fixture
def http(paused_stack):
    with httpx.Client(base_url=paused_stack.webhook_base_url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture
def two(paused_stack, make_tenant):
    a = make_tenant(name="A AS", notification_emails=["a@a.no"]).tenant.tenant_id
    b = make_tenant(name="B AS").tenant.tenant_id
    log_transfer(paused_stack, a, "invoice", 7, Outcome.FAILED, reason="A fails")
    log_transfer(paused_stack, a, "customer", 8, Outcome.SYNCED)
    log_transfer(paused_stack, b, "invoice", 99, Outcome.FAILED, reason="B fails")
    queued(paused_stack)
    return a, b


def test_a_spent_link_cannot_be_replayed_and_another_tenants_link_does_not_open(paused_stack, http, two):
    a, b = two
    token = link_token(paused_stack, a)
    assert open_session(http, b, token).status_code == 403  # A's link on B's path: refused (and spent)
    assert open_session(http, a, token).status_code == 403
    token = link_token(paused_stack, a)
    assert open_session(http, a, token).status_code == 303
    assert open_session(http, a, token).status_code == 403


def test_a_disabled_tenant_neither_opens_nor_keeps_its_page(paused_stack, http, two):
    a, _ = two
    cookie, csrf = session_of(http, paused_stack, a)
    token = link_token(paused_stack, a)
    repository = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    tenant = repository.require(a)
    tenant.status = TenantStatus.DISABLED
    repository.save(tenant)
    headers = {"cookie": f"momentsync_page={cookie}"}
    assert http.get(f"/tenant/{a}", headers=headers).status_code == 403
    sent = http.post(
        f"/tenant/{a}/send-again",
        headers=headers,
        data={"csrf": csrf, "entity_type": "invoice", "moment_id": "7"},
    )
    assert sent.status_code == 403
    assert queued(paused_stack) == []
    assert open_session(http, a, token).status_code == 403


def test_another_sessions_csrf_token_and_another_tenants_cookie_are_refused(paused_stack, http, two):
    a, b = two
    cookie_1, _csrf_1 = session_of(http, paused_stack, a)
    _cookie_2, csrf_2 = session_of(http, paused_stack, a)
    cookie_b, csrf_b = session_of(http, paused_stack, b)
    form = {"entity_type": "invoice", "moment_id": "7"}
    headers = {"cookie": f"momentsync_page={cookie_1}"}
    assert (
        http.post(f"/tenant/{a}/send-again", headers=headers, data={**form, "csrf": csrf_2}).status_code
        == 403
    )
    assert http.post(f"/tenant/{a}/send-again", headers=headers, data=form).status_code == 403
    # B's cookie and B's own csrf token on A's path, with path tricks around A's id
    b_headers = {"cookie": f"momentsync_page={cookie_b}"}
    for path in (f"/tenant/{a}", f"/tenant/{a.upper()}", f"/tenant/{b}/..%2F{a}", f"/tenant/{b}%2F..%2F{a}"):
        response = http.get(path, headers=b_headers)
        assert "A fails" not in response.text and "A AS" not in response.text, path
        response = http.post(f"{path}/send-again", headers=b_headers, data={**form, "csrf": csrf_b})
        assert response.status_code in (403, 404), path
    assert queued(paused_stack) == []


@pytest.mark.parametrize(
    ("entity_type", "moment_id"),
    [
        ("invoice", "99"),  # B's failed record
        ("customer", "8"),  # A's record, not failed
        ("invoice", "70"),  # none at all
        ("Invoice", "7"),
        ("invoice", "²"),  # isdigit() but no int
        ("invoice", "0007"),
        ("invoice", "9" * 400),
        ("invoice", "-7"),
    ],
)
def test_send_again_queues_nothing_but_a_listed_failed_record(
    paused_stack, http, two, entity_type, moment_id
):
    a, _ = two
    cookie, csrf = session_of(http, paused_stack, a)
    response = http.post(
        f"/tenant/{a}/send-again",
        headers={"cookie": f"momentsync_page={cookie}"},
        data={"csrf": csrf, "entity_type": entity_type, "moment_id": moment_id},
    )
    if moment_id == "0007":  # the same record, written with zeros: fine to send it
        assert response.status_code == 200
        assert [(e.entity_type, e.entity_id) for e in queued(paused_stack)] == [("invoice", 7)]
        return
    assert response.status_code == 400, response.text
    assert queued(paused_stack) == []


def test_hostile_text_is_escaped_on_the_page(paused_stack, http, make_tenant):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    a = make_tenant(name=evil, notification_emails=['"<b>x"@evil.no']).tenant.tenant_id
    log_transfer(paused_stack, a, "invoice", 5, Outcome.FAILED, reason=evil)
    cookie, _ = session_of(http, paused_stack, a)
    page = http.get(f"/tenant/{a}", headers={"cookie": f"momentsync_page={cookie}"}).text
    assert "<script>" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page


def test_odd_form_bodies_get_an_answer_not_a_crash(paused_stack, http, two):
    a, _ = two
    cookie, csrf = session_of(http, paused_stack, a)
    headers = {"cookie": f"momentsync_page={cookie}"}
    many = "&".join(f"f{i}=x" for i in range(50)) + f"&csrf={csrf}&emails=a%40a.no"
    response = http.post(
        f"/tenant/{a}/emails",
        headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        content=many,
    )
    assert response.status_code in (400, 403, 413), response.status_code
    thousand = "\n".join(f"x{i}@third-party.example" for i in range(1000))
    response = http.post(f"/tenant/{a}/emails", headers=headers, data={"csrf": csrf, "emails": thousand})
    assert response.status_code == 400
    repository = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    assert repository.require(a).notification_emails == ["a@a.no"]


@pytest.mark.parametrize("forwarded", [None, "http"])
def test_the_session_cookie_is_secure_on_any_public_host_whatever_x_forwarded_proto_says(
    paused_stack, http, two, forwarded
):
    a, _ = two
    headers = {"host": "selfservice.example.no"} | ({"x-forwarded-proto": forwarded} if forwarded else {})
    response = http.post(f"/tenant/{a}/open", data={"token": link_token(paused_stack, a)}, headers=headers)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    # The local stack (plain http on localhost) still gets a cookie the browser keeps.
    local = http.post(f"/tenant/{a}/open", data={"token": link_token(paused_stack, a)})
    assert "Secure" not in local.headers["set-cookie"]
