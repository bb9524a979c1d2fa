"""MomentClient against respx: auth, 0-based paging, retries, error mapping, the key kept secret."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError
from momentsync.moment.client import (
    INVOICE_INCLUDE,
    MomentAccessDenied,
    MomentClient,
    MomentRecordNotFound,
    MomentRequestRejected,
    MomentResponseInvalid,
    MomentUnavailable,
)

BASE = "https://moment.test/api/1.0"
COMPANY = "acme"
ROOT = f"{BASE}/companies/{COMPANY}"
API_KEY = "sk-very-secret-moment-key-123"

CUSTOMER = {
    "id": 62788973,
    "customerNumber": "10001",
    "name": "Fjordlys AS",
    "lastModifiedDate": "2025-01-02T08:00:00Z",
}
INVOICE = {
    "id": 106939080,
    "invoiceNumber": 1,
    "customer": {"id": 62788973, "customerNumber": "10001"},
    "invoiceDate": "2025-01-31",
    "totalAmountIncludingVat": 1234.56,
    "invoiceLines": [
        {
            "financialAccount": {"accountNumber": "3000", "externalTaxCode": "3"},
            "quantity": 1.5,
            "unitPrice": 658.432,
            "amountExcludingVat": 987.65,
            "vatAmount": 246.91,
        }
    ],
}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps):
    with MomentClient(
        COMPANY,
        API_KEY,
        base_url=BASE,
        sleep=sleeps,
        jitter=lambda: 1.0,
        backoff_base=0.5,
        backoff_cap=8.0,
        max_attempts=4,
        page_size=2,
    ) as moment:
        yield moment


@pytest.fixture
def mock():
    with respx.mock(base_url=ROOT, assert_all_called=False) as router:
        yield router


def test_basic_auth_with_apikey_user(client, mock):
    route = mock.get("/customers/62788973").respond(json=CUSTOMER)
    customer = client.get_customer(62788973)
    assert customer.customer_number == "10001" and customer.name == "Fjordlys AS"
    header = route.calls.last.request.headers["Authorization"]
    assert header == "Basic " + base64.b64encode(f"apikey:{API_KEY}".encode()).decode()


def test_invoice_uses_the_include_path_and_decimals(client, mock):
    route = mock.get(f"/invoices/106939080/include/{INVOICE_INCLUDE}").respond(json=INVOICE)
    invoice = client.get_invoice(106939080)
    assert route.called
    assert invoice.lines[0].unit_price == Decimal("658.432")  # parsed as Decimal, not float
    assert invoice.total_incl_vat_ore == 123456 and invoice.lines[0].amount_excl_vat_ore == 98765


def test_project(client, mock):
    mock.get("/projects/5").respond(json={"id": 5, "projectNumber": "1", "name": "P", "startDate": None})
    assert client.get_project(5).start_date is None


def test_paging_is_zero_based_across_pages(client, mock):
    pages = [
        {
            "content": [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}],
            "page": {"number": 0, "size": 2, "totalElements": 5, "totalPages": 3},
        },
        {
            "content": [{"id": 3, "name": "C"}, {"id": 4, "name": "D"}],
            "page": {"number": 1, "size": 2, "totalElements": 5, "totalPages": 3},
        },
        {
            "content": [{"id": 5, "name": "E"}],
            "page": {"number": 2, "size": 2, "totalElements": 5, "totalPages": 3},
        },
    ]
    route = mock.get("/customers").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    since = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert [c.id for c in client.list_customers(modified_since=since)] == [1, 2, 3, 4, 5]
    params = [dict(call.request.url.params) for call in route.calls]
    assert [p["page"] for p in params] == ["0", "1", "2"]
    assert all(p["size"] == "2" and p["lastModifiedDateFrom"] == since.isoformat() for p in params)


def test_list_without_filter_and_empty(client, mock):
    route = mock.get(f"/invoices/include/{INVOICE_INCLUDE}").respond(
        json={"content": [], "page": {"number": 0, "size": 2, "totalElements": 0, "totalPages": 0}}
    )
    assert list(client.list_invoices()) == []
    assert "lastModifiedDateFrom" not in route.calls.last.request.url.params


def test_list_is_lazy(client, mock):
    route = mock.get("/projects").respond(
        json={
            "content": [{"id": 1, "name": "A"}],
            "page": {"number": 0, "size": 2, "totalElements": 1, "totalPages": 1},
        }
    )
    projects = client.list_projects()
    assert not route.called
    assert [p.id for p in projects] == [1]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retries_with_exponential_backoff_then_succeeds(client, mock, sleeps, status):
    route = mock.get("/customers/1").mock(
        side_effect=[
            httpx.Response(status),
            httpx.Response(status),
            httpx.Response(200, json={"id": 1, "name": "A"}),
        ]
    )
    assert client.get_customer(1).id == 1
    assert route.call_count == 3
    assert sleeps == [0.5, 1.0]  # jitter 1.0 = the upper bound of the full-jitter window


def test_full_jitter_and_cap(sleeps, mock):
    draws = iter([0.25, 0.5, 0.1, 0.9])
    moment = MomentClient(
        COMPANY,
        API_KEY,
        base_url=BASE,
        sleep=sleeps,
        jitter=lambda: next(draws),
        backoff_base=1.0,
        backoff_cap=3.0,
        max_attempts=5,
    )
    mock.get("/customers/1").respond(503)
    with pytest.raises(MomentUnavailable):
        moment.get_customer(1)
    assert sleeps == [0.25 * 1, 0.5 * 2, 0.1 * 3, 0.9 * 3]


def test_retry_after_is_honoured_within_the_cap(client, mock, sleeps):
    mock.get("/customers/1").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(200, json={"id": 1, "name": "A"}),
        ]
    )
    client.get_customer(1)
    assert sleeps == [3.0]


def test_network_errors_and_timeouts_are_retried(client, mock, sleeps):
    route = mock.get("/customers/1").mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json={"id": 1, "name": "A"}),
        ]
    )
    assert client.get_customer(1).name == "A"
    assert route.call_count == 3 and len(sleeps) == 2


def test_exhausted_retries_are_transient(client, mock, sleeps):
    route = mock.get("/customers/1").respond(503)
    with pytest.raises(TransientError) as exc:
        client.get_customer(1)
    assert isinstance(exc.value, MomentUnavailable) and exc.value.status == 503
    assert route.call_count == 4 and len(sleeps) == 3
    assert "4 attempts" in str(exc.value)


def test_exhausted_network_retries_are_transient(client, mock):
    mock.get("/customers/1").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(MomentUnavailable, match="network error"):
        client.get_customer(1)


def test_401_is_tenant_level_key_invalid(client, mock, sleeps):
    route = mock.get("/customers/1").respond(401, json={"message": "Unauthorized"})
    with pytest.raises(TenantLevelError) as exc:
        client.get_customer(1)
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID
    assert exc.value.reason == "Moment API key invalid or expired"
    assert route.call_count == 1 and sleeps == []


def test_403_is_a_permanent_error_of_that_entity_not_a_paused_tenant(client, mock):
    # Moment's keys carry per-entity access: a key that may not read invoices may read customers.
    mock.get("/invoices/1/include/" + INVOICE_INCLUDE).respond(403, json={"message": "Access denied"})
    mock.get("/customers/1").respond(json={"id": 1, "name": "A"})
    mock.get("/customers").respond(
        json={"content": [], "page": {"number": 0, "size": 1, "totalElements": 0, "totalPages": 0}}
    )
    with pytest.raises(MomentAccessDenied) as exc:
        client.get_invoice(1)
    assert isinstance(exc.value, PermanentError) and not isinstance(exc.value, TenantLevelError)
    assert "may not read invoices" in exc.value.reason and "Access denied" in exc.value.reason
    assert "access to invoices" in exc.value.remedy
    assert client.get_customer(1).name == "A"


def test_403_on_every_entity_is_tenant_level_no_access(client, mock):
    mock.get("/invoices/1/include/" + INVOICE_INCLUDE).respond(403, json={"message": "Access denied"})
    probes = [mock.get(f"/{entity}").respond(403) for entity in ("customers", "projects")]
    with pytest.raises(TenantLevelError) as exc:
        client.get_invoice(1)
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID
    assert "no access" in exc.value.reason and "Access denied" in exc.value.reason
    assert [probe.call_count for probe in probes] == [1, 1]


def test_404_means_deleted(client, mock):
    mock.get("/projects/77").respond(404, json={"message": "Not found"})
    with pytest.raises(MomentRecordNotFound) as exc:
        client.get_project(77)
    assert isinstance(exc.value, PermanentError)
    assert (exc.value.entity_type, exc.value.entity_id) == ("project", 77)


def test_404_on_a_list_is_not_a_deleted_record(client, mock):
    mock.get("/customers").respond(404, json={"message": "Unknown company"})
    with pytest.raises(MomentRequestRejected) as exc:
        list(client.list_customers())
    assert not isinstance(exc.value, MomentRecordNotFound)


def test_other_4xx_is_permanent_with_moments_message(client, mock):
    mock.get("/customers/1").respond(
        400, json={"message": "Invalid request", "details": "id must be numeric"}
    )
    with pytest.raises(MomentRequestRejected) as exc:
        client.get_customer(1)
    assert exc.value.status == 400
    assert "Invalid request" in exc.value.reason and "id must be numeric" in exc.value.reason
    assert exc.value.detail == "Invalid request — id must be numeric"


def test_structured_details_and_plain_text_errors(client, mock):
    mock.get("/customers/1").respond(422, json={"message": "Bad", "details": [{"field": "x"}]})
    with pytest.raises(MomentRequestRejected, match=r'Bad — \[\{"field": "x"\}\]'):
        client.get_customer(1)
    mock.get("/customers/2").respond(400, text="plain failure")
    with pytest.raises(MomentRequestRejected, match="plain failure"):
        client.get_customer(2)


def test_malformed_response_names_the_field(client, mock):
    bad = {**INVOICE, "invoiceLines": [{**INVOICE["invoiceLines"][0], "quantity": "lots"}]}
    mock.get(f"/invoices/1/include/{INVOICE_INCLUDE}").respond(json={**bad, "id": 1})
    with pytest.raises(MomentResponseInvalid) as exc:
        client.get_invoice(1)
    assert exc.value.field_path == "invoiceLines.0.quantity"
    assert "invoiceLines.0.quantity" in exc.value.reason and isinstance(exc.value, PermanentError)


def test_missing_required_field_and_non_json(client, mock):
    mock.get("/customers/1").respond(json={"id": 1})
    with pytest.raises(MomentResponseInvalid, match="name"):
        client.get_customer(1)
    mock.get("/customers/2").respond(200, text="{not json")
    with pytest.raises(MomentResponseInvalid, match="not JSON"):
        client.get_customer(2)


def test_a_different_record_than_asked_is_rejected(client, mock):
    mock.get("/customers/1").respond(json={"id": 2, "name": "B"})
    with pytest.raises(MomentResponseInvalid, match="asked for 1"):
        client.get_customer(1)


def test_malformed_page(client, mock):
    mock.get("/customers").respond(json={"content": [{"id": 1, "name": "A"}]})
    with pytest.raises(MomentResponseInvalid) as exc:
        list(client.list_customers())
    assert exc.value.field_path == "page"


def test_invoice_pdf(client, mock):
    route = mock.get("/invoices/9/pdf").respond(
        200, content=b"%PDF-1.4\n...", headers={"Content-Type": "application/pdf"}
    )
    assert client.get_invoice_pdf(9).startswith(b"%PDF-")
    assert route.calls.last.request.headers["Accept"] == "application/pdf"


def test_invoice_pdf_errors(client, mock):
    mock.get("/invoices/9/pdf").respond(404)
    with pytest.raises(MomentRecordNotFound) as exc:
        client.get_invoice_pdf(9)
    assert exc.value.entity_type == "invoice pdf"
    mock.get("/invoices/10/pdf").respond(200, json={"not": "a pdf"})
    with pytest.raises(MomentResponseInvalid, match="not a PDF"):
        client.get_invoice_pdf(10)


@pytest.mark.parametrize("bad_id", [0, -1, True, "1/../2"])
def test_ids_must_be_positive_ints(client, bad_id):
    with pytest.raises(ValueError):
        client.get_customer(bad_id)


@pytest.mark.parametrize("code", ["", "a/b", "../x", "a b"])
def test_company_code_is_checked(code):
    with pytest.raises(ValueError):
        MomentClient(code, API_KEY)


def test_key_is_never_in_repr_exceptions_or_logs(client, mock, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    mock.get("/customers/1").respond(503, json={"message": f"echoing {API_KEY}"})
    mock.get("/customers/2").respond(400, json={"message": f"bad key {API_KEY}", "details": API_KEY})
    mock.get("/customers/3").respond(401)
    mock.get("/customers/4").mock(side_effect=httpx.ConnectError(f"refused {API_KEY}"))
    texts = [repr(client), str(client.__dict__)]
    for record_id in (1, 2, 3, 4):
        with pytest.raises(Exception) as exc:
            client.get_customer(record_id)
        err = exc.value
        texts += [
            str(err),
            repr(err),
            str(getattr(err, "detail", "")),
            str(err.__cause__),
            str(err.__context__),
        ]
    assert any("retried" in r.getMessage() for r in caplog.records)  # the retries were logged
    captured = capsys.readouterr()
    blob = "\n".join(texts) + caplog.text + captured.out + captured.err
    token = base64.b64encode(f"apikey:{API_KEY}".encode()).decode()
    assert API_KEY not in blob and token not in blob
