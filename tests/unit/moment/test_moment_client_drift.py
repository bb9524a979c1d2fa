"""MomentClient when Moment's API is not what we guessed: paging, HTML pages, 403s, Retry-After,
accounts given by id only, unknown fields (issue #21)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
import respx

from momentsync.errors import PermanentError, TenantLevelError, TenantProblem
from momentsync.moment import field_drift
from momentsync.moment.client import (
    INVOICE_INCLUDE,
    MomentClient,
    MomentResponseInvalid,
    MomentUnavailable,
)
from momentsync.moment.models import MomentFieldMissing

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
KEY = "sk-drift-secret-key-456"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps):
    with MomentClient("acme", KEY, base_url=BASE, sleep=sleeps, jitter=lambda: 0.0, page_size=2) as moment:
        yield moment


@pytest.fixture
def mock():
    with respx.mock(base_url=ROOT, assert_all_called=False) as router:
        yield router


def paging_server(records: list[dict], *, first: int = 0, ignore_page: bool = False, list_key="content"):
    """A Spring-style list endpoint: ``first`` = number of the first page (0 or 1), or one that ignores
    the page parameter and always answers the first page."""

    def answer(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params["size"])
        asked = int(request.url.params["page"])
        number = first if ignore_page else max(asked, first)  # a 1-based API clamps 0 to 1
        start = (number - first) * size
        total_pages = -(-len(records) // size)
        page = {"number": number, "size": size, "totalElements": len(records), "totalPages": total_pages}
        return httpx.Response(200, json={list_key: records[start : start + size], "page": page})

    return answer


CUSTOMERS = [{"id": n, "name": f"C{n}"} for n in range(1, 6)]


@pytest.mark.parametrize("first", [0, 1])
def test_zero_and_one_based_paging_read_every_record_once(client, mock, first):
    route = mock.get("/customers").mock(side_effect=paging_server(CUSTOMERS, first=first))
    assert [c.id for c in client.list_customers()] == [1, 2, 3, 4, 5]
    assert route.call_count == 3  # no page lost, none read twice


def test_a_moment_that_ignores_the_page_parameter_is_an_error_not_a_loop(client, mock):
    route = mock.get("/customers").mock(side_effect=paging_server(CUSTOMERS, ignore_page=True))
    seen = []
    with pytest.raises(MomentResponseInvalid, match="ignore the 'page' parameter") as exc:
        seen.extend(c.id for c in client.list_customers())
    assert seen == [1, 2] and route.call_count == 2  # before: 40 duplicates after 20 requests
    assert exc.value.field_path == "page.number"


def test_an_unknown_list_key_is_an_error_naming_what_moment_sent(client, mock):
    mock.get("/customers").mock(side_effect=paging_server(CUSTOMERS, list_key="items"))
    with pytest.raises(MomentResponseInvalid, match="no 'content' list.*items, page"):
        list(client.list_customers())


def test_records_deleted_while_paging_end_on_the_empty_page(client, mock):
    pages = [
        {"content": CUSTOMERS[:2], "page": {"number": 0, "size": 2, "totalElements": 5, "totalPages": 3}},
        {"content": [], "page": {"number": 1, "size": 2, "totalElements": 2, "totalPages": 1}},
    ]
    mock.get("/customers").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    assert [c.id for c in client.list_customers()] == [1, 2]


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/html; charset=utf-8"}, {"content-type": "application/json"}],
)
def test_an_html_login_page_with_200_parks_the_tenant(client, mock, headers):
    page = b"<!DOCTYPE html><html><body><form action='/login'>Logg inn</form></body></html>"
    mock.get("/customers/1").respond(200, content=page, headers=headers)
    with pytest.raises(TenantLevelError) as exc:
        client.get_customer(1)
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID
    assert "HTML page" in exc.value.reason and "login" in exc.value.reason
    assert KEY not in str(exc.value) + (exc.value.remedy or "")


def test_retry_after_above_the_old_8_s_cap_is_honoured(client, mock, sleeps):
    mock.get("/customers/1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "15"}),
            httpx.Response(200, json=CUSTOMERS[0]),
        ]
    )
    assert client.get_customer(1).id == 1
    assert sleeps == [15.0]


def test_retry_after_as_an_http_date(client, mock, sleeps):
    when = email.utils.formatdate(time.time() + 12, usegmt=True)
    mock.get("/customers/1").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, json=CUSTOMERS[0]),
        ]
    )
    client.get_customer(1)
    assert len(sleeps) == 1 and 9.0 <= sleeps[0] <= 12.0


def test_a_retry_after_longer_than_the_cap_is_not_slept_through(client, mock, sleeps):
    route = mock.get("/customers/1").respond(429, headers={"Retry-After": "3600"})
    with pytest.raises(MomentUnavailable, match="Retry-After 3600 s") as exc:
        client.get_customer(1)
    assert exc.value.status == 429 and sleeps == [] and route.call_count == 1


ACCOUNTS = {
    "content": [
        {"id": 11, "accountNumber": "3000", "externalTaxCode": "3", "vatCategoryCode": "3", "version": 2},
        {"id": 12, "accountNumber": "3100", "vatCategoryCode": "5"},
    ],
    "page": {"number": 0, "size": 2, "totalElements": 2, "totalPages": 1},
}


def invoice_with_account_ids(*ids: int) -> dict:
    return {
        "id": 7,
        "invoiceNumber": 1007,
        "customerId": 3,
        "customerName": "Fjordlys AS",
        "invoiceDate": "2025-01-31",
        "invoiceLines": [
            {"financialAccountId": account, "unitPrice": 100, "amountExcludingVat": 100, "vatAmount": 25}
            for account in ids
        ],
    }


def test_lines_with_only_a_financial_account_id_are_resolved_and_cached(client, mock):
    mock.get(f"/invoices/7/include/{INVOICE_INCLUDE}").respond(json=invoice_with_account_ids(11, 12))
    accounts = mock.get("/financialAccounts").respond(json=ACCOUNTS)
    invoice = client.get_invoice(7)
    assert [(line.account_number, line.vat_code) for line in invoice.lines] == [("3000", "3"), ("3100", "5")]
    assert invoice.customer.id == 3 and invoice.customer.name == "Fjordlys AS"
    client.get_invoice(7)
    assert accounts.call_count == 1  # cached per tenant's client
    assert invoice.not_transferable_reason is None


def test_an_unknown_account_id_refreshes_once_then_names_the_id(client, mock):
    mock.get(f"/invoices/7/include/{INVOICE_INCLUDE}").respond(json=invoice_with_account_ids(11, 99))
    accounts = mock.get("/financialAccounts").respond(json=ACCOUNTS)
    with pytest.raises(MomentFieldMissing) as exc:
        client.get_invoice(7)
    assert accounts.call_count == 2
    assert exc.value.field_name == "invoiceLines[1].financialAccountId" and "99" in exc.value.reason
    assert isinstance(exc.value, PermanentError)


def test_unknown_fields_are_reported_once_per_field_per_process(client, mock, caplog):
    field_drift.forget_reported()
    body = {**CUSTOMERS[0], "orgNr": "912345678", "shoeSize": 44}
    mock.get("/customers/1").respond(json=body)
    mock.get("/customers/2").respond(json={**body, "id": 2})
    client.get_customer(1)
    client.get_customer(2)
    reported = [r for r in caplog.records if "do not know" in r.getMessage()]
    assert sorted(r.moment_field for r in reported) == ["Customer.orgNr", "Customer.shoeSize"]
    assert not any("912345678" in r.getMessage() + str(r.__dict__) for r in caplog.records)


def test_flat_include_keys_are_not_unknown():
    from momentsync.moment.models import Invoice

    invoice = Invoice.model_validate(invoice_with_account_ids(11))
    assert field_drift.unknown_fields(invoice) == []


def test_the_waits_of_one_request_stay_within_the_budget(client, mock, sleeps):
    # 15 s then 15 s again: the second wait would make 30 s inside one invocation.
    route = mock.get("/customers/1").respond(429, headers={"Retry-After": "15"})
    with pytest.raises(MomentUnavailable, match="would exceed 20 s"):
        client.get_customer(1)
    assert sleeps == [15.0] and route.call_count == 2
