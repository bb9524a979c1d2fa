"""The tenant's self-service page in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`) driven by Selenium against the local stack's HTTP API.

One-time link -> a button (a POST spends it) -> an HttpOnly session cookie; no secret in the URL after
that; CSRF on every change; no way to see or act on another tenant; every action audited; Norwegian
and English; "send again" queues a resync of that record. Screenshots go to tests/artifacts/ (ignored
by git) for a person to look at.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from momentsync.aws.audit_log import DynamoAuditLog
from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
from momentsync.aws.tenants import DynamoTenantRepository
from momentsync.aws.transfer_log import DynamoTransferLog
from momentsync.envelope import QueueEnvelope
from momentsync.selfservice.service import create_page_link
from momentsync.sync.transfer_log import Outcome, TransferLogEntry

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def browser():
    # Installed by `make test` (Makefile target `browser`) and .ci/run: missing is a failure, not a skip.
    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), "apt-get install chromium chromium-driver"
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1300"):
        options.add_argument(argument)
    # A Norwegian user's browser: the page follows Accept-Language until the language link is used.
    options.add_experimental_option("prefs", {"intl.accept_languages": "nb-NO,nb,no"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def click_and_load(driver, element_id: str) -> None:
    """Clicks a button or link and waits for the next page to be loaded (a busy machine answers slowly).

    The old page is marked on its `window`; the next document starts without the mark. Not
    `staleness_of(<html>)`: Chromium may answer a probe of the old element while the document is
    being swapped with "Node with given id does not belong to the document", a WebDriverException
    that `staleness_of` does not treat as stale (seen once in CI). Errors while the page is in
    transition are ignored until the new one answers.
    """
    driver.execute_script("window.__momentsyncLeaving = true")
    driver.find_element(By.ID, element_id).click()
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.__momentsyncLeaving === undefined && document.readyState === 'complete'"
        )
    )


def table(stack, logical_id: str):
    return stack.aws.resource("dynamodb").Table(stack.physical(logical_id))


def screenshot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"selfservice-{name}.png"))


def log_transfer(stack, tenant_id: str, entity_type: str, entity_id: int, outcome: Outcome, **fields) -> None:
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


def page_link(stack, tenant_id: str) -> str:
    tokens = DynamoOneTimeTokens(table(stack, "AuthTable"))
    return create_page_link(
        tokens, base_url=stack.webhook_base_url, tenant_id=tenant_id, ttl=timedelta(hours=1)
    ).url


def audit_actions(stack, tenant_id: str) -> list[str]:
    return [r.action for r in DynamoAuditLog(table(stack, "AuditTable")).query(tenant_id=tenant_id)]


def queued(stack) -> list[QueueEnvelope]:
    sqs = stack.aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.physical("EventQueue"), MaxNumberOfMessages=10).get(
        "Messages", []
    )
    for message in messages:
        sqs.delete_message(QueueUrl=stack.physical("EventQueue"), ReceiptHandle=message["ReceiptHandle"])
    return [QueueEnvelope.from_message_body(m["Body"]) for m in messages]


@pytest.fixture
def tenants(paused_stack, make_tenant):
    """Tenant A with a transfer history (one failed invoice), tenant B beside it."""
    a = make_tenant(name="Fjordkraft Regnskap AS", notification_emails=["regnskap@fjord.no"]).tenant.tenant_id
    b = make_tenant(name="Other AS").tenant.tenant_id
    log_transfer(paused_stack, a, "customer", 101, Outcome.SYNCED, logged_at=NOW - timedelta(minutes=9))
    log_transfer(paused_stack, a, "project", 201, Outcome.WAITING, logged_at=NOW - timedelta(minutes=8))
    log_transfer(
        paused_stack,
        a,
        "invoice",
        7,
        Outcome.FAILED,
        reason="VAT code 9 on account 3000 is unknown",
        logged_at=NOW - timedelta(minutes=5),
    )
    log_transfer(paused_stack, b, "invoice", 99, Outcome.FAILED, reason="B's own failure")
    queued(paused_stack)  # start with an empty queue
    return a, b


def test_link_opens_a_session_and_the_page_shows_sends_and_saves(paused_stack, tenants, browser):
    a, b = tenants
    link = page_link(paused_stack, a)

    browser.get(link)  # the link itself spends nothing: a mail scanner's GET is harmless
    screenshot(browser, "01-open-link")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Åpne din side"
    click_and_load(browser, "open")

    assert browser.current_url == f"{paused_stack.webhook_base_url}/tenant/{a}?lang=nb"  # no token any more
    [cookie] = browser.get_cookies()
    assert cookie["name"] == "momentsync_page" and cookie["httpOnly"] is True
    assert cookie["path"] == f"/tenant/{a}" and cookie["sameSite"] == "Strict"
    assert 0 < cookie["expiry"] - datetime.now(UTC).timestamp() <= 30 * 60 + 5
    assert browser.execute_script("return document.cookie") == ""  # no script can read it
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Overføring fra Moment: Fjordkraft Regnskap AS" in page
    assert "Ikke koblet til Fiken ennå." in page  # never connected: the truth, not "ok"
    rows = browser.find_elements(By.CSS_SELECTOR, "#transfers tr.transfer")
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows] == [
        "faktura 7",
        "prosjekt 201",
        "kunde 101",
    ]
    assert "Rett det grunnen sier" in rows[0].text and "VAT code 9 on account 3000 is unknown" in rows[0].text
    assert "Prosjektet trenger en startdato i Moment." in rows[1].text
    assert "B's own failure" not in page and "99" not in page
    screenshot(browser, "02-page-nb")

    click_and_load(browser, "send-again-invoice-7")
    assert browser.find_element(By.ID, "notice").text == "Sendt på nytt: overføres om litt."
    [resync] = queued(paused_stack)
    assert (resync.tenant_id, resync.entity_type, resync.entity_id, resync.origin) == (
        a,
        "invoice",
        7,
        "resync",
    )

    emails = browser.find_element(By.ID, "emails")
    emails.clear()
    emails.send_keys("not an address")
    click_and_load(browser, "save-emails")
    assert "'not an address' is not an e-mail address" in browser.find_element(By.ID, "error").text
    repository = DynamoTenantRepository(table(paused_stack, "TenantsTable"))
    assert repository.require(a).notification_emails == ["regnskap@fjord.no"]
    emails = browser.find_element(By.ID, "emails")
    emails.clear()
    emails.send_keys("regnskap@fjord.no\nsjef@fjord.no")
    click_and_load(browser, "save-emails")
    assert browser.find_element(By.ID, "notice").text == "Lagret."
    assert repository.require(a).notification_emails == ["regnskap@fjord.no", "sjef@fjord.no"]

    click_and_load(browser, "language")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Transfers from Moment: Fjordkraft Regnskap AS"
    assert "Fix what the reason says" in browser.find_element(By.ID, "transfers").text
    screenshot(browser, "03-page-en")

    click_and_load(browser, "reconnect")
    reconnect = browser.find_element(By.ID, "reconnect-link").get_attribute("href")
    assert re.fullmatch(
        rf"{re.escape(paused_stack.webhook_base_url)}/connect/fiken/{a}\?token=[\w-]+", reconnect
    )
    screenshot(browser, "04-reconnect-link")

    # Another tenant's page: the cookie is not even sent there, and nothing of B shows.
    browser.get(f"{paused_stack.webhook_base_url}/tenant/{b}?lang=en")
    assert browser.find_element(By.TAG_NAME, "h1").text == "The link does not work"
    screenshot(browser, "05-other-tenant-refused")

    browser.get(f"{paused_stack.webhook_base_url}/tenant/{a}?lang=en")
    click_and_load(browser, "sign-out")
    assert browser.find_element(By.TAG_NAME, "h1").text == "You are signed out."
    browser.get(f"{paused_stack.webhook_base_url}/tenant/{a}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Lenken virker ikke"

    # The link worked once.
    browser.get(link)
    click_and_load(browser, "open")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Lenken virker ikke"

    assert audit_actions(paused_stack, a)[:5] == [
        "page.sign_out",
        "page.reconnect_link",
        "page.emails",
        "page.send_again",
        "page.open",
    ]
    assert audit_actions(paused_stack, b) == []


def open_session(stack, tenant_id: str) -> tuple[httpx.Client, str]:
    """A session opened the way the browser does, returning the client (with its cookie) and the CSRF."""
    client = httpx.Client(base_url=stack.webhook_base_url, follow_redirects=False)
    token = page_link(stack, tenant_id).rsplit("token=", 1)[1]
    opened = client.post(f"/tenant/{tenant_id}/open", data={"token": token})
    assert opened.status_code == 303 and "momentsync_page" in opened.headers["set-cookie"]
    assert "HttpOnly" in opened.headers["set-cookie"] and "SameSite=Strict" in opened.headers["set-cookie"]
    page = client.get(f"/tenant/{tenant_id}")
    csrf = re.search(r'name=csrf value="([^"]+)"', page.text).group(1)
    return client, csrf


def test_a_session_of_one_tenant_cannot_see_or_act_on_another(paused_stack, tenants):
    a, b = tenants
    client, csrf = open_session(paused_stack, a)
    session_cookie = client.cookies["momentsync_page"]
    # Sent by hand to B's paths (a browser would not even send it there): refused every time.
    cookie = {"cookie": f"momentsync_page={session_cookie}"}
    with httpx.Client(base_url=paused_stack.webhook_base_url) as other:
        assert other.get(f"/tenant/{b}", headers=cookie).status_code == 403
        for action, form in [
            ("send-again", {"entity_type": "invoice", "moment_id": "99"}),
            ("emails", {"emails": "evil@example.com"}),
            ("reconnect", {}),
        ]:
            answer = other.post(f"/tenant/{b}/{action}", data={"csrf": csrf, **form}, headers=cookie)
            assert answer.status_code == 403 and "B's own failure" not in answer.text
    assert queued(paused_stack) == []
    assert DynamoTenantRepository(table(paused_stack, "TenantsTable")).require(b).notification_emails == []
    # A's own session cannot send a record the page does not show as failed (B's, or any id).
    refused = client.post(
        f"/tenant/{a}/send-again", data={"csrf": csrf, "entity_type": "invoice", "moment_id": "99"}
    )
    assert refused.status_code == 400 and queued(paused_stack) == []
    # A's link does not open B's page either.
    token = page_link(paused_stack, a).rsplit("token=", 1)[1]
    assert (
        httpx.post(f"{paused_stack.webhook_base_url}/tenant/{b}/open", data={"token": token}).status_code
        == 403
    )
    assert audit_actions(paused_stack, b) == []


def test_changes_need_the_sessions_csrf_token(paused_stack, tenants):
    a, _ = tenants
    client, csrf = open_session(paused_stack, a)
    for wrong in ("", "x" * 43, csrf[:-1] + ("A" if csrf[-1] != "A" else "B")):
        answer = client.post(f"/tenant/{a}/emails", data={"csrf": wrong, "emails": "evil@example.com"})
        assert answer.status_code == 403
    assert DynamoTenantRepository(table(paused_stack, "TenantsTable")).require(a).notification_emails == [
        "regnskap@fjord.no"
    ]
    assert client.post(f"/tenant/{a}/emails", data={"csrf": csrf, "emails": "ny@fjord.no"}).status_code == 200


def test_page_headers_forbid_caching_framing_and_referrers(paused_stack, tenants):
    a, _ = tenants
    answer = httpx.get(page_link(paused_stack, a))
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "<script" not in answer.text
    assert json.dumps(answer.text)  # the body is plain HTML text
