"""FikenClient against Fiken mocked by respx: headers, pacing, retries, errors, Location ids, paging."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import respx

from momentsync.connectors.fiken.auth import StaticTokenProvider
from momentsync.connectors.fiken.client import (
    BANK_ACCOUNT_UNVERIFIED_REMEDY,
    FikenAmbiguousWriteError,
    FikenClient,
    FikenConflict,
    FikenFailure,
    FikenNotFound,
    FikenRateLimited,
    FikenRequestRecord,
    FikenRequestRejected,
    FikenTenantError,
    FikenUnavailable,
    FikenUnexpectedResponse,
    FikenValidationError,
    UnsupportedAttachment,
    location_id,
)
from momentsync.connectors.fiken.models import (
    Contact,
    ContactResult,
    InvoiceLineRequest,
    InvoiceRequest,
    ProjectRequest,
    ProjectResult,
    UpdateInvoiceRequest,
    UpdateProjectRequest,
)
from momentsync.connectors.fiken.pacing import RequestPacer
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError

BASE = "https://fiken.test/api/v2"
SLUG = "acme-as"
TOKEN = "fiken-access-token-SECRET-0001"
NEW_TOKEN = "fiken-access-token-SECRET-0002"
COMPANY = f"/companies/{SLUG}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.fixture
def fiken() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
def backoffs() -> list[float]:
    return []


@pytest.fixture
def records() -> list[FikenRequestRecord]:
    return []


@pytest.fixture
def tokens() -> StaticTokenProvider:
    return StaticTokenProvider(TOKEN, refreshed_token=NEW_TOKEN)


@pytest.fixture
def make_client(backoffs: list[float], records: list[FikenRequestRecord], tokens: StaticTokenProvider):
    def make(**overrides: Any) -> FikenClient:
        options: dict[str, Any] = {
            "company_slug": SLUG,
            "token_provider": tokens,
            "base_url": BASE,
            "pacer": RequestPacer(0.0),
            "sleep": backoffs.append,
            "rng": random.Random(7),
            "max_attempts": 4,
            "on_request": records.append,
        }
        options.update(overrides)
        return FikenClient(**options)

    return make


@pytest.fixture
def client(make_client) -> FikenClient:
    return make_client()


def created(path: str, identifier: str | int) -> httpx.Response:
    return httpx.Response(201, headers={"Location": f"{BASE}{COMPANY}/{path}/{identifier}"})


def contact_json(contact_id: int = 77, **fields: Any) -> dict[str, Any]:
    return {"contactId": contact_id, "name": "Acme AS", "customer": True, **fields}


def invoice_request() -> InvoiceRequest:
    return InvoiceRequest(
        issue_date=dt.date(2026, 3, 1),
        due_date=dt.date(2026, 3, 15),
        lines=[InvoiceLineRequest(quantity=1, unit_price=100000, vat_type="HIGH", income_account="3000")],
        customer_id=77,
        bank_account_code="1920:10001",
        cash=False,
    )


# ---------------------------------------------------------------- headers
def test_every_request_carries_a_fresh_uuid_request_id_and_json_headers(fiken, client) -> None:
    fiken.get(f"{COMPANY}/contacts/77").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=contact_json())]
    )
    fiken.post(f"{COMPANY}/contacts").mock(return_value=created("contacts", 78))
    fiken.get(COMPANY).mock(return_value=httpx.Response(200, json={"slug": SLUG}))

    client.get_contact(77)
    client.create_contact(Contact(name="Acme AS", customer=True))
    client.get_company()

    requests = [call.request for call in fiken.calls]
    assert len(requests) == 4
    ids = [request.headers["X-Request-ID"] for request in requests]
    assert all(uuid.UUID(value).version == 4 for value in ids)
    assert len(set(ids)) == 4
    for request in requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.headers["Accept"] == "application/json"
        assert request.headers["Content-Type"] == "application/json"
    assert json.loads(requests[2].content) == {"name": "Acme AS", "customer": True}


def test_the_observer_sees_each_attempt_with_the_path_template(fiken, client, records) -> None:
    fiken.get(f"{COMPANY}/invoices/501").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json={"invoiceId": 501})]
    )
    client.get_invoice(501)
    assert [(r.method, r.path, r.status, r.attempt) for r in records] == [
        ("GET", "/companies/{companySlug}/invoices/{invoiceId}", 500, 1),
        ("GET", "/companies/{companySlug}/invoices/{invoiceId}", 200, 2),
    ]
    assert [r.request_id for r in records] == [c.request.headers["X-Request-ID"] for c in fiken.calls]
    assert all(r.duration_seconds >= 0 for r in records)
    assert client.requests_sent == 2


def test_a_failing_observer_does_not_lose_a_created_record(fiken, make_client) -> None:
    def broken_observer(record: FikenRequestRecord) -> None:
        raise RuntimeError("metrics backend down")

    fiken.post(f"{COMPANY}/contacts").mock(return_value=created("contacts", 78))
    assert make_client(on_request=broken_observer).create_contact(Contact(name="Acme AS")) == 78


# ---------------------------------------------------------------- pacing
def test_requests_of_one_tenant_are_paced_by_the_pacers_window(fiken, make_client) -> None:
    clock = FakeClock()
    pacer = RequestPacer(1.02, clock=clock.monotonic, sleep=clock.sleep)
    client = make_client(pacer=pacer)
    starts: list[float] = []
    fiken.get(COMPANY).mock(
        side_effect=lambda request: starts.append(clock.now) or httpx.Response(200, json={"slug": SLUG})
    )

    for _ in range(6):
        client.get_company()

    # An idle tenant's first four at once, then one as each leaves the window: 4 per 1.02 s.
    assert starts == [0.0, 0.0, 0.0, 0.0, 1.02, 1.02]


def test_clients_of_different_tenants_do_not_wait_for_each_other(fiken, make_client) -> None:
    clock = FakeClock()
    pacer = RequestPacer(1.02, max_starts=1, clock=clock.monotonic, sleep=clock.sleep)
    fiken.get("/companies/a").mock(return_value=httpx.Response(200, json={"slug": "a"}))
    fiken.get("/companies/b").mock(return_value=httpx.Response(200, json={"slug": "b"}))
    make_client(company_slug="a", pacer=pacer).get_company()
    make_client(company_slug="b", pacer=pacer).get_company()
    assert clock.sleeps == []


# ---------------------------------------------------------------- 429
def test_429_backs_off_with_full_jitter_and_then_succeeds(fiken, make_client, backoffs) -> None:
    client = make_client(rng=FixedRandom(0.999), backoff_base_seconds=1.0, backoff_cap_seconds=16.0)
    route = fiken.get(COMPANY).mock(
        side_effect=[
            httpx.Response(429),
            httpx.Response(429),
            httpx.Response(429),
            httpx.Response(200, json={"slug": SLUG}),
        ]
    )
    assert client.get_company().slug == SLUG
    assert route.call_count == 4
    assert backoffs == pytest.approx([0.999, 1.998, 3.996])  # just under 1, 2, 4 s: exponential ceilings


def test_429_jitter_stays_within_zero_and_the_capped_ceiling(fiken, make_client, backoffs) -> None:
    client = make_client(
        rng=random.Random(12345), max_attempts=8, backoff_base_seconds=0.5, backoff_cap_seconds=4.0
    )
    fiken.get(COMPANY).mock(return_value=httpx.Response(429))
    with pytest.raises(FikenRateLimited):
        client.get_company()
    ceilings = [min(4.0, 0.5 * 2**n) for n in range(7)]
    assert len(backoffs) == 7
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(backoffs, ceilings, strict=True))
    assert len(set(backoffs)) == 7  # jittered, not a fixed schedule


def test_429_until_max_attempts_raises_rate_limited(fiken, client, backoffs) -> None:
    route = fiken.get(f"{COMPANY}/contacts/77").mock(return_value=httpx.Response(429))
    with pytest.raises(FikenRateLimited) as raised:
        client.get_contact(77)
    assert isinstance(raised.value, TransientError)
    assert route.call_count == 4
    assert len(backoffs) == 3
    assert (raised.value.status, raised.value.method, raised.value.path) == (
        429,
        "GET",
        "/companies/{companySlug}/contacts/{contactId}",
    )


def test_429_on_post_is_retried_because_nothing_was_executed(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/contacts").mock(side_effect=[httpx.Response(429), created("contacts", 78)])
    assert client.create_contact(Contact(name="Acme AS")) == 78
    assert route.call_count == 2


# ---------------------------------------------------------------- 5xx, timeouts, network
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_5xx_is_retried_for_safe_methods(fiken, client, method) -> None:
    success = httpx.Response(200, json=contact_json()) if method == "GET" else httpx.Response(200)
    responses = [httpx.Response(502), httpx.Response(503), success]
    if method == "PATCH":
        route = fiken.patch(f"{COMPANY}/projects/12").mock(side_effect=responses)
        client.update_project(12, UpdateProjectRequest(completed=True))
    elif method == "PUT":
        route = fiken.put(f"{COMPANY}/contacts/77").mock(side_effect=responses)
        client.replace_contact(77, Contact(name="Acme AS", customer=True))
    else:
        route = fiken.get(f"{COMPANY}/contacts/77").mock(side_effect=responses)
        client.get_contact(77)
    assert route.call_count == 3


def test_5xx_on_get_after_max_attempts_is_unavailable(fiken, client) -> None:
    route = fiken.get(f"{COMPANY}/contacts/77").mock(
        return_value=httpx.Response(500, json={"message": "oops"})
    )
    with pytest.raises(FikenUnavailable) as raised:
        client.get_contact(77)
    assert isinstance(raised.value, TransientError)
    assert route.call_count == 4
    assert raised.value.fiken_message == "oops"


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(503),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
        httpx.WriteTimeout("write timed out"),
        httpx.DecodingError("bad gzip body"),
    ],
    ids=["500", "503", "ReadTimeout", "RemoteProtocolError", "WriteTimeout", "DecodingError"],
)
def test_an_ambiguous_post_failure_is_never_retried(fiken, client, backoffs, failure) -> None:
    route = fiken.post(f"{COMPANY}/invoices").mock(side_effect=[failure, created("invoices", 501)])
    with pytest.raises(FikenAmbiguousWriteError) as raised:
        client.create_invoice(invoice_request())
    assert route.call_count == 1
    assert backoffs == []
    error = raised.value
    assert isinstance(error, TransientError)
    assert not isinstance(error, FikenUnavailable)
    assert (error.method, error.path) == ("POST", "/companies/{companySlug}/invoices")
    assert "natural key" in str(error)


def test_get_timeouts_are_retried(fiken, client) -> None:
    route = fiken.get(f"{COMPANY}/invoices/501").mock(
        side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200, json={"invoiceId": 501})]
    )
    assert client.get_invoice(501).invoice_id == 501
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out")]
)
def test_a_post_that_could_not_connect_is_retried(fiken, client, failure) -> None:
    route = fiken.post(f"{COMPANY}/contacts").mock(side_effect=[failure, created("contacts", 78)])
    assert client.create_contact(Contact(name="Acme AS")) == 78
    assert route.call_count == 2


def test_connection_failures_until_max_attempts_are_unavailable(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/contacts").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(FikenUnavailable) as raised:
        client.create_contact(Contact(name="Acme AS"))
    assert route.call_count == 4
    assert raised.value.status is None
    assert "ConnectError" in str(raised.value)
    # No reference to the httpx exception (its request holds the Authorization header).
    assert raised.value.__cause__ is None and raised.value.__context__ is None


# ---------------------------------------------------------------- 401
def test_401_refreshes_the_token_once_and_repeats_the_request(fiken, client, tokens) -> None:
    route = fiken.get(f"{COMPANY}/contacts/77").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=contact_json())]
    )
    assert client.get_contact(77).contact_id == 77
    assert tokens.refresh_count == 1
    assert [c.request.headers["Authorization"] for c in route.calls] == [
        f"Bearer {TOKEN}",
        f"Bearer {NEW_TOKEN}",
    ]


def test_401_on_post_is_repeated_after_the_refresh(fiken, client, tokens) -> None:
    route = fiken.post(f"{COMPANY}/contacts").mock(side_effect=[httpx.Response(401), created("contacts", 78)])
    assert client.create_contact(Contact(name="Acme AS")) == 78
    assert route.call_count == 2


def test_401_to_every_token_means_the_tenant_must_reconnect(fiken, client, tokens) -> None:
    route = fiken.get(f"{COMPANY}/contacts/77").mock(return_value=httpx.Response(401))
    with pytest.raises(TenantLevelError) as raised:
        client.get_contact(77)
    assert raised.value.problem is TenantProblem.NEEDS_REAUTH
    assert isinstance(raised.value, FikenTenantError)
    # Our token, then the stored one (maybe another holder's, never tried here), then a refreshed one.
    assert route.call_count == 3
    assert tokens.refresh_count == 2


def test_a_token_another_holder_stored_that_fiken_refuses_is_refreshed_once_more(fiken, make_client) -> None:
    class ReconnectedElsewhere(StaticTokenProvider):
        """The stored token changed under us (a reconnect) and Fiken had already ended it early."""

        handed = iter(["stored-by-the-reconnect", "refreshed-here"])

        def refresh_after_unauthorized(self, rejected_token: str) -> str:
            return next(self.handed)

    route = fiken.get(COMPANY).mock(
        side_effect=lambda request: httpx.Response(
            200 if request.headers["Authorization"] == "Bearer refreshed-here" else 401,
            json={"name": "Acme AS", "slug": "acme-as"},
        )
    )
    assert make_client(token_provider=ReconnectedElsewhere(TOKEN)).get_company().slug == "acme-as"
    assert route.call_count == 3


def test_a_failed_refresh_propagates(fiken, make_client) -> None:
    class RevokedTokens(StaticTokenProvider):
        def refresh_after_unauthorized(self, rejected_token: str) -> str:
            raise TenantLevelError(TenantProblem.NEEDS_REAUTH, "consent revoked")

    route = fiken.get(COMPANY).mock(return_value=httpx.Response(401))
    with pytest.raises(TenantLevelError, match="consent revoked"):
        make_client(token_provider=RevokedTokens(TOKEN)).get_company()
    assert route.call_count == 1


# ---------------------------------------------------------------- tenant-level 402 / 403
def test_402_means_a_module_is_not_purchased(fiken, client) -> None:
    message = "Prosjekt-modulen er ikke aktivert for dette foretaket"
    fiken.post(f"{COMPANY}/projects").mock(return_value=httpx.Response(402, json={"message": message}))
    with pytest.raises(TenantLevelError) as raised:
        client.create_project(ProjectRequest(number="P-1", name="Web", start_date=dt.date(2026, 1, 1)))
    error = raised.value
    assert error.problem is TenantProblem.MODULE_MISSING
    assert "module not purchased" in str(error)
    assert message in str(error)
    assert isinstance(error, FikenTenantError) and error.fiken_message == message
    assert error.remedy


def test_403_for_an_unverified_bank_account(fiken, client) -> None:
    message = (
        "The bank account number 98024281914 has not been verified as belonging to this company. "
        "Create one invoice from this bank account in Fiken first"
    )
    fiken.post(f"{COMPANY}/invoices").mock(return_value=httpx.Response(403, json={"message": message}))
    with pytest.raises(TenantLevelError) as raised:
        client.create_invoice(invoice_request())
    assert raised.value.problem is TenantProblem.BANK_ACCOUNT_UNVERIFIED
    assert (
        raised.value.remedy
        == BANK_ACCOUNT_UNVERIFIED_REMEDY
        == "Create one invoice from this bank account in Fiken first"
    )
    assert "98024281914" in str(raised.value)


def test_403_otherwise_means_no_api_access(fiken, client) -> None:
    fiken.get(COMPANY).mock(return_value=httpx.Response(403, json={"message": "Access denied"}))
    with pytest.raises(TenantLevelError) as raised:
        client.get_company()
    assert raised.value.problem is TenantProblem.API_ACCESS_MISSING
    assert "Access denied" in str(raised.value)


# ---------------------------------------------------------------- permanent 4xx
@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(400, json={"message": "'customerId' er påkrevd"}), "'customerId' er påkrevd"),
        (
            httpx.Response(400, json={"error": "invalid_request", "error_description": "bad date"}),
            "invalid_request: bad date",
        ),
        (httpx.Response(400, json={"error": "invalid_request"}), "invalid_request"),
        (
            httpx.Response(400, text="incomeAccount is required for free-text lines"),
            "incomeAccount is required",
        ),
    ],
    ids=["message", "error+description", "error", "plain-text"],
)
def test_400_keeps_fikens_message(fiken, client, response, expected) -> None:
    route = fiken.post(f"{COMPANY}/invoices").mock(return_value=response)
    with pytest.raises(FikenValidationError) as raised:
        client.create_invoice(invoice_request())
    assert isinstance(raised.value, PermanentError)
    assert route.call_count == 1
    assert expected in str(raised.value)
    assert raised.value.fiken_message is not None and expected in raised.value.fiken_message
    assert raised.value.detail == raised.value.fiken_message
    assert (raised.value.status, raised.value.method, raised.value.path) == (
        400,
        "POST",
        "/companies/{companySlug}/invoices",
    )


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(404, FikenNotFound), (409, FikenConflict), (415, FikenRequestRejected), (405, FikenRequestRejected)],
)
def test_other_client_errors_are_permanent_and_not_retried(fiken, client, status, error_type) -> None:
    route = fiken.get(f"{COMPANY}/sales/9").mock(
        return_value=httpx.Response(status, json={"message": f"Fiken says {status}"})
    )
    with pytest.raises(error_type) as raised:
        client.get_sale(9)
    assert isinstance(raised.value, PermanentError)
    assert isinstance(raised.value, FikenFailure)
    assert route.call_count == 1
    assert raised.value.status == status
    assert f"Fiken says {status}" in str(raised.value)
    assert raised.value.path == "/companies/{companySlug}/sales/{saleId}"


def test_409_keeps_the_message(fiken, client) -> None:
    fiken.post(f"{COMPANY}/projects").mock(
        return_value=httpx.Response(409, json={"message": "Project number already in use"})
    )
    with pytest.raises(FikenConflict, match="Project number already in use"):
        client.create_project(ProjectRequest(number="P-1", name="Web", start_date=dt.date(2026, 1, 1)))


# ---------------------------------------------------------------- Location
@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (f"{BASE}{COMPANY}/contacts/12345", "12345"),
        (f"{BASE}{COMPANY}/contacts/12345/", "12345"),
        (f"{BASE}{COMPANY}/invoices/501?x=1", "501"),
        (f"{BASE}{COMPANY}/invoices/501/attachments/7f3c1a2e-file-id", "7f3c1a2e-file-id"),
        ("/api/v2/companies/acme/projects/9", "9"),
    ],
)
def test_location_id_is_the_last_path_segment(location, expected) -> None:
    assert location_id(location) == expected


def test_create_returns_the_numeric_id_from_location(fiken, client) -> None:
    fiken.post(f"{COMPANY}/projects").mock(return_value=created("projects", 4242))
    assert (
        client.create_project(ProjectRequest(number="P-1", name="Web", start_date=dt.date(2026, 1, 1)))
        == 4242
    )


def test_a_201_without_location_is_permanent(fiken, client) -> None:
    fiken.post(f"{COMPANY}/contacts").mock(return_value=httpx.Response(201))
    with pytest.raises(FikenUnexpectedResponse) as raised:
        client.create_contact(Contact(name="Acme AS"))
    assert isinstance(raised.value, PermanentError)
    assert "look it up" in str(raised.value)


def test_a_non_numeric_id_for_a_record_is_permanent(fiken, client) -> None:
    fiken.post(f"{COMPANY}/contacts").mock(return_value=created("contacts", "not-a-number"))
    with pytest.raises(FikenUnexpectedResponse, match="not a numeric id"):
        client.create_contact(Contact(name="Acme AS"))


# ---------------------------------------------------------------- attachments
def test_invoice_attachment_is_uploaded_as_multipart(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/invoices/501/attachments").mock(
        return_value=created("invoices/501/attachments", "b7e2c9d0-attachment")
    )
    attachment_id = client.upload_invoice_attachment(501, "faktura-10042.pdf", b"%PDF-1.7 fake")
    assert attachment_id == "b7e2c9d0-attachment"
    request = route.calls.last.request
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'name="filename"\r\n\r\nfaktura-10042.pdf' in body
    assert b'name="file"; filename="faktura-10042.pdf"' in body
    assert b"Content-Type: application/pdf" in body
    assert b"%PDF-1.7 fake" in body


@pytest.mark.parametrize("filename", ["faktura.heic", "faktura", "faktura.pdf.exe", ".pdf", "scan.tiff"])
def test_unsupported_attachment_names_are_refused_before_sending(fiken, client, filename) -> None:
    route = fiken.post(f"{COMPANY}/invoices/501/attachments").mock(return_value=created("x", "y"))
    with pytest.raises(UnsupportedAttachment):
        client.upload_invoice_attachment(501, filename, b"data")
    assert route.call_count == 0


def test_empty_attachments_are_refused(fiken, client) -> None:
    with pytest.raises(UnsupportedAttachment):
        client.upload_invoice_attachment(501, "faktura.pdf", b"")
    assert fiken.calls.call_count == 0


def test_sale_attachment_says_what_it_documents(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/sales/9/attachments").mock(
        return_value=created("sales/9/attachments", "a1")
    )
    assert client.upload_sale_attachment(9, "Faktura.JPG", b"\xff\xd8jpeg") == "a1"
    request = route.calls.last.request
    assert dict(request.url.params) == {"attachToSale": "true", "attachToPayment": "false"}
    assert b"Content-Type: image/jpeg" in request.content


# ---------------------------------------------------------------- paging
def test_paging_walks_zero_based_pages_with_page_size_each_time(fiken, client) -> None:
    pages = {
        0: [contact_json(i) for i in range(1, 101)],
        1: [contact_json(i) for i in range(101, 201)],
        2: [contact_json(i) for i in range(201, 251)],
    }

    def page(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page"])
        return httpx.Response(
            200,
            json=pages[number],
            headers={
                "Fiken-Api-Page": str(number),
                "Fiken-Api-Page-Size": "100",
                "Fiken-Api-Page-Count": "3",
                "Fiken-Api-Result-Count": "250",
            },
        )

    route = fiken.get(f"{COMPANY}/contacts").mock(side_effect=page)
    contacts = client.find_contacts(customer=True)
    assert [c.contact_id for c in contacts] == list(range(1, 251))
    sent = [dict(call.request.url.params) for call in route.calls]
    assert sent == [{"customer": "true", "page": str(n), "pageSize": "100"} for n in range(3)]


def test_paging_stops_at_the_page_count_even_when_the_last_page_is_full(fiken, client) -> None:
    route = fiken.get(f"{COMPANY}/projects").mock(
        return_value=httpx.Response(
            200, json=[{"projectId": i} for i in range(2)], headers={"Fiken-Api-Page-Count": "1"}
        )
    )
    found = client.iterate("/companies/{companySlug}/projects", None, ProjectResult, page_size=2)
    assert [p.project_id for p in found] == [0, 1]
    assert route.call_count == 1


def test_paging_without_headers_stops_at_a_short_page(fiken, client) -> None:
    batches = [[{"projectId": 1}, {"projectId": 2}], [{"projectId": 3}, {"projectId": 4}], [{"projectId": 5}]]
    route = fiken.get(f"{COMPANY}/projects").mock(side_effect=[httpx.Response(200, json=b) for b in batches])
    found = list(
        client.iterate("/companies/{companySlug}/projects", {"completed": False}, ProjectResult, page_size=2)
    )
    assert [p.project_id for p in found] == [1, 2, 3, 4, 5]
    assert [call.request.url.params["page"] for call in route.calls] == ["0", "1", "2"]
    assert all(call.request.url.params["pageSize"] == "2" for call in route.calls)


def test_paging_without_headers_stops_at_an_empty_page(fiken, client) -> None:
    route = fiken.get(f"{COMPANY}/bankAccounts").mock(
        side_effect=[httpx.Response(200, json=[{"bankAccountId": 1}]), httpx.Response(200, json=[])]
    )
    assert [a.bank_account_id for a in client.list_bank_accounts()] == [1]
    assert route.call_count == 1  # a short first page already ends it


def test_iterate_refuses_caller_paging_params(client) -> None:
    with pytest.raises(ValueError):
        list(client.iterate("/companies/{companySlug}/contacts", {"page": 3}, ContactResult))


def test_a_list_endpoint_answering_with_an_object_is_unexpected(fiken, client) -> None:
    fiken.get(f"{COMPANY}/accounts").mock(return_value=httpx.Response(200, json={"code": "3000"}))
    with pytest.raises(FikenUnexpectedResponse):
        client.list_accounts()


# ---------------------------------------------------------------- typed methods
def test_filters_are_sent_by_their_spec_names(fiken, client) -> None:
    contacts = fiken.get(f"{COMPANY}/contacts").mock(return_value=httpx.Response(200, json=[]))
    invoices = fiken.get(f"{COMPANY}/invoices").mock(return_value=httpx.Response(200, json=[]))
    projects = fiken.get(f"{COMPANY}/projects").mock(return_value=httpx.Response(200, json=[]))
    sales = fiken.get(f"{COMPANY}/sales").mock(return_value=httpx.Response(200, json=[]))
    credit_notes = fiken.get(f"{COMPANY}/creditNotes").mock(return_value=httpx.Response(200, json=[]))
    draft = uuid.UUID("7a8e3f0e-1b2c-4d5e-8f90-123456789abc")

    assert client.find_contacts(member_number_string="moment-42") == []
    client.find_invoices(invoiceDraftUuid=draft)
    client.find_invoices(invoice_number="10042", customer_id=77)
    client.find_projects(number="P-1")
    client.find_sales(sale_number="10042")
    client.find_credit_notes(customer_id=77, issue_date_ge=dt.date(2026, 1, 1))

    def params(route: respx.Route, index: int = 0) -> dict[str, str]:
        found = dict(route.calls[index].request.url.params)
        assert (found.pop("page"), found.pop("pageSize")) == ("0", "100")
        return found

    assert params(contacts) == {"memberNumberString": "moment-42"}
    assert params(invoices, 0) == {"invoiceDraftUuid": str(draft)}
    assert params(invoices, 1) == {"invoiceNumber": "10042", "customerId": "77"}
    assert params(projects) == {"number": "P-1"}
    assert params(sales) == {"saleNumber": "10042"}
    assert params(credit_notes) == {"customerId": "77", "issueDateGe": "2026-01-01"}


def test_an_unknown_filter_is_refused_before_anything_is_sent(fiken, client) -> None:
    with pytest.raises(ValueError, match="member_number_str"):
        client.find_contacts(member_number_str="moment-42")
    assert fiken.calls.call_count == 0


def test_results_tolerate_new_fields(fiken, client) -> None:
    fiken.get(f"{COMPANY}/invoices/501").mock(
        return_value=httpx.Response(
            200, json={"invoiceId": 501, "invoiceNumber": 10042, "gross": 125000, "brandNewField": [1, 2]}
        )
    )
    invoice = client.get_invoice(501)
    assert (invoice.invoice_number, invoice.gross) == (10042, 125000)


def test_a_result_of_the_wrong_shape_is_unexpected(fiken, client) -> None:
    fiken.get(f"{COMPANY}/invoices/501").mock(return_value=httpx.Response(200, json={"invoiceNumber": "x"}))
    with pytest.raises(FikenUnexpectedResponse, match="InvoiceResult"):
        client.get_invoice(501)


def test_invoice_counter_not_initialised_is_none(fiken, client) -> None:
    fiken.get(f"{COMPANY}/invoices/counter").mock(
        side_effect=[
            httpx.Response(409, json={"message": "Counter not initialized"}),
            httpx.Response(200, json={"value": 10041}),
        ]
    )
    assert client.get_invoice_counter() is None
    assert client.get_invoice_counter() == 10041


def test_initialise_invoice_counter_sends_an_empty_object_or_the_value(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/invoices/counter").mock(return_value=httpx.Response(201))
    client.initialise_invoice_counter()
    client.initialise_invoice_counter(20000)
    assert [json.loads(call.request.content) for call in route.calls] == [{}, {"value": 20000}]


def test_patch_and_update_send_only_what_changes(fiken, client) -> None:
    invoice = fiken.patch(f"{COMPANY}/invoices/501").mock(return_value=httpx.Response(200))
    project = fiken.patch(f"{COMPANY}/projects/12").mock(return_value=httpx.Response(201))
    client.patch_invoice(501, UpdateInvoiceRequest(new_due_date=dt.date(2026, 4, 1)))
    client.update_project(12, UpdateProjectRequest(completed=True))
    assert json.loads(invoice.calls.last.request.content) == {"newDueDate": "2026-04-01"}
    assert json.loads(project.calls.last.request.content) == {"completed": True}


def test_list_companies_needs_no_company_slug(fiken, make_client) -> None:
    fiken.get("/companies").mock(return_value=httpx.Response(200, json=[{"slug": "a"}, {"slug": "b"}]))
    client = make_client(company_slug=None)
    assert [c.slug for c in client.list_companies()] == ["a", "b"]
    with pytest.raises(ValueError):
        client.get_company()


def test_path_values_are_url_quoted(fiken, make_client) -> None:
    route = fiken.get("/companies/odd%2Fslug").mock(
        return_value=httpx.Response(200, json={"slug": "odd/slug"})
    )
    make_client(company_slug="odd/slug").get_company()
    assert route.call_count == 1


# ---------------------------------------------------------------- no token anywhere
TOKEN_ECHOES: list[tuple[str, Any]] = [
    ("400-message", httpx.Response(400, json={"message": f"Invalid token {TOKEN} for request"})),
    ("400-oauth", httpx.Response(400, json={"error": "invalid_token", "error_description": TOKEN})),
    ("401-twice", httpx.Response(401, text=f"bad {TOKEN} and {NEW_TOKEN}")),
    ("403", httpx.Response(403, json={"message": TOKEN})),
    ("429", httpx.Response(429, text=TOKEN)),
    ("503", httpx.Response(503, json={"message": TOKEN})),
    ("connect-error", httpx.ConnectError(f"refused {TOKEN}")),
    ("read-timeout", httpx.ReadTimeout(f"timeout {TOKEN}")),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("case", "answer"), TOKEN_ECHOES, ids=[case for case, _ in TOKEN_ECHOES])
def test_the_token_appears_in_no_error_log_or_repr(fiken, make_client, caplog, method, case, answer) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = StaticTokenProvider(TOKEN, refreshed_token=NEW_TOKEN)
    client = make_client(token_provider=tokens, max_attempts=2)
    fiken.route(method=method, path=f"{COMPANY}/contacts").mock(side_effect=[answer, answer, answer])

    with pytest.raises(FikenFailure) as raised:
        if method == "GET":
            client.find_contacts(name="Acme AS")
        else:
            client.create_contact(Contact(name="Acme AS"))

    error = raised.value
    assert error.__cause__ is None and error.__context__ is None
    texts = [repr(client), repr(tokens), str(error), repr(error), repr(error.args), repr(vars(error))]
    texts += [repr(vars(record)) for record in caplog.records]
    for text in texts:
        assert TOKEN not in text
        assert NEW_TOKEN not in text
    if case == "400-message":
        assert "Invalid token <token> for request" in str(error)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(409, json={"message": "Counter not initialized"}),
        httpx.Response(404, json={"message": "Not found"}),
        httpx.Response(400, json={"message": "Invoice counter is not initialised"}),
        httpx.Response(200, json={}),
    ],
    ids=["409", "404", "400", "200-without-value"],
)
def test_an_uninitialised_counter_is_recognised_without_relying_on_409(fiken, client, answer) -> None:
    # The spec declares only 200 for GET /invoices/counter (#21).
    fiken.get(f"{COMPANY}/invoices/counter").mock(return_value=answer)
    assert client.get_invoice_counter() is None


def test_initialising_a_counter_someone_else_just_initialised_is_fine(fiken, client) -> None:
    route = fiken.post(f"{COMPANY}/invoices/counter").mock(
        return_value=httpx.Response(409, json={"message": "Invoice counter already initialized"})
    )
    client.initialise_invoice_counter()
    assert route.call_count == 1


def test_the_pace_counts_from_when_the_request_is_written_on_a_real_connection(make_client) -> None:
    """Against a real socket (no respx: httpcore's trace hook only fires on a real transport): the pacer
    is told when each request's bytes leave, after the slot was granted and the connection made."""

    class Contact(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = json.dumps(contact_json()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    class RecordingPacer(RequestPacer):
        def __init__(self) -> None:
            super().__init__(0.0)
            self.events: list[str] = []

        @contextmanager
        def slot(self, key: str) -> Iterator[Any]:
            with super().slot(key) as leaving:
                self.events.append("granted")

                def left() -> None:
                    self.events.append("left")
                    leaving()

                yield left

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Contact)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pacer = RecordingPacer()
    try:
        client = make_client(base_url=f"http://127.0.0.1:{server.server_address[1]}", pacer=pacer)
        assert client.get_contact(77).contact_id == 77
        assert client.get_contact(77).contact_id == 77
    finally:
        server.shutdown()
        server.server_close()
    assert pacer.events == ["granted", "left", "granted", "left"]
